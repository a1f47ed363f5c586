"""Dustbin specialists (section 5 of the paper) against counts, numpy and Bayes' rule."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kdlab.specialists as ks
from kdlab.data import load_dataset
from kdlab.models import MLP
from kdlab.specialists import Specialist, specialist_dataset, train_specialists
from kdlab.train import fit, predict_logits


def _softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits", "train")
    return ds.X, ds.y


@pytest.fixture(scope="module")
def generalist(digits):
    X, y = digits
    gen = MLP(64, (16,), 10, seed=0)
    fit(gen, X, y, epochs=2, progress=False)
    return gen


# --- specialist_dataset -----------------------------------------------------------------------

@pytest.mark.parametrize("subset", [[3, 5, 8], [8, 3], [0], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
@pytest.mark.parametrize("fraction", [0.5, 0.2, 0.7])
def test_dataset_composition(digits, subset, fraction):
    _, y = digits
    d = specialist_dataset(y, subset, dustbin_fraction=fraction, seed=1)
    k = len(subset)
    in_subset = np.isin(y, subset)
    assert np.all(np.diff(d.indices) > 0), "indices sorted and without repeats"
    # every example of the subset classes is there, and nothing else of theirs
    np.testing.assert_array_equal(np.intersect1d(d.indices, np.flatnonzero(in_subset)),
                                  np.flatnonzero(in_subset))
    # labels: subset[j] -> j in the given order, anything else -> dustbin k
    for j, c in enumerate(subset):
        np.testing.assert_array_equal(d.labels[y[d.indices] == c], j)
    assert np.all(d.labels[~in_subset[d.indices]] == k)
    assert d.labels.max() == k and d.labels.dtype.kind == "i"
    n_sub, n_dust = int(in_subset.sum()), int((d.labels == k).sum())
    assert (d.n_subset, d.n_dustbin, d.n_other) == (n_sub, n_dust, len(y) - n_sub)
    wanted = fraction / (1 - fraction) * n_sub
    if wanted < len(y) - n_sub:  # enough others: the asked fraction, up to rounding
        assert abs(n_dust - wanted) <= 0.5
        assert abs(n_dust / (n_sub + n_dust) - fraction) <= 0.5 / (n_sub + n_dust) + 1e-12
    else:  # too few: every other example, once
        assert n_dust == len(y) - n_sub
    # oversampling: odds of subset vs dustbin, here against the full set
    oracle = (n_sub / n_dust) / (n_sub / (len(y) - n_sub))
    assert d.oversampling == pytest.approx(oracle, rel=1e-12)
    assert d.dustbin_correction == pytest.approx(math.log(oracle), rel=1e-12, abs=1e-12)
    assert d.frequency_ratio == pytest.approx((n_sub / (n_sub + n_dust)) / (n_sub / len(y)))
    assert d.dustbin_fraction == pytest.approx(n_dust / (n_sub + n_dust))


def test_fifty_fifty_on_digits_oversamples_by_the_odds_not_the_frequency(digits):
    _, y = digits
    d = specialist_dataset(y, [3, 5, 8])
    n_sub = int(np.isin(y, [3, 5, 8]).sum())
    assert d.n_dustbin == n_sub and d.dustbin_fraction == 0.5
    assert d.oversampling == pytest.approx((len(y) - n_sub) / n_sub)  # ~ 7:3, odds up ×2.33
    assert d.frequency_ratio == pytest.approx(len(y) / (2 * n_sub))   # ~ 30% -> 50%, ×1.67


def test_dataset_is_seeded_and_deterministic(digits):
    _, y = digits
    a, b = specialist_dataset(y, [1, 7], seed=3), specialist_dataset(y, [1, 7], seed=3)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = specialist_dataset(y, [1, 7], seed=4)
    assert not np.array_equal(a.indices, c.indices)
    assert c.n_dustbin == a.n_dustbin


def test_too_few_other_examples_uses_each_once_and_needs_no_correction():
    y = np.array([0] * 30 + [1] * 30 + [2] * 10)
    d = specialist_dataset(y, [0, 1], dustbin_fraction=0.5)  # wants 60 others, 10 exist
    np.testing.assert_array_equal(d.indices, np.arange(70))
    assert (d.n_dustbin, d.oversampling, d.dustbin_correction) == (10, 1.0, 0.0)
    assert d.dustbin_fraction == pytest.approx(10 / 70)


def test_a_tiny_fraction_still_gives_one_dustbin_example():
    y = np.repeat(np.arange(3), 20)
    d = specialist_dataset(y, [0], dustbin_fraction=0.01)  # 0.2 rounds to 0
    assert d.n_dustbin == 1 and d.oversampling == 40.0


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n_classes=st.integers(2, 8), n=st.integers(10, 200),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**16))
def test_dataset_invariants(data, n_classes, n, fraction, seed):
    y = np.random.default_rng(seed).integers(0, n_classes, n)
    present = np.unique(y)
    if present.size < 2:
        return
    k = data.draw(st.integers(1, present.size - 1))
    subset = data.draw(st.permutations(present.tolist()))[:k]
    d = specialist_dataset(y, subset, fraction, seed, n_classes=n_classes)
    assert np.array_equal(np.unique(d.indices), d.indices)
    assert np.all(np.isin(np.flatnonzero(np.isin(y, subset)), d.indices))
    remap = {c: j for j, c in enumerate(subset)}
    assert [remap.get(c, k) for c in y[d.indices]] == d.labels.tolist()
    assert 1 <= d.n_dustbin <= d.n_other
    assert d.oversampling >= 1.0


# --- Specialist: initialisation from the generalist -------------------------------------------

def test_init_copies_body_and_subset_rows_exactly_and_leaves_generalist_alone(generalist):
    before = _state(generalist)
    subset = [8, 3, 5]
    spec = Specialist(generalist, subset)
    assert _same_state(before, _state(generalist))
    body_g, body_s = generalist.body.state_dict(), spec.body.state_dict()
    assert _same_state(body_g, body_s)
    W, b = generalist.head.weight.detach(), generalist.head.bias.detach()
    assert spec.head.weight.shape == (4, W.shape[1])
    assert torch.equal(spec.head.weight[:3], W[subset]) and torch.equal(spec.head.bias[:3],
                                                                         b[subset])
    # a copy, not a view: training the specialist cannot touch the generalist
    with torch.no_grad():
        for p in spec.parameters():
            p.add_(1.0)
    assert _same_state(before, _state(generalist))
    assert all(p.requires_grad and p.grad is None for p in spec.parameters())


def test_dustbin_row_is_mean_of_other_rows_and_bias_plus_log_m(generalist):
    subset = np.array([3, 5, 8])
    spec = Specialist(generalist, subset)
    W = generalist.head.weight.detach().numpy().astype(np.float64)
    b = generalist.head.bias.detach().numpy().astype(np.float64)
    others = [c for c in range(10) if c not in subset]
    np.testing.assert_allclose(spec.head.weight[-1].detach().numpy(), W[others].mean(0),
                               rtol=1e-6, atol=1e-7)
    dustbin_bias = float(spec.head.bias[-1].detach())
    assert dustbin_bias == pytest.approx(b[others].mean() + math.log(7), abs=1e-6)


def test_init_probabilities_match_the_generalist(generalist, digits):
    X, _ = digits
    subset = [3, 5, 8]
    others = [c for c in range(10) if c not in subset]
    p = _softmax(predict_logits(generalist, X))
    q = Specialist(generalist, subset).predict_proba(X)
    # exact: the same distribution among the subset classes
    np.testing.assert_allclose(q[:, :3] / q[:, :3].sum(1, keepdims=True),
                               p[:, subset] / p[:, subset].sum(1, keepdims=True), atol=1e-6)
    # Jensen: mean + log m <= logsumexp, so the dustbin is never larger than "any other class"
    assert np.all(q[:, -1] <= p[:, others].sum(1) + 1e-6)
    assert np.all(q[:, :3] >= p[:, subset] - 1e-6)
    # and, for a real network, close
    assert np.abs(q[:, -1] - p[:, others].sum(1)).max() < 0.05


def test_init_is_exact_when_the_other_classes_logits_coincide(digits):
    X, _ = digits
    gen = MLP(64, (16,), 6, seed=2)
    with torch.no_grad():
        gen.head.weight[3:] = gen.head.weight[3]
        gen.head.bias[3:] = gen.head.bias[3]
    p = _softmax(predict_logits(gen, X[:50]))
    q = Specialist(gen, [0, 1, 2]).predict_proba(X[:50])
    np.testing.assert_allclose(q, np.c_[p[:, :3], p[:, 3:].sum(1)], atol=1e-6)


# --- the dustbin correction -------------------------------------------------------------------

def test_correction_equals_the_bayes_prior_correction_computed_with_numpy(generalist, digits):
    X, y = digits
    subset = [4, 9, 7]
    spec, = train_specialists(generalist, X, y, [subset], epochs=1, seed=0, cache=False,
                              progress=False)
    labels = spec.training_data.labels
    # priors of the specialist's k+1 classes: in the full set (true) and in its training set
    true = np.array([np.mean(y == c) for c in subset] + [np.mean(~np.isin(y, subset))])
    train = np.bincount(labels, minlength=4) / len(labels)
    z = spec.predict_logits(X, corrected=False)
    oracle = _softmax(z + np.log(true / train))
    np.testing.assert_allclose(spec.predict_proba(X), oracle, rtol=1e-9, atol=1e-12)
    shift = np.log(true / train)
    assert spec.dustbin_correction == pytest.approx(shift[-1] - shift[0], rel=1e-12)
    np.testing.assert_allclose(shift[:-1], shift[0], rtol=1e-12)  # the same for every subset class
    np.testing.assert_allclose(spec.predict_logits(X) - z, np.c_[np.zeros((len(z), 3)),
                               np.full(len(z), spec.dustbin_correction)], atol=1e-12)


def test_correction_turns_the_training_prior_into_the_true_one_exactly():
    """A specialist that knows nothing but its training prior; corrected, the true prior."""
    y = np.repeat(np.arange(10), [50, 30, 20] + [100] * 7)
    subset = [0, 1, 2]
    d = specialist_dataset(y, subset, dustbin_fraction=0.5)
    train_prior = np.bincount(d.labels) / len(d.labels)
    spec = Specialist(MLP(5, (4,), 10, seed=0), subset, d.dustbin_correction)
    with torch.no_grad():  # logits = log training prior, whatever the input
        spec.head.weight.zero_()
        spec.head.bias.copy_(torch.as_tensor(np.log(train_prior)))
    X = np.random.default_rng(0).normal(size=(len(y), 5)).astype(np.float32)
    raw, fixed = spec.predict_proba(X, corrected=False), spec.predict_proba(X)
    assert raw[:, -1].mean() == pytest.approx(0.5)
    assert fixed[:, -1].mean() == pytest.approx(700 / 800, rel=1e-6)  # the true dustbin rate
    np.testing.assert_allclose(fixed[0, :3], [50 / 800, 30 / 800, 20 / 800], rtol=1e-6)


def test_correction_moves_a_learned_prior_toward_the_true_dustbin_rate():
    """Inputs that carry no information: the best a specialist can learn is its prior."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 6)).astype(np.float32)
    y = rng.integers(0, 5, 1000)
    gen = MLP(6, (4,), 5, seed=0)
    spec, = train_specialists(gen, X, y, [[0]], epochs=8, lr=0.02, cache=False, progress=False)
    true_rate = np.mean(y != 0)  # ~0.8, against 0.5 in training
    fresh = rng.normal(size=(2000, 6)).astype(np.float32)
    raw = spec.predict_proba(fresh, corrected=False)[:, -1].mean()
    fixed = spec.predict_proba(fresh)[:, -1].mean()
    assert abs(raw - 0.5) < 0.1
    assert abs(fixed - true_rate) < 0.05 < abs(raw - true_rate)


