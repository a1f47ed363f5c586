"""Early stopping in fit: the weights kept are exactly those of the best held-out epoch."""

import numpy as np
import pytest
import torch

from kdlab.data import load_dataset, train_val_split
from kdlab.models import MLP
from kdlab.train import fit, fit_cached


@pytest.fixture(scope="module")
def split():
    ds = load_dataset("digits", "train")
    fit_rows, val_rows = train_val_split(ds.y, 0.2, seed=0)
    return ds.X[fit_rows], ds.y[fit_rows], ds.X[val_rows], ds.y[val_rows]


def _val_loss(model, X, y):
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(torch.as_tensor(X)),
                                                       torch.as_tensor(y)))


def test_kept_weights_are_the_prefix_training_of_the_best_epoch(split):
    X, y, Xv, yv = split
    net = MLP(64, (8,), 10, seed=0)
    h = fit(net, X, y, epochs=12, lr=0.05, seed=1, progress=False, val=(Xv, yv))
    assert h["epochs_run"] == 12 == len(h["val_loss"])
    best = int(np.argmin(h["val_loss"])) + 1
    assert h["best_epoch"] == best
    # the first e epochs of a constant-rate Adam training are the e-epoch training
    oracle = MLP(64, (8,), 10, seed=0)
    fit(oracle, X, y, epochs=best, lr=0.05, seed=1, progress=False)
    for a, b in zip(net.state_dict().values(), oracle.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    assert _val_loss(net, Xv, yv) == pytest.approx(min(h["val_loss"]), rel=1e-5)


def test_patience_stops_after_that_many_epochs_without_improvement(split):
    X, y, Xv, yv = split
    h = fit(MLP(64, (32,), 10, seed=0), X, y, epochs=60, lr=0.05, seed=0, progress=False,
            val=(Xv, yv), patience=2)
    losses = h["val_loss"]
    assert h["epochs_run"] == len(losses) < 60
    assert h["epochs_run"] - h["best_epoch"] == 2
    assert min(losses[h["best_epoch"]:]) >= losses[h["best_epoch"] - 1]


def test_early_stopping_is_part_of_the_cache_key(split):
    X, y, Xv, yv = split
    a = fit_cached(MLP(64, (8,), 10, seed=0), X, y, epochs=3, val=(Xv, yv), verbose=False)
    b = fit_cached(MLP(64, (8,), 10, seed=0), X, y, epochs=3, val=(Xv, yv), verbose=False)
    c = fit_cached(MLP(64, (8,), 10, seed=0), X, y, epochs=3, verbose=False)
    assert a.history == b.history and "val_loss" in a.history and "val_loss" not in c.history


@pytest.mark.parametrize("kwargs, match", [
    (dict(patience=2), "needs val"),
    (dict(val="no"), "pair"),
    (dict(val=(np.zeros((3, 64), np.float32), np.zeros(2, int))), "as many targets"),
    (dict(val=(np.zeros((3, 64), np.float32), np.zeros(3, int)), patience=0), "patience"),
    (dict(val=(np.zeros((3, 64), np.float32), np.zeros(3, int)), checkpoint="x.ckpt"),
     "checkpoint"),
])
def test_bad_early_stopping_arguments(split, kwargs, match):
    X, y, _, _ = split
    with pytest.raises(ValueError, match=match):
        fit(MLP(64, (8,), 10, seed=0), X, y, epochs=1, progress=False, **kwargs)
