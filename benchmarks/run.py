"""Run every benchmark (``bench_*.py``) and write one markdown table per run.

Each benchmark measures its variants in one run on one machine and reports ratios, so that
the numbers compare like with like. Usage: ``python benchmarks/run.py [NAME ...]``.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def machine() -> str:
    """A one-line description of the machine the numbers come from."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch "
            f"threads, {gpu}, Python {platform.python_version()}, torch {torch.__version__}")


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    lines = [f"# kdlab benchmarks, {time.strftime('%Y-%m-%d %H:%M')}", "", f"Machine: {machine()}"]
    for name in names:
        spec = importlib.util.spec_from_file_location(name, HERE / f"bench_{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {name}", flush=True)
        table = module.run()
        print(table, flush=True)
        lines += ["", f"## {name}", "", module.__doc__.strip(), "", table]
    report = out_dir / f"{time.strftime('%Y%m%d-%H%M%S')}.md"
    report.write_text("\n".join(lines) + "\n")
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
