"""Chapter 05: drawing a specialist on all classes, and the KL inference explorer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kdlab.inference import (  # noqa: E402
    active_specialists,
    dustbin_fold,
    expand_specialist,
    kl_inference,
)
from kdlab.widgets import InferenceExplorer, inference_explorer  # noqa: E402


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 8))
def test_expanding_then_folding_gives_back_the_specialist(seed, n_classes):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, n_classes))
    subset = rng.choice(n_classes, size=k, replace=False)
    probs = rng.dirichlet(np.ones(k + 1))
    q = rng.dirichlet(np.ones(n_classes))
    full = expand_specialist(probs, subset, q)
    assert np.isclose(full.sum(), 1) and np.all(full >= 0)
    assert np.allclose(dustbin_fold(full, subset), probs)
    outside = np.setdiff1d(np.arange(n_classes), subset)
    assert np.allclose(full[outside] / full[outside].sum(), q[outside] / q[outside].sum())


def test_expand_shares_evenly_when_q_is_zero_outside():
    assert expand_specialist([0.5, 0.5], [0], np.array([1.0, 0.0, 0.0])).tolist() == \
        [0.5, 0.25, 0.25]


@pytest.mark.parametrize("probs, subset, q, match", [
    ([0.5, 0.5], [0, 1], np.ones(3) / 3, "probs"),
    ([0.5, 0.5], [4], np.ones(3) / 3, "q"),
])
def test_expand_rejects_bad_shapes(probs, subset, q, match):
    with pytest.raises(ValueError, match=match):
        expand_specialist(probs, subset, q)


@pytest.fixture
def case():
    rng = np.random.default_rng(1)
    p_g = rng.dirichlet(np.ones(5), size=12)
    specs = [(np.array([0, 1]), rng.dirichlet(np.ones(3), size=12)),
             (np.array([1, 2, 3]), rng.dirichlet(np.ones(4), size=12))]
    return p_g, specs, kl_inference(p_g, specs)


def test_explorer_draws_generalist_active_specialists_and_q(case):
    p_g, specs, q = case
    w = inference_explorer(p_g, specs, q, class_names=list("abcde"), labels=np.arange(12) % 5)
    assert isinstance(w, InferenceExplorer) and w.png.startswith(b"\x89PNG")
    active = active_specialists(p_g, specs)
    for i in range(12):
        w.slider.value = i
        assert w.index == i and len(w.rows) == 2 + active[i].sum()
        assert np.allclose(w.rows[0], p_g[i]) and np.allclose(w.rows[-1], q[i])
        for row, m in zip(w.rows[1:-1], np.flatnonzero(active[i]), strict=True):
            subset, probs = specs[m]
            assert np.allclose(dustbin_fold(row, subset), probs[i])
        assert "combined says" in w.status.value and "true class" in w.status.value


@pytest.mark.parametrize("index", [12, -1, True, 1.0])
def test_explorer_reports_a_bad_index_without_raising(case, index):
    w = inference_explorer(*case)
    shown = w.rows.copy()
    w.update(index)
    assert "index" in w.error and np.array_equal(w.rows, shown)


def test_explorer_rejects_mismatched_inputs(case):
    p_g, specs, q = case
    with pytest.raises(ValueError, match="q must have the shape"):
        inference_explorer(p_g, specs, q[:3])
    with pytest.raises(ValueError, match="specialists"):
        inference_explorer(p_g, [(np.array([0]), specs[0][1])], q)
    with pytest.raises(ValueError, match="class_names"):
        inference_explorer(p_g, specs, q, class_names=["a"])
