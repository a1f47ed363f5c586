"""What the browser tests share: Debian's Chromium, a page opened in it with every problem
counted, and a person dragging an explorer's slider.

A kernel-free page of explorers (as the website shows them) is served by
:func:`kdlab.frontend.serve_kernel_free_site` and opened here with :func:`opened`, in the
``browser`` fixture of conftest.py.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

#: Debian's Chromium, which Playwright drives (``apt-get install chromium``).
CHROMIUM = Path(os.environ.get("KDLAB_CHROMIUM", "/usr/bin/chromium"))
#: The website's static folder, with its offline scripts (``bash book/fetch_assets.sh``).
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


@contextlib.contextmanager
def opened(browser, url, *ready, viewport=(1000, 900)):
    """The page at ``url`` in a fresh context of ``browser`` (the ``browser`` fixture), with
    the latency probe on, once the first element of each selector in ``ready`` is there.

    Yields the page. Requests off the page's host are refused; afterwards asserts that there
    was no console error, no uncaught exception, no failed request, no HTTP error and no
    request to another host.
    """
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    problems = []

    def route(route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", None):
            route.continue_()
        else:
            problems.append(f"remote: {route.request.url}")
            route.abort()

    try:
        page = context.new_page()
        page.route("**/*", route)
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(
            f"HTTP {r.status}: {r.url}"))
        page.add_init_script("globalThis.__kdlabLatency = []")  # kdlab/js/common.js records
        page.goto(url, wait_until="load")
        for selector in ready:
            page.locator(selector).first.wait_for(timeout=30_000)
        yield page
        assert problems == [], problems
    finally:
        context.close()


def latency_controls(page) -> set:
    """The controls whose input events the page's latency probe recorded."""
    return {entry["control"] for entry in page.evaluate("globalThis.__kdlabLatency")}


def drag_T_slider(page, root, dx: float) -> None:
    """A person dragging the T slider thumb of the explorer in ``root`` by ``dx`` pixels."""
    slider = root.locator(".kdlab-T")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    value = float(slider.input_value())
    x = box["x"] + 8 + (box["width"] - 16) * (value + 2) / 4  # the thumb (16 px wide)
    y = box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=10)
    page.mouse.up()


def T_shown(root) -> float:
    """The temperature an explorer's view shows, exactly (its readout's data-t)."""
    return float(root.locator(".kdlab-T-readout").get_attribute("data-t"))
