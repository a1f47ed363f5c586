"""A shared, possibly read-only model cache: an instructor trains once, a class loads.

Root ignores file permissions, so a read-only folder is simulated where the operating system
reports it: saving or deleting under the shared folder raises ``PermissionError``.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import kdlab.train
from kdlab._paths import atomic_path, remove_orphans, user_cache_dir
from kdlab.models import MLP
from kdlab.train import fit_cached

FIT = dict(epochs=2, batch_size=16, verbose=False)


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    return rng.normal(size=(48, 8)).astype(np.float32), rng.integers(0, 3, size=48)


def _net(seed=0):
    return MLP(8, (16,), 3, seed=seed)


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def read_only(monkeypatch, kdlab_cache):
    """Make ``$KDLAB_CACHE`` behave as a read-only mount (writes and deletes refused)."""
    shared = kdlab_cache.resolve()
    real_save, real_unlink = kdlab.train.write_atomic, pathlib.Path.unlink

    def inside(path):
        return shared in pathlib.Path(path).resolve().parents

    def save(path, payload):
        if inside(path):
            raise PermissionError(13, "Read-only file system", str(path))
        return real_save(path, payload)

    def unlink(self, missing_ok=False):
        if inside(self):
            raise PermissionError(13, "Read-only file system", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(kdlab.train, "write_atomic", save)
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    kdlab.train._warned_fallback.clear()
    return shared


def test_a_read_only_shared_cache_serves_its_models(toy, kdlab_cache, monkeypatch):
    X, y = toy
    trained = fit_cached(_net(), X, y, name="m", **FIT)  # the instructor, who can write
    monkeypatch.setattr(kdlab.train, "fit", lambda *a, **k: pytest.fail("retrained"))
    monkeypatch.setattr(kdlab.train, "write_atomic",
                        lambda *a: pytest.fail("wrote to a read-only cache"))
    student = fit_cached(_net(), X, y, name="m", **FIT)  # a student, who cannot
    assert _same(trained, student)


def test_when_the_cache_cannot_be_written_the_model_is_returned_and_saved_per_user(
        toy, read_only):
    X, y = toy
    with pytest.warns(RuntimeWarning, match="cannot write to the cache") as record:
        net = fit_cached(_net(), X, y, name="m", **FIT)
    assert len(record) == 1 and str(user_cache_dir()) in str(record[0].message)
    saved = list((user_cache_dir() / "models").glob("m-*.pt"))
    assert len(saved) == 1 and not list(read_only.rglob("*.pt"))
    # warned once; the next model goes to the same place without a word, and loads from there
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_cached(_net(seed=1), X, y, name="m1", **FIT)
        again = fit_cached(_net(), X, y, name="m", **FIT)
    assert _same(net, again)


def test_a_corrupt_file_in_a_read_only_cache_is_retrained_not_fatal(toy, kdlab_cache,
                                                                   read_only):
    X, y = toy
    key = kdlab.train.cache_key(model=_net(), X=X, targets=y,
                                fit={k: v for k, v in {**FIT, "seed": 0}.items()
                                     if k != "verbose"})
    bad = kdlab_cache / "models" / f"m-{key[:16]}.pt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning) as record:
        net = fit_cached(_net(), X, y, name="m", **FIT)
    messages = [str(r.message) for r in record]
    assert any("unusable" in m for m in messages)
    assert any("cannot write to the cache" in m for m in messages)
    assert bad.exists()  # could not be removed: left for the instructor
    assert net.history["loss"] and list((user_cache_dir() / "models").glob("m-*.pt"))


def test_when_no_folder_can_be_written_the_trained_model_is_still_returned(toy, monkeypatch):
    X, y = toy

    def refuse(path, payload):
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr(kdlab.train, "write_atomic", refuse)
    with pytest.warns(RuntimeWarning, match="could not be saved in any cache folder"):
        net = fit_cached(_net(), X, y, name="m", **FIT)
    expected = _net()
    kdlab.train.fit(expected, X, y, epochs=2, batch_size=16, progress=False)
    assert _same(net, expected)


@pytest.mark.parametrize("payload", [
    {"state_dict": {}},                                   # no metadata at all
    {"state_dict": {}, "meta": {"format": 1}},            # metadata without the key
    "KEY-WITHOUT-HISTORY",                                # the right key, no history
])
def test_a_cache_file_with_missing_metadata_is_retrained_not_a_key_error(toy, kdlab_cache,
                                                                        payload):
    X, y = toy
    key = kdlab.train.cache_key(model=_net(), X=X, targets=y,
                                fit={"epochs": 2, "batch_size": 16, "seed": 0})
    if payload == "KEY-WITHOUT-HISTORY":
        state = {k: v.clone() for k, v in _net().state_dict().items()}
        payload = {"state_dict": state,
                   "meta": {"format": 1, "key": key,
                            "digest": kdlab.train._state_digest(state)}}
    path = kdlab_cache / "models" / f"m-{key[:16]}.pt"
    path.parent.mkdir(parents=True)
    torch.save(payload, path)
    with pytest.warns(RuntimeWarning, match="unusable"):
        net = fit_cached(_net(), X, y, name="m", **FIT)
    assert isinstance(net.history, dict) and len(net.history["loss"]) == 2
    assert torch.load(path, weights_only=True)["meta"]["history"]["loss"]


@pytest.mark.parametrize("name", ["../../x", "a/b", "/tmp/x", ".hidden", "", "x\\y",
                                  "a" * 200])
def test_a_name_can_never_write_outside_the_cache(toy, kdlab_cache, name):
    X, y = toy
    with pytest.raises(ValueError, match="name"):
        fit_cached(_net(), X, y, name=name, **FIT)
    assert not list(kdlab_cache.parent.parent.rglob("x-*.pt"))


def test_a_name_of_the_wrong_type_is_a_type_error(toy):
    with pytest.raises(TypeError, match="name"):
        fit_cached(_net(), *toy, name=3, **FIT)


def test_orphaned_part_files_of_a_killed_run_are_cleaned_up(tmp_path):
    # a writer killed with SIGKILL leaves its .part file: make one with a real dead pid
    code = ("import os, sys; from kdlab._paths import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_bytes(b'half'); os._exit(9)\n")
    target = tmp_path / "model.pt"
    proc = subprocess.run([sys.executable, "-c", code, str(target)])
    assert proc.returncode == 9
    orphans = list(tmp_path.glob(".*.part"))
    assert len(orphans) == 1
    with atomic_path(tmp_path / "other.pt") as live:  # our own, still being written
        live.write_bytes(b"x")
        assert remove_orphans(tmp_path) == 1
        assert live.exists() and not orphans[0].exists()
    assert not target.exists()


def test_fit_cached_removes_orphans_before_it_trains(toy, kdlab_cache):
    folder = kdlab_cache / "models"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    orphan = folder / f".m-0123.pt.{dead}.abcd.part"
    orphan.write_bytes(b"half")
    fit_cached(_net(), *toy, name="m", **FIT)
    assert not orphan.exists()


def test_a_part_file_of_unknown_origin_is_kept_for_a_day(tmp_path):
    young = tmp_path / ".x.pt.tmpabc.part"
    young.write_bytes(b"x")
    assert remove_orphans(tmp_path) == 0 and young.exists()
    old = os.path.getmtime(young) - 2 * 86400
    os.utime(young, (old, old))
    assert remove_orphans(tmp_path) == 1 and not young.exists()
