"""kdlab.train: the minibatch loop, batched prediction and evaluation.

Oracles: torch's own cross-entropy, numpy counts of errors, scipy's softmax, and the loop run
twice (hard labels vs one-hot soft targets vs a targets callable must agree).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F

from kdlab.models import MLP
from kdlab.train import (
    evaluate,
    fit,
    predict_logits,
    predict_proba,
    soft_cross_entropy,
)


@pytest.fixture
def blobs():
    """300 points in 3 separable-ish classes, 10 features; float32 X and int64 y."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(3, 10))
    y = rng.integers(0, 3, size=300)
    X = (centers[y] + rng.normal(0, 1, size=(300, 10))).astype(np.float32)
    return X, y


def _net(seed=0, dropout=0.0, hidden=(16,)):
    return MLP(10, hidden, 3, dropout=dropout, seed=seed)


def _state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def add_noise(xb, generator):
    """A module-level augmentation that draws from fit's generator."""
    return xb + 0.1 * torch.randn(xb.shape, generator=generator)


# --- learning on real data --------------------------------------------------------------------

@pytest.mark.slow
def test_fit_learns_fashion_mnist(fashion):
    net = MLP(784, (64,), 10, seed=0)
    before = evaluate(net, fashion.test.X, fashion.test.y)["accuracy"]
    history = fit(net, fashion.train.X, fashion.train.y, epochs=4, batch_size=64, lr=3e-3,
                  progress=False, device="cpu")
    assert len(history["loss"]) == 4 and history["device"] == "cpu" and history["seconds"] > 0
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert all(b < a for a, b in zip(history["loss"], history["loss"][1:], strict=False))
    after = evaluate(net, fashion.test.X, fashion.test.y)
    assert before < 0.3 and after["accuracy"] > 0.70, (before, after["accuracy"])
    assert after["n"] == 1000 and after["errors"] == round(1000 * (1 - after["accuracy"]))


# --- determinism ------------------------------------------------------------------------------

def _run(blobs, seed, **kwargs):
    X, y = blobs
    net = _net(seed=0, dropout=0.3)
    fit(net, X, y, epochs=2, batch_size=32, seed=seed, augment=add_noise, progress=False,
        device="cpu", **kwargs)
    return _state(net)


def test_fit_is_deterministic_on_cpu(blobs):
    torch.manual_seed(1)  # the seed argument alone decides: shuffling, dropout and augment
    first = _run(blobs, seed=4)
    torch.manual_seed(2)
    assert _same(first, _run(blobs, seed=4))


def test_another_seed_gives_another_network(blobs):
    a, b = _run(blobs, seed=4), _run(blobs, seed=5)
    assert not any(torch.equal(a[k], b[k]) for k in a)


def test_fit_leaves_the_global_random_state_alone(blobs):
    torch.manual_seed(99)
    expected = torch.rand(4)
    torch.manual_seed(99)
    _run(blobs, seed=1)
    assert torch.equal(torch.rand(4), expected)


def test_fit_changes_the_weights_and_zero_epochs_does_not(blobs):
    X, y = blobs
    net = _net()
    start = _state(net)
    history = fit(net, X, y, epochs=0, progress=False)
    assert _same(start, _state(net)) and history["loss"] == []
    fit(net, X, y, epochs=1, progress=False)
    assert not _same(start, _state(net))


# --- targets ----------------------------------------------------------------------------------

def test_soft_cross_entropy_is_torchs_cross_entropy_with_probabilities():
    logits = torch.randn(6, 5, dtype=torch.float64)
    probs = torch.softmax(torch.randn(6, 5, dtype=torch.float64), dim=1)
    torch.testing.assert_close(soft_cross_entropy(logits, probs), F.cross_entropy(logits, probs))


def test_one_hot_soft_targets_train_like_hard_labels(blobs):
    X, y = blobs
    hard, soft = _net(), _net()
    fit(hard, X, y, epochs=2, batch_size=32, progress=False, device="cpu")
    fit(soft, X, np.eye(3, dtype=np.float32)[y], epochs=2, batch_size=32, progress=False,
        device="cpu")
    a, b = _state(hard), _state(soft)
    assert not _same(a, _state(_net()))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_soft_targets_are_learned_and_never_beat_their_entropy(blobs):
    X, _ = blobs
    rng = np.random.default_rng(1)
    targets = scipy.special.softmax(rng.normal(0, 2, size=(len(X), 3)), axis=1)
    targets = targets.astype(np.float32)
    entropy = float(-(targets * np.log(targets)).sum(1).mean())
    net = _net()
    history = fit(net, X, targets, epochs=5, batch_size=50, lr=1e-2, progress=False)
    # cross-entropy H(p, q) >= H(p) for every example, so for every epoch's mean too
    assert all(loss >= entropy - 1e-5 for loss in history["loss"])
    assert history["loss"][-1] < history["loss"][0]


def test_a_targets_callable_gets_each_batch_and_its_indices(blobs):
    X, y = blobs
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    seen = []

    def targets(xb, idx):
        assert isinstance(idx, torch.Tensor) and idx.dtype == torch.int64
        assert torch.equal(xb, Xt[idx])  # the inputs of the very rows named by idx
        seen.append(idx.clone())
        return yt[idx]

    by_callable, by_array = _net(), _net()
    fit(by_callable, X, targets, epochs=2, batch_size=64, progress=False, device="cpu")
    fit(by_array, X, y, epochs=2, batch_size=64, progress=False, device="cpu")
    assert _same(_state(by_callable), _state(by_array))
    assert [len(i) for i in seen] == [64, 64, 64, 64, 44] * 2
    for epoch in (torch.cat(seen[:5]), torch.cat(seen[5:])):  # each epoch: a permutation
        assert torch.equal(epoch.sort().values, torch.arange(len(X)))
    assert not torch.equal(torch.cat(seen[:5]), torch.cat(seen[5:]))