def test_predict_proba_rows_sum_to_one_with_the_dustbin_last(generalist, digits):
    X, _ = digits
    spec = Specialist(generalist, [2, 6], dustbin_correction=1.5)
    for corrected in (True, False):
        p = spec.predict_proba(X[:40], corrected=corrected)
        assert p.shape == (40, 3) and p.dtype == np.float64
        np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert spec.dustbin == 2
    huge = Specialist(generalist, [2, 6], dustbin_correction=100.0)
    np.testing.assert_allclose(huge.predict_proba(X[:40])[:, -1], 1.0, atol=1e-12)
    torch_X = torch.tensor(X[:40])
    np.testing.assert_allclose(spec.predict_proba(torch_X), spec.predict_proba(X[:40]))


# --- train_specialists ------------------------------------------------------------------------

def test_specialists_are_trained_and_the_generalist_is_not(generalist, digits):
    X, y = digits
    before, rng_before = _state(generalist), torch.get_rng_state()
    subsets = [[3, 5, 8], [5, 9]]  # overlapping: 5 has two specialists
    specs = train_specialists(generalist, X, y, subsets, epochs=2, cache=False, progress=False)
    assert _same_state(before, _state(generalist))
    assert torch.equal(rng_before, torch.get_rng_state()), "the global random stream is kept"
    for spec, subset in zip(specs, subsets, strict=True):
        assert spec.subset.tolist() == subset and not spec.training
        assert len(spec.history["loss"]) == 2
        d = spec.training_data
        assert spec.dustbin_correction == pytest.approx(math.log(d.oversampling))
        assert np.all(np.isin(np.flatnonzero(y == 5), d.indices))
        fresh = Specialist(generalist, subset)
        assert not torch.equal(fresh.head.weight, spec.head.weight), "trained"
        assert torch.equal(fresh.head.weight[subset.index(5)],  # both started from row 5
                           generalist.head.weight[5])


