"""The model cache for a whole class: train every model of the course once, then share it.

``python -m kdlab.cache warm [--profile laptop]`` runs every chapter headless at the profile,
so that each network the course trains lands in the cache (``$KDLAB_CACHE`` or
``data/cache``), with a progress bar and a summary (models, size on disk, time).
``python -m kdlab.cache info`` shows what a cache holds. An instructor warms a shared folder
once; students point ``$KDLAB_CACHE`` at it (read-only is fine: see the README's "Teaching a
class") and load every model in seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from kdlab._paths import PACKAGE_DIR, cache_dir

NOTEBOOKS = PACKAGE_DIR.parent / "notebooks"


def models_in(folder: str | os.PathLike) -> list[Path]:
    """The trained models (``*.pt``) under ``folder``/models."""
    return sorted((Path(folder) / "models").glob("*.pt"))


def _size(paths) -> int:
    return sum(p.stat().st_size for p in paths)


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def warm(profile: str = "laptop", notebooks=None, folder=NOTEBOOKS, timeout: int = 3600,
         log=print) -> dict:
    """Execute ``notebooks`` (default: every chapter in ``folder``) at ``profile``.

    Returns ``{"notebooks", "models", "new_models", "bytes", "seconds"}``; raises
    ``RuntimeError`` naming the notebook whose cell failed.
    """
    import nbformat
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    from kdlab.profiles import get_profile

    name = get_profile(profile).name  # a clear ValueError for an unknown profile
    folder = Path(folder)
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if notebooks:
        wanted = {n.removesuffix(".ipynb") for n in notebooks}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            raise ValueError(f"notebooks: no chapter named {', '.join(sorted(unknown))} in "
                             f"{folder} (have {', '.join(p.stem for p in paths)})")
        paths = [p for p in paths if p.stem in wanted]
    if not paths:
        raise ValueError(f"folder: no chapter notebooks (NN_name.ipynb) in {folder}")
    before = set(models_in(cache_dir()))
    previous = os.environ.get("KDLAB_PROFILE")
    os.environ["KDLAB_PROFILE"] = name  # the kernels inherit it
    start = time.perf_counter()
    try:
        for path in tqdm(paths, desc=f"warming the cache ({name})", unit="chapter"):
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}})
            t0 = time.perf_counter()
            try:
                client.execute()
            except Exception as exc:  # noqa: BLE001 - name the chapter, keep the cause
                raise RuntimeError(f"{path.name} failed at profile {name}: {exc}") from exc
            log(f"kdlab: {path.stem} done in {time.perf_counter() - t0:.0f} s")
    finally:
        if previous is None:
            os.environ.pop("KDLAB_PROFILE", None)
        else:
            os.environ["KDLAB_PROFILE"] = previous
    after = models_in(cache_dir())
    summary = {"notebooks": [p.stem for p in paths], "models": len(after),
               "new_models": len(set(after) - before), "bytes": _size(after),
               "seconds": time.perf_counter() - start}
    log(f"kdlab: cache {cache_dir()} holds {summary['models']} models "
        f"({summary['new_models']} new), {_megabytes(summary['bytes'])}; warmed in "
        f"{summary['seconds'] / 60:.1f} min")
    return summary


def main(argv=None) -> int:
    """``python -m kdlab.cache warm|info``."""
    parser = argparse.ArgumentParser(prog="python -m kdlab.cache", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_warm = sub.add_parser("warm", help="train every model the course needs at a profile")
    p_warm.add_argument("--profile", default=os.environ.get("KDLAB_PROFILE") or "laptop")
    p_warm.add_argument("--notebooks", nargs="*", help="only these chapters (e.g. 02_soft_targets)")
    sub.add_parser("info", help="where the cache is and what it holds")
    args = parser.parse_args(argv)
    if args.command == "info":
        models = models_in(cache_dir())
        print(f"{cache_dir()}: {len(models)} models, {_megabytes(_size(models))}")
        return 0
    try:
        warm(args.profile, args.notebooks)
    except (RuntimeError, ValueError) as exc:
        print(f"kdlab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
