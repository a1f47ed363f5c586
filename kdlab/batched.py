"""Many small MLPs of one shape trained at once, as one batched model (seeds, temperatures,
ensemble members of notebook 02).

K networks that share a shape are held as stacked weights, shape ``(K, out, in)``, and run with
batched matrix products (``torch.baddbmm``): one Python step trains all K, which is what makes
a sweep over seeds or temperatures of 30-unit students cheaper on a CPU, where a single small
network spends much of its time in per-step overhead rather than in arithmetic
(``benchmarks/bench_batched.py`` measures the gain).

Member ``k`` is initialised exactly as ``MLP(in_features, hidden, n_classes, seed=seeds[k])``
and trained exactly as :func:`kdlab.train.fit` with ``seed=seeds[k]`` would train it on its own
(same data order, same Adam; to float tolerance), except for dropout, whose masks are drawn
from one shared stream.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kdlab.models import MLP
from kdlab.train import _as_tensor, _progress, get_device
from kdlab.validate import check_int, check_real


def _check_seeds(seeds, name: str = "seeds") -> list[int]:
    """``seeds`` as a non-empty list of non-negative ints."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence | np.ndarray | range):
        raise TypeError(f"{name} must be a sequence of ints, one per member, "
                        f"got {type(seeds).__name__}")
    out = [check_int(s, f"{name}[{i}]", lo=0) for i, s in enumerate(seeds)]
    if not out:
        raise ValueError(f"{name} must name at least one member, got an empty sequence")
    return out


