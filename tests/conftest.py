"""Shared fixtures: an isolated model cache, offline by default, real Fashion-MNIST, tiny IDX sets,
and the website, built once per session.

Every test (and every doctest under kdlab/) runs with ``$KDLAB_CACHE`` pointing at a fresh
temporary folder and with ``$KDLAB_OFFLINE=1``: the ``kdlab_cache`` fixture of the repository's
root ``conftest.py``. A test that needs the download path requests the ``online`` fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import kdlab.data
from kdlab.data import DataNotFoundError, load_dataset, locate, stratified_subset, write_idx

ROOT = Path(__file__).resolve().parents[1]

# The four file names of the IDX format (LeCun's MNIST page), written out here rather than
# taken from kdlab so that the tests check them.
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Train the tests' tiny networks on one thread.

    Small matrices gain nothing from intra-op parallelism, and on a busy 2-core machine two
    torch threads per process make training 10-100 times slower (oversubscription).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def online(kdlab_cache, monkeypatch):
    """Opt out of ``$KDLAB_OFFLINE`` (for the download tests, which serve files locally)."""
    monkeypatch.delenv("KDLAB_OFFLINE", raising=False)


@pytest.fixture
def fresh_loads():
    """Forget data sets loaded earlier, before and after the test (they are memoised by name)."""
    kdlab.data.clear_memo()
    yield
    kdlab.data.clear_memo()


@pytest.fixture(scope="session")
def fashion_full():
    """The whole real Fashion-MNIST, ``(train, test)``; skipped where it is not installed."""
    try:
        for split in ("train", "test"):
            locate("fashion-mnist", split, download=False)
    except DataNotFoundError as exc:
        pytest.skip("real Fashion-MNIST is not installed here (CI installs it with "
                    f"`sudo apt-get install dataset-fashion-mnist`): {exc}")
    kdlab.data.clear_memo()  # never a fake set that an earlier test left behind
    return load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")


@pytest.fixture(scope="session")
def fashion(fashion_full):
    """A small stratified subset of real Fashion-MNIST: 3000 training and 1000 test examples."""
    train, test = fashion_full
    return SimpleNamespace(train=train.subset(stratified_subset(train.y, 3000, seed=0)),
                           test=test.subset(stratified_subset(test.y, 1000, seed=0)))


@pytest.fixture
def make_idx_set():
    """Build a tiny fake IDX data set (both splits) in a folder with ``kdlab.data.write_idx``.

    ``make_idx_set(folder, seed=..., n_train=20, n_test=10, shape=(3, 5), gz=True)`` returns
    ``{split: (images, labels)}``, the uint8 arrays written, so that a test can tell which copy
    of a data set was loaded.
    """

    def make(folder, *, seed=0, n_train=20, n_test=10, shape=(3, 5), gz=True,
             splits=("train", "test")):
        rng = np.random.default_rng(seed)
        folder = Path(folder)
        written = {}
        for split in splits:
            n = n_train if split == "train" else n_test
            images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
            labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
            suffix = ".gz" if gz else ""
            images_name, labels_name = IDX_NAMES[split]
            write_idx(folder / f"{images_name}{suffix}", images)
            write_idx(folder / f"{labels_name}{suffix}", labels)
            written[split] = (images, labels)
        return written

    return make


# --- the website ----------------------------------------------------------------------------------


def _build_book(source: Path, out: Path) -> subprocess.CompletedProcess:
    """`jupyter-book build` of source at the ci profile, offline; HTML in out/_build/html."""
    env = dict(os.environ, KDLAB_PROFILE="ci", KDLAB_OFFLINE="1")
    env["KDLAB_CACHE"] = str(out / "kdlab-cache")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
        "build", str(source),
        "--config", str(source / "book" / "_config.yml"),
        "--toc", str(source / "book" / "_toc.yml"),
        "--path-output", str(out),
        "-W", "--keep-going",
    ]
    return subprocess.run(
        command, cwd=source, env=env, capture_output=True, text=True, timeout=1800
    )


@pytest.fixture(scope="session")
def build_book():
    """``build_book(source, out)``: build the book in folder ``source`` into ``out``.

    At the ci profile, offline, with its own model cache; returns the finished process, whose
    ``returncode`` says whether the build passed. Skipped where Jupyter Book is not installed.
    """
    pytest.importorskip("jupyter_book")
    return _build_book


@pytest.fixture(scope="session")
def book_site(build_book, tmp_path_factory) -> Path:
    """The website of this repository, built once per session (minutes); its HTML folder.

    Shared by tests/test_book.py and tests/test_browser.py. Skipped where the book's offline
    JavaScript has not been fetched (``bash book/fetch_assets.sh``).
    """
    if not (ROOT / "book" / "_static" / "vendor" / "mathjax" / "tex-mml-chtml.js").is_file():
        pytest.skip("the book's offline assets are missing: run `bash book/fetch_assets.sh`")
    out = tmp_path_factory.mktemp("book")
    result = build_book(ROOT, out)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return out / "_build" / "html"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, for one test module (a module's sync Playwright must
    end before the next module starts its own)."""
    from _chromium import CHROMIUM

    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
