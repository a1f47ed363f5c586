"""A specialist's confusion matrix, dustbin included (explorer: test_specialist_explorer.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kdlab.models import MLP  # noqa: E402
from kdlab.specialists import Specialist, specialist_confusion  # noqa: E402


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=60)
    return X, y


def _spec(subset, seed=0, correction=0.0):
    return Specialist(MLP(6, (8,), 4, seed=seed), subset, dustbin_correction=correction)


def test_confusion_counts_match_a_loop_oracle(toy):
    X, y = toy
    spec = _spec([2, 0], correction=1.5)
    for corrected in (True, False):
        pred = spec.predict_proba(X, corrected=corrected).argmax(axis=1)
        expected = np.zeros((3, 3), dtype=int)
        for label, answer in zip(y, pred, strict=True):
            row = {2: 0, 0: 1}.get(int(label), 2)
            expected[row, answer] += 1
        assert np.array_equal(specialist_confusion(spec, X, y, corrected=corrected), expected)


def test_a_large_correction_sends_everything_to_the_dustbin(toy):
    X, y = toy
    m = specialist_confusion(_spec([1], correction=1e3), X, y)
    assert m[:, 1].sum() == len(y) and m[:, 0].sum() == 0


def test_confusion_rejects_bad_input(toy):
    X, y = toy
    with pytest.raises(TypeError, match="specialist"):
        specialist_confusion(MLP(6, (8,), 4), X, y)
    with pytest.raises(ValueError, match="y"):
        specialist_confusion(_spec([1]), X, y[:-1])