def test_two_threads_give_the_same_weights_as_one(generalist, digits):
    X, y = digits
    subsets = [[3, 5, 8], [1, 7], [4, 9]]
    one = train_specialists(generalist, X, y, subsets, epochs=2, cache=False, progress=False)
    two = train_specialists(generalist, X, y, subsets, epochs=2, cache=False, progress=False,
                            n_jobs=2)
    for a, b in zip(one, two, strict=True):
        assert a.subset.tolist() == b.subset.tolist()
        assert _same_state(_state(a), _state(b))


def test_second_call_loads_every_specialist_from_the_cache(generalist, digits, kdlab_cache,
                                                          monkeypatch):
    X, y = digits
    subsets = [[3, 5, 8], [1, 7]]
    first = train_specialists(generalist, X, y, subsets, epochs=1, n_jobs=2, progress=False)
    files = sorted(p.name for p in kdlab_cache.rglob("*.pt"))
    assert len(files) == 2 and files[0].startswith("specialist-0-") \
        and files[1].startswith("specialist-1-")
    monkeypatch.setattr("kdlab.train.fit", lambda *a, **k: pytest.fail("retrained"))
    second = train_specialists(generalist, X, y, subsets, epochs=1, progress=False)
    for a, b in zip(first, second, strict=True):
        assert _same_state(_state(a), _state(b))
        assert a.dustbin_correction == b.dustbin_correction


