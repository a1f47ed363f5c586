"""kdlab.batched: K MLPs of one shape held as stacked weights and trained together.

Oracles: ``kdlab.models.MLP`` (the same seed gives the same initial weights), each member's own
forward pass, and ``kdlab.train.fit`` training each member alone with the same seed (the batched
training must give the same weights to float tolerance), with ``kdlab.distill.distillation_loss``
as the oracle of a temperature per member.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kdlab
import kdlab.batched
from kdlab.batched import BatchedMLP, fit_batched
from kdlab.data import jitter
from kdlab.distill import distillation_loss
from kdlab.models import MLP
from kdlab.train import fit


def _same(a: MLP, b: MLP) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _max_diff(a: MLP, b: MLP) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


@pytest.fixture
def blobs():
    """200 points in 3 classes, 10 features; float32 X and int64 y."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(3, 10))
    y = rng.integers(0, 3, size=200)
    X = (centers[y] + rng.normal(0, 1, size=(200, 10))).astype(np.float32)
    return X, y


# --- the model --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, {"dropout": 0.3, "input_dropout": 0.2}])
def test_members_start_as_the_mlp_of_their_seed(kwargs):
    seeds = [3, 0, 11]
    nets = BatchedMLP(784, (30, 20), 10, seeds=seeds, **kwargs)
    assert nets.n_members == 3 and nets.config["seeds"] == seeds
    assert [tuple(w.shape) for w in nets.weights] == [(3, 30, 784), (3, 20, 30), (3, 10, 20)]
    assert [tuple(b.shape) for b in nets.biases] == [(3, 30, 1), (3, 20, 1), (3, 10, 1)]
    for k, seed in enumerate(seeds):
        alone = MLP(784, (30, 20), 10, seed=seed, **kwargs)
        member = nets.member(k)
        assert _same(member, alone)
        assert member.config == alone.config and repr(member) == repr(alone)


def test_forward_is_each_members_forward():
    nets = BatchedMLP(12, (7, 5), 4, seeds=[1, 2, 3, 4])
    x = torch.randn(4, 9, 12)
    out = nets(x)
    assert out.shape == (4, 9, 4)
    for k in range(4):
        torch.testing.assert_close(out[k], nets.member(k)(x[k]), rtol=1e-5, atol=1e-6)
    shared = torch.randn(6, 12)  # a 2-d batch goes to every member
    torch.testing.assert_close(nets(shared), torch.stack([nets.member(k)(shared)
                                                          for k in range(4)]))


def test_from_mlps_and_member_round_trip():
    mlps = [MLP(10, (8,), 3, seed=s) for s in (9, 4)] + [MLP(10, (8,), 3)]
    nets = BatchedMLP.from_mlps(mlps)
    assert nets.config["seeds"] == [9, 4, None]
    for k, net in enumerate(mlps):
        assert _same(nets.member(k), net) and nets.member(k).config == net.config
    assert _same(BatchedMLP.from_mlps([nets.member(k) for k in range(3)]).member(2), mlps[2])
    assert _same(nets.member(-1), mlps[2])
    # the copies are independent of the batched weights
    with torch.no_grad():
        nets.weights[0].zero_()
    assert not _same(nets.member(0), mlps[0])


@pytest.mark.parametrize("kwargs", [{"dropout": 0.5}, {"input_dropout": 0.5}])
def test_dropout_masks_differ_between_members_in_training_only(kwargs):
    nets = BatchedMLP(20, (50,), 3, seeds=[0, 0], **kwargs)  # two identical members
    x = torch.randn(5, 20)  # the same input for both
    nets.eval()
    torch.testing.assert_close(nets(x)[0], nets(x)[1])
    nets.train()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        out = nets(x)
    assert not torch.equal(out[0], out[1])


def test_lazy_export():
    assert kdlab.BatchedMLP is BatchedMLP and kdlab.fit_batched is fit_batched


def test_docstring_examples_run():
    result = doctest.testmod(kdlab.batched)
    assert result.attempted >= 4 and result.failed == 0


