"""Chapter 02's transfer sets as recipes: without one class, and 3% of the data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kdlab.data import load_dataset
from kdlab.experiments import (
    SMALL_FRACTION,
    VALIDATION_FRACTION,
    omitted_transfer_set,
    small_transfer_set,
)
from kdlab.profiles import get_profile


@pytest.fixture(scope="module")
def train():
    return load_dataset("digits", "train")


@pytest.mark.parametrize("omit", [0, 3, 9])
def test_the_omitted_class_is_absent_and_the_validation_tenth_is_apart(train, omit):
    p = get_profile("ci")
    transfer, val = omitted_transfer_set(train, p, omit)
    assert not np.any(train.y[transfer] == omit)
    assert np.intersect1d(transfer, val).size == 0
    others = np.setdiff1d(np.arange(len(train.y)), val)
    np.testing.assert_array_equal(np.sort(transfer), others[train.y[others] != omit])
    assert abs(len(val) / len(train.y) - VALIDATION_FRACTION) < 0.02
    assert np.all(np.bincount(train.y[val], minlength=10) > 0)  # stratified: every class
    again, val2 = omitted_transfer_set(train, p, omit)  # same seed, same rows
    np.testing.assert_array_equal(again, transfer)
    np.testing.assert_array_equal(val2, val)


def test_three_percent_and_half_the_updates(train):
    p = get_profile("ci")
    small, epochs = small_transfer_set(train, p)
    assert len(np.unique(small)) == len(small)
    assert abs(len(small) - SMALL_FRACTION * len(train.y)) <= 10  # stratified rounding
    assert epochs == p.epochs * len(train.y) // (2 * len(small))
    p2 = dataclasses.replace(p, seed=p.seed + 1)
    assert not np.array_equal(np.sort(small_transfer_set(train, p2)[0]), np.sort(small))


@pytest.mark.parametrize("omit, error", [(10, ValueError), (-1, ValueError), ("3", TypeError),
                                         (1.5, TypeError)])
def test_a_bad_class_names_the_argument(train, omit, error):
    with pytest.raises(error, match="omit"):
        omitted_transfer_set(train, get_profile("ci"), omit)
