"""A transfer set of two classes (chapter 02, the paper's 7s and 8s): shifting both biases.

Oracles: the arg-max of hand-shifted logits through torch; the choice of the shift must depend
on the validation split only (changing the test set never moves it).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kdlab.data import load_dataset, train_val_split
from kdlab.experiments import (
    PAPER_TWO_CLASS,
    TWO_CLASS_SHIFTS,
    choose_bias_shift,
    errors_with_bias_shift,
    two_class_experiment,
    two_class_pair,
)
from kdlab.profiles import get_profile


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.floats(-8, 8), min_size=1, max_size=6))
def test_shifting_two_classes_is_adding_the_shift_to_both_logits(seed, grid):
    rng = np.random.default_rng(seed)
    z, y = rng.normal(scale=3, size=(30, 5)), rng.integers(0, 5, size=30)
    got = errors_with_bias_shift(z, y, [1, 3], grid)
    for delta, e in zip(grid, got, strict=True):
        shifted = torch.as_tensor(z).clone()
        shifted[:, [1, 3]] += delta
        assert e == int((shifted.argmax(dim=1) != torch.as_tensor(y)).sum())


def test_one_class_in_a_list_is_the_same_as_the_class():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(20, 4)), rng.integers(0, 4, size=20)
    assert np.array_equal(errors_with_bias_shift(z, y, [2], [0, 1, -1]),
                          errors_with_bias_shift(z, y, 2, [0, 1, -1]))


@pytest.mark.parametrize("cls, error", [([], ValueError), ([1, 1], ValueError),
                                        ([0, 9], ValueError), (["a", 1], TypeError)])
def test_bad_class_lists_are_refused(cls, error):
    with pytest.raises(error, match="cls"):
        errors_with_bias_shift(np.zeros((2, 3)), np.array([0, 1]), cls, [0.0])


def test_lowering_two_biases_is_chosen_on_validation_logits():
    # classes 0 and 1 win everywhere by 2; the validation labels are 2: lowering by > 2 helps
    z = np.array([[3.0, 0.0, 1.0], [0.0, 3.0, 1.0]])
    shift, errors = choose_bias_shift(z, None, np.array([2, 2]), [0, 1], [0.0, -1.0, -2.5, -5])
    assert shift == -2.5 and errors.tolist() == [2, 2, 0, 0]  # ties: the smaller change


def test_the_pair_is_the_papers_on_digits_and_shirt_sneaker_on_fashion():
    assert two_class_pair([str(d) for d in range(10)]) == ("7", "8")
    fashion = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
    assert two_class_pair(fashion) == ("Shirt", "Sneaker")
    with pytest.raises(ValueError, match="classes"):
        two_class_pair(["a", "b"])
    assert PAPER_TWO_CLASS == {"classes": ("7", "8"), "errors_before": 0.473,
                               "errors_after": 0.132, "bias_shift": -7.6}
    assert TWO_CLASS_SHIFTS[0] == 0 and TWO_CLASS_SHIFTS.max() <= 0 <= -PAPER_TWO_CLASS[
        "bias_shift"] <= -TWO_CLASS_SHIFTS.min()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def _profile():
    return dataclasses.replace(get_profile("ci"), epochs=8, student_hidden=(32,))


def test_end_to_end_the_shift_is_chosen_on_validation_only(digits):
    train, test = digits
    p = _profile()
    logits = np.random.default_rng(0).normal(scale=3, size=(len(train.y), 10)).astype(
        np.float32)
    logits[np.arange(len(train.y)), train.y] += 6  # a teacher that is mostly right
    r = two_class_experiment(train, test, p, logits, verbose=False)
    assert r["classes"] == ["7", "8"] and r["class_indices"] == [7, 8]
    fit_idx, val_idx = train_val_split(train.y, 0.1, seed=p.seed)
    assert r["transfer_size"] == int(np.isin(train.y[fit_idx], [7, 8]).sum())
    assert r["validation_size"] == len(val_idx)
    # the test set never chooses: scrambling its labels leaves the shift where it was
    scrambled = dataclasses.replace(test, y=np.random.default_rng(1).permutation(test.y))
    r2 = two_class_experiment(train, scrambled, p, logits, verbose=False)
    assert r2["bias_shift"] == r["bias_shift"]
    assert r["validation_errors"] == r2["validation_errors"]
    i = r["shifts"].index(r["bias_shift"])
    assert min(r["validation_errors"]) == r["validation_errors"][i]
    assert (r["test_errors"][0], r["test_errors"][i]) == (r["errors_before"], r["errors_after"])
    assert len(r["test_errors"]) == len(r["shifts"]) == len(TWO_CLASS_SHIFTS)
    assert r["share_of_test"] == pytest.approx(np.isin(test.y, [7, 8]).mean())
    assert 0 <= r["answered_after"] <= 1 and 0 <= r["answered_before"] <= 1
    if r["bias_shift"] < 0:  # lowering both biases can only take answers away from them
        assert r["answered_after"] <= r["answered_before"]