# --- training: the same as fit, member by member ---------------------------------------------

def _fit_each(seeds, init_seeds, X, targets_of, loss_of, **kwargs):
    """Each member trained alone with kdlab.train.fit (the oracle)."""
    out = []
    for k, (seed, init) in enumerate(zip(seeds, init_seeds, strict=True)):
        net = MLP(X.shape[1], (30, 30), 10, seed=init)
        history = fit(net, X, targets_of(k), seed=seed, loss_fn=loss_of(k), progress=False,
                      device="cpu", **kwargs)
        out.append((net, history))
    return out


def _check_same(nets, history, alone, atol=1e-4):
    for k, (net, h) in enumerate(alone):
        assert _max_diff(nets.member(k), net) < atol, f"member {k}"
        np.testing.assert_allclose(history["loss"][k], h["loss"], rtol=1e-4, atol=1e-5)


def _soft_targets(y, n_classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.softmax(3 * F.one_hot(torch.as_tensor(y).long(), n_classes)
                     + torch.randn(len(y), n_classes, generator=g), dim=-1)


@pytest.fixture
def transfer(fashion):
    """400 real Fashion-MNIST images and labels."""
    return fashion.train.X[:400], fashion.train.y[:400]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["hard", "soft", "jitter", "weight_decay"])
def test_batched_training_equals_fit_member_by_member(transfer, case):
    X, y = transfer
    seeds, init_seeds = [5, 0, 7], [1, 2, 3]
    targets = _soft_targets(y) if case == "soft" else y
    kwargs = dict(epochs=3, batch_size=64, lr=2e-3)
    if case == "jitter":  # the augmentation draws from each member's own generator, as in fit
        kwargs["augment"] = jitter((28, 28), max_shift=2)
    if case == "weight_decay":
        kwargs["weight_decay"] = 1e-3
    nets = BatchedMLP(784, (30, 30), 10, seeds=init_seeds)
    history = fit_batched(nets, X, targets, seeds=seeds, progress=False, device="cpu", **kwargs)
    alone = _fit_each(seeds, init_seeds, X, lambda k: targets, lambda k: None, **kwargs)
    _check_same(nets, history, alone)


@pytest.mark.slow
def test_distillation_at_a_temperature_per_member(transfer):
    """Per-member targets (K, N, C) and a T per member give what fit gives at each T."""
    X, y = transfer
    temperatures = [1.0, 4.0, 20.0]
    teacher = torch.randn(len(y), 10) * 3  # one teacher's logits per member
    per_member = torch.stack([teacher, teacher.roll(1, dims=1), teacher * 0.5])
    T = torch.tensor(temperatures).view(-1, 1, 1)

    def soft_loss(logits, t, idx):
        log_p = F.log_softmax(t / T, dim=-1)
        kl = (log_p.exp() * (log_p - F.log_softmax(logits / T, dim=-1))).sum(-1).mean(-1)
        return kl * T.view(-1) ** 2

    seeds = [0, 1, 2]
    nets = BatchedMLP(784, (30, 30), 10, seeds=seeds)
    history = fit_batched(nets, X, per_member, epochs=2, batch_size=64, seeds=seeds,
                          loss_fn=soft_loss, progress=False, device="cpu")
    alone = _fit_each(seeds, seeds, X, lambda k: per_member[k],
                      lambda k: lambda z, t: distillation_loss(z, t, T=temperatures[k]),
                      epochs=2, batch_size=64)
    _check_same(nets, history, alone)


