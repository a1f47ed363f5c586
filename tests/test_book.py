"""The website: builds at the ci profile, stops on a failing cell, loads nothing remote."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("jupyter_book")
nbformat = pytest.importorskip("nbformat")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
MATHJAX = "_static/vendor/mathjax/tex-mml-chtml.js"
COLAB = "https://colab.research.google.com/github/kdlab/kdlab/blob/main/{}.ipynb"
BINDER = "https://mybinder.org/v2/gh/kdlab/kdlab/main?urlpath=lab/tree/{}.ipynb"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (BOOK / "_static" / "vendor" / "mathjax" / "tex-mml-chtml.js").is_file(),
        reason="the book's offline assets are missing: run `bash book/fetch_assets.sh`",
    ),
]


def toc_files() -> list[str]:
    """Every page named in book/_toc.yml, root first, as paths without suffix."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [entry["file"] for entry in part["chapters"]]
    return files


def notebook_chapters() -> list[str]:
    return [name for name in toc_files() if name.startswith("notebooks/")]


class FetchedURLs(HTMLParser):
    """The URLs a page makes the browser fetch by itself (scripts, styles, images, frames)."""

    FETCHING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "preconnect", "icon"}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video"} and attrs.get("src"):
            self.urls.append(attrs["src"])
        rel = set((attrs.get("rel") or "").split())
        if tag == "link" and attrs.get("href") and rel & self.FETCHING_RELS:
            self.urls.append(attrs["href"])


def is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


@pytest.fixture
def site(book_site) -> Path:
    """The website, built once per session (``book_site`` in conftest.py, shared with
    tests/test_browser.py)."""
    return book_site


def test_every_page_in_the_toc_is_built(site):
    for name in toc_files():
        assert (site / f"{name}.html").is_file(), name
    assert (site / "index.html").is_file()


def test_math_is_typeset_by_the_local_mathjax(site):
    assert (site / MATHJAX).is_file()
    page = (site / "book" / "intro.html").read_text()
    assert 'class="math notranslate nohighlight"' in page
    assert f'src="../{MATHJAX}' in page


def test_nothing_is_loaded_from_another_site(site):
    remote = []
    for page in site.rglob("*.html"):
        parser = FetchedURLs()
        parser.feed(page.read_text())
        remote += [f"{page.relative_to(site)}: {url}" for url in parser.urls if is_remote(url)]
    for css in site.rglob("*.css"):
        text = css.read_text(errors="replace").replace(" ", "").replace("'", '"')
        for marker in ('url(http', 'url("http', "url(//", 'url("//', '@import"http'):
            if marker in text:
                remote.append(f"{css.relative_to(site)}: {marker}")
    assert remote == []


def test_pages_with_widgets_load_the_local_widget_manager(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        if "application/vnd.jupyter.widget-state+json" in text:
            assert "_static/vendor/requirejs/require.js" in text, page
            assert "_static/vendor/jupyter-widgets/embed-amd.js" in text, page


def test_every_chapter_has_colab_and_binder_links(site):
    assert notebook_chapters()
    for name in notebook_chapters():
        page = (site / f"{name}.html").read_text()
        assert COLAB.format(name) in page
        assert BINDER.format(name) in page


def test_footer_names_the_profile(site):
    assert "run profile <code>ci</code>" in (site / "book" / "intro.html").read_text()


def test_a_failing_cell_fails_the_build(tmp_path, build_book):
    source = tmp_path / "src"
    shutil.copytree(BOOK, source / "book", ignore=shutil.ignore_patterns("_build"))
    for i, name in enumerate(notebook_chapters()):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), nbformat.v4.new_code_cell("1 + 1")]
        if i == 0:
            nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('a broken cell')"))
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, source / f"{name}.ipynb")
    result = build_book(source, tmp_path / "out")
    assert result.returncode != 0
    assert "a broken cell" in result.stdout + result.stderr
