"""Data sets (IDX files, sklearn digits) as arrays, transfer sets and jitter.

Where the files come from (the search path, downloads, ``python -m kdlab.data fetch|where|
ensure``) is :mod:`kdlab.sources`, which needs nothing but the standard library; its names are
re-exported here.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kdlab._paths import write_atomic
from kdlab.sources import (  # noqa: F401 - re-exported: where data sets come from
    SOURCES,
    SPLITS,
    SYSTEM_DIR,
    Archive,
    DataNotFoundError,
    Source,
    _check_name,
    _check_split,
    fetch,
    locate,
    main,
    search_path,
)
from kdlab.validate import check_int, check_labels, to_numpy

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
DATASETS = (*SOURCES, "digits")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images flattened to rows in [0, 1], integer labels and the class names.

    See notebook 01.
    """

    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    image_shape: tuple[int, int]
    name: str
    split: str
    indices: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        """Number of classes of the full data set (not only those present)."""
        return len(self.classes)

    def subset(self, idx) -> Dataset:
        """The examples at positions ``idx`` (an index array or boolean mask)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != self.y.shape:
                raise ValueError(f"idx: boolean mask of shape {self.y.shape} expected, "
                                 f"got {idx.shape}")
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError("idx must be a 1-d integer index array or a boolean mask")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"idx: indices must lie in [0, {len(self)}), got "
                             f"[{idx.min()}, {idx.max()}]")
        base = np.arange(len(self)) if self.indices is None else self.indices
        return Dataset(self.X[idx], self.y[idx], self.classes, self.image_shape,
                       self.name, self.split, base[idx])


# --- reading IDX files ------------------------------------------------------------------------

def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    A truncated, over-long or malformed file raises ``ValueError``; it never yields garbage.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte")
    >>> _ = write_idx(p, np.arange(3, dtype=np.uint8))
    >>> read_idx(p).tolist()
    [0, 1, 2]
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: corrupt or truncated file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{path}: not an IDX file (type code {code:#x}, {ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes of data), "
                         f"but the file holds {len(raw) - header}: truncated or corrupt")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    array = np.asarray(array)
    codes = {v.newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"array: dtype {array.dtype} has no IDX type code")
    payload = (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
               + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes())
    path = Path(path)
    write_atomic(path, gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


# --- loading ----------------------------------------------------------------------------------

def _load_full(name: str, split: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The whole split, read-only; the files are looked up anew each call, decoded once."""
    if name == "digits":
        return _load_digits(split)
    images_path, labels_path = locate(name, split)
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                  for p in (images_path, labels_path))
    return _read_pair(name, stamp)


@functools.lru_cache(maxsize=4)
def _load_digits(split: str):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    parts = train_test_split(digits.data, digits.target, test_size=0.25, random_state=0,
                             stratify=digits.target)
    X, y = (parts[0], parts[2]) if split == "train" else (parts[1], parts[3])
    return _frozen((X / 16.0).astype(np.float32), y, (8, 8))


@functools.lru_cache(maxsize=8)
def _read_pair(name: str, stamp: tuple):
    """Decode one (images, labels) pair; ``stamp`` (paths, mtimes, sizes) keys the memo."""
    images_path, labels_path = Path(stamp[0][0]), Path(stamp[1][0])
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{images_path}, {labels_path}: expected N×H×W images and N "
                         f"labels, got shapes {images.shape} and {labels.shape}")
    if labels.size and labels.max() >= len(SOURCES[name].classes):
        raise ValueError(f"{labels_path}: label {labels.max()} out of range")
    X = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return _frozen(X, labels, images.shape[1:])


