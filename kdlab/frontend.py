"""The explorers' front end: views drawn in the browser, live in JupyterLab and on the website.

An explorer is an ``anywidget.AnyWidget``: its state is a few synced traits (numbers, logits,
names), and its view is an ES module, ``kdlab/js/common.js`` followed by ``kdlab/js/NAME.js``,
that draws SVG and computes what it shows in the browser. A move answers there, in
milliseconds, without waiting for a kernel; the kernel hears of it (the traits sync back) and
recomputes the values a notebook's self-checks read.

The same module runs on the website, where there is no kernel: executing a notebook saves each
widget's state, the module included, in the page, and the ipywidgets HTML manager (vendored in
``book/_static/vendor/``) renders it with anywidget's own front end, which the book build copies
from the installed ``anywidget`` package (:func:`anywidget_amd`). Nothing comes from a CDN.
:func:`kernel_free_page` writes such a page for any explorers, for tests and benchmarks, and
:func:`serve_kernel_free_site` serves it on 127.0.0.1 for a browser to open.

See docs/architecture.md ("An explorer").
"""

from __future__ import annotations

import contextlib
import functools
import html
import importlib.util
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anywidget

__all__ = ["BrowserExplorer", "esm", "css", "anywidget_amd", "kernel_free_page",
           "write_kernel_free_site", "serve_folder", "serve_kernel_free_site"]

JS = Path(__file__).with_name("js")


def esm(name: str) -> str:
    """The ES module of explorer ``name``: the shared helpers, then ``kdlab/js/NAME.js``."""
    own = JS / f"{name}.js"
    if not own.is_file():
        raise ValueError(f"no front end for explorer {name!r}: {own} does not exist")
    return f"{(JS / 'common.js').read_text()}\n{own.read_text()}"


def css() -> str:
    """The style sheet every explorer shares."""
    return (JS / "explorers.css").read_text()


def anywidget_amd() -> Path:
    """anywidget's front end as an AMD module, for the website's widget manager (RequireJS).

    It ships with the ``anywidget`` package (the same version that wrote the widgets' state).
    """
    spec = importlib.util.find_spec("anywidget")
    path = Path(spec.origin).parent / "nbextension" / "index.js"
    if not path.is_file():
        raise FileNotFoundError(f"anywidget's AMD front end is missing: {path}")
    return path


class BrowserExplorer(anywidget.AnyWidget):
    """Base of the browser-rendered explorers (one ES module each, see the module docstring)."""

    _css = css()  # the style sheet they share, read once


# The scripts the website loads on a page with saved widgets (book/_config.yml), in order.
SITE_SCRIPTS = ("vendor/requirejs/require.js", "kdlab-widgets.js",
                "vendor/jupyter-widgets/embed-amd.js")


def kernel_free_page(*explorers, static: str = "_static", title: str = "kdlab explorers") -> str:
    """A web page that shows ``explorers`` live without a kernel, as the website does.

    Parameters
    ----------
    *explorers : ipywidgets.Widget
        The widgets to show, one after another.
    static : str, default "_static"
        Where the page finds the website's static folder (the built site's ``_static``, or
        ``book/_static`` with ``vendor/anywidget/index.js`` from :func:`anywidget_amd`).
    title : str
        The page's title.

    Returns
    -------
    str
        The HTML: the widget state (the explorers' modules included) and one view per explorer.
    """
    from ipywidgets.embed import embed_data

    data = embed_data(views=list(explorers), drop_defaults=False)  # keep _esm, a default
    state = json.dumps(data["manager_state"]).replace("</", "<\\/")
    scripts = "\n".join(f'<script src="{html.escape(static)}/{name}"></script>'
                        for name in SITE_SCRIPTS)
    views = "\n".join(
        '<div class="kdlab-view"><script type="application/vnd.jupyter.widget-view+json">'
        f"{json.dumps(spec)}</script></div>" for spec in data["view_specs"])
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            '<link rel="icon" href="data:,">'  # no request for /favicon.ico
            f"<title>{html.escape(title)}"
            f"</title>\n{scripts}\n"
            f'<script type="application/vnd.jupyter.widget-state+json">{state}</script>\n'
            f"</head><body>\n{views}\n</body></html>\n")


def write_kernel_free_site(folder, *explorers, static_from) -> Path:
    """Write a page showing ``explorers`` without a kernel, and the scripts it loads, into
    ``folder``; returns the page's path (``index.html``).

    ``static_from`` is the website's static folder, ``book/_static`` (after
    ``bash book/fetch_assets.sh``): its widget scripts are copied, with anywidget's front end
    (:func:`anywidget_amd`) where the website has it, ``_static/vendor/anywidget/index.js``.
    """
    source, static = Path(static_from), Path(folder) / "_static"
    for name in SITE_SCRIPTS:
        if not (source / name).is_file():
            raise FileNotFoundError(f"{source / name} is missing: run bash book/fetch_assets.sh")
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "kdlab-widgets.js", static / "kdlab-widgets.js")
    for vendored in ("requirejs", "jupyter-widgets"):
        shutil.copytree(source / "vendor" / vendored, static / "vendor" / vendored,
                        dirs_exist_ok=True)
    (static / "vendor" / "anywidget").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(anywidget_amd(), static / "vendor" / "anywidget" / "index.js")
    page = Path(folder) / "index.html"
    page.write_text(kernel_free_page(*explorers, static="_static"))
    return page


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no line per request
        pass


@contextlib.contextmanager
def serve_folder(folder) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1, as a web server serves the website.

    Python's ``http.server``, quiet, on a free port, in a daemon thread; stopped (shut down,
    its socket closed, its thread joined) when the ``with`` block ends.

    Parameters
    ----------
    folder : str or pathlib.Path
        The folder to serve, its files at the root of the URL.

    Yields
    ------
    str
        The root URL, ``http://127.0.0.1:PORT`` (no trailing slash).
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_kernel_free_site(folder, *explorers, static_from) -> Iterator[str]:
    """Show ``explorers`` on a page without a kernel, served on 127.0.0.1 for a browser.

    The page and its scripts are written into ``folder`` (:func:`write_kernel_free_site`), then
    the folder is served (:func:`serve_folder`) until the ``with`` block ends.

    Parameters
    ----------
    folder : str or pathlib.Path
        Where to write the page and its scripts (created if missing).
    *explorers : ipywidgets.Widget
        The widgets to show, one after another.
    static_from : str or pathlib.Path
        The website's static folder, ``book/_static`` (after ``bash book/fetch_assets.sh``).

    Yields
    ------
    str
        The page's URL, ``http://127.0.0.1:PORT/index.html``.

    Raises
    ------
    FileNotFoundError
        Where ``static_from`` lacks the website's widget scripts.
    """
    write_kernel_free_site(folder, *explorers, static_from=static_from)
    with serve_folder(folder) as root:
        yield f"{root}/index.html"