def test_a_targets_callable_gets_the_augmented_batch(blobs):
    X, y = blobs
    Xt = torch.from_numpy(X)
    generators = []

    def shift_by_one(xb, generator):
        generators.append(generator)
        return xb + 1.0

    def targets(xb, idx):
        assert torch.equal(xb, Xt[idx] + 1.0)
        return torch.from_numpy(y)[idx]

    fit(_net(), X, targets, epochs=1, batch_size=100, augment=shift_by_one, progress=False,
        device="cpu")
    assert len(generators) == 3 and all(isinstance(g, torch.Generator) for g in generators)


def test_a_custom_loss_gets_logits_and_the_target_batch(blobs):
    X, y = blobs
    teacher_logits = np.random.default_rng(2).normal(size=(len(X), 3)).astype(np.float32)
    calls = []

    def logit_mse(logits, target):
        calls.append((logits.shape, target.shape, target.dtype))
        return ((logits - target) ** 2).mean()

    net = _net()
    history = fit(net, X, teacher_logits, epochs=3, batch_size=100, lr=1e-2, loss_fn=logit_mse,
                  progress=False)
    assert calls[0] == ((100, 3), (100, 3), torch.float32) and len(calls) == 9
    assert history["loss"][-1] < history["loss"][0]


# --- modes and prediction ---------------------------------------------------------------------

def test_fit_leaves_the_model_in_eval_mode(blobs):
    X, y = blobs
    for epochs in (0, 1):
        net = _net(dropout=0.5).train()
        fit(net, X, y, epochs=epochs, progress=False)
        assert not any(m.training for m in net.modules())


def test_predict_logits_batched_equals_unbatched_and_restores_the_mode(blobs):
    X, _ = blobs
    net = _net(dropout=0.5, hidden=(32, 32)).train()
    small, whole = predict_logits(net, X, batch_size=7), predict_logits(net, X)
    assert net.training and all(m.training for m in net.modules())
    assert isinstance(small, np.ndarray) and small.shape == (300, 3) and small.dtype == np.float32
    np.testing.assert_allclose(small, whole, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        direct = net.eval()(torch.from_numpy(X)).numpy()  # no dropout in prediction
    np.testing.assert_allclose(whole, direct, rtol=1e-5, atol=1e-6)
    predict_logits(net, X)
    assert not net.training  # an eval model stays in eval
    np.testing.assert_array_equal(predict_logits(net, torch.from_numpy(X)), whole)


def test_predict_proba_is_the_tempered_softmax(blobs):
    X, _ = blobs
    net = _net()
    logits = predict_logits(net, X).astype(np.float64)
    for T in (1.0, 4.0):
        proba = predict_proba(net, X, T=T)
        np.testing.assert_allclose(proba, scipy.special.softmax(logits / T, axis=1),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(proba.sum(1), 1.0)


def test_evaluate_counts_errors_like_numpy():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 10)).astype(np.float32)
    y = rng.integers(0, 3, size=500)
    net = _net(seed=2)
    result = evaluate(net, X, y, batch_size=64)
    with torch.no_grad():
        pred = net(torch.from_numpy(X)).numpy().argmax(1)
    errors = [int(np.sum((y == c) & (pred != c))) for c in range(3)]
    assert result["errors"] == int(np.sum(pred != y)) == sum(errors) > 0
    assert result["n"] == 500
    assert result["accuracy"] == pytest.approx(np.mean(pred == y))
    np.testing.assert_array_equal(result["errors_by_class"], errors)


def test_errors_by_class_has_an_entry_for_every_class_of_the_model():
    net = MLP(4, (), 10, seed=0)
    with torch.no_grad():  # a model that always answers class 0
        net.head.weight.zero_()
        net.head.bias.copy_(torch.arange(10, 0, -1, dtype=torch.float32))
    result = evaluate(net, np.zeros((6, 4), np.float32), np.array([0, 0, 1, 1, 2, 2]))
    np.testing.assert_array_equal(result["errors_by_class"], [0, 2, 2, 0, 0, 0, 0, 0, 0, 0])


def test_evaluate_refuses_labels_of_another_length(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"\by\b"):
        evaluate(_net(), X, y[:-1])


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("change, error, match", [
    (dict(X=np.zeros(300, np.float32)), ValueError, r"\bX\b"),
    (dict(X=np.zeros((300, 10, 1), np.float32)), ValueError, r"\bX\b"),
    (dict(X=[[0.0] * 10] * 300), TypeError, r"\bX\b"),
    (dict(targets=np.zeros(299, np.int64)), ValueError, "targets"),
    (dict(targets=list(range(300))), TypeError, "targets"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(epochs=None), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(lr=0), ValueError, r"\blr\b"),
    (dict(lr=-1e-3), ValueError, r"\blr\b"),
    (dict(lr=float("nan")), ValueError, r"\blr\b"),
    (dict(lr="0.001"), TypeError, r"\blr\b"),
])
def test_fit_bad_input(blobs, change, error, match):
    X, y = blobs
    args = dict(X=X, targets=y, epochs=1, batch_size=32, lr=1e-3) | change
    net = _net()
    start = _state(net)
    with pytest.raises(error, match=match):
        fit(net, progress=False, **args)
    assert _same(start, _state(net))
