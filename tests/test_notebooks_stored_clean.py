"""Notebooks are stored without outputs and execution counts (DESIGN.md: nbdev's habit)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no chapter"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_clean(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_rhythm(path):
    """Title, a setup cell importing kdlab and a self-check cell, as DESIGN.md asks."""
    nb = json.loads(path.read_text())
    first = "".join(nb["cells"][0]["source"])
    assert first.lstrip().startswith("# "), f"{path.name} must open with a title"
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("from kdlab" in c or "import kdlab" in c for c in code[:2]), "setup cell"
    assert any("assert" in c for c in code), f"{path.name} has no self-check cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_a_chapter_of_the_book(path):
    import yaml

    toc = yaml.safe_load((path.parents[1] / "book" / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert f"notebooks/{path.stem}" in files, f"add notebooks/{path.stem} to book/_toc.yml"
