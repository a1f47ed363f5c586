"""The specialists experiment of chapters 03-05 (issue 20): its measures against loops, its
controls, and a small run end to end."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.special import softmax

from kdlab.data import load_dataset
from kdlab.experiments import (
    compute_matched_epochs,
    random_groups,
    specialist_data,
    specialist_experiment,
    specialist_split,
    synthetic_specialists,
    two_generalists,
)
from kdlab.inference import accuracy_by_covering, covering_counts
from kdlab.models import MLP
from kdlab.profiles import get_profile
from kdlab.specialists import specialist_dataset, train_specialists, within_group_accuracy
from kdlab.train import fit

RNG = np.random.default_rng(0)


def _probs(n, c, rng):
    return softmax(rng.normal(size=(n, c)) * 2, axis=1)


# --- within-group accuracy ------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_within_group_accuracy_matches_a_loop(seed):
    rng = np.random.default_rng(seed)
    p, y = _probs(200, 7, rng), rng.integers(0, 7, 200)
    subset = rng.choice(7, 3, replace=False)
    right = [subset[np.argmax(p[i, subset])] == y[i] for i in range(200) if y[i] in subset]
    assert within_group_accuracy(p[:, subset], y, subset) == pytest.approx(np.mean(right))


def test_within_group_accuracy_ignores_other_classes_and_is_nan_without_any():
    scores = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert within_group_accuracy(scores, [5, 1], [3, 1]) == 1.0   # only row 1 counts
    assert math.isnan(within_group_accuracy(scores, [5, 6], [3, 1]))


@pytest.mark.parametrize("scores, y, subset, match", [
    (np.zeros((2, 3)), [0, 1], [0, 1], "shape"),
    (np.zeros((2, 2)), [0], [0, 1], "labels"),
    (np.zeros((2, 2)), [0, 1], [], "subset is empty"),
    (np.full((2, 2), np.nan), [0, 1], [0, 1], "finite"),
])
def test_within_group_accuracy_bad_input(scores, y, subset, match):
    with pytest.raises(ValueError, match=match):
        within_group_accuracy(scores, y, subset)


# --- Table 4: covering counts and the bucket table ----------------------------------------

def test_covering_counts_match_a_loop():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 9, 300)
    subsets = [rng.choice(9, k, replace=False) for k in (2, 3, 4, 3, 5)]
    active = rng.random((300, 5)) < 0.5
    every = [sum(y[i] in s for s in subsets) for i in range(300)]
    consulted = [sum(y[i] in s for s, a in zip(subsets, active[i], strict=True) if a)
                 for i in range(300)]
    assert covering_counts(y, subsets).tolist() == every
    assert covering_counts(y, subsets, active).tolist() == consulted


def _table_by_loop(y, pg, q, cov, lo=None, hi=None, last=False):
    conf = pg.max(1)
    rows = []
    for k in range(cov.max() + 1):
        idx = [i for i in range(len(y)) if cov[i] == k and (
            lo is None or (conf[i] >= lo and (conf[i] < hi or (last and conf[i] <= hi))))]
        g = sum(pg[i].argmax() == y[i] for i in idx)
        c = sum(q[i].argmax() == y[i] for i in idx)
        rows.append((k, len(idx), g, c))
    return rows


def test_accuracy_by_covering_matches_a_loop_in_every_stratum_and_shows_every_bucket():
    rng = np.random.default_rng(2)
    n, C = 400, 6
    y, pg, q = rng.integers(0, C, n), _probs(n, C, rng), _probs(n, C, rng)
    cov = rng.choice([0, 1, 2, 5], n)                     # buckets 3 and 4 are empty
    edges = (0.0, 0.5, 0.8, 1.0)
    rows = accuracy_by_covering(y, pg, q, cov, edges)
    strata = [None, (0.0, 0.5), (0.5, 0.8), (0.8, 1.0)]
    assert [r["stratum"] for r in rows] == [s for s in strata for _ in range(6)]
    for j, s in enumerate(strata):
        mine = rows[6 * j:6 * (j + 1)]
        oracle = _table_by_loop(y, pg, q, cov, *(s or (None, None)), last=j == 3)
        assert [(r["covering"], r["n"], r["generalist_correct"], r["combined_correct"])
                for r in mine] == oracle
    empty = [r for r in rows if r["n"] == 0]
    assert {r["covering"] for r in rows if r["stratum"] is None and r["n"] == 0} == {3, 4}
    assert all(math.isnan(r["relative_change"]) and math.isnan(r["generalist_accuracy"])
               for r in empty)
    for r in rows:
        if r["generalist_correct"]:
            assert r["relative_change"] == pytest.approx(r["delta"] / r["generalist_correct"])
    # the strata partition the examples of every bucket
    for k in range(6):
        assert sum(r["n"] for r in rows if r["covering"] == k and r["stratum"]) == \
            next(r["n"] for r in rows if r["covering"] == k and r["stratum"] is None)


@pytest.mark.parametrize("edges", [(0.2, 1.0), (0.0, 0.5), (0.0, 0.7, 0.6, 1.0), (0.5,)])
def test_accuracy_by_covering_needs_edges_from_0_to_1(edges):
    p = np.full((2, 2), 0.5)
    with pytest.raises(ValueError, match="confidence_edges"):
        accuracy_by_covering([0, 1], p, p, [0, 1], edges)


# --- the controls --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_random_groups_have_the_sizes_are_disjoint_and_differ_from_the_real_ones(seed):
    real = [np.array([0, 2, 4, 6]), np.array([5, 7, 9]), np.array([1, 3])]
    out = random_groups(real, 10, seed)
    assert [len(g) for g in out] == [4, 3, 2]
    flat = np.concatenate(out)
    assert len(set(flat.tolist())) == len(flat) and flat.max() < 10
    assert not any(set(g.tolist()) == set(r.tolist()) for g in out for r in real)
    assert [g.tolist() for g in random_groups(real, 10, seed)] == [g.tolist() for g in out]


def test_two_generalists_minimise_the_sum_of_kl_divergences():
    rng = np.random.default_rng(3)
    a, b = _probs(1, 5, rng)[0], _probs(1, 5, rng)[0]

    def objective(z):
        q = softmax(z)
        return np.sum(a * np.log(a / q)) + np.sum(b * np.log(b / q))

    best = softmax(minimize(objective, np.zeros(5), method="BFGS", tol=1e-12).x)
    np.testing.assert_allclose(two_generalists(a[None], b[None])[0], best, atol=1e-6)


def test_compute_matched_epochs_cover_every_specialists_examples():
    p = get_profile("ci")
    y = np.repeat(np.arange(10), 50)
    groups = [np.array([0, 1, 2]), np.array([5, 6])]
    sizes = sum(len(specialist_dataset(y, g).indices) for g in groups)   # 300 + 200
    assert compute_matched_epochs(y, groups, p) == math.ceil(p.specialist_epochs * sizes / 500)


# --- specialists with early stopping and soft targets ---------------------------------------

@pytest.fixture(scope="module")
def digits_split():
    ds = load_dataset("digits", "train")
    rows = np.arange(len(ds.y))
    return ds.X[rows[200:]], ds.y[rows[200:]], ds.X[rows[:200]], ds.y[rows[:200]]


@pytest.fixture(scope="module")
def small_generalist(digits_split):
    X, y, _, _ = digits_split
    gen = MLP(64, (8,), 10, seed=0)
    fit(gen, X, y, epochs=3, progress=False)
    return gen


def test_specialists_stop_early_on_their_own_held_out_share(digits_split, small_generalist):
    X, y, Xv, yv = digits_split
    (spec,) = train_specialists(small_generalist, X, y, [[3, 5, 8]], epochs=8, val=(Xv, yv),
                                patience=2, cache=False, progress=False)
    h = spec.history
    assert len(h["val_loss"]) == h["epochs_run"] and 1 <= h["best_epoch"] <= h["epochs_run"]
    # the held-out loss of the kept weights is the best one recorded, on the held-out 50/50 set
    held = specialist_dataset(yv, [3, 5, 8])
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(spec(torch.as_tensor(Xv[held.indices])),
                                                 torch.as_tensor(held.labels))
    assert float(loss) == pytest.approx(min(h["val_loss"]), rel=1e-5)


def test_soft_weight_zero_is_labels_alone_and_soft_targets_are_the_folded_generalist(
        digits_split, small_generalist, monkeypatch):
    X, y, _, _ = digits_split
    a = train_specialists(small_generalist, X, y, [[1, 7]], epochs=1, cache=False,
                          progress=False)[0]
    b = train_specialists(small_generalist, X, y, [[1, 7]], epochs=1, cache=False,
                          progress=False, soft_weight=0.0)[0]
    assert all(torch.equal(u, v) for u, v in zip(a.state_dict().values(),
                                                 b.state_dict().values(), strict=True))
    seen = {}

    def spy(model, X_, targets, **kw):
        seen["targets"] = targets
        return {"loss": [0.0], "seconds": 0.0, "device": "cpu"}

    monkeypatch.setattr("kdlab.specialists.fit", spy)
    train_specialists(small_generalist, X, y, [[1, 7]], epochs=1, cache=False, progress=False,
                      soft_weight=0.25)
    d = specialist_dataset(y, [1, 7])
    with torch.no_grad():
        p = torch.softmax(small_generalist(torch.as_tensor(X[d.indices])).double(), 1).numpy()
    soft = np.column_stack([p[:, [1, 7]], p[:, [0, 2, 3, 4, 5, 6, 8, 9]].sum(1)
                            / d.oversampling])
    soft /= soft.sum(1, keepdims=True)
    oracle = 0.75 * np.eye(3)[d.labels] + 0.25 * soft
    np.testing.assert_allclose(seen["targets"], oracle, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(soft_weight=1.0), "soft_weight"), (dict(patience=2), "patience needs val"),
    (dict(val=(np.zeros((3, 64), np.float32),)), "pair"), (dict(name=""), "name"),
])
def test_bad_specialist_options(digits_split, small_generalist, kwargs, match):
    X, y, _, _ = digits_split
    with pytest.raises(ValueError, match=match):
        train_specialists(small_generalist, X, y, [[1, 7]], epochs=1, cache=False,
                          progress=False, **kwargs)


# --- end to end, tiny --------------------------------------------------------------------------

TINY = dataclasses.replace(get_profile("ci"), dataset="digits", n_test=None,
                           specialist_n_train=None, specialist_epochs=2, specialist_seeds=2,
                           synthetic_classes=(4, 3, 30))


@pytest.mark.slow
def test_the_experiment_end_to_end_and_again_from_the_cache(monkeypatch):
    train, test = specialist_data(TINY)
    exp = specialist_experiment(train, test, TINY, verbose=False)
    fit_rows, val_rows = specialist_split(train, TINY)
    assert not set(fit_rows) & set(val_rows) and len(fit_rows) + len(val_rows) == len(train)
    n_seeds, n_groups = 2, len(exp.groups)
    assert n_groups >= 1
    for table in (exp.in_group, exp.random_in_group):
        assert all(v.shape == (n_seeds, n_groups) and np.all((0 <= v) & (v <= 1))
                   for v in table.values())
    assert set(exp.accuracy) == {"generalist", "compute_matched", "combined",
                                 "two_generalists", "random_groups"}
    s = exp.summary()
    assert [g["classes"] for g in s["specialists"]] == [[train.classes[c] for c in g]
                                                        for g in exp.groups]
    for g, j in zip(s["specialists"], range(n_groups), strict=True):
        assert g["generalist_in_group_accuracy"] == pytest.approx(
            exp.in_group["generalist"][:, j].mean())
    assert s["combination"]["combined_accuracy"] == pytest.approx(exp.accuracy["combined"].mean())
    # the generalist's accuracy is the one evaluate() gives
    assert exp.accuracy["generalist"][0] == pytest.approx(
        float((exp.generalists[0](torch.tensor(test.X)).argmax(1).numpy() == test.y).mean()))
    monkeypatch.setattr("kdlab.train.fit", lambda *a, **k: pytest.fail("retrained"))
    monkeypatch.setattr("kdlab.specialists.fit", lambda *a, **k: pytest.fail("retrained"))
    monkeypatch.setattr("kdlab.batched.fit_batched", lambda *a, **k: pytest.fail("retrained"))
    again = specialist_experiment(train, test, TINY, verbose=False)
    for key, value in exp.accuracy.items():
        np.testing.assert_array_equal(again.accuracy[key], value)


@pytest.mark.slow
def test_the_synthetic_set_end_to_end():
    syn = synthetic_specialists(TINY, verbose=False)
    assert len(syn.specialists) == len(syn.groups) >= 1
    assert np.array_equal(syn.covering, covering_counts(syn.y_test, syn.groups))
    rows = syn.table()
    overall = [r for r in rows if r["stratum"] is None]
    assert [r["covering"] for r in overall] == list(range(syn.covering.max() + 1))
    assert sum(r["n"] for r in overall) == len(syn.y_test)
