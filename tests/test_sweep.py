"""Temperature sweeps with seeds (chapter 02): shapes, seeds, the grid, curves, the seeded table.

A tiny end-to-end run on sklearn's digits; the oracle for every entry is the one network
trained on its own by ``distill_student`` / ``fit_cached`` (same key: loaded, not retrained).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import kdlab.batched
import kdlab.train
from kdlab.data import load_dataset
from kdlab.distill import distill_student
from kdlab.experiments import (
    ALPHA,
    curve_epochs,
    gap_closed,
    seed_pairs,
    seeded_table,
    sweep_curves,
    sweep_transfer_set,
    temperature_sweep,
    unlikely_mass,
)
from kdlab.models import MLP
from kdlab.profiles import get_profile
from kdlab.train import evaluate, fit_cached


def _profile(**kw):
    sizes = dict(epochs=4, sweep_hidden=(12,), tiny_hidden=(6,), sweep_seeds=2,
                 sweep_temperatures=(1.0, 4.0, 20.0), temperatures=(1.0, 20.0),
                 sweep_n_train=300, sweep_epochs=5, tiny_epochs=6, sweep_lr=3e-3)
    return dataclasses.replace(get_profile("ci"), **{**sizes, **kw})


@pytest.fixture(scope="module")
def digits():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2, size=(len(train.y), 10)).astype(np.float32)
    logits[np.arange(len(train.y)), train.y] += 5
    return train, test, logits


def test_seed_pairs_start_from_the_section_1_student():
    p = get_profile("laptop")
    assert seed_pairs(p) == [(p.seed + 1, p.seed), (p.seed + 2, p.seed + 1),
                             (p.seed + 3, p.seed + 2)]
    assert len(seed_pairs(p, 8)) == 8
    with pytest.raises(ValueError, match="n must"):
        seed_pairs(p, 0)


def test_curve_epochs_end_at_the_training_length():
    assert curve_epochs(100) == [5, 10, 20, 30, 50, 75, 100]
    assert curve_epochs(3) == [3] and curve_epochs(20) == [5, 10, 20]


def test_the_laptop_sweep_has_the_papers_temperatures_and_sizes():
    p = get_profile("laptop")
    assert {1.0, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0} <= set(p.sweep_temperatures)
    assert min(p.sweep_hidden) >= 300 and p.tiny_hidden == (30, 30) and p.sweep_seeds >= 3
    assert set(p.temperatures) <= set(p.sweep_temperatures)  # the grid reuses the sweep
    assert 5 <= p.ensemble_size <= 10 and get_profile("ci").ensemble_size < p.ensemble_size


def test_unlikely_mass_grows_with_temperature():
    z = np.random.default_rng(0).normal(scale=6, size=(50, 10))
    masses = [unlikely_mass(z, T) for T in (1.0, 2.0, 4.0, 20.0)]
    assert masses == sorted(masses) and 0 <= masses[0] < 0.01 < masses[-1] <= 1


def test_sweep_shapes_seeds_and_each_entry_is_its_own_network(digits, monkeypatch):
    train, test, logits = digits
    p = _profile()
    s = temperature_sweep(train, test, p, logits, size="large", alphas=(0.0, 0.5, ALPHA, 1.0),
                          verbose=False)
    assert s["errors"].shape == (3, 2) and s["labels_only"].shape == (2,)
    assert s["grid"].shape == (4, 2) and s["seeds"] == seed_pairs(p)
    assert s["n_transfer"] == 300 and s["hidden"] == [12] and s["epochs"] == 5
    idx = sweep_transfer_set(train, p)
    assert len(idx) == 300 and len(np.unique(idx)) == 300
    # the oracle: each network on its own, loaded from the cache under the same key
    monkeypatch.setattr(kdlab.train, "fit", None)
    monkeypatch.setattr(kdlab.batched, "fit_batched", None)
    X, y, v = train.X[idx], train.y[idx], logits[idx]
    opts = {**p.fit_options("student"), "epochs": 5, "lr": 3e-3}  # the sweep's own
    for i, (init, order) in enumerate(seed_pairs(p)):
        alone = fit_cached(MLP(64, (12,), 10, seed=init), X, y, verbose=False,
                           **{**opts, "seed": order})
        assert evaluate(alone, test.X, test.y)["errors"] == s["labels_only"][i]
        for j, T in enumerate(p.sweep_temperatures):
            net = distill_student(MLP(64, (12,), 10, seed=init), X, logits=v, y=y, T=T,
                                  alpha=ALPHA, verbose=False, **{**opts, "seed": order})
            assert evaluate(net, test.X, test.y)["errors"] == s["errors"][j, i]
    assert s["grid"][0].tolist() == [s["labels_only"][0]] * 2           # alpha 0: no teacher
    assert s["grid"][2].tolist() == [s["errors"][0, 0], s["errors"][2, 0]]  # alpha 0.9: sweep
    net = distill_student(MLP(64, (12,), 10, seed=1), X, logits=v, T=20.0, alpha=1.0,
                          verbose=False, **opts)  # alpha 1: soft targets alone, no labels
    assert evaluate(net, test.X, test.y)["errors"] == s["grid"][3, 1]


def test_the_tiny_sweep_converges_longer_and_its_curve_comes_from_the_cache(digits,
                                                                           monkeypatch):
    train, test, logits = digits
    p = _profile(tiny_epochs=12)
    s = temperature_sweep(train, test, p, logits, size="tiny", verbose=False)
    assert s["epochs"] == 12 and s["lr"] == 3e-3 and s["hidden"] == [6]
    assert len(s["train_loss"]["labels"]) == 12
    monkeypatch.setattr(kdlab.batched, "fit_batched", None)  # the curve only loads
    monkeypatch.setattr(kdlab.train, "fit", None)
    c = sweep_curves(train, test, p, logits)
    assert c["epochs"] == [5, 10, 12]
    assert c["errors"].shape == (3, 3, 2) and c["labels_only"].shape == (3, 2)
    assert np.array_equal(c["errors"][-1], s["errors"])
    assert np.array_equal(c["labels_only"][-1], s["labels_only"])


def test_seeded_table_takes_the_students_alone_and_distilled_seed_by_seed():
    s = {"temperatures": [4.0, 20.0], "errors": np.array([[90, 95, 99], [80, 85, 70]]),
         "labels_only": np.array([150, 140, 130])}
    t = seeded_table(60, s)
    assert t["student_alone"] == [150, 140, 130] and t["distilled"] == [80, 85, 70]
    assert t["gap_closed"] == [gap_closed(60, a, d) for a, d in [(150, 80), (140, 85),
                                                                 (130, 70)]]
    assert t["mean"]["gap_closed"] == pytest.approx(np.mean(t["gap_closed"]))
    assert t["std"]["distilled"] == pytest.approx(np.std([80, 85, 70]))
    assert t["paper"] == {"teacher": 67, "student": 146, "distilled": 74}
    with pytest.raises(ValueError, match="T = 8"):
        seeded_table(60, s, T=8.0)
