"""Long trainings: SGD with momentum, a cosine schedule, max-norm, and checkpoint/resume.

An interrupted training, re-run with the same configuration, resumes from its last checkpoint
and ends with exactly the weights of an uninterrupted run (same machine, CPU).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kdlab.data import jitter
from kdlab.models import MLP
from kdlab.profiles import PROFILES, get_profile
from kdlab.train import _fit_key, fit, fit_cached

KW = dict(epochs=6, batch_size=32, lr=0.05, optimizer="sgd", schedule="cosine", max_norm=1.0,
          augment=jitter((4, 4), 1), progress=False, seed=3)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((300, 16)).astype(np.float32), rng.integers(0, 3, 300)


def _net():
    return MLP(16, (8,), 3, dropout=0.3, input_dropout=0.2, seed=1)


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class Interrupt(Exception):
    pass


class _Interrupter:
    """``arm(n)``: trainings raise (like a kill) after ``n`` optimiser steps; ``disarm()``."""

    def __init__(self):
        self.real = torch.optim.SGD.step

    def arm(self, after_steps):
        calls, real = [0], self.real

        def step(opt, *args, **kwargs):
            calls[0] += 1
            if calls[0] > after_steps:
                raise Interrupt
            return real(opt, *args, **kwargs)

        torch.optim.SGD.step = step

    def disarm(self):
        torch.optim.SGD.step = self.real


@pytest.fixture
def interrupt():
    it = _Interrupter()
    yield it
    it.disarm()


@pytest.mark.parametrize("stop_after", [13, 25, 47])  # 10 steps an epoch: epochs 1, 2 and 4
def test_an_interrupted_run_resumes_to_the_same_weights(data, tmp_path, interrupt, stop_after):
    X, y = data
    whole = _net()
    fit(whole, X, y, **KW)
    ckpt = tmp_path / "run.ckpt"
    interrupt.arm(stop_after)
    with pytest.raises(Interrupt):
        fit(_net(), X, y, **KW, checkpoint=ckpt, checkpoint_every=2)
    interrupt.disarm()
    saved_at = 2 * ((stop_after // 10) // 2)  # the last even epoch completed
    assert ckpt.is_file() == (saved_at > 0)
    resumed = _net()
    history = fit(resumed, X, y, **KW, checkpoint=ckpt, checkpoint_every=2)
    assert history.get("resumed_at", 0) == saved_at
    assert len(history["loss"]) == KW["epochs"]
    assert _same(whole, resumed)


def test_without_a_checkpoint_file_training_starts_from_scratch(data, tmp_path):
    X, y = data
    a, b = _net(), _net()
    fit(a, X, y, **KW)
    history = fit(b, X, y, **KW, checkpoint=tmp_path / "none.ckpt", checkpoint_every=2)
    assert "resumed_at" not in history and _same(a, b)


def test_a_checkpoint_of_another_configuration_is_ignored_with_a_warning(data, tmp_path,
                                                                        interrupt):
    X, y = data
    ckpt = tmp_path / "run.ckpt"
    interrupt.arm(25)
    with pytest.raises(Interrupt):
        fit(_net(), X, y, **KW, checkpoint=ckpt, checkpoint_every=2)
    interrupt.disarm()
    other = {**KW, "lr": 0.01}
    expected = _net()
    fit(expected, X, y, **other)
    got = _net()
    with pytest.warns(RuntimeWarning, match="another training configuration"):
        history = fit(got, X, y, **other, checkpoint=ckpt, checkpoint_every=2)
    assert "resumed_at" not in history and _same(expected, got)


def test_a_damaged_checkpoint_costs_a_restart_not_the_run(data, tmp_path):
    X, y = data
    ckpt = tmp_path / "run.ckpt"
    ckpt.write_bytes(b"not a checkpoint")
    expected, got = _net(), _net()
    fit(expected, X, y, **KW)
    with pytest.warns(RuntimeWarning, match="unusable"):
        fit(got, X, y, **KW, checkpoint=ckpt, checkpoint_every=2)
    assert _same(expected, got)


def test_fit_cached_resumes_and_removes_the_checkpoint_once_saved(data, kdlab_cache, interrupt):
    X, y = data
    kw = {k: v for k, v in KW.items() if k != "progress"}
    interrupt.arm(35)
    with pytest.raises(Interrupt):
        fit_cached(_net(), X, y, name="long", verbose=False, checkpoint_every=2, **kw)
    interrupt.disarm()
    assert [p.suffix for p in (kdlab_cache / "models").iterdir()] == [".ckpt"]
    whole = _net()
    fit(whole, X, y, **KW)
    lines = []
    net = fit_cached(_net(), X, y, name="long", verbose=False, checkpoint_every=2,
                     log=lines.append, **kw)
    assert net.history["resumed_at"] == 2
    assert _same(whole, net)
    assert [p.suffix for p in (kdlab_cache / "models").iterdir()] == [".pt"]
    assert len(lines) == 1 and "epoch 4/6" in lines[0] and "left" in lines[0]


def test_a_diverged_training_stops_and_caches_nothing(data, kdlab_cache):
    """Found at paper scale: the distilled student at four times the rate went to a NaN loss
    and trained on for 40 epochs. Now it stops in the first epoch whose loss is not finite,
    and nothing (model or NaN weights) reaches the cache."""
    X, y = data
    kw = {**KW, "lr": 1e30, "max_norm": None, "progress": False}
    with pytest.raises(FloatingPointError, match=r"diverged: loss (nan|inf) in epoch 1 at lr"):
        fit(_net(), X, y, **kw)
    with pytest.raises(FloatingPointError, match="diverged"):
        fit_cached(_net(), X, y, name="diverged", verbose=False,
                   **{k: v for k, v in kw.items() if k != "progress"})
    assert not (kdlab_cache / "models").exists() or not any((kdlab_cache / "models").iterdir())


def test_the_checkpoint_interval_is_not_part_of_the_cache_key(data, kdlab_cache):
    X, y = data
    kw = {k: v for k, v in KW.items() if k != "progress"}
    fit_cached(_net(), X, y, name="a", verbose=False, checkpoint_every=2, **kw)
    before = sorted(p.name for p in (kdlab_cache / "models").iterdir())
    fit_cached(_net(), X, y, name="a", verbose=False, **kw)  # loads, trains nothing
    assert sorted(p.name for p in (kdlab_cache / "models").iterdir()) == before == [
        p for p in before if p.endswith(".pt")]


@pytest.fixture
def sgd_rates(monkeypatch) -> list:
    """The learning rate of every SGD step taken during the test, in order."""
    seen = []
    real_step = torch.optim.SGD.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", spy)
    return seen


def test_cosine_schedule_decays_to_zero_and_sgd_follows_it(data, sgd_rates):
    X, y = data
    seen = sgd_rates
    fit(_net(), X, y, **{**KW, "epochs": 2, "augment": None})
    total = 2 * 10
    assert len(seen) == total
    expected = [0.05 * 0.5 * (1 + math.cos(math.pi * s / total)) for s in range(total)]
    np.testing.assert_allclose(seen, expected)
    assert seen[0] == pytest.approx(0.05) and seen[-1] < 0.05 * 0.01


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_warmup_raises_the_rate_linearly_then_follows_the_schedule(data, sgd_rates, schedule):
    X, y = data
    seen = sgd_rates
    fit(_net(), X, y, **{**KW, "epochs": 3, "augment": None, "schedule": schedule, "warmup": 1})
    total, ramp = 3 * 10, 10  # 10 steps an epoch; the first epoch warms up
    decay = [0.5 * (1 + math.cos(math.pi * s / total)) if schedule == "cosine" else 1.0
             for s in range(total)]
    expected = [0.05 * d * min(1.0, (s + 1) / ramp) for s, d in enumerate(decay)]
    np.testing.assert_allclose(seen, expected)
    assert seen[0] == pytest.approx(0.05 / ramp)


def test_warmup_is_part_of_the_cache_key(data):
    X, y = data
    kw = {**KW, "augment": None}
    assert _fit_key(_net(), X, y, kw) != _fit_key(_net(), X, y, {**kw, "warmup": 2})

def test_max_norm_bounds_every_units_incoming_weights(data):
    X, y = data
    net = MLP(16, (32, 32), 3, seed=0)
    fit(net, X * 50, y, epochs=2, batch_size=32, lr=0.5, optimizer="sgd", max_norm=0.25,
        progress=False)
    for module in net.modules():
        if isinstance(module, torch.nn.Linear):
            assert module.weight.norm(dim=1).max() <= 0.25 + 1e-5


@pytest.mark.parametrize("bad, error", [
    (dict(optimizer="rmsprop"), ValueError), (dict(schedule="step"), ValueError),
    (dict(momentum=1.0), ValueError), (dict(momentum="0.9"), TypeError),
    (dict(max_norm=0), ValueError), (dict(max_norm=True), TypeError),
    (dict(checkpoint_every=0), ValueError), (dict(checkpoint_every=2.0), TypeError),
    (dict(warmup=-1), ValueError), (dict(warmup=1.5), TypeError)])
def test_bad_training_options_are_refused_by_name(data, bad, error):
    X, y = data
    with pytest.raises(error, match=next(iter(bad))):
        fit(_net(), X, y, epochs=1, progress=False, **bad)


def test_ci_and_laptop_keep_their_recipe_and_cache_keys():
    for name in ("ci", "laptop"):
        p = get_profile(name)
        assert p.fit_options("student") == dict(epochs=p.epochs, batch_size=p.batch_size,
                                                lr=p.lr, seed=p.seed)
        assert p.fit_options("teacher") == dict(epochs=p.teacher_epochs,
                                                batch_size=p.batch_size, lr=p.lr, seed=p.seed)
        assert p.teacher_input_dropout == 0.0 and p.checkpoint_every is None


def test_the_paper_recipe_is_sgd_cosine_with_max_norm_and_checkpoints():
    p = PROFILES["paper"]
    teacher, student = p.fit_options("teacher"), p.fit_options("student")
    assert teacher["optimizer"] == student["optimizer"] == "sgd"
    assert teacher["schedule"] == student["schedule"] == "cosine"
    assert teacher["max_norm"] > 0 and "max_norm" not in student
    # the students' rate is warmed up: without it the soft term's first steps kill ReLUs
    assert student["warmup"] > 0 and "warmup" not in teacher
    assert teacher["checkpoint_every"] == student["checkpoint_every"] == p.checkpoint_every
    assert p.teacher_input_dropout == 0.2 and p.teacher_dropout == 0.5 and p.teacher_jitter == 2
    with pytest.raises(ValueError, match="role"):
        p.fit_options("generalist")
