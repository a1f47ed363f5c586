"""python -m kdlab.cache warm: an instructor trains every model of the course once."""

from __future__ import annotations

import nbformat
import pytest

from kdlab.cache import main, models_in, warm

TRAIN = """\
import os
import numpy as np
from kdlab import MLP, fit_cached
assert os.environ["KDLAB_PROFILE"] == "ci"
rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 4)).astype("float32"), rng.integers(0, 2, 40)
net = fit_cached(MLP(4, (8,), 2, seed=0), X, y, epochs=1, name="toy")
"""


def _chapter(folder, name, source):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.mark.slow
def test_warm_runs_each_chapter_at_the_profile_and_counts_the_models(tmp_path, kdlab_cache):
    _chapter(tmp_path, "01_toy", TRAIN)
    _chapter(tmp_path, "02_nothing", "x = 1")
    _chapter(tmp_path, "README", "raise SystemExit('not a chapter')")
    lines = []
    first = warm("ci", folder=tmp_path, log=lines.append)
    assert first["notebooks"] == ["01_toy", "02_nothing"]
    assert first["new_models"] == first["models"] == 1 == len(models_in(kdlab_cache))
    assert first["bytes"] > 0 and "1 models (1 new)" in lines[-1]
    again = warm("ci", notebooks=["01_toy"], folder=tmp_path, log=lines.append)
    assert again["new_models"] == 0 and again["models"] == 1


@pytest.mark.slow
def test_a_failing_chapter_is_named(tmp_path):
    _chapter(tmp_path, "03_broken", "1 / 0")
    with pytest.raises(RuntimeError, match="03_broken.ipynb failed at profile ci"):
        warm("ci", folder=tmp_path, log=lambda line: None)


def test_bad_arguments_are_named(tmp_path, capsys):
    _chapter(tmp_path, "01_toy", "x = 1")
    with pytest.raises(ValueError, match="notebooks: no chapter named 09_nope"):
        warm("ci", notebooks=["09_nope"], folder=tmp_path)
    with pytest.raises(ValueError, match="unknown run profile"):
        warm("huge", folder=tmp_path)
    with pytest.raises(ValueError, match="folder: no chapter notebooks"):
        warm("ci", folder=tmp_path / "empty")
    assert main(["warm", "--profile", "huge"]) == 1
    assert "unknown run profile" in capsys.readouterr().err


def test_info_says_where_the_cache_is(kdlab_cache, capsys):
    assert main(["info"]) == 0
    assert f"{kdlab_cache}: 0 models" in capsys.readouterr().out
