"""kdlab.train.fit_cached_many: many networks trained together, each cached as fit_cached would.

The oracle is kdlab's own one-network path: ``fit`` and ``fit_cached``/``distill_student``. A
member trained in a batch must be found by ``fit_cached`` (same key), hold the weights ``fit``
gives it (to float rounding), and the e-epoch snapshots of ``save_at`` must be the e-epoch
trainings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kdlab.batched
import kdlab.train
from kdlab.distill import distill_job, distill_student
from kdlab.models import MLP
from kdlab.train import fit, fit_cached, fit_cached_many

OPTS = dict(epochs=3, batch_size=16, lr=1e-2)


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6)).astype(np.float32)  # 50: the last batch is a short one
    y = rng.integers(0, 4, size=50)
    return X, y


def _jobs(y, seeds=(0, 1, 2), hidden=(8,)):
    return [dict(model=MLP(6, hidden, 4, seed=10 + s), targets=y, seed=s, name=f"m{s}")
            for s in seeds]


def _close(a, b, tol=1e-5):
    return all(torch.allclose(p, q, atol=tol) for p, q in
               zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def _refuse_training(monkeypatch):
    """Any training from here on fails the test: everything must come from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("trained, but it should have been loaded from the cache")

    monkeypatch.setattr(kdlab.train, "fit", refuse)
    monkeypatch.setattr(kdlab.batched, "fit_batched", refuse)


def test_members_are_trained_together_as_fit_trains_each(toy, monkeypatch):
    X, y = toy
    batched_calls = []
    real = kdlab.batched.fit_batched
    monkeypatch.setattr(kdlab.batched, "fit_batched",
                        lambda *a, **k: batched_calls.append(k) or real(*a, **k))
    nets = fit_cached_many(X, _jobs(y), verbose=False, **OPTS)
    assert len(batched_calls) == 1 and batched_calls[0]["seeds"] == [0, 1, 2]
    for s, net in zip((0, 1, 2), nets, strict=True):
        alone = MLP(6, (8,), 4, seed=10 + s)
        fit(alone, X, y, seed=s, progress=False, **OPTS)
        assert _close(net, alone)
        assert not net.training and len(net.history["loss"]) == OPTS["epochs"]
    assert not _close(nets[0], nets[1], tol=1e-3)  # own seeds: different networks


def test_fit_cached_finds_each_member_and_the_other_way_round(toy, monkeypatch):
    X, y = toy
    nets = fit_cached_many(X, _jobs(y), verbose=False, **OPTS)
    fit_cached(MLP(6, (8,), 4, seed=13), X, y, seed=3, name="m3", verbose=False, **OPTS)
    _refuse_training(monkeypatch)
    for s, net in zip((0, 1, 2), nets, strict=True):
        again = fit_cached(MLP(6, (8,), 4, seed=10 + s), X, y, seed=s, verbose=False, **OPTS)
        assert _close(again, net, tol=0)
    fit_cached_many(X, _jobs(y, seeds=(3, 1)), verbose=False, **OPTS)  # all in the cache


def test_a_second_call_loads_every_member_and_trains_only_what_is_missing(toy, monkeypatch,
                                                                          capsys):
    X, y = toy
    fit_cached_many(X, _jobs(y, seeds=(0, 1)), verbose=False, **OPTS)
    calls = []
    real = kdlab.batched.fit_batched
    monkeypatch.setattr(kdlab.batched, "fit_batched",
                        lambda *a, **k: calls.append(k["seeds"]) or real(*a, **k))
    fit_cached_many(X, _jobs(y, seeds=(0, 1, 2, 3)), **OPTS)
    assert calls == [[2, 3]]
    out = capsys.readouterr().out
    assert "kdlab: loaded 2 of 4 networks from the cache (m0, m1)" in out
    assert "trained 2 networks together" in out


def test_save_at_stores_the_shorter_trainings_exactly_as_fit_would_train_them(toy, monkeypatch):
    X, y = toy
    fit_cached_many(X, _jobs(y), save_at=(1, 2), verbose=False, **{**OPTS, "epochs": 4})
    short = {}
    for e in (1, 2):
        for s in (0, 1, 2):
            ref = MLP(6, (8,), 4, seed=10 + s)
            fit(ref, X, y, seed=s, progress=False, **{**OPTS, "epochs": e})
            short[e, s] = ref
    _refuse_training(monkeypatch)
    for (e, s), ref in short.items():
        net = fit_cached(MLP(6, (8,), 4, seed=10 + s), X, y, seed=s, name=f"m{s}",
                         verbose=False, **{**OPTS, "epochs": e})
        assert _close(net, ref) and len(net.history["loss"]) == e