def _frozen(X, y, shape):
    X, y = np.ascontiguousarray(X), np.ascontiguousarray(y, dtype=np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y, tuple(int(s) for s in shape)


def clear_memo() -> None:
    """Forget decoded data sets (they are also re-read whenever their files change)."""
    _load_digits.cache_clear()
    _read_pair.cache_clear()


def load_dataset(name: str = "fashion-mnist", split: str = "train", n: int | None = None,
                 seed: int = 0) -> Dataset:
    """Load ``"fashion-mnist"``, ``"mnist"`` or ``"digits"`` with images scaled to [0, 1].

    Parameters
    ----------
    name : str
        The data set.
    split : {"train", "test"}
        Which split. (sklearn's digits have no official split: a fixed stratified 75/25 one.)
    n : int, optional
        Keep a random subset of ``n`` examples (stratified by class, seeded); all by default.
    seed : int
        Seed of the subset.

    Examples
    --------
    >>> ds = load_dataset("digits", "train", n=100)
    >>> ds.X.shape, ds.image_shape, float(ds.X.max()) <= 1.0
    ((100, 64), (8, 8), True)
    """
    _check_name(name, DATASETS)
    _check_split(split)
    check_int(seed, "seed", lo=0)
    X, y, shape = _load_full(name, split)
    classes = tuple(str(d) for d in range(10)) if name == "digits" else SOURCES[name].classes
    ds = Dataset(X, y, classes, shape, name, split)
    if n is None:
        return ds
    n = check_int(n, "n (or None)", lo=1)
    if n > len(y):
        raise ValueError(f"n: at most {len(y)} examples in {name}/{split}, got {n}")
    if n == len(y):
        return ds
    return ds.subset(stratified_subset(y, n, seed))


# --- transfer sets: index arrays that apply to X, y and cached logits alike -------------------

def _classes(classes, name="classes") -> np.ndarray:
    arr = np.atleast_1d(np.asarray(classes))
    if arr.ndim == 1 and arr.size == 0:  # no classes at all ([] is a float array to numpy)
        return arr.astype(np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {classes!r}")
    return arr


def stratified_subset(y, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` examples whose class proportions follow ``y``'s (seeded)."""
    y = check_labels(to_numpy(y, None))
    n = check_int(n, "n", 1, len(y))
    if n == len(y):
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (n / len(y))
    take = np.floor(quota).astype(int)
    remainder_order = np.argsort(-(quota - take), kind="stable")
    take[remainder_order[: n - take.sum()]] += 1  # largest remainders get the leftover slots
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(y == c), k, replace=False)
             for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picks))


def fraction_subset(y, fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of a stratified ``fraction`` of the examples (e.g. the paper's 3%)."""
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    y = check_labels(to_numpy(y, None))
    return stratified_subset(y, max(1, round(fraction * len(y))), seed)


def per_class_subset(y, n_per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n_per_class`` random examples of every class (all if fewer)."""
    y = check_labels(to_numpy(y, None))
    n_per_class = check_int(n_per_class, "n_per_class", lo=1)
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:n_per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(picks))


def omit_classes(y, classes) -> np.ndarray:
    """Indices of every example whose label is not in ``classes`` (a transfer set without them)."""
    y, classes = check_labels(to_numpy(y, None)), _classes(classes)
    return np.flatnonzero(~np.isin(y, classes))


def keep_classes(y, classes) -> np.ndarray:
    """Indices of the examples whose label is in ``classes`` (e.g. only 7s and 8s)."""
    y, classes = check_labels(to_numpy(y, None)), _classes(classes)
    return np.flatnonzero(np.isin(y, classes))


def train_val_split(y, val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, validation) index arrays: choose hyper-parameters on val, never test."""
    if not isinstance(val_fraction, float) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a float in (0, 1), got {val_fraction!r}")
    y = check_labels(to_numpy(y, None))
    val = fraction_subset(y, val_fraction, seed)
    return np.setdiff1d(np.arange(len(y)), val), val


# --- augmentation -----------------------------------------------------------------------------

def random_shift(X, image_shape: tuple[int, int], max_shift: int = 2, generator=None):
    """Translate each flattened image by up to ``max_shift`` pixels in x and y, zero-filled.

    The paper's teacher was trained with such jitter (±2 pixels). Works on torch tensors
    (batched, on any device) and returns a new tensor of the same shape.
    """
    import torch

    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
    h, w = image_shape
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"X: expected shape (N, {h * w}) for images {image_shape}, "
                         f"got {tuple(X.shape)}")
    max_shift = check_int(max_shift, "max_shift", lo=0)
    if max_shift == 0 or len(X) == 0:
        return X.clone()
    s = max_shift
    shifts = torch.randint(-s, s + 1, (len(X), 2), generator=generator).to(X.device)
    padded = torch.nn.functional.pad(X.view(-1, 1, h, w), (s, s, s, s))
    rows = (torch.arange(h, device=X.device)[None, :] + s - shifts[:, :1])  # N × h
    cols = (torch.arange(w, device=X.device)[None, :] + s - shifts[:, 1:])  # N × w
    n = torch.arange(len(X), device=X.device)[:, None, None]
    out = padded[:, 0][n, rows[:, :, None], cols[:, None, :]]
    return out.reshape(len(X), h * w)


def shift_images(X, image_shape: tuple[int, int], dy: int, dx: int) -> np.ndarray:
    """Every flattened image of ``X`` moved down by ``dy`` and right by ``dx`` pixels (negative:
    up, left), zero-filled; a new float array of the same shape.

    One of the translations :func:`random_shift` draws, applied to all images: averaging a
    network's outputs over all of them is how ``benchmarks/investigate_distilled_student.py``
    queries the jitter-trained teacher (book/reproducing.md).
    """
    X = to_numpy(X, None)
    if X.dtype.kind not in "fiu":
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
    h, w = (check_int(v, "image_shape", lo=1) for v in image_shape)
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"X: expected shape (N, {h * w}) for images {tuple(image_shape)}, "
                         f"got {X.shape}")
    dy, dx = check_int(dy, "dy"), check_int(dx, "dx")
    s = max(abs(dy), abs(dx))
    padded = np.pad(X.reshape(-1, h, w), ((0, 0), (s, s), (s, s)))
    return padded[:, s - dy:s - dy + h, s - dx:s - dx + w].reshape(len(X), h * w)


def jitter(image_shape: tuple[int, int], max_shift: int = 2):
    """An ``augment`` for ``fit`` and ``distill_student``: random ±``max_shift`` translations.

    The paper's teacher was trained on inputs jittered by up to two pixels (see notebook 02).
    """
    return functools.partial(_jitter_batch, image_shape=tuple(image_shape), max_shift=max_shift)


def _jitter_batch(xb, generator, *, image_shape, max_shift):
    return random_shift(xb, image_shape, max_shift, generator)


if __name__ == "__main__":
    raise SystemExit(main())