class BatchedMLP(nn.Module):
    """K independent ReLU MLPs of one shape, run together: inputs (K, B, D) → logits (K, B, C).

    Layer ``i`` of every member is held in ``weights[i]``, shape ``(K, out, in)`` (K
    ``nn.Linear.weight`` stacked), and ``biases[i]``, shape ``(K, out, 1)``. Member ``k`` starts
    from exactly the weights of ``MLP(in_features, hidden, n_classes, dropout, input_dropout,
    seed=seeds[k])``; :meth:`member` gives it back as such an ``MLP`` and :meth:`from_mlps`
    stacks existing ones. Train it with :func:`fit_batched`. See notebook 02.

    The forward pass runs feature-major, ``h = W @ x^T`` with activations of shape (K, out, B):
    on the 2-core CPU where this was written, batched products whose output is (30 × B) rather
    than (B × 30) ran about 1.5 times faster for 30-unit layers, in the forward pass and in the
    weight gradient alike.

    Parameters
    ----------
    in_features : int
        Input size (784 for 28×28 images).
    hidden : sequence of int
        Widths of the hidden layers, e.g. ``(30, 30)`` for the paper's tiny student.
    n_classes : int
        Number of outputs.
    dropout, input_dropout : float
        Dropout probabilities as in :class:`kdlab.models.MLP` (masks independent per member).
    seeds : sequence of int
        One initialisation seed per member; ``len(seeds)`` is the number of members K.

    Examples
    --------
    >>> nets = BatchedMLP(784, (30, 30), 10, seeds=[0, 1, 2])
    >>> nets(torch.zeros(3, 5, 784)).shape
    torch.Size([3, 5, 10])
    >>> bool(torch.equal(nets.member(1).head.weight, MLP(784, (30, 30), 10, seed=1).head.weight))
    True
    """

    def __init__(self, in_features: int, hidden=(800, 800), n_classes: int = 10,
                 dropout: float = 0.0, input_dropout: float = 0.0, *, seeds):
        super().__init__()
        seeds = _check_seeds(seeds)
        # MLP validates the shape and draws each member's initial weights from its own seed
        self._stack([MLP(in_features, hidden, n_classes, dropout, input_dropout, seed=s)
                     for s in seeds])

    @classmethod
    def from_mlps(cls, mlps) -> BatchedMLP:
        """Stack ``MLP`` s of one shape into a batched model (their weights are copied).

        Examples
        --------
        >>> nets = BatchedMLP.from_mlps([MLP(4, (3,), 2, seed=s) for s in (5, 6)])
        >>> nets.config["seeds"], nets.n_members
        ([5, 6], 2)
        """
        if isinstance(mlps, nn.Module) or not isinstance(mlps, Sequence):
            raise TypeError(f"mlps must be a list of kdlab.models.MLP, got {type(mlps).__name__}")
        if not mlps:
            raise ValueError("mlps must hold at least one MLP, got an empty list")
        for i, m in enumerate(mlps):
            if not isinstance(m, MLP):
                raise TypeError(f"mlps[{i}] must be a kdlab.models.MLP, got {type(m).__name__}")
        shape = {k: v for k, v in mlps[0].config.items() if k != "seed"}
        for i, m in enumerate(mlps[1:], 1):
            other = {k: v for k, v in m.config.items() if k != "seed"}
            if other != shape:
                raise ValueError(f"mlps[{i}] differs from mlps[0]: {other} vs {shape}; "
                                 "a BatchedMLP holds networks of one shape")
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self._stack(list(mlps))
        return self

    def _stack(self, mlps: list[MLP]) -> None:
        linears = [[m for m in net.body if isinstance(m, nn.Linear)] + [net.head] for net in mlps]
        cfg = mlps[0].config
        self.config = dict(in_features=cfg["in_features"], hidden=list(cfg["hidden"]),
                           n_classes=cfg["n_classes"], dropout=cfg["dropout"],
                           input_dropout=cfg["input_dropout"],
                           seeds=[net.config["seed"] for net in mlps])
        with torch.no_grad():
            self.weights = nn.ParameterList(
                nn.Parameter(torch.stack([net[i].weight for net in linears]))
                for i in range(len(linears[0])))
            self.biases = nn.ParameterList(
                nn.Parameter(torch.stack([net[i].bias[:, None] for net in linears]))
                for i in range(len(linears[0])))

    @property
    def n_members(self) -> int:
        """K, the number of networks held."""
        return len(self.config["seeds"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (K, B, C) for inputs (K, B, D), member k on ``x[k]``; a 2-d (B, D) batch is
        given to every member."""
        K, D = self.n_members, self.config["in_features"]
        if x.ndim not in (2, 3) or x.shape[-1] != D or (x.ndim == 3 and x.shape[0] != K):
            raise ValueError(f"x: expected shape ({K}, B, {D}) or (B, {D}), got {tuple(x.shape)}")
        p_in, p = self.config["input_dropout"], self.config["dropout"]
        if p_in and self.training and x.ndim == 2:  # a mask of its own for every member
            x = x.expand(K, *x.shape)
        if p_in:
            x = F.dropout(x, p_in, self.training)
        w, b = self.weights[0], self.biases[0]
        if x.ndim == 2:  # one input for all: a single product with the K first layers side by side
            h = torch.addmm(b.view(-1, 1), w.view(-1, D), x.t()).view(K, -1, len(x))
        else:
            h = torch.baddbmm(b, w, x.transpose(1, 2))  # (K, out, B)
        for w, b in zip(self.weights[1:], self.biases[1:], strict=True):
            h = torch.relu(h)
            if p:
                h = F.dropout(h, p, self.training)
            h = torch.baddbmm(b, w, h)
        return h.transpose(1, 2).contiguous()

    def member(self, k: int) -> MLP:
        """Member ``k`` as a stand-alone ``MLP`` (a copy of its weights, on the same device).

        Examples
        --------
        >>> nets = BatchedMLP(4, (3,), 2, seeds=[7, 8])
        >>> net = nets.member(1)
        >>> bool(torch.allclose(net(torch.ones(1, 4)), nets(torch.ones(2, 1, 4))[1]))
        True
        """
        K = self.n_members
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not -K <= k < K:
            raise ValueError(f"k must be an int in [0, {K}), got {k!r}")
        k = int(k) % K
        cfg = self.config
        seed = cfg["seeds"][k]
        net = MLP(cfg["in_features"], cfg["hidden"], cfg["n_classes"], cfg["dropout"],
                  cfg["input_dropout"], seed=0 if seed is None else seed)
        net.config["seed"] = seed
        linears = [m for m in net.body if isinstance(m, nn.Linear)] + [net.head]
        with torch.no_grad():
            for lin, w, b in zip(linears, self.weights, self.biases, strict=True):
                lin.weight.copy_(w[k])
                lin.bias.copy_(b[k, :, 0])
        return net.to(self.weights[0].device).train(self.training)

    def extra_repr(self) -> str:
        c = self.config
        return (f"{self.n_members} × {c['in_features']}-{'-'.join(map(str, c['hidden']))}-"
                f"{c['n_classes']}")


def _mean_loss_per_member(logits: torch.Tensor, targets: torch.Tensor, idx=None) -> torch.Tensor:
    """Each member's batch-mean cross-entropy, shape (K,): hard labels (K, B) or soft (K, B, C)."""
    if targets.is_floating_point():
        return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean(dim=-1)
    K, B, C = logits.shape
    return F.cross_entropy(logits.reshape(K * B, C), targets.reshape(K * B),
                           reduction="none").view(K, B).mean(dim=-1)


def fit_batched(model: BatchedMLP, X, targets, *, epochs: int, batch_size: int = 128,
                lr: float = 1e-3, seeds, weight_decay: float = 0.0, loss_fn=None, augment=None,
                per_member: bool | None = None, device=None, progress: bool = True,
                desc: str | None = None) -> dict:
    """Train the K members of ``model`` together with Adam, each as :func:`kdlab.train.fit`
    would train it alone; return the history.

    Member ``k`` sees the data in its own order, drawn from ``torch.Generator().manual_seed(
    seeds[k])`` exactly as ``fit(..., seed=seeds[k])`` draws it, and ``augment`` gets that
    member's generator too. One Adam over the stacked weights is K independent Adams, because
    Adam is elementwise and the loss minimised is the *sum* of the members' batch-mean losses
    (member k's gradient is its own loss's gradient). So, without dropout, the trained member
    ``k`` equals ``fit(MLP(..., seed=model_seed_k), X, targets, seed=seeds[k])`` to float
    tolerance. Dropout masks come from one stream seeded by all ``seeds``. See notebook 02.

    Parameters
    ----------
    model : BatchedMLP
        The K networks; trained in place and left in eval mode.
    X : array (N, D)
        Inputs, shared by every member.
    targets : array or callable
        Shared by every member: hard labels (N,) or any per-example array (N, ...) such as
        soft targets or cached teacher logits (N, C). One per member: (K, N, ...), e.g. soft
        targets at K temperatures. Or ``targets(xb, idx) -> (K, B, ...)`` computing a batch's
        targets from its inputs ``xb`` (K, B, D) and indices ``idx`` (K, B); ``xb`` lives in a
        buffer that the next step overwrites (copy it to keep it).
    epochs, batch_size, lr, weight_decay
        As in :func:`kdlab.train.fit`.
    seeds : sequence of int
        One data-order (and augmentation) seed per member, ``len(seeds) == K``.
    loss_fn : callable, optional
        ``loss_fn(logits, target_batch, idx) -> losses`` with logits (K, B, C), the batch's
        targets (K, B, ...) and example indices (K, B); it returns each member's batch-mean
        loss, shape (K,). Default: cross-entropy for int labels, soft cross-entropy for float
        targets. A temperature per member is a (K, 1, 1) tensor inside ``loss_fn``; a
        hard + soft mixture looks up the labels with ``idx``.
    augment : callable, optional
        ``augment(xb, generator) -> xb`` as in ``fit``, called per member on its (B, D) batch.
    per_member : bool, optional
        Whether ``targets`` has one slice per member; by default it is when its shape starts
        with (K, N), and must be said only when K == N makes that ambiguous.
    device : str or torch.device, optional
        Where to train; see :func:`kdlab.train.get_device`.
    progress : bool
        Show a ``tqdm`` progress bar.

    Returns
    -------
    dict
        ``{"loss": K lists of mean loss per epoch, "seconds": wall time, "device": str}``.

    Examples
    --------
    >>> X, y = torch.randn(64, 4), torch.arange(64) % 3
    >>> nets = BatchedMLP(4, (8,), 3, seeds=[0, 1])
    >>> T = torch.tensor([1.0, 4.0]).view(2, 1, 1)           # one temperature per member
    >>> teacher = torch.randn(64, 3)
    >>> def soft_at_T(logits, t, idx):                         # T² · KL at each member's T
    ...     p = F.softmax(t / T, -1)
    ...     kl = (p * (p.log() - F.log_softmax(logits / T, -1))).sum(-1).mean(-1)
    ...     return kl * T.view(-1) ** 2
    >>> h = fit_batched(nets, X, teacher, epochs=2, seeds=[0, 1], loss_fn=soft_at_T,
    ...                 progress=False)
    >>> len(h["loss"]), len(h["loss"][0])
    (2, 2)
    """
    if not isinstance(model, BatchedMLP):
        raise TypeError(f"model must be a BatchedMLP, got {type(model).__name__}")
    K = model.n_members
    seeds = _check_seeds(seeds)
    if len(seeds) != K:
        raise ValueError(f"seeds: expected one per member ({K}), got {len(seeds)}")
    check_int(epochs, "epochs", lo=0)
    check_int(batch_size, "batch_size", lo=1)
    check_real(lr, "lr", 0, lo_open=True)
    check_real(weight_decay, "weight_decay", 0)
    for name, fn in [("loss_fn", loss_fn), ("augment", augment)]:
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
    if per_member not in (None, True, False):
        raise TypeError(f"per_member must be True, False or None, got {per_member!r}")
    device = get_device(device)
    Xt = _as_tensor(X, "X", device, torch.float32)
    D = model.config["in_features"]
    if Xt.ndim != 2 or Xt.shape[1] != D:
        raise ValueError(f"X must have shape (N, {D}) to match the model, got {tuple(Xt.shape)}")
    n = len(Xt)
    Tt, per_member = _targets(targets, n, K, per_member, device,
                              n_classes=model.config["n_classes"] if loss_fn is None else None)
    loss_fn = loss_fn or _mean_loss_per_member
    model.to(device)
    opt = _adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    members = torch.arange(K, device=device)[:, None]
    # the batch inputs, gathered into one buffer reused every step: a fresh 3 MB tensor per step
    # costs page faults, about 15% of a 30-unit step on a CPU (the buffer is only read before
    # the step's backward pass ends)
    buffer = torch.empty(K * min(batch_size, n), D, device=device)
    history = {"loss": [[] for _ in range(K)], "device": str(device)}
    start = time.perf_counter()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        # dropout's stream: one for all members, a function of all their seeds
        torch.manual_seed(int(np.random.SeedSequence(seeds).generate_state(1)[0]))
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        bar = _progress(range(epochs), progress, desc or f"training {K} MLPs batched")
        for _ in bar:
            model.train()
            order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
            total = torch.zeros(K, device=device)
            for i in range(0, n, batch_size):
                idx = order[:, i:i + batch_size]  # (K, B)
                xb = torch.index_select(Xt, 0, idx.reshape(-1),
                                        out=buffer[:idx.numel()]).view(K, -1, D)
                if augment is not None:
                    xb = torch.stack([augment(xb[k], g) for k, g in enumerate(gens)])
                if Tt is None:
                    tb = targets(xb, idx)
                elif per_member:
                    tb = Tt[members, idx]
                else:
                    tb = Tt[idx]
                losses = loss_fn(model(xb), tb, idx)
                if not isinstance(losses, torch.Tensor) or losses.shape != (K,):
                    raise ValueError(f"loss_fn must return one loss per member, shape ({K},), "
                                     f"got {getattr(losses, 'shape', type(losses).__name__)}")
                opt.zero_grad(set_to_none=True)
                losses.sum().backward()
                opt.step()
                total += losses.detach() * idx.shape[1]
            for k, value in enumerate((total / max(n, 1)).tolist()):
                history["loss"][k].append(value)
            if progress:
                bar.set_postfix(loss=f"{float(total.mean()) / max(n, 1):.4f}", refresh=False)
    model.eval()
    history["seconds"] = time.perf_counter() - start
    return history


def _adam(params, **kwargs) -> torch.optim.Adam:
    """Adam, fused into one kernel per tensor where torch has that (the same update, fewer
    passes over memory: about 10% of a 30-unit step on a CPU); else torch's default Adam."""
    params = list(params)
    try:
        return torch.optim.Adam(params, fused=True, **kwargs)
    except RuntimeError:
        return torch.optim.Adam(params, **kwargs)


def _targets(targets, n: int, K: int, per_member, device, n_classes):
    """The targets as a tensor and whether it holds one slice per member (None if callable)."""
    if callable(targets):
        return None, None
    Tt = _as_tensor(targets, "targets", device)
    shape = tuple(Tt.shape)
    shared, stacked = len(shape) >= 1 and shape[0] == n, len(shape) >= 2 and shape[:2] == (K, n)
    if per_member is None:
        if shared and stacked:
            raise ValueError(f"targets of shape {shape} could be shared (N={n}, ...) or one per "
                             f"member (K={K}, N={n}, ...): pass per_member=True or False")
        per_member = stacked
    if per_member and not stacked:
        raise ValueError(f"targets: one per member needs shape ({K}, {n}, ...), got {shape}")
    if not per_member and not shared:
        raise ValueError(f"targets: expected {n} rows to match X (or shape ({K}, {n}, ...), one "
                         f"per member), got shape {shape}")
    if not Tt.is_floating_point():
        Tt = Tt.long()
    if n_classes is not None:  # the default loss: labels or probabilities over the classes
        per_example = shape[2:] if per_member else shape[1:]
        if Tt.is_floating_point() and per_example != (n_classes,):
            raise ValueError(f"targets: soft targets need {n_classes} probabilities per example, "
                             f"got shape {shape}")
        if not Tt.is_floating_point():
            if per_example != ():
                raise ValueError(f"targets: hard labels need one int per example, got shape "
                                 f"{shape}")
            if Tt.numel() and not (0 <= int(Tt.min()) and int(Tt.max()) < n_classes):
                raise ValueError(f"targets: labels must lie in [0, {n_classes}), got "
                                 f"[{int(Tt.min())}, {int(Tt.max())}]")
    return Tt, per_member