@pytest.mark.slow
def test_hard_and_soft_mixture_through_idx(transfer):
    """``idx`` lets a loss look up the hard labels beside shared teacher logits."""
    X, y = transfer
    yt, teacher = torch.as_tensor(y).long(), torch.randn(len(y), 10) * 2
    alphas = torch.tensor([0.0, 0.5, 0.9])

    def mixture(logits, t, idx):
        soft = -(F.softmax(t / 4, -1) * F.log_softmax(logits / 4, -1)).sum(-1).mean(-1) * 16
        hard = torch.stack([F.cross_entropy(logits[k], yt[idx[k]]) for k in range(len(idx))])
        return alphas * soft + (1 - alphas) * hard

    nets = BatchedMLP(784, (30, 30), 10, seeds=[0, 1, 2])
    history = fit_batched(nets, X, teacher, epochs=2, batch_size=64, seeds=[3, 4, 5],
                          loss_fn=mixture, progress=False, device="cpu")
    alone = []
    for k in range(3):
        net = MLP(784, (30, 30), 10, seed=k)
        h = fit(net, X, lambda xb, idx: (teacher[idx], yt[idx]), epochs=2, batch_size=64,
                seed=3 + k, progress=False, device="cpu",
                loss_fn=lambda z, t, a=float(alphas[k]): a * 16 * -(
                    F.softmax(t[0] / 4, -1) * F.log_softmax(z / 4, -1)).sum(-1).mean()
                + (1 - a) * F.cross_entropy(z, t[1]))
        alone.append((net, h))
    _check_same(nets, history, alone)


def test_hard_labels_equal_one_hot_soft_targets_and_a_callable(blobs):
    X, y = blobs
    runs = []
    for targets in [y, F.one_hot(torch.as_tensor(y), 3).float(),
                    lambda xb, idx: torch.as_tensor(y)[idx]]:
        nets = BatchedMLP(10, (8,), 3, seeds=[0, 1])
        fit_batched(nets, X, targets, epochs=2, batch_size=32, seeds=[4, 5], progress=False,
                    device="cpu")
        runs.append(nets)
    for other in runs[1:]:
        for k in range(2):
            assert _max_diff(runs[0].member(k), other.member(k)) < 1e-5


def test_history_mode_determinism_and_global_rng(blobs):
    X, y = blobs
    state = torch.random.get_rng_state()
    nets = BatchedMLP(10, (8,), 3, dropout=0.2, seeds=[0, 1, 2])
    history = fit_batched(nets, X, y, epochs=3, batch_size=50, seeds=[0, 1, 2], progress=False,
                          device="cpu")
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not nets.training
    assert len(history["loss"]) == 3 and all(len(h) == 3 for h in history["loss"])
    assert history["device"] == "cpu" and history["seconds"] >= 0
    assert all(h[-1] < h[0] for h in history["loss"])  # every member learns
    again = BatchedMLP(10, (8,), 3, dropout=0.2, seeds=[0, 1, 2])
    assert fit_batched(again, X, y, epochs=3, batch_size=50, seeds=[0, 1, 2], progress=False,
                       device="cpu")["loss"] == history["loss"]
    assert all(_same(nets.member(k), again.member(k)) for k in range(3))


def test_per_member_hard_labels(blobs):
    """Targets (K, N) of ints: member 1 learns permuted labels."""
    X, y = blobs
    labels = np.stack([y, (y + 1) % 3])
    nets = BatchedMLP(10, (16,), 3, seeds=[0, 0])
    fit_batched(nets, X, labels, epochs=15, batch_size=32, lr=1e-2, seeds=[0, 0],
                progress=False, device="cpu")
    pred = nets(torch.as_tensor(X)).argmax(-1).numpy()
    assert (pred[0] == y).mean() > 0.8 and (pred[1] == (y + 1) % 3).mean() > 0.8


