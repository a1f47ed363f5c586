"""What the browser tests share: Debian's Chromium, and a person dragging an explorer's slider."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

#: Debian's Chromium, which Playwright drives (``apt-get install chromium``).
CHROMIUM = Path(os.environ.get("KDLAB_CHROMIUM", "/usr/bin/chromium"))


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


@contextlib.contextmanager
def open_kernel_free(browser, folder, *explorers, static_from):
    """The explorers on a page without a kernel, as the website shows them
    (:func:`kdlab.frontend.write_kernel_free_site` into ``folder``), served on 127.0.0.1 and
    opened in ``browser`` (the ``browser`` fixture) with the latency probe on. Yields
    ``(page, problems)``: ``problems`` collects console errors, uncaught exceptions and any
    request off the page's host (which is refused)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    from kdlab.frontend import write_kernel_free_site

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    write_kernel_free_site(folder, *explorers, static_from=static_from)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    problems = []
    try:
        page.add_init_script("globalThis.__kdlabLatency = []")
        page.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).hostname
                   in ("127.0.0.1", None) else (problems.append(r.request.url), r.abort()))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
        yield page, problems
    finally:
        page.close()
        server.shutdown()
        server.server_close()
