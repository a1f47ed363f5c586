"""Training throughput: kdlab's in-memory loop vs a textbook ``DataLoader`` loop.

Same model (784-800-800-10), same data (Fashion-MNIST subset of the profile), same batch size
and optimiser; samples per second, best epoch of interleaved rounds, in one run.
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from kdlab import MLP, fit, get_profile, load_dataset


def _dataloader_epochs(model, X, y, epochs, batch_size):
    loader = DataLoader(TensorDataset(torch.tensor(X), torch.tensor(y)), batch_size=batch_size,
                        shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()


def run(rounds: int = 3) -> str:
    p = get_profile()
    ds = load_dataset(p.dataset, "train", n=min(p.n_train or 60000, 20000))
    variants = {
        "kdlab.fit (in memory)":
            lambda m: fit(m, ds.X, ds.y, epochs=1, batch_size=p.batch_size, progress=False),
        "DataLoader loop": lambda m: _dataloader_epochs(m, ds.X, ds.y, 1, p.batch_size),
    }
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):  # interleaved rounds, best epoch of each: robust to a busy machine
        for label, epoch in variants.items():
            model = MLP(784, (800, 800), 10, seed=0)
            start = time.perf_counter()
            epoch(model)
            best[label] = min(best[label], time.perf_counter() - start)
    rate = {k: len(ds) / v for k, v in best.items()}
    base = rate["DataLoader loop"]
    rows = [f"| loop | samples/s (best of {rounds} epochs) | ratio vs DataLoader |",
            "|---|---:|---:|"]
    rows += [f"| {k} | {v:,.0f} | {v / base:.2f}× |" for k, v in rate.items()]
    return "\n".join(rows)
