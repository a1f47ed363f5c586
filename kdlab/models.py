"""Multi-layer perceptrons of the paper's sizes (784-1200-1200-10, 784-800-800-10, 30-30)."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from kdlab.validate import check_int, check_real


class MLP(nn.Module):
    """A ReLU MLP: ``body`` (hidden layers) then ``head`` (the logits layer).

    Parameters
    ----------
    in_features : int
        Input size (784 for 28×28 images).
    hidden : sequence of int
        Widths of the hidden layers, e.g. ``(1200, 1200)`` for the paper's teacher.
    n_classes : int
        Number of outputs.
    dropout : float
        Dropout probability after every hidden layer.
    input_dropout : float
        Dropout probability on the input pixels.
    seed : int, optional
        Seed for the initial weights, so that the same arguments give the same network.

    Examples
    --------
    >>> net = MLP(784, (800, 800), 10, seed=0)
    >>> net(torch.zeros(2, 784)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_features: int, hidden=(800, 800), n_classes: int = 10,
                 dropout: float = 0.0, input_dropout: float = 0.0, seed: int | None = None):
        super().__init__()
        try:
            hidden = tuple(hidden)
        except TypeError:
            raise TypeError(f"hidden must be a sequence of layer widths such as (800, 800), "
                            f"got {hidden!r}") from None
        for name, value in [("in_features", in_features), ("n_classes", n_classes),
                            *[("hidden", h) for h in hidden]]:
            check_int(value, name, lo=1)
        for name, value in [("dropout", dropout), ("input_dropout", input_dropout)]:
            check_real(value, f"{name} (a probability)", 0, 1, hi_open=True)
        self.config = dict(in_features=in_features, hidden=list(hidden), n_classes=n_classes,
                           dropout=float(dropout), input_dropout=float(input_dropout), seed=seed)
        # a seed gets a private stream that leaves the global one alone; no seed: the global one
        rng = contextlib.nullcontext() if seed is None else torch.random.fork_rng(devices=[])
        with rng:
            if seed is not None:
                torch.manual_seed(seed)
            layers: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout else []
            width = in_features
            for h in hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                if dropout:
                    layers.append(nn.Dropout(dropout))
                width = h
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of flattened inputs."""
        return self.head(self.body(x))

    def extra_repr(self) -> str:
        return f"{self.config['in_features']}-{'-'.join(map(str, self.config['hidden']))}-" \
               f"{self.config['n_classes']}"
