"""kdlab.train.fit_cached: train once, load after; keyed by everything that shapes the weights.

The autouse ``kdlab_cache`` fixture (conftest.py) gives every test an empty ``$KDLAB_CACHE``.
"""

from __future__ import annotations

import functools
import re
import struct
import warnings
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kdlab.train
from kdlab.models import MLP
from kdlab.train import fit, fit_cached

FIT = dict(epochs=2, batch_size=16, verbose=False)


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=48)
    return X, y


def _net(seed=0, hidden=(16,), dropout=0.0):
    return MLP(8, hidden, 3, dropout=dropout, seed=seed)


def _state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def fits(monkeypatch):
    """Count the calls of kdlab.train.fit that fit_cached makes (they still train)."""
    calls = []
    real = kdlab.train.fit

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(kdlab.train, "fit", counting)
    return calls


@pytest.fixture
def no_training(monkeypatch):
    """Call ``no_training()`` to make any further training an error."""

    def forbid():
        def refuse(*args, **kwargs):
            raise AssertionError("fit_cached trained although the model was cached")

        monkeypatch.setattr(kdlab.train, "fit", refuse)

    return forbid


# module-level callables: a cache key can name them
def scaled_cross_entropy(logits, targets, scale=1.0):
    return scale * F.cross_entropy(logits, targets)


def flip_sign(xb, generator):
    return -xb


def labels_of(xb, idx):
    return (torch.arange(48, device=idx.device) % 3)[idx]


# --- train once, load after -------------------------------------------------------------------

def test_first_call_trains_and_writes_one_file_then_loads_it(toy, kdlab_cache, fits,
                                                            no_training):
    X, y = toy
    first = _net()
    assert fit_cached(first, X, y, **FIT) is first
    assert len(fits) == 1
    files = _files(kdlab_cache)
    assert len(files) == 1 and files[0].parent == kdlab_cache / "models"
    assert re.fullmatch(r"mlp-[0-9a-f]{16}\.pt", files[0].name)
    assert not first.training and len(first.history["loss"]) == 2

    reference = _net()  # fit_cached trains exactly as fit does
    fit(reference, X, y, epochs=2, batch_size=16, seed=0, progress=False)
    assert _same(_state(first), _state(reference))

    no_training()
    second = _net().train()
    fit_cached(second, X, y, **FIT)
    assert _same(_state(second), _state(first))
    assert second.history == first.history and not second.training
    assert _files(kdlab_cache) == files


def test_name_labels_the_file_and_verbose_says_what_happened(toy, kdlab_cache, capsys):
    X, y = toy
    fit_cached(_net(), X, y, name="teacher", epochs=1, verbose=True)
    assert "trained teacher" in capsys.readouterr().out
    fit_cached(_net(), X, y, name="teacher", epochs=1, verbose=True)
    assert "loaded teacher from the cache" in capsys.readouterr().out
    (only,) = _files(kdlab_cache)
    assert only.name.startswith("teacher-")


def test_the_same_model_under_another_name_is_loaded_not_retrained(toy, kdlab_cache, fits):
    X, y = toy
    first = fit_cached(_net(), X, y, name="distilled", epochs=1, verbose=False)
    second = fit_cached(_net(), X, y, name="sweep-a0.9-T20", epochs=1, verbose=False)
    assert len(fits) == 1 and _same(_state(first), _state(second))
    (only,) = _files(kdlab_cache)
    assert only.name.startswith("distilled-")
    fit_cached(_net(seed=1), X, y, name="distilled", epochs=1, verbose=False)  # another model
    assert len(fits) == 2 and len(_files(kdlab_cache)) == 2


def _variants(X, y):
    """(what changed, model, X, targets, extra fit arguments), each a different training run."""
    X2 = X.copy()
    X2[5, 3] += 1e-3
    y2 = y.copy()
    y2[7] = (y2[7] + 1) % 3
    edited = _net()
    with torch.no_grad():
        edited.head.bias.add_(1.0)  # same config and seed, other initial weights
    return [
        ("seed", _net(), X, y, dict(seed=1)),
        ("data", _net(), X2, y, {}),
        ("targets", _net(), X, y2, {}),
        ("soft targets", _net(), X, np.eye(3, dtype=np.float32)[y], {}),
        ("hidden size", _net(hidden=(17,)), X, y, {}),
        ("depth", _net(hidden=(16, 16)), X, y, {}),
        ("dropout", _net(dropout=0.5), X, y, {}),
        ("epochs", _net(), X, y, dict(epochs=3)),
        ("initial weights (seed)", _net(seed=1), X, y, {}),
        ("initial weights (edited)", edited, X, y, {}),
        ("learning rate", _net(), X, y, dict(lr=2e-3)),
        ("batch size", _net(), X, y, dict(batch_size=8)),
        ("weight decay", _net(), X, y, dict(weight_decay=1e-4)),
        ("loss", _net(), X, y, dict(loss_fn=scaled_cross_entropy)),
        ("loss argument", _net(), X, y,
         dict(loss_fn=functools.partial(scaled_cross_entropy, scale=2.0))),
        ("augment", _net(), X, y, dict(augment=flip_sign)),
        ("targets function", _net(), X, labels_of, {}),
    ]


@pytest.mark.parametrize("index", range(17))
def test_the_key_changes_with_everything_that_shapes_the_weights(toy, kdlab_cache, fits, index):
    X, y = toy
    fit_cached(_net(), X, y, **FIT)
    fit_cached(_net(), X, y, loss_fn=functools.partial(scaled_cross_entropy, scale=1.0), **FIT)
    what, model, X_, targets, extra = _variants(X, y)[index]
    before = len(_files(kdlab_cache))
    fit_cached(model, X_, targets, **(FIT | extra))
    assert len(fits) == 3, what
    assert len(_files(kdlab_cache)) == before + 1, what