def test_backend_choice_follows_dropout(generalist):
    assert not ks._stochastic(Specialist(generalist, [1]))
    assert ks._stochastic(Specialist(MLP(4, (3,), 3, dropout=0.5), [1]))


@pytest.mark.slow
def test_dropout_generalist_in_worker_processes_matches_sequential(digits):
    X, y = digits
    gen = MLP(64, (16,), 10, dropout=0.3, seed=0)
    subsets = [[3, 5, 8], [1, 7]]
    one = train_specialists(gen, X, y, subsets, epochs=1, cache=False, progress=False)
    two = train_specialists(gen, X, y, subsets, epochs=1, cache=False, progress=False, n_jobs=2)
    for a, b in zip(one, two, strict=True):
        assert _same_state(_state(a), _state(b))


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("subset,match", [
    ([], "subset is empty"),
    (list(range(10)), "every one of the 10 classes"),
    ([3, 10], r"class ids must lie in \[0, 10\)"),
    ([-1, 2], r"class ids must lie in \[0, 10\)"),
    ([3, 5, 3], "duplicate class ids \\[3\\]"),
    ([[1, 2]], "1-d"),
    (4, "1-d"),
])
def test_bad_subsets(digits, generalist, subset, match):
    _, y = digits
    with pytest.raises(ValueError, match=match):
        specialist_dataset(y, subset)
    with pytest.raises(ValueError, match=match):
        Specialist(generalist, subset)


