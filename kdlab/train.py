"""An in-memory minibatch training loop, batched prediction, and a train-once model cache."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kdlab._paths import atomic_path, cache_dir

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
        progress: bool = True, desc: str | None = None) -> dict:
    """Train ``model`` on tensors held in memory (no DataLoader) with Adam; return the history.

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

    Returns
    -------
    dict
        ``{"loss": [mean loss per epoch], "seconds": wall time, "device": str}``.
    """
    for name, value, lo in [("epochs", epochs, 0), ("batch_size", batch_size, 1)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    if not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
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
    loss_fn = loss_fn or _default_loss
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = {"loss": [], "device": str(device)}
    start = time.perf_counter()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        bar = _progress(range(epochs), progress, desc or f"training {type(model).__name__}")
        for _ in bar:
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
                opt.step()
                total += loss.detach() * len(idx)
            history["loss"].append(float(total) / max(n, 1))
            if progress:
                # refresh=False: redraw at most every mininterval; forcing a redraw per epoch
                # floods a notebook's message channel (hundreds of widget updates a second)
                bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", refresh=False)
    model.eval()
    history["seconds"] = time.perf_counter() - start
    return history


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return _Quiet(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="epoch", leave=False, mininterval=0.5)


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
        out = [model(Xt[i:i + batch_size]).float().cpu() for i in range(0, len(Xt), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def predict_proba(model: nn.Module, X, T: float = 1.0, batch_size: int = 4096) -> np.ndarray:
    """Class probabilities ``softmax(logits / T)`` for every row of ``X`` (see notebook 01)."""
    from kdlab.temperature import softmax_t

    return softmax_t(predict_logits(model, X, batch_size).astype(np.float64), T)


def evaluate(model: nn.Module, X, y, batch_size: int = 4096) -> dict:
    """Accuracy, number of errors and errors per class of ``model`` on ``(X, y)``."""
    y = np.asarray(y)
    logits = predict_logits(model, X, batch_size)
    pred = logits.argmax(axis=1)
    if len(pred) != len(y):
        raise ValueError(f"y: expected {len(pred)} labels to match X, got {len(y)}")
    wrong = pred != y
    n_classes = max(logits.shape[1], int(y.max(initial=-1)) + 1)
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


def _save_atomic(path: Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _load_checked(path: Path, key: str) -> dict:
    """Load a cache file safely (``weights_only``) and verify its key and weights digest."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    meta = payload.get("meta", {}) if isinstance(payload, dict) else {}
    if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
        raise ValueError("it belongs to another configuration or cache format")
    if _state_digest(payload["state_dict"]) != meta.get("digest"):
        raise ValueError("its weights do not match their recorded checksum")
    return payload


def fit_cached(model: nn.Module, X, targets, *, name: str | None = None, verbose: bool = True,
               **fit_kwargs) -> nn.Module:
    """Train ``model`` with :func:`fit` once; later calls with the same inputs load the result.

    The cache file (under ``$KDLAB_CACHE`` or ``data/cache``) is keyed by everything that
    determines the trained weights: the model's class, config and initial weights, the data,
    the targets and every argument of :func:`fit` (seed included); ``name`` only labels the
    file, so the same model trained under another name is found too. It is written atomically
    and loaded with ``weights_only=True``; a corrupt file is reported, removed and retrained.
    The returned model is in eval mode, with the training history in ``model.history``.
    """
    fit_kwargs.setdefault("seed", 0)
    fit_kwargs.pop("progress", None)
    key_kwargs = {k: v for k, v in fit_kwargs.items() if k not in ("device", "progress", "desc")}
    key = cache_key(model=model, X=X, targets=targets, fit=key_kwargs)
    label = name or type(model).__name__.lower()
    path = cache_dir() / "models" / f"{label}-{key[:16]}.pt"
    if not path.exists():  # the name is only a label: the same model cached under another name
        path = next(iter(sorted(path.parent.glob(f"*-{key[:16]}.pt"))), path)
    if path.exists():
        try:
            payload = _load_checked(path, key)
        except Exception as exc:  # noqa: BLE001 - any unreadable cache file is retrained
            warnings.warn(f"kdlab: cache file {path} is unusable ({exc}); retraining",
                          RuntimeWarning, stacklevel=2)
            path.unlink(missing_ok=True)
        else:
            model.load_state_dict(payload["state_dict"])
            model.history = payload["meta"]["history"]
            model.to(get_device(fit_kwargs.get("device"))).eval()
            if verbose:
                print(f"kdlab: loaded {label} from the cache ({path.name})")
            return model
    fit_kwargs.setdefault("desc", f"training {label}")
    history = fit(model, X, targets, progress=verbose, **fit_kwargs)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    meta = {"format": CACHE_FORMAT, "key": key, "digest": _state_digest(state),
            "history": history, "name": label}
    _save_atomic(path, {"state_dict": state, "meta": meta})
    model.history = history
    if verbose:
        print(f"kdlab: trained {label} in {history['seconds']:.1f} s on {history['device']}; "
              f"cached as {path.name}")
    return model
