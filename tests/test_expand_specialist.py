"""A specialist's opinion spread over all classes (the explorer: test_inference_explorer.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kdlab.inference import (  # noqa: E402
    dustbin_fold,
    expand_specialist,
)


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
