"""An ensemble as teacher (chapter 02, paper Table 1): averaging, its logits, the recipe.

Oracles: torch's softmax for the mean of probabilities; the geometric mean of probabilities for
the mean of logits; scipy's logsumexp for the ensemble's logits at a temperature.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.special
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kdlab.data import load_dataset
from kdlab.experiments import (
    PAPER_SPEECH_ENSEMBLE,
    ensemble_experiment,
    ensemble_logits,
    ensemble_proba,
    gap_closed,
    seed_pairs,
    train_ensemble,
)
from kdlab.profiles import get_profile
from kdlab.temperature import softmax_t


def _members(seed, k=4, n=6, c=5, scale=4.0):
    return np.random.default_rng(seed).normal(scale=scale, size=(k, n, c))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.5, 1.0, 3.0, 20.0]))
def test_ensemble_proba_is_the_mean_of_the_members_probabilities(seed, T):
    z = _members(seed)
    oracle = torch.softmax(torch.as_tensor(z) / T, dim=-1).mean(dim=0).numpy()
    assert np.allclose(ensemble_proba(z, T), oracle)
    assert np.allclose(ensemble_proba(z, T).sum(axis=1), 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1.0, 2.0, 4.0, 20.0]))
def test_ensemble_logits_give_the_mean_soft_targets_at_their_temperature(seed, T):
    z = _members(seed, scale=30.0)  # large logits: the log of a tiny mean must stay finite
    v = ensemble_logits(z, T)
    oracle = T * (scipy.special.logsumexp(scipy.special.log_softmax(z / T, axis=-1), axis=0)
                  - np.log(len(z)))
    assert np.isfinite(v).all() and np.allclose(v, oracle)
    assert np.allclose(softmax_t(v, T), ensemble_proba(z, T))


def test_mean_of_logits_is_the_geometric_mean_and_can_disagree_with_the_ensemble():
    # member 0 is sure of class 0 with big logits; members 1 and 2 prefer class 1, mildly
    z = np.array([[[12.0, 0.0]], [[0.0, 1.0]], [[0.0, 1.0]]])
    geometric = np.exp(np.log(softmax_t(z, 1.0)).mean(axis=0))
    assert np.allclose(softmax_t(z.mean(axis=0), 1.0), geometric / geometric.sum())
    assert z.mean(axis=0).argmax() == 0                     # one loud member decides the mean logit
    assert ensemble_proba(z).argmax() == 0                  # ...and here also the mean probability
    z2 = np.array([[[6.0, 0.0]], [[0.0, 3.0]], [[0.0, 3.0]]])
    assert z2.mean(axis=0).argmax() == 0 and ensemble_proba(z2).argmax() == 1  # they disagree


def test_one_member_is_its_own_ensemble():
    z = _members(0, k=1)
    assert np.allclose(ensemble_proba(z), softmax_t(z[0], 1.0))
    assert np.allclose(softmax_t(ensemble_logits(z, 4.0), 4.0), softmax_t(z[0], 4.0))


@pytest.mark.parametrize("bad", [np.zeros((3, 4)), np.zeros((0, 2, 3)),
                                 np.full((2, 2, 3), np.nan)])
def test_bad_member_logits_are_refused(bad):
    with pytest.raises(ValueError, match="member_logits"):
        ensemble_proba(bad)


def test_the_paper_keeps_over_80_percent_of_the_ensembles_gain():
    p = PAPER_SPEECH_ENSEMBLE
    assert (p["baseline"], p["ensemble"], p["distilled"], p["members"]) == (0.589, 0.611, 0.608, 10)
    assert (p["wer_baseline"], p["wer_ensemble"], p["wer_distilled"]) == (0.109, 0.107, 0.107)
    kept = gap_closed(1 - p["ensemble"], 1 - p["baseline"], 1 - p["distilled"])
    assert kept == pytest.approx(0.019 / 0.022) and kept > 0.8


def _tiny_profile():
    return dataclasses.replace(get_profile("ci"), epochs=5, ensemble_size=3,
                               ensemble_hidden=(16,))


def test_members_have_their_own_seeds_and_are_cached(capsys):
    train = load_dataset("digits", "train")
    p = _tiny_profile()
    members = train_ensemble(train, p, verbose=False)
    assert [m.config["seed"] for m in members] == [s for s, _ in seed_pairs(p, 3)]
    w = [m.head.weight.detach() for m in members]
    assert not torch.allclose(w[0], w[1])
    train_ensemble(train, p)
    assert "loaded 3 of 3 networks from the cache" in capsys.readouterr().out


def test_ensemble_experiment_end_to_end_on_digits():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    r = ensemble_experiment(train, test, _tiny_profile(), verbose=False)
    assert r["members"] == 3 and len(r["member_errors"]) == 3
    assert r["mean_member_errors"] == pytest.approx(np.mean(r["member_errors"]))
    assert 0 <= r["ensemble_errors"] <= r["n_test"] == len(test.y)
    assert r["gain_kept"] == pytest.approx(gap_closed(
        r["ensemble_errors"], r["mean_member_errors"], r["distilled_errors"]), nan_ok=True)
    assert r["paper"] == PAPER_SPEECH_ENSEMBLE and r["paper_gain_kept"] > 0.8
