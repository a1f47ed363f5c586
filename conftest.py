"""What every test and every doctest of the package shares (tests/conftest.py has the rest).

The ``Examples`` sections under kdlab/ run as doctests (``--doctest-modules`` in pyproject.toml);
some train a tiny network through the model cache. The autouse ``kdlab_cache`` fixture gives each
test and doctest a fresh, empty ``$KDLAB_CACHE`` and per-user cache, and keeps it offline, so the
real cache is never touched. (Fixtures do not reach the notebooks that nbval runs: their kernels
use the environment pytest started with, the ci profile and the usual cache.)
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def kdlab_cache(tmp_path_factory, monkeypatch) -> Path:
    """A fresh, empty ``$KDLAB_CACHE`` for every test; offline unless the test asks otherwise."""
    cache = tmp_path_factory.mktemp("kdlab-cache")
    monkeypatch.setenv("KDLAB_CACHE", str(cache))
    # the per-user fallback of a read-only cache (~/.cache/kdlab): never the real one
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.setenv("KDLAB_OFFLINE", "1")
    return cache
