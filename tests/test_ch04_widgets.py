"""Chapter 04: the confusion matrix of a specialist and the specialist explorer widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from kdlab.models import MLP  # noqa: E402
from kdlab.specialists import Specialist, specialist_confusion  # noqa: E402
from kdlab.widgets import SpecialistExplorer, specialist_explorer  # noqa: E402


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


def test_explorer_shows_precomputed_confusions_and_reacts_to_its_controls(toy):
    X, y = toy
    specs = [_spec([0, 1], correction=0.7), _spec([3], seed=1, correction=2.0)]
    w = specialist_explorer(specs, X, y, class_names=["a", "b", "c", "d"])
    assert isinstance(w, SpecialistExplorer) and w.names == ["a, b", "d"]
    assert np.array_equal(w.matrix, specialist_confusion(specs[0], X, y))
    assert "right on" in w.status.value and w.png.startswith(b"\x89PNG")
    w.menu.value = 1
    w.toggle.value = False
    assert (w.index, w.corrected) == (1, False)
    assert np.array_equal(w.matrix, specialist_confusion(specs[1], X, y, corrected=False))


def test_explorer_trains_nothing_when_controls_move(toy, monkeypatch):
    X, y = toy
    w = specialist_explorer([_spec([0, 1]), _spec([2])], X, y)
    monkeypatch.setattr(torch.nn.Module, "__call__", lambda *a, **k: pytest.fail("ran a model"))
    w.update(index=1, corrected=False)
    w.update(index=0, corrected=True)


@pytest.mark.parametrize("kwargs, match", [({"index": 2}, "index"), ({"index": True}, "index"),
                                           ({"corrected": "yes"}, "corrected")])
def test_explorer_reports_bad_choices_without_raising(toy, kwargs, match):
    X, y = toy
    w = specialist_explorer([_spec([0, 1]), _spec([2])], X, y)
    shown = w.matrix.copy()
    w.update(**kwargs)
    assert match in w.error and np.array_equal(w.matrix, shown)


def test_explorer_rejects_what_is_not_a_list_of_specialists(toy):
    X, y = toy
    with pytest.raises(ValueError, match="specialists"):
        specialist_explorer([], X, y)
    with pytest.raises(ValueError, match="specialists"):
        specialist_explorer([MLP(6, (8,), 4)], X, y)
    with pytest.raises(ValueError, match="class_names"):
        specialist_explorer([_spec([0])], X, y, class_names=["a"])
