"""Where the lab keeps data and caches (``$KDLAB_DATA``, ``$KDLAB_CACHE``, the repo's ``data/``)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_data_dir() -> Path:
    """The checkout's ``data/`` folder, or ``~/.cache/kdlab/data`` for an installed package."""
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "data"
    return Path.home() / ".cache" / "kdlab" / "data"


def env_data_dir() -> Path | None:
    """``$KDLAB_DATA`` as a path, or ``None`` when it is unset or empty."""
    value = os.environ.get("KDLAB_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The git-ignored cache of trained models: ``$KDLAB_CACHE`` or ``data/cache``."""
    value = os.environ.get("KDLAB_CACHE", "").strip()
    return Path(value).expanduser() if value else repo_data_dir() / "cache"