def test_per_member_flag_resolves_k_equal_n():
    X = np.zeros((2, 4), np.float32)
    soft = np.full((2, 2, 3), 1 / 3, np.float32)
    nets = BatchedMLP(4, (3,), 3, seeds=[0, 1])
    with pytest.raises(ValueError, match="per_member"):
        fit_batched(nets, X, soft, epochs=1, seeds=[0, 1], progress=False)
    fit_batched(nets, X, soft, epochs=1, seeds=[0, 1], per_member=True, progress=False)


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seeds, error, match", [
    ([], ValueError, "seeds"),
    ([0, -1], ValueError, "seeds"),
    ([0, 1.5], TypeError, r"seeds\[1\] must be an int"),
    ([True], TypeError, r"seeds\[0\] must be an int"),
    (3, TypeError, "seeds"),
    ("01", TypeError, "seeds"),
])
def test_bad_seeds(seeds, error, match):
    with pytest.raises(error, match=match):
        BatchedMLP(4, (3,), 2, seeds=seeds)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="hidden"):
        BatchedMLP(4, (0,), 2, seeds=[0])
    nets = BatchedMLP(4, (3,), 2, seeds=[0, 1])
    with pytest.raises(ValueError, match=r"x: expected shape \(2, B, 4\)"):
        nets(torch.zeros(3, 5, 4))
    with pytest.raises(ValueError, match="x: expected"):
        nets(torch.zeros(5, 6))
    for k in (2, -3, 1.0, True):
        with pytest.raises(ValueError, match="k must be"):
            nets.member(k)


def test_bad_mlps():
    with pytest.raises(ValueError, match="mlps"):
        BatchedMLP.from_mlps([])
    with pytest.raises(TypeError, match="mlps"):
        BatchedMLP.from_mlps(MLP(4, (3,), 2))
    with pytest.raises(TypeError, match=r"mlps\[1\]"):
        BatchedMLP.from_mlps([MLP(4, (3,), 2), torch.nn.Linear(4, 2)])
    with pytest.raises(ValueError, match=r"mlps\[1\] differs"):
        BatchedMLP.from_mlps([MLP(4, (3,), 2), MLP(4, (5,), 2)])
    with pytest.raises(ValueError, match=r"mlps\[1\] differs"):
        BatchedMLP.from_mlps([MLP(4, (3,), 2), MLP(4, (3,), 2, dropout=0.1)])


@pytest.mark.parametrize("change, error, match", [
    (dict(model=MLP(4, (3,), 2)), TypeError, "model must be a BatchedMLP"),
    (dict(seeds=[0]), ValueError, r"seeds: expected one per member \(2\)"),
    (dict(seeds=None), TypeError, "seeds"),
    (dict(X=np.zeros((10, 5), np.float32)), ValueError, r"X must have shape \(N, 4\)"),
    (dict(X=[[0.0] * 4] * 10), TypeError, "X must be"),
    (dict(targets=np.zeros(9, int)), ValueError, "targets: expected 10 rows"),
    (dict(targets=np.full(10, 2)), ValueError, r"labels must lie in \[0, 2\)"),
    (dict(targets=np.full((10, 3), 0.5, np.float32)), ValueError, "2 probabilities"),
    (dict(targets=np.zeros((10, 2), int)), ValueError, "one int per example"),
    (dict(targets=np.zeros((3, 10, 2), np.float32)), ValueError, "targets: expected"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.0), TypeError, "epochs must be an int"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(lr=0.0), ValueError, "lr must be a number > 0"),
    (dict(lr="1e-3"), TypeError, "lr must be a number > 0"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(loss_fn="ce"), TypeError, "loss_fn"),
    (dict(augment=1), TypeError, "augment"),
    (dict(per_member="yes"), TypeError, "per_member"),
    (dict(per_member=True), ValueError, r"one per member needs shape \(2, 10, \.\.\.\)"),
    (dict(loss_fn=lambda z, t, idx: F.cross_entropy(z[0], t[0])), ValueError,
     r"loss_fn must return one loss per member, shape \(2,\)"),
])
def test_fit_batched_bad_input(change, error, match):
    args = dict(model=BatchedMLP(4, (3,), 2, seeds=[0, 1]), X=np.zeros((10, 4), np.float32),
                targets=np.zeros(10, int), epochs=1, seeds=[0, 1], progress=False)
    args.update(change)
    with pytest.raises(error, match=match):
        fit_batched(args.pop("model"), args.pop("X"), args.pop("targets"), **args)