def test_there_are_as_many_variants_as_parametrized_cases(toy):
    assert len(_variants(*toy)) == 17


@pytest.mark.parametrize("extra", [
    dict(seed=0), dict(progress=True), dict(desc="another label"), dict(device="cpu"),
    dict(verbose=True),
])
def test_the_key_ignores_what_does_not_shape_the_weights(toy, kdlab_cache, no_training,
                                                         extra):
    X, y = toy
    fit_cached(_net(), X, y, **FIT)
    no_training()
    fit_cached(_net(), X, y, **(FIT | extra))
    assert len(_files(kdlab_cache)) == 1


def test_a_jitter_augment_can_be_cached(kdlab_cache, fits):
    from kdlab.data import jitter

    X = np.random.default_rng(0).random((32, 16), dtype=np.float32)
    y = np.arange(32) % 3
    for max_shift in (1, 1, 2):
        fit_cached(MLP(16, (8,), 3, seed=0), X, y, augment=jitter((4, 4), max_shift), **FIT)
    assert len(fits) == 2 and len(_files(kdlab_cache)) == 2


# --- a damaged cache is retrained -------------------------------------------------------------

def _truncate(path, toy):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_middle(path, toy):
    """Flip 16 bytes in the middle of the largest stored tensor.

    (The middle of the file itself may be the zip's alignment padding, which nothing reads.)
    """
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        biggest = max((i for i in archive.infolist() if "/data/" in i.filename),
                      key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", data[biggest.header_offset + 26:
                                                    biggest.header_offset + 30])
    middle = biggest.header_offset + 30 + name_len + extra_len + biggest.file_size // 2
    for i in range(middle, middle + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _garbage(path, toy):
    path.write_bytes(b"this is not a torch file\n" * 40)


def _empty(path, toy):
    path.write_bytes(b"")


def _other_configuration(path, toy):
    """A valid cache file, but of another training run, under this run's name."""
    X, y = toy
    other = _net(seed=5)
    fit(other, X, y, epochs=1, progress=False)
    meta = {"format": kdlab.train.CACHE_FORMAT, "key": "0" * 40, "history": {},
            "digest": kdlab.train._state_digest(other.state_dict()), "name": "mlp"}
    torch.save({"state_dict": other.state_dict(), "meta": meta}, path)


@pytest.mark.parametrize("damage", [_truncate, _flip_middle, _garbage, _empty,
                                    _other_configuration])
def test_a_damaged_cache_file_is_reported_and_retrained(toy, kdlab_cache, fits, no_training,
                                                       damage):
    X, y = toy
    trained = _state(fit_cached(_net(), X, y, **FIT))
    (path,) = _files(kdlab_cache)
    damage(path, toy)
    with pytest.warns(RuntimeWarning, match=re.escape(str(path))):
        again = fit_cached(_net(), X, y, **FIT)
    assert len(fits) == 2
    assert _same(_state(again), trained)  # retrained: training is deterministic
    assert _files(kdlab_cache) == [path]
    no_training()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new file is good
        third = fit_cached(_net(), X, y, **FIT)
    assert _same(_state(third), trained)


def test_a_damaged_file_is_removed_even_if_retraining_is_interrupted(toy, kdlab_cache,
                                                                    monkeypatch):
    X, y = toy
    fit_cached(_net(), X, y, **FIT)
    (path,) = _files(kdlab_cache)
    _garbage(path, toy)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kdlab.train, "fit", interrupted)
    with pytest.warns(RuntimeWarning, match="unusable"), pytest.raises(KeyboardInterrupt):
        fit_cached(_net(), X, y, **FIT)
    assert _files(kdlab_cache) == []


# --- interrupted training leaves nothing behind -----------------------------------------------

def test_an_interrupt_during_training_writes_nothing(toy, kdlab_cache, monkeypatch):
    X, y = toy

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kdlab.train, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_cached(_net(), X, y, **FIT)
    assert _files(kdlab_cache) == []


def test_an_interrupt_while_saving_leaves_no_part_file(toy, kdlab_cache, monkeypatch):
    X, y = toy
    real_save = torch.save

    def interrupted_save(obj, f, *args, **kwargs):
        with open(f, "wb") as out:
            out.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        fit_cached(_net(), X, y, **FIT)
    assert _files(kdlab_cache) == []
    monkeypatch.setattr(torch, "save", real_save)
    fit_cached(_net(), X, y, **FIT)  # and the next run caches normally
    assert [p.suffix for p in _files(kdlab_cache)] == [".pt"]


# --- safe loading, nameable keys --------------------------------------------------------------

def test_loading_uses_weights_only(toy, monkeypatch, no_training):
    X, y = toy
    fit_cached(_net(), X, y, **FIT)
    real_load, calls = torch.load, []

    def recording_load(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    no_training()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_cached(_net(), X, y, **FIT)
    assert calls and all(c.get("weights_only") is True for c in calls), calls


def _local_function():
    def local_loss(logits, targets):
        return F.cross_entropy(logits, targets)

    return local_loss


@pytest.mark.parametrize("extra, targets", [
    (dict(loss_fn=lambda logits, t: F.cross_entropy(logits, t)), None),
    (dict(loss_fn=_local_function()), None),
    (dict(augment=lambda xb, g: xb), None),
    ({}, lambda xb, idx: idx % 3),
])
def test_an_unnameable_callable_is_refused_before_training(toy, kdlab_cache, fits, extra,
                                                          targets):
    X, y = toy
    with pytest.raises(TypeError, match=r"module-level function or a functools\.partial"):
        fit_cached(_net(), X, y if targets is None else targets, **(FIT | extra))
    assert fits == [] and _files(kdlab_cache) == []
