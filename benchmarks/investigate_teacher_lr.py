"""Investigation (not a benchmark; `make bench` skips it): is the paper-profile teacher
under-trained?

The `paper` profile's MNIST teacher (1200-1200, dropout 0.5, inputs jittered by up to 2 pixels,
Adam at a constant 1e-3, 60 epochs, batch 128) made 110 test errors, not the paper's 67, and
still 440 errors on its own training set. This trains the same network, data, augmentation,
seed and epochs with one change, the learning rate decayed to 0 by a cosine, and prints its
test errors every 10 epochs and its training errors at the end. Needs MNIST
(``python -m kdlab.data fetch mnist``); about 14 minutes on 2 CPU cores.

    python benchmarks/investigate_teacher_lr.py [EPOCHS]
"""

from __future__ import annotations

import math
import sys
import time

import torch
import torch.nn.functional as F

from kdlab.data import jitter, load_dataset
from kdlab.models import MLP
from kdlab.profiles import get_profile
from kdlab.train import evaluate


def main(epochs: int) -> None:
    p = get_profile("paper")
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    X, y = torch.tensor(train.X), torch.tensor(train.y).long()
    net = MLP(X.shape[1], p.teacher_hidden, 10, dropout=p.teacher_dropout, seed=p.seed)
    opt = torch.optim.Adam(net.parameters(), lr=p.lr)
    total = epochs * math.ceil(len(X) / p.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    generator, augment = torch.Generator().manual_seed(p.seed), jitter(train.image_shape,
                                                                        p.teacher_jitter)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(X), generator=generator)
        for i in range(0, len(X), p.batch_size):
            idx = order[i:i + p.batch_size]
            loss = F.cross_entropy(net(augment(X[idx], generator)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
        if epoch % 10 == 0 or epoch == epochs:
            print(f"epoch {epoch}: {evaluate(net, test.X, test.y)['errors']} test errors "
                  f"(lr {schedule.get_last_lr()[0]:.2e}, {time.perf_counter() - start:.0f} s)",
                  flush=True)
    print(f"training-set errors: {evaluate(net, train.X, train.y)['errors']} of {len(X)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else get_profile("paper").teacher_epochs)
