"""The website: builds at the ci profile, stops on a failing cell, loads nothing remote, shows
the lesson without kdlab's log lines, and links to a repository only when one is configured."""

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
COLAB = "https://colab.research.google.com/github/{repo}/blob/{branch}/{name}.ipynb"
BINDER = "https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{name}.ipynb"
LAUNCH_SITES = ("colab.research.google.com", "mybinder.org")

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


def repository() -> dict:
    """The ``repository`` section of book/_config.yml."""
    return yaml.safe_load((BOOK / "_config.yml").read_text()).get("repository") or {}


def test_launch_links_follow_the_one_repository_setting(site):
    """``repository.url`` drives every launch button; while it is empty there is none (a link to
    a placeholder repository would 404), and no notebook carries a badge of its own."""
    assert notebook_chapters()
    url, branch = (repository().get("url") or "").strip(), repository().get("branch", "main")
    for name in notebook_chapters():
        page = (site / f"{name}.html").read_text()
        if url:
            repo = url.rstrip("/").split("github.com/", 1)[1]
            assert COLAB.format(repo=repo, branch=branch, name=name) in page
            assert BINDER.format(repo=repo, branch=branch, name=name) in page
        else:
            assert not any(launch in page for launch in LAUNCH_SITES), name
        source = (ROOT / f"{name}.ipynb").read_text()
        assert not any(launch in source for launch in LAUNCH_SITES), f"{name}: a launch badge"


def test_pages_show_the_lesson_not_kdlab_log_lines(site):
    """kdlab's log lines ("kdlab: trained ...", "kdlab: loaded ...") stay in JupyterLab; the
    build trains every model afresh (its own cache), so without the filter they would show."""
    for name in notebook_chapters():
        page = (site / f"{name}.html").read_text()
        for log in ("kdlab: trained", "kdlab: loaded"):
            assert log not in page, f"{name}: {log} ..."


def test_footer_names_the_profile(site):
    assert "run profile <code>ci</code>" in (site / "book" / "intro.html").read_text()


def test_log_lines_are_recognised_by_their_prefix():
    import importlib.util

    spec = importlib.util.spec_from_file_location("kdlab_book", BOOK / "_ext" / "kdlab_book.py")
    kdlab_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kdlab_book)
    text = ("kdlab: trained teacher in 4.2 s on cpu; cached as teacher-0.pt\n"
            "teacher  67 errors\n"
            "kdlab: loaded student from the cache (student-1.pt)\n"
            "  kdlab: quoted, not a log line\n")
    assert kdlab_book.without_log_lines(text) == ("teacher  67 errors\n"
                                                  "  kdlab: quoted, not a log line\n")
    assert kdlab_book.without_log_lines("kdlab: loaded x from the cache (x.pt)\n") == ""


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
