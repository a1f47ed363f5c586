"""An in-memory minibatch training loop, batched prediction, and a train-once model cache."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kdlab._paths import cache_dirs, remove_orphans, write_atomic
from kdlab.validate import check_int, check_labels, check_real, check_training_data

CACHE_FORMAT = 1


def get_device(device=None) -> torch.device:
    """``device`` if given, else ``$KDLAB_DEVICE``, else cuda, then mps, then cpu."""
    device = device or os.environ.get("KDLAB_DEVICE", "").strip() or None
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _as_tensor(a, name: str, device, dtype=None) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(device=device, dtype=dtype or a.dtype)
    if isinstance(a, np.ndarray):
        return torch.tensor(a, device=device, dtype=dtype)
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(a).__name__}")


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Batch mean of −Σ_i p_i log q_i for soft targets ``p``, ``q = softmax(logits)``."""
    return -(target_probs * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def _default_loss(logits, targets):
    if targets.is_floating_point():
        return soft_cross_entropy(logits, targets)
    return F.cross_entropy(logits, targets)


def fit(model: nn.Module, X, targets, *, epochs: int, batch_size: int = 128, lr: float = 1e-3,
        weight_decay: float = 0.0, loss_fn=None, augment=None, seed: int = 0, device=None,
        progress: bool = True, desc: str | None = None, optimizer: str = "adam",
        momentum: float = 0.9, nesterov: bool = True, schedule: str = "constant",
        warmup: int = 0, max_norm: float | None = None, checkpoint=None, checkpoint_every: int = 5,
        log=None, val=None, patience: int | None = None) -> dict:
    """Train ``model`` on tensors held in memory (no DataLoader); return the history.

    Parameters
    ----------
    model : torch.nn.Module
        The network; trained in place and left in eval mode.
    X : array (N, D)
        Inputs.
    targets : array (N,) of int, array (N, C) of float, or callable
        Hard labels, soft target probabilities, any per-example tensor that ``loss_fn``
        understands (e.g. cached teacher logits), or ``targets(xb, idx)`` computing a batch's
        targets from its (augmented) inputs ``xb`` and their indices ``idx``.
    epochs, batch_size, lr, weight_decay
        The usual.
    loss_fn : callable, optional
        ``loss_fn(logits, target_batch) -> scalar``; default cross-entropy for int labels,
        soft cross-entropy for float targets.
    augment : callable, optional
        ``augment(xb, generator) -> xb``, applied to each batch (e.g. ±2-pixel jitter).
    seed : int
        Seeds the shuffling, dropout and augmentation: fixed seed, same result on CPU.
    device : str or torch.device, optional
        Where to train; see :func:`get_device`.
    progress : bool
        Show a ``tqdm`` progress bar.
    optimizer : {"adam", "sgd"}
        Adam (the lab's default), or SGD with ``momentum`` (Nesterov when ``nesterov``), as the
        dropout papers trained the paper's teacher (see book/reproducing.md).
    schedule : {"constant", "cosine"}
        The learning rate: constant, or a cosine decay from ``lr`` to 0 over all the steps.
    warmup : int, default 0
        Epochs over which the learning rate first rises linearly from ``lr / steps`` to the
        schedule's (step ``s`` of the first ``warmup`` epochs' ``steps`` is scaled by
        ``(s + 1) / steps``): large early steps cannot kill ReLU units before training has
        begun (book/reproducing.md: the distilled student at T = 20).
    max_norm : float, optional
        After every step, rescale each unit's incoming weights (each row of every
        ``nn.Linear`` weight) to a norm of at most ``max_norm`` (Srivastava et al., 2014).
    checkpoint : path, optional
        Save the training state there (atomically) every ``checkpoint_every`` epochs, and
        resume from it when it exists and was written by the same configuration: an
        interrupted run, resumed, ends with the same weights as an uninterrupted one.
        :func:`fit_cached` removes it once the trained model is saved.
    log : callable, optional
        Receives one line at every checkpoint (epoch, loss, time left).
    val : (X_val, targets_val), optional
        Held-out data for early stopping: after every epoch the mean loss on it is measured
        (``loss_fn``, eval mode), and training ends with the weights of the epoch where it was
        lowest. Not with ``checkpoint``.
    patience : int, optional
        With ``val``: stop once the held-out loss has not improved for this many epochs
        (``None``: train every epoch, still keeping the best one).

    Returns
    -------
    dict
        ``{"loss": [mean loss per epoch], "seconds": wall time, "device": str}``
        (``"resumed_at"``: the epoch a checkpoint resumed from, when one did; with ``val``:
        ``"val_loss"`` per epoch, ``"best_epoch"`` kept and ``"epochs_run"``).

    Raises
    ------
    FloatingPointError
        When an epoch's mean loss is not finite (the training diverged); nothing is cached.
    """
    epochs = check_int(epochs, "epochs", lo=0)
    batch_size = check_int(batch_size, "batch_size", lo=1)
    lr = check_real(lr, "lr", 0, lo_open=True)
    check_training_data(model, X, targets, loss_fn)  # finite X, labels in [0, C): before training
    device = get_device(device)
    Xt = _as_tensor(X, "X", device, torch.float32)
    if Xt.ndim != 2:
        raise ValueError(f"X must be 2-d (N, features), got shape {tuple(Xt.shape)}")
    n = len(Xt)
    if callable(targets):
        Tt = None
    else:
        Tt = _as_tensor(targets, "targets", device)
        if len(Tt) != n:
            raise ValueError(f"targets: expected {n} rows to match X, got {len(Tt)}")
        if not Tt.is_floating_point():
            Tt = Tt.long()
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    warmup = check_int(warmup, "warmup", lo=0)
    momentum = check_real(momentum, "momentum", 0, 1, hi_open=True)
    if max_norm is not None:
        max_norm = check_real(max_norm, "max_norm (or None)", 0, lo_open=True)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", lo=1)
    loss_fn = loss_fn or _default_loss
    if val is not None:
        if checkpoint is not None:
            raise ValueError("val (early stopping) cannot be combined with checkpoint")
        if not isinstance(val, (tuple, list)) or len(val) != 2 or callable(val[1]):
            raise ValueError("val must be a pair (X_val, targets_val) of arrays")
        check_training_data(model, val[0], val[1], loss_fn)
        Xv = _as_tensor(val[0], "val[0]", device, torch.float32)
        Tv = _as_tensor(val[1], "val[1]", device)
        if len(Tv) != len(Xv) or len(Xv) == 0:
            raise ValueError(f"val: expected as many targets as inputs (at least one), got "
                             f"{len(Xv)} and {len(Tv)}")
        Tv = Tv if Tv.is_floating_point() else Tv.long()
    if patience is not None and (val is None or isinstance(patience, bool)
                                 or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be an int >= 1, and needs val; got {patience!r}")
    model.to(device)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              nesterov=nesterov and momentum > 0, weight_decay=weight_decay)
    steps_per_epoch = -(-n // batch_size)
    total_steps = max(1, epochs * steps_per_epoch)
    history = {"loss": [], "device": str(device)}
    start = time.perf_counter()
    devices = [device.index or 0] if device.type == "cuda" else []
    signature = {"epochs": epochs, "n": n, "batch_size": batch_size, "lr": float(lr),
                 "seed": seed, "optimizer": optimizer, "schedule": schedule,
                 "momentum": float(momentum), "max_norm": max_norm,
                 "model": getattr(model, "config", type(model).__name__)}
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        first = 0
        if checkpoint is not None:
            first = _resume(Path(checkpoint), signature, model, opt, gen, history, device)
        bar = _progress(range(first, epochs), progress,
                        desc or f"training {type(model).__name__}", total=epochs, initial=first)
        for epoch in bar:
            model.train()
            order = torch.randperm(n, generator=gen).to(device)
            total = 0.0
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                xb = Xt[idx]
                if augment is not None:
                    xb = augment(xb, gen)
                tb = targets(xb, idx) if Tt is None else Tt[idx]
                loss = loss_fn(model(xb), tb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if schedule == "cosine" or warmup:
                    step = epoch * steps_per_epoch + i // batch_size
                    scale = 0.5 * (1 + math.cos(math.pi * step / total_steps)) \
                        if schedule == "cosine" else 1.0
                    if step < warmup * steps_per_epoch:
                        scale *= (step + 1) / (warmup * steps_per_epoch)
                    for group in opt.param_groups:
                        group["lr"] = lr * scale
                opt.step()
                if max_norm is not None:
                    _apply_max_norm(model, max_norm)
                total += loss.detach() * len(idx)
            history["loss"].append(float(total) / max(n, 1))
            done = epoch + 1
            if not math.isfinite(history["loss"][-1]):  # never cache (or go on with) a NaN net
                raise FloatingPointError(
                    f"training diverged: loss {history['loss'][-1]} in epoch {done} at lr "
                    f"{lr:g}; a lower lr or a warm-up (warmup=) may help")
            if val is not None and _early_stop(model, Xv, Tv, loss_fn, history, done,
                                               patience):
                break
            if checkpoint is not None and done < epochs and done % checkpoint_every == 0:
                _save_checkpoint(Path(checkpoint), signature, model, opt, gen, history,
                                 done, time.perf_counter() - start)
                if log is not None:
                    spent = time.perf_counter() - start
                    left = spent / (done - first) * (epochs - done)
                    log(f"kdlab: {desc or 'training'}: epoch {done}/{epochs}, loss "
                        f"{history['loss'][-1]:.4f}, checkpoint saved; about "
                        f"{_duration(left)} left")
            if progress:
                # refresh=False: redraw at most every mininterval; forcing a redraw per epoch
                # floods a notebook's message channel (hundreds of widget updates a second)
                bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", refresh=False)
    model.eval()
    if val is not None and "_best_state" in history:
        model.load_state_dict(history.pop("_best_state"))
        history["epochs_run"] = len(history["loss"])
    history["seconds"] = time.perf_counter() - start + history.pop("_seconds_before", 0.0)
    return history


@torch.no_grad()
def _early_stop(model, Xv, Tv, loss_fn, history, done, patience) -> bool:
    """Record the held-out loss after epoch ``done``, keep the best weights; stop now?"""
    model.eval()
    total = sum(float(loss_fn(model(Xv[i:i + 4096]), Tv[i:i + 4096])) * len(Xv[i:i + 4096])
                for i in range(0, len(Xv), 4096))
    loss = total / len(Xv)
    history.setdefault("val_loss", []).append(loss)
    if "_best_state" not in history or loss < min(history["val_loss"][:-1]):
        history["_best_state"] = copy.deepcopy(model.state_dict())
        history["best_epoch"] = done
    return patience is not None and done - history["best_epoch"] >= patience


def _duration(seconds: float) -> str:
    """``"42 s"``, ``"12 min"``, ``"1.5 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@torch.no_grad()
def _apply_max_norm(model: nn.Module, max_norm: float) -> None:
    """Rescale each row (a unit's incoming weights) of every Linear weight to norm <= max_norm."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            w = module.weight
            norms = w.norm(dim=1, keepdim=True)
            w.mul_(torch.clamp(max_norm / (norms + 1e-12), max=1.0))


def _save_checkpoint(path: Path, signature: dict, model, opt, gen, history, epoch: int,
                     seconds: float) -> None:
    """The whole training state after ``epoch`` epochs, written atomically."""
    state = {
        "signature": json.dumps(signature, sort_keys=True, default=str),
        "epoch": epoch,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "generator": gen.get_state(),
        "rng": torch.get_rng_state(),
        "loss": list(history["loss"]),
        "seconds": seconds + history.get("_seconds_before", 0.0),
    }
    if torch.cuda.is_available() and history.get("device", "").startswith("cuda"):
        state["cuda_rng"] = torch.cuda.get_rng_state()
    try:
        write_atomic(path, lambda tmp: torch.save(state, tmp))
    except OSError as exc:  # a full disk or a read-only folder must not stop the training
        warnings.warn(f"kdlab: could not save the checkpoint {path} ({exc}); training goes on",
                      RuntimeWarning, stacklevel=3)


def _resume(path: Path, signature: dict, model, opt, gen, history, device) -> int:
    """Restore the training state saved at ``path``; return the epoch to continue from (0: none)."""
    if not path.exists():
        return 0
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["signature"] != json.dumps(signature, sort_keys=True, default=str):
            raise ValueError("it was written by another training configuration")
        model.load_state_dict(state["model"])
        model.to(device)
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state and device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"])
        history["loss"] = list(state["loss"])
        history["_seconds_before"] = float(state["seconds"])
        history["resumed_at"] = int(state["epoch"])
        return int(state["epoch"])
    except Exception as exc:  # noqa: BLE001 - an unusable checkpoint only costs a restart
        model.load_state_dict(before)
        history.pop("_seconds_before", None)
        history.pop("resumed_at", None)
        history["loss"] = []
        warnings.warn(f"kdlab: checkpoint {path} is unusable ({exc}); training from the start",
                      RuntimeWarning, stacklevel=3)
        return 0


def _progress(iterable, enabled: bool, desc: str, total: int | None = None, initial: int = 0):
    if not enabled:
        return _Quiet(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="epoch", leave=False, mininterval=0.5, total=total,
                initial=initial)


class _Quiet:
    def __init__(self, iterable):
        self._it = iterable

    def __iter__(self):
        return iter(self._it)

    def set_postfix(self, **_):
        pass


@torch.no_grad()
def predict_logits(model: nn.Module, X, batch_size: int = 4096, device=None) -> np.ndarray:
    """Logits of ``model`` (in eval mode) for every row of ``X``, batched; a numpy array."""
    device = get_device(device) if device is not None else _model_device(model)
    Xt = _as_tensor(X, "X", device, torch.float32)
    was_training = model.training
    model.eval()
    try:
        # no rows: one forward pass of the empty batch still gives the shape (0, C)
        out = [model(Xt[i:i + batch_size]).float().cpu()
               for i in range(0, len(Xt), batch_size)] or [model(Xt).float().cpu()]
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def predict_proba(model: nn.Module, X, T: float = 1.0, batch_size: int = 4096) -> np.ndarray:
    """Class probabilities ``softmax(logits / T)`` for every row of ``X`` (see notebook 01)."""
    from kdlab.temperature import softmax_t

    return softmax_t(predict_logits(model, X, batch_size).astype(np.float64), T)


def evaluate(model: nn.Module, X, y, batch_size: int = 4096) -> dict:
    """Accuracy, number of errors and errors per class of ``model`` on ``(X, y)``."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    logits = predict_logits(model, X, batch_size)
    n_classes = logits.shape[1]
    y = check_labels(y, n_classes, "y")  # int32 is fine; floats, -100 and ids >= C are not
    pred = logits.argmax(axis=1)
    if len(pred) != len(y):
        raise ValueError(f"y: expected {len(pred)} labels to match X, got {len(y)}")
    wrong = pred != y
    return {
        "accuracy": float(1 - wrong.mean()) if len(y) else float("nan"),
        "errors": int(wrong.sum()),
        "n": int(len(y)),
        "errors_by_class": np.bincount(y[wrong], minlength=n_classes),
    }


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# --- train once, load after -------------------------------------------------------------------

def _digest_update(h, obj) -> None:
    """Feed a description of ``obj`` into hash ``h``; refuse what cannot be described."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().contiguous().numpy()
    if isinstance(obj, np.ndarray):
        h.update(f"array{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).data)
    elif isinstance(obj, nn.Module):
        h.update(f"module:{type(obj).__module__}.{type(obj).__qualname__}".encode())
        h.update(json.dumps(getattr(obj, "config", repr(obj)), sort_keys=True).encode())
        for key, value in obj.state_dict().items():
            h.update(key.encode())
            _digest_update(h, value)
    elif isinstance(obj, functools.partial):
        _digest_update(h, obj.func)
        _digest_update(h, list(obj.args))
        _digest_update(h, dict(obj.keywords))
    elif isinstance(obj, dict):
        for key in sorted(obj):
            h.update(f"key:{key}".encode())
            _digest_update(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"seq{len(obj)}".encode())
        for item in obj:
            _digest_update(h, item)
    elif obj is None or isinstance(obj, (str, int, float, bool)):
        h.update(repr(obj).encode())
    elif callable(obj):
        name = getattr(obj, "__qualname__", "")
        if "<lambda>" in name or "<locals>" in name or not name:
            raise TypeError(f"cannot build a cache key from {obj!r}: pass a module-level "
                            "function or a functools.partial of one, so that the key can name it")
        h.update(f"fn:{obj.__module__}.{name}".encode())
    else:
        raise TypeError(f"cannot build a cache key from a {type(obj).__name__}")


def cache_key(**parts) -> str:
    """A hex digest of everything that determines a trained model (config, data, seed, …)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"kdlab-cache-v{CACHE_FORMAT}".encode())
    _digest_update(h, parts)
    return h.hexdigest()


def _state_digest(state: dict) -> str:
    h = hashlib.blake2b(digest_size=20)
    for key in sorted(state):
        h.update(key.encode())
        _digest_update(h, state[key])
    return h.hexdigest()


def _load_checked(path: Path, key: str) -> dict:
    """Load a cache file safely (``weights_only``) and verify its key, metadata and digest."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or not isinstance(payload.get("state_dict"), dict):
        raise ValueError("it has no weights or no metadata")
    if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
        raise ValueError("it belongs to another configuration or cache format")
    if not isinstance(meta.get("history"), dict):
        raise ValueError("its metadata has no training history")
    if _state_digest(payload["state_dict"]) != meta.get("digest"):
        raise ValueError("its weights do not match their recorded checksum")
    return payload


_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+=")
_warned_fallback: set[str] = set()


def _check_name(name) -> None:
    if name is None:
        return
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not name or name[0] == "." or not set(name) <= _NAME_OK or len(name) > 120:
        raise ValueError(f"name must be a plain file label (letters, digits, '_', '-', '.', "
                         f"'+', '='; no '/' and not starting with '.'), got {name!r}")


def _find_cached(label: str, key: str) -> list[Path]:
    """The existing cache files for ``key``: the labelled one first, in every cache folder."""
    found = []
    for root in cache_dirs():
        folder = root / "models"
        exact = folder / f"{label}-{key[:16]}.pt"
        candidates = [exact] + sorted(folder.glob(f"*-{key[:16]}.pt"))
        found += [c for c in dict.fromkeys(candidates) if c.is_file()]
    return found


def _write_model(label: str, key: str, payload: dict) -> Path:
    """Save ``payload`` in the first cache folder that can be written; warn once on fallback."""
    errors = []
    for root in cache_dirs():
        path = root / "models" / f"{label}-{key[:16]}.pt"
        try:
            write_atomic(path, lambda tmp: torch.save(payload, tmp))
        except OSError as exc:
            errors.append(f"{path.parent}: {exc.strerror or exc}")
            continue
        if errors and str(root) not in _warned_fallback:
            _warned_fallback.add(str(root))
            warnings.warn(f"kdlab: cannot write to the cache ({errors[0]}); trained models "
                          f"are saved in {root} instead", RuntimeWarning, stacklevel=3)
        return path
    raise OSError("kdlab: the trained model could not be saved in any cache folder (" +
                  "; ".join(errors) + "); it is returned, but will be retrained next time")


def fit_cached(model: nn.Module, X, targets, *, name: str | None = None, verbose: bool = True,
               **fit_kwargs) -> nn.Module:
    """Train ``model`` with :func:`fit` once; later calls with the same inputs load the result.

    The cache file (under ``$KDLAB_CACHE`` or ``data/cache``) is keyed by everything that
    determines the trained weights: the model's class, config and initial weights, the data,
    the targets and every argument of :func:`fit` (seed included); ``name`` only labels the
    file, so the same model trained under another name is found too. It is written atomically
    and loaded with ``weights_only=True``; a corrupt file is reported and retrained.

    A shared, read-only cache (an instructor's, see the README) is read like any other; when
    it cannot be written, the trained model is saved in the per-user cache
    (``~/.cache/kdlab/cache``, with a warning once) and always returned. With
    ``checkpoint_every=k`` (not part of the key) the training state is saved every ``k``
    epochs and an interrupted run resumes where it stopped. The returned model is in eval
    mode, with the training history in ``model.history``.
    """
    check_training_data(model, X, targets, fit_kwargs.get("loss_fn"))  # before the cache key
    _check_name(name)
    fit_kwargs.setdefault("seed", 0)
    fit_kwargs.pop("progress", None)
    checkpoint_every = fit_kwargs.pop("checkpoint_every", None)
    key = _fit_key(model, X, targets, fit_kwargs)
    label = name or type(model).__name__.lower()
    if _load_cached(model, label, key, fit_kwargs.get("device"), verbose):
        return model
    for root in cache_dirs():
        remove_orphans(root / "models")
    fit_kwargs.setdefault("desc", f"training {label}")
    checkpoint = None
    if checkpoint_every is not None:
        checkpoint = _checkpoint_path(label, key)
        fit_kwargs["checkpoint_every"] = checkpoint_every
        if verbose:
            fit_kwargs.setdefault("log", print)
    history = fit(model, X, targets, progress=verbose, checkpoint=checkpoint, **fit_kwargs)
    path = _store_trained(model, label, key, history)
    if path is not None and checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    if path is not None and verbose:
        print(f"kdlab: trained {label} in {history['seconds']:.1f} s on {history['device']}; "
              f"cached as {path.name}")
    return model


def fit_cached_many(X, jobs, *, save_at=(), verbose: bool = True, **fit_kwargs) -> list[nn.Module]:
    """:func:`fit_cached` for many networks at once; the ones to train are trained together.

    Job ``k`` is a dict ``{"model": ..., "targets": ..., "name": ..., **its own fit arguments}``
    and stands for ``fit_cached(job["model"], X, job["targets"], name=job["name"], **fit_kwargs,
    **its own arguments)``: it is keyed, loaded and saved exactly so, and either function finds
    what the other trained. Those not in the cache are trained as one
    :class:`kdlab.batched.BatchedMLP` by :func:`kdlab.batched.fit_batched` (each with its own
    initial weights, seed, data order, targets and loss: the same training as :func:`fit`, to
    float rounding) when they can be: :class:`kdlab.models.MLP` s of one shape without dropout,
    trained by Adam at a constant learning rate, with the same number of epochs, batch size and
    learning rate and no max-norm or checkpoints. Others are trained one after another by
    :func:`fit_cached`. Returns the trained models, in the order of ``jobs``.

    ``save_at``: epochs after which every batched member is saved as well, keyed as a training
    of that many epochs. That is exact, not an approximation: with a constant learning rate the
    first ``e`` epochs of a longer training *are* the ``e``-epoch training (same data order,
    same steps), so a training curve is read back from the cache (see notebook 02).

    Examples
    --------
    Three seeds of one network, trained together (here into a throw-away cache):

    >>> import os, tempfile
    >>> from unittest import mock
    >>> from kdlab.models import MLP
    >>> X, y = np.random.default_rng(0).random((64, 4), dtype=np.float32), np.arange(64) % 3
    >>> jobs = [dict(model=MLP(4, (8,), 3, seed=s), targets=y, seed=s, name=f"m{s}")
    ...         for s in range(3)]
    >>> with mock.patch.dict(os.environ, {"KDLAB_CACHE": tempfile.mkdtemp()}):
    ...     nets = fit_cached_many(X, jobs, epochs=2, verbose=False)
    >>> [len(net.history["loss"]) for net in nets]
    [2, 2, 2]
    """
    if isinstance(jobs, dict) or not isinstance(jobs, (list, tuple)):
        raise TypeError(f"jobs must be a list of dicts with 'model' and 'targets', got "
                        f"{type(jobs).__name__}")
    fit_kwargs.pop("progress", None)
    specs = []
    for i, job in enumerate(jobs):
        if not isinstance(job, dict) or "model" not in job or "targets" not in job:
            raise TypeError(f"jobs[{i}] must be a dict with 'model' and 'targets' (and fit "
                            f"arguments), got {job!r:.80}")
        kw = {**fit_kwargs, **{k: v for k, v in job.items()
                               if k not in ("model", "targets", "name")}}
        model, targets = job["model"], job["targets"]
        check_training_data(model, X, targets, kw.get("loss_fn"))
        _check_name(job.get("name"))
        kw.setdefault("seed", 0)
        kw.pop("progress", None)
        if "epochs" not in kw:
            raise TypeError(f"jobs[{i}]: the number of epochs is missing (epochs=...)")
        specs.append((model, targets, job.get("name") or type(model).__name__.lower(), kw))
    saves = sorted({_check_epoch(e, "save_at") for e in save_at})
    todo, loaded = [], []
    for model, targets, label, kw in specs:
        key = _fit_key(model, X, targets, {k: v for k, v in kw.items()
                                           if k != "checkpoint_every"})
        if _load_cached(model, label, key, kw.get("device"), verbose=False):
            loaded.append(label)
        else:
            todo.append((model, targets, label, kw, key))
    if verbose and loaded:  # one line, not one per network
        names = list(dict.fromkeys(loaded))
        print(f"kdlab: loaded {len(loaded)} of {len(specs)} networks from the cache ("
              f"{', '.join(names[:3])}{', …' if len(names) > 3 else ''})")
    if todo:
        for root in cache_dirs():
            remove_orphans(root / "models")
    batched, alone = _batchable_groups(todo)
    for group in batched:
        if len(group) == 1 and not saves:  # nothing to batch: fit itself
            alone += group
            continue
        _fit_batched_group(X, group, saves, verbose)
    for model, targets, label, kw, _ in alone:  # each e-epoch training of save_at is its own
        for e in saves:
            if e < kw["epochs"]:
                fit_cached(copy.deepcopy(model), X, targets, name=label, verbose=verbose,
                           **{**kw, "epochs": e})
        fit_cached(model, X, targets, name=label, verbose=verbose, **kw)
    return [model for model, *_ in specs]


_BATCHED_FIT_ARGS = frozenset({"epochs", "batch_size", "lr", "weight_decay", "seed", "loss_fn",
                               "augment", "device", "optimizer", "schedule", "max_norm", "desc",
                               "momentum", "nesterov", "log"})


def _batchable_groups(todo: list) -> tuple[list[list], list]:
    """``todo`` split into groups that one batched model can train, and the rest."""
    from kdlab.models import MLP

    groups: dict = {}
    alone = []
    for item in todo:
        model, _, _, kw, _ = item
        cfg = getattr(model, "config", None)
        ok = (type(model) is MLP and not cfg["dropout"] and not cfg["input_dropout"]
              and set(kw) <= _BATCHED_FIT_ARGS and kw.get("optimizer", "adam") == "adam"
              and kw.get("schedule", "constant") == "constant" and kw.get("max_norm") is None)
        if not ok:
            alone.append(item)
            continue
        shape = (cfg["in_features"], tuple(cfg["hidden"]), cfg["n_classes"], kw.get("epochs"),
                 kw.get("batch_size", 128), float(kw.get("lr", 1e-3)),
                 float(kw.get("weight_decay", 0.0)), str(kw.get("device")), kw.get("augment"))
        groups.setdefault(shape, []).append(item)
    return list(groups.values()), alone


def _check_epoch(e, name: str) -> int:
    if isinstance(e, bool) or not isinstance(e, int) or e < 1:
        raise ValueError(f"{name} must hold epochs (ints >= 1), got {e!r}")
    return e


def _fit_batched_group(X, group: list, saves: list, verbose: bool) -> None:
    """Train ``group`` (items of :func:`fit_cached_many`) as one BatchedMLP; cache each member."""
    from kdlab.batched import BatchedMLP, fit_batched

    models = [item[0] for item in group]
    kw0 = group[0][3]
    epochs, batch_size = kw0["epochs"], kw0.get("batch_size", 128)
    device = get_device(kw0.get("device"))
    nets = BatchedMLP.from_mlps(models)
    picks, losses = [], []
    for _, targets, _, kw, _ in group:
        if callable(targets):
            picks.append(targets)
        else:
            Tt = _as_tensor(targets, "targets", device)
            picks.append(functools.partial(_rows, Tt if Tt.is_floating_point() else Tt.long()))
        losses.append(kw.get("loss_fn") or _default_loss)
    n = len(X)
    steps_per_epoch = -(-n // batch_size)
    snapshots: dict[int, list[torch.Tensor]] = {}
    calls = 0

    def batch_targets(xb, idx):  # also keeps the weights after each epoch of `saves`
        nonlocal calls
        epoch, step = divmod(calls, steps_per_epoch)
        if step == 0 and epoch in saves:
            snapshots[epoch] = [p.detach().clone() for p in nets.parameters()]
        calls += 1
        return [pick(xb[k], idx[k]) for k, pick in enumerate(picks)]

    def batch_loss(logits, tb, idx):
        return torch.stack([loss(logits[k], tb[k]) for k, loss in enumerate(losses)])

    # the keys of the e-epoch trainings, from the initial weights (before they change)
    snap_keys = {e: [_fit_key(model, X, targets, {**kw, "epochs": e})
                     for model, targets, _, kw, _ in group] for e in saves if e < epochs}
    labels = list(dict.fromkeys(item[2] for item in group))
    desc = f"training {len(group)} networks together ({labels[0]}" + \
        (", …)" if len(labels) > 1 else ")")
    history = fit_batched(nets, X, batch_targets, epochs=epochs, batch_size=batch_size,
                          lr=kw0.get("lr", 1e-3), weight_decay=kw0.get("weight_decay", 0.0),
                          seeds=[kw["seed"] for _, _, _, kw, _ in group], loss_fn=batch_loss,
                          augment=kw0.get("augment"), device=device, progress=verbose,
                          desc=desc)
    final = [p.detach().clone() for p in nets.parameters()]
    for e in [*snap_keys, epochs]:
        weights = final if e == epochs else snapshots.get(e)
        if weights is None:
            continue
        with torch.no_grad():
            for p, value in zip(nets.parameters(), weights, strict=True):
                p.copy_(value)
        for k, (model, _, label, _, key) in enumerate(group):
            h = {"loss": history["loss"][k][:e], "device": history["device"],
                 "seconds": history["seconds"] * e / max(epochs, 1), "batched": len(group)}
            target = model if e == epochs else copy.deepcopy(model)
            target.load_state_dict(nets.member(k).state_dict())
            target.to(device).eval()
            _store_trained(target, label, key if e == epochs else snap_keys[e][k], h)
    if verbose:
        print(f"kdlab: trained {len(group)} networks together ({', '.join(labels)}) in "
              f"{history['seconds']:.1f} s on {history['device']}; cached")


def _rows(T: torch.Tensor, xb, idx):
    return T[idx]


def _fit_key(model: nn.Module, X, targets, fit_kwargs: dict) -> str:
    """The cache key of ``fit(model, X, targets, **fit_kwargs)``: what shapes the weights."""
    key_kwargs = {k: v for k, v in fit_kwargs.items()
                  if k not in ("device", "progress", "desc", "log")}
    return cache_key(model=model, X=X, targets=targets, fit=key_kwargs)


def _load_cached(model: nn.Module, label: str, key: str, device, verbose: bool) -> bool:
    """Load the weights cached under ``key`` into ``model``; False when there are none."""
    for path in _find_cached(label, key):
        try:
            payload = _load_checked(path, key)
        except Exception as exc:  # noqa: BLE001 - any unreadable cache file is retrained
            warnings.warn(f"kdlab: cache file {path} is unusable ({exc}); retraining",
                          RuntimeWarning, stacklevel=3)
            try:
                path.unlink(missing_ok=True)
            except OSError:  # a read-only shared cache: leave it, write ours elsewhere
                pass
            continue
        model.load_state_dict(payload["state_dict"])
        model.history = payload["meta"]["history"]
        model.to(get_device(device)).eval()
        if verbose:
            print(f"kdlab: loaded {label} from the cache ({path.name})")
        return True
    return False


def _store_trained(model: nn.Module, label: str, key: str, history: dict) -> Path | None:
    """Save the trained ``model`` under ``key`` (its history in ``model.history``)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    meta = {"format": CACHE_FORMAT, "key": key, "digest": _state_digest(state),
            "history": history, "name": label}
    model.history = history
    try:
        return _write_model(label, key, {"state_dict": state, "meta": meta})
    except OSError as exc:
        warnings.warn(str(exc), RuntimeWarning, stacklevel=3)
        return None


def _checkpoint_path(label: str, key: str) -> Path | None:
    """Where a long training of ``key`` keeps its state: the first writable cache folder."""
    for root in cache_dirs():
        folder = root / "models"
        existing = folder / f"{label}-{key[:16]}.ckpt"
        if existing.is_file():
            return existing
    for root in cache_dirs():
        folder = root / "models"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder / f"{label}-{key[:16]}.ckpt"
        except OSError:
            continue
    return None
