"""``experiments.jittered_transfer``: the distilled student and its control on jittered images."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from kdlab.data import load_dataset
from kdlab.distill import distill_student, teacher_logits
from kdlab.experiments import jittered_transfer, train_generalist
from kdlab.models import MLP
from kdlab.profiles import get_profile
from kdlab.train import fit


@pytest.fixture(scope="module")
def setup():
    train = load_dataset("digits", "train")
    p = dataclasses.replace(get_profile("ci"), epochs=2, student_hidden=(16,), transfer_jitter=1)
    teacher = MLP(train.X.shape[1], (32,), len(train.classes), seed=0)
    fit(teacher, train.X, train.y, epochs=3, seed=0, progress=False)
    return train, p, teacher


def _weights(net):
    return torch.cat([w.detach().flatten() for w in net.state_dict().values()])


def test_both_students_share_the_recipe_and_differ_only_in_the_targets(setup):
    train, p, teacher = setup
    nets = jittered_transfer(train, p, teacher, verbose=False)
    assert sorted(nets) == ["distilled_jittered", "student_jittered"]
    for net in nets.values():
        assert [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)] == [
            16, len(train.classes)]
    alone, distilled = nets["student_jittered"], nets["distilled_jittered"]
    assert not torch.allclose(_weights(alone), _weights(distilled))
    # the jitter is applied: the same networks trained on unshifted images come out otherwise
    plain = train_generalist(train, p, name="student", verbose=False)
    assert not torch.allclose(_weights(alone), _weights(plain))
    unshifted = distill_student(MLP(train.X.shape[1], (16,), len(train.classes), seed=p.seed + 1),
                                train.X, logits=teacher_logits(teacher, train.X), y=train.y,
                                T=20.0, alpha=0.9, name="distilled", verbose=False,
                                **p.fit_options("student"))
    assert not torch.allclose(_weights(distilled), _weights(unshifted))
    # from the cache the second time: the very same weights
    again = jittered_transfer(train, p, teacher, verbose=False)
    for k in nets:
        np.testing.assert_array_equal(_weights(nets[k]).numpy(), _weights(again[k]).numpy())


@pytest.mark.parametrize("bad", [0, -1, 1.5, None])
def test_a_profile_without_jitter_is_a_value_error_naming_it(setup, bad):
    train, p, teacher = setup
    with pytest.raises(ValueError, match="transfer_jitter"):
        jittered_transfer(train, dataclasses.replace(p, transfer_jitter=bad), teacher)


def test_a_profile_that_is_not_one_is_a_type_error(setup):
    train, _, teacher = setup
    with pytest.raises(TypeError, match="profile"):
        jittered_transfer(train, {"transfer_jitter": 1}, teacher)
