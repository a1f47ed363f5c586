"""A student epoch: plain hard labels vs distillation from cached teacher logits vs recomputing
the teacher on every batch.

Student 784-800-800-10 and teacher 784-1200-1200-10 (untrained weights: speed does not depend
on them), the profile's data (at most 20,000 examples), batch size and optimiser; best epoch of
interleaved rounds in one run. Goal (issue 3): distillation from the cache costs at most 1.15×
a plain epoch.
"""

from __future__ import annotations

import time

from kdlab import MLP, distill_student, fit, get_profile, load_dataset, teacher_logits


def run(rounds: int = 3) -> str:
    p = get_profile()
    ds = load_dataset(p.dataset, "train", n=min(p.n_train or 60000, 20000))
    teacher = MLP(784, (1200, 1200), 10, dropout=0.5, seed=0).eval()
    start = time.perf_counter()
    logits = teacher_logits(teacher, ds.X)
    once = time.perf_counter() - start
    common = dict(epochs=1, batch_size=p.batch_size, progress=False)
    variants = {
        "plain (hard labels)": lambda s: fit(s, ds.X, ds.y, **common),
        "distil, cached teacher logits":
            lambda s: distill_student(s, ds.X, logits=logits, y=ds.y, T=4.0, cache=False, **common),
        "distil, teacher every batch":
            lambda s: _recompute(s, ds, teacher, common),
    }
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for label, epoch in variants.items():
            student = MLP(784, (800, 800), 10, seed=1)
            start = time.perf_counter()
            epoch(student)
            best[label] = min(best[label], time.perf_counter() - start)
    base = best["plain (hard labels)"]
    rows = [f"| student epoch ({len(ds):,} examples) | seconds (best of {rounds}) "
            "| ratio vs plain |", "|---|---:|---:|"]
    rows += [f"| {k} | {v:.2f} | {v / base:.2f}× |" for k, v in best.items()]
    rows.append(f"| (teacher over the transfer set, once, for the cache) | {once:.2f} | "
                f"{once / base:.2f}× |")
    return "\n".join(rows)


def _recompute(student, ds, teacher, common):
    """Recompute the teacher per batch: what jitter forces, here without the jitter itself."""
    from kdlab.data import jitter

    identity = jitter(ds.image_shape, max_shift=0)
    distill_student(student, ds.X, teacher=teacher, y=ds.y, T=4.0, augment=identity,
                    cache=False, **common)
