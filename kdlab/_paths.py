"""Where the lab keeps data and caches (``$KDLAB_DATA``, ``$KDLAB_CACHE``, the repo's ``data/``)."""

from __future__ import annotations

import contextlib
import os
import tempfile
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path`` to write; on success it becomes ``path``.

    The file is flushed to disk and renamed over ``path`` only when the block succeeds, with
    the permissions of any new file (0666 less the umask, not ``mkstemp``'s 0600); on any error
    it is deleted: never a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