def test_distill_job_is_keyed_as_distill_student(toy, monkeypatch):
    X, y = toy
    v = np.random.default_rng(1).normal(scale=3, size=(50, 4)).astype(np.float32)
    jobs = [distill_job(MLP(6, (8,), 4, seed=10), X, logits=v, y=y, T=T, alpha=0.9,
                        name=f"d{T:g}", seed=0, **OPTS) for T in (1.0, 4.0)]
    jobs.append(dict(model=MLP(6, (8,), 4, seed=10), targets=y, seed=0, name="alone", **OPTS))
    nets = fit_cached_many(X, jobs, verbose=False)
    ref = MLP(6, (8,), 4, seed=10)
    distill_student(ref, X, logits=v, y=y, T=4.0, alpha=0.9, cache=False, seed=0, progress=False,
                    **OPTS)
    assert _close(nets[1], ref)
    _refuse_training(monkeypatch)
    for T, net in zip((1.0, 4.0), nets, strict=False):
        again = distill_student(MLP(6, (8,), 4, seed=10), X, logits=v, y=y, T=T, alpha=0.9,
                                seed=0, verbose=False, **OPTS)
        assert _close(again, net, tol=0)


@pytest.mark.parametrize("job", [dict(dropout=0.5), dict(optimizer="sgd"),
                                 dict(schedule="cosine"), dict(max_norm=1.0)])
def test_what_fit_batched_cannot_train_is_trained_by_fit_cached(toy, monkeypatch, job):
    X, y = toy
    monkeypatch.setattr(kdlab.batched, "fit_batched", None)  # never called
    dropout = job.pop("dropout", 0.0)
    jobs = [dict(model=MLP(6, (8,), 4, dropout=dropout, seed=s), targets=y, seed=s, **job)
            for s in (0, 1)]
    nets = fit_cached_many(X, jobs, verbose=False, **OPTS)
    for s, net in enumerate(nets):
        ref = MLP(6, (8,), 4, dropout=dropout, seed=s)
        fit(ref, X, y, seed=s, progress=False, **job, **OPTS)
        assert _close(net, ref, tol=0)


def test_members_of_different_shapes_or_epochs_are_trained_in_separate_batches(toy,
                                                                                monkeypatch):
    X, y = toy
    calls = []
    real = kdlab.batched.fit_batched
    monkeypatch.setattr(kdlab.batched, "fit_batched",
                        lambda *a, **k: calls.append((k["epochs"], a[0].n_members)) or
                        real(*a, **k))
    jobs = _jobs(y, hidden=(8,)) + _jobs(y, hidden=(5, 5)) + \
        [dict(job, epochs=2) for job in _jobs(y, seeds=(7, 8))]
    nets = fit_cached_many(X, jobs, verbose=False, **OPTS)
    assert sorted(calls) == [(2, 2), (3, 3), (3, 3)]
    assert [net.config["hidden"] for net in nets] == [[8]] * 3 + [[5, 5]] * 3 + [[8]] * 2


def test_bad_jobs_are_refused_before_training(toy):
    X, y = toy
    with pytest.raises(TypeError, match="jobs must be a list"):
        fit_cached_many(X, {"model": MLP(6, (8,), 4), "targets": y}, **OPTS)
    with pytest.raises(TypeError, match=r"jobs\[1\] must be a dict"):
        fit_cached_many(X, [dict(model=MLP(6, (8,), 4), targets=y), MLP(6, (8,), 4)], **OPTS)
    with pytest.raises(TypeError, match="epochs"):
        fit_cached_many(X, _jobs(y), batch_size=8)
    with pytest.raises(ValueError, match="save_at"):
        fit_cached_many(X, _jobs(y), save_at=(0,), **OPTS)
    with pytest.raises(ValueError, match=r"class ids in \[0, 4\)"):
        fit_cached_many(X, [dict(model=MLP(6, (8,), 4), targets=y + 10)], **OPTS)