def test_non_integer_subset_is_a_type_error(digits):
    with pytest.raises(TypeError, match="subset"):
        specialist_dataset(digits[1], [1.0, 2.0])


@pytest.mark.parametrize("fraction, error", [
    (0, ValueError), (1, ValueError), (1.5, ValueError), (-0.2, ValueError),
    (float("nan"), ValueError), (True, TypeError), ("0.5", TypeError),
])
def test_bad_dustbin_fraction(digits, generalist, fraction, error):
    X, y = digits
    match = r"dustbin_fraction must be a number in \(0, 1\)"
    with pytest.raises(error, match=match):
        specialist_dataset(y, [1, 2], dustbin_fraction=fraction)
    with pytest.raises(error, match=match):
        train_specialists(generalist, X, y, [[1, 2]], epochs=1, dustbin_fraction=fraction)


def test_dataset_argument_errors():
    y = np.array([0, 0, 1, 1, 2])
    with pytest.raises(TypeError, match="y must hold integer class ids"):
        specialist_dataset(y.astype(float), [0])
    with pytest.raises(ValueError, match=r"y must hold class ids in \[0, 2\)"):
        specialist_dataset(y, [0], n_classes=2)
    with pytest.raises(ValueError, match="no example"):
        specialist_dataset(y, [3], n_classes=5)
    with pytest.raises(ValueError, match="nothing to put in the dustbin"):
        specialist_dataset(y, [0, 1, 2], n_classes=4)
    with pytest.raises(ValueError, match="seed"):
        specialist_dataset(y, [0], seed=-1)
    with pytest.raises(ValueError, match="n_classes"):
        specialist_dataset(y, [0], n_classes=0)


class _NoHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(4, 4)


@pytest.mark.parametrize("bad", [_NoHead(), torch.nn.Linear(4, 3), "mlp", None])
def test_generalist_must_have_body_and_linear_head(bad, digits):
    X, y = digits
    with pytest.raises(ValueError, match="generalist must be an MLP-like"):
        Specialist(bad, [0])
    with pytest.raises(ValueError, match="generalist"):
        train_specialists(bad, X, y, [[0]], epochs=1)


def test_train_specialists_argument_errors(generalist, digits):
    X, y = digits
    bad = [
        (dict(subsets=[]), ValueError, "subsets must be a non-empty list"),
        (dict(subsets=np.array([1, 2])), ValueError, "subsets must be"),
        (dict(subsets=[[1, 2], [4, 4]]), ValueError, r"subsets\[1\]: duplicate"),
        (dict(subsets=[[1, 2], []]), ValueError, r"subsets\[1\] is empty"),
        (dict(n_jobs=0), ValueError, "n_jobs"),
        (dict(backend="fork"), ValueError, "backend"),
        (dict(y=y[:10]), ValueError, "y: expected"),
        (dict(X=X.tolist()), TypeError, "X must be"),
        (dict(seed=-3), ValueError, "seed"),
        (dict(epochs=-1), ValueError, "epochs"),
    ]
    for change, error, match in bad:
        kwargs = dict(X=X, y=y, subsets=[[1, 2]], epochs=1, cache=False, progress=False)
        kwargs.update(change)
        with pytest.raises(error, match=match):
            train_specialists(generalist, **kwargs)
    spec = Specialist(generalist, [1])
    with pytest.raises(TypeError, match="corrected"):
        spec.predict_proba(X[:2], corrected="yes")
    with pytest.raises(ValueError, match="dustbin_correction"):
        Specialist(generalist, [1], dustbin_correction=float("inf"))
