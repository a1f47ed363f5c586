"""What chapter 04's and 05's explorer tests share: explorers on a kernel-free page (as the
website shows them, kdlab.frontend.write_kernel_free_site), served on 127.0.0.1 and opened in
Debian's Chromium (the ``browser`` fixture of conftest.py)."""

from __future__ import annotations

import contextlib
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _chromium import CHROMIUM

from kdlab import frontend

STATIC = Path(__file__).resolve().parents[1] / "book" / "_static"



def browser_test(test):
    """Mark a browser test: skipped without Chromium or the book's vendored scripts."""
    for mark in (
        pytest.mark.browser,
        pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"Debian's Chromium is not installed "
                           f"at {CHROMIUM}: apt-get install chromium"),
        pytest.mark.skipif(
            not (STATIC / "vendor" / "jupyter-widgets" / "embed-amd.js").is_file(),
            reason="the book's offline assets are missing: run `bash book/fetch_assets.sh`"),
    ):
        test = mark(test)
    return test


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def served(folder, *explorers):
    """The explorers on a kernel-free page in ``folder``, served on 127.0.0.1: yields its URL."""
    frontend.write_kernel_free_site(folder, *explorers, static_from=STATIC)
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def opened(browser, url, selector):
    """The page at ``url`` in a fresh context, with the latency probe on, once ``selector``
    is drawn: yields ``(page, root)``; afterwards asserts that there was no console error, no
    failed request and no request to another host."""
    context = browser.new_context(viewport={"width": 1000, "height": 1200})
    try:
        page = context.new_page()
        problems = []

        def route(route):
            if urlsplit(route.request.url).hostname in ("127.0.0.1", None):
                route.continue_()
            else:
                problems.append(f"remote: {route.request.url}")
                route.abort()

        page.route("**/*", route)
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.add_init_script("globalThis.__kdlabLatency = []")
        page.goto(url, wait_until="load")
        root = page.locator(selector)
        root.locator("svg rect").first.wait_for(timeout=30_000)
        yield page, root
        assert problems == []
    finally:
        context.close()


def latency_controls(page) -> set:
    """The controls whose input events the page's latency probe recorded."""
    return {entry["control"] for entry in page.evaluate("globalThis.__kdlabLatency")}
