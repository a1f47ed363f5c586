"""Many small networks at once: K = 8 MLPs trained together as one ``BatchedMLP``
(``fit_batched``) vs the same 8 trained one after another with ``kdlab.fit``.

784-H-H-10 for H = 30 (the paper's tiny student), 300 and 800; the profile's Fashion-MNIST
training images (at most 10,000; a quarter of them for H = 800, to keep the run short: the rate
per example does not depend on how many there are), batch size 128, one epoch per training;
samples per second
(8 × N examples over the wall time of the 8 trainings), best of interleaved rounds in one run,
at 1 torch thread (on a 2-core machine that is busy with other work, 2 threads per process are
oversubscribed and everything slows down many times over). Goal (issue 17): at least 4× for the
30-unit networks. ``python benchmarks/bench_batched.py [THREADS ...]`` writes
``benchmarks/results/batched.md``, at each thread count given (default 1).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from kdlab import MLP, fit, get_profile, load_dataset
from kdlab.batched import BatchedMLP, fit_batched

K = 8


def _one_after_another(ds, hidden, batch_size):
    for k in range(K):
        fit(MLP(784, hidden, 10, seed=k), ds.X, ds.y, epochs=1, batch_size=batch_size, seed=k,
            progress=False)


def _batched(ds, hidden, batch_size):
    nets = BatchedMLP(784, hidden, 10, seeds=range(K))
    fit_batched(nets, ds.X, ds.y, epochs=1, batch_size=batch_size, seeds=range(K),
                progress=False)


def run(rounds: int = 2, widths=(30, 300, 800), threads=None) -> str:
    p = get_profile()
    ds = load_dataset(p.dataset, "train", n=min(p.n_train or 60000, 10000), seed=p.seed)
    before = torch.get_num_threads()
    threads = threads or [1]
    variants = {"one after another (fit)": _one_after_another, "batched (fit_batched)": _batched}
    rows = [f"| hidden | examples | torch threads | "
            f"{' | '.join(f'{v}, samples/s' for v in variants)} | ratio |",
            "|---|---:|---:|---:|---:|---:|"]
    try:
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            for h in widths:
                hidden, data = (h, h), ds if h < 800 else ds.subset(np.arange(len(ds) // 4))
                best = dict.fromkeys(variants, float("inf"))
                for _ in range(rounds):  # interleaved, best of each: robust to a busy machine
                    for label, train in variants.items():
                        start = time.perf_counter()
                        train(data, hidden, p.batch_size)
                        best[label] = min(best[label], time.perf_counter() - start)
                rate = [K * len(data) / t for t in best.values()]
                rows.append(f"| {h}-{h} | {len(data):,} | {n_threads} | {rate[0]:,.0f} "
                            f"| {rate[1]:,.0f} | {rate[1] / rate[0]:.2f}× |")
    finally:
        torch.set_num_threads(before)
    rows += ["", f"K = {K} networks 784-H-H-10, batch size {p.batch_size}, 1 epoch, best of "
             f"{rounds} rounds."]
    return "\n".join(rows)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    from run import machine  # benchmarks/run.py, next to this file

    table = run(threads=[int(a) for a in sys.argv[1:]] or None)
    out = Path(__file__).resolve().parent / "results" / "batched.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"# batched, {time.strftime('%Y-%m-%d %H:%M')}\n\nMachine: {machine()}\n\n"
                   f"{__doc__.strip()}\n\n{table}\n")
    print(table)
    print(f"wrote {out}")
