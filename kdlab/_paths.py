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


def user_cache_dir() -> Path:
    """The per-user cache written when ``cache_dir()`` cannot be: ``$XDG_CACHE_HOME/kdlab``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base).expanduser() / "kdlab" / "cache"


def cache_dirs() -> list[Path]:
    """Where trained models are looked for: ``cache_dir()``, then the per-user fallback."""
    primary, fallback = cache_dir(), user_cache_dir()
    return [primary] if fallback.resolve() == primary.resolve() else [primary, fallback]


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
    # the writer's pid in the name lets a later run tell an orphan (its writer died) from a
    # file another process is writing right now (see remove_orphans)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".part")
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


def write_atomic(path: str | os.PathLike, data) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_path`: never a half-written file.

    ``data`` is ``bytes``, a ``str`` (written as UTF-8), or a callable that writes the file
    at the temporary path it is given (e.g. ``lambda tmp: torch.save(state, tmp)``).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "note.txt"
    >>> write_atomic(path, "hello")
    >>> path.read_text()
    'hello'
    """
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        elif isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            data(tmp)


def remove_orphans(folder: str | os.PathLike) -> int:
    """Delete the ``.part`` files in ``folder`` whose writer has died; return how many.

    A killed run leaves its temporary file behind (:func:`atomic_path` removes it on any
    error it sees, but not on SIGKILL or a power cut). A file whose writer is still running on
    this machine, or of unknown origin and younger than a day, is left alone.
    """
    import time

    removed = 0
    for part in Path(folder).glob(".*.part"):
        pid = _writer_pid(part.name)
        try:
            if pid is not None and _alive(pid):
                continue
            if pid is None and time.time() - part.stat().st_mtime < 86400:
                continue
            part.unlink()
            removed += 1
        except OSError:  # read-only folder, or another process removed it first
            continue
    return removed


def _writer_pid(name: str) -> int | None:
    fields = name.split(".")
    # .<name>.<pid>.<random>.part: the pid is the third field from the end
    if len(fields) >= 4 and fields[-3].isdigit():
        return int(fields[-3])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
