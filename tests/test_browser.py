"""Browser tests: real JupyterLab and the built website in Debian's Chromium, through Playwright.

The browser is Debian's ``/usr/bin/chromium`` (``apt-get install chromium``), never Playwright's
own download. Screenshots are saved in ``test-artifacts/`` (git-ignored) for a person to look at.

- JupyterLab: chapter 01 runs from top to bottom in a real kernel; its temperature explorer,
  drawn in the browser, answers a drag of its T slider, and the kernel reads the new T. All
  eight explorers (kdlab.widgets.gallery) drawn there: moving each one's first control
  redraws it, and the kernel hears each new state.
- The website (built once per session, see ``book_site`` in conftest.py): every chapter page
  loads with no failed request, no console error and no request to another host; its maths is
  typeset, its figures are drawn, and every explorer is live there with no kernel: moving
  its first control redraws it (chapters 01 and 02: the values drawn checked against numpy).
  On every page, once MathJax has typeset it, no raw TeX delimiter is left in its prose.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pytest
from _chromium import CHROMIUM, T_shown, drag_T_slider

from kdlab.frontend import serve_folder

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
JUPYTER = Path(sys.executable).parent / "jupyter"
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: no proxy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(),
                       reason=f"Debian's Chromium is not installed at {CHROMIUM}: "
                              "apt-get install chromium"),
]
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed: pip install -e '.[test]' (it drives Debian's Chromium)")


def pages() -> list[str]:
    """Every page named in book/_toc.yml, root first, as paths without suffix."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


def chapters() -> list[str]:
    """The chapter notebooks named in book/_toc.yml, as paths without suffix."""
    return [name for name in pages() if name.startswith("notebooks/")]


def shot(page_or_element, name: str) -> None:
    """Save a screenshot in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page_or_element.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.fixture
def page(browser):
    """A fresh page that records what goes wrong: failed requests, HTTP errors, console errors,
    uncaught exceptions, and requests to any host but 127.0.0.1 (which are blocked)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.remote = []

    def route(route):
        url = route.request.url
        if urlsplit(url).hostname in ("127.0.0.1", None):  # None: data:, blob:, about:
            route.continue_()
        else:
            page.remote.append(url)
            route.abort()

    context.route("**/*", route)
    page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url} "
                                                             f"({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(
        f"HTTP {r.status}: {r.url}"))
    page.on("console", lambda m: m.type == "error" and page.problems.append(
        f"console error: {m.text} ({m.location.get('url', '')})"))
    page.on("pageerror", lambda e: page.problems.append(f"uncaught exception: {e}"))
    yield page
    context.close()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def softmax(z, T: float):
    """softmax(z / T), the oracle for what an explorer draws."""
    e = np.exp((np.asarray(z, dtype=float) - np.max(z)) / T)
    return e / e.sum()


def bars_shown(explorer) -> np.ndarray:
    """The probabilities the temperature explorer's bars show (their data-p)."""
    return np.array(explorer.locator(".kdlab-bar").evaluate_all("b => b.map(e => +e.dataset.p)"))


def logits_shown(explorer) -> np.ndarray:
    """The logits the temperature explorer draws, exactly (their data-z; the logits box rounds)."""
    return np.array(explorer.locator(".kdlab-bar").evaluate_all("b => b.map(e => +e.dataset.z)"))


# Each explorer view on a page: its first control moved as a person would (a range slider to
# its end with the keyboard, else the last option of a select, else a click on a button), and
# the markup of its drawing (SVG or canvas pixels) before and after.
MOVE_FIRST_CONTROL = r"""async (view) => {
    const drawing = () => [...view.querySelectorAll("svg")].map((s) => s.outerHTML).join("")
        + [...view.querySelectorAll("canvas")].map((c) => c.toDataURL()).join("");
    const before = drawing();
    const range = view.querySelector('input[type="range"]');
    const select = view.querySelector("select");
    const button = view.querySelector("button");
    let control;
    if (range) {
        control = "range";
        range.value = range.value === range.max ? range.min : range.max;
        range.dispatchEvent(new Event("input", { bubbles: true }));
        range.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (select && select.options.length > 1) {
        control = "select";
        select.selectedIndex = select.selectedIndex === select.options.length - 1 ? 0
            : select.options.length - 1;
        select.dispatchEvent(new Event("input", { bubbles: true }));
        select.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (button) {
        control = "button";
        button.click();
    } else {
        return { control: null, changed: false };
    }
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)));
    return { control, changed: drawing() !== before, hasDrawing: before.length > 0 };
}"""


def move_each(views, name: str) -> None:
    """Move the first control of every explorer view in ``views``; each must redraw."""
    for i in range(views.count()):
        view = views.nth(i)
        view.scroll_into_view_if_needed()
        view.locator("svg, canvas").first.wait_for(timeout=30_000)
        moved = view.evaluate(MOVE_FIRST_CONTROL)
        assert moved["control"], f"{name}: explorer {i} has no control"
        assert moved["hasDrawing"] and moved["changed"], \
            f"{name}: explorer {i}: moving its {moved['control']} did not redraw it"
        shot(view, f"{name}-explorer-{i}")


# --- JupyterLab -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    """JupyterLab on 127.0.0.1 over a copy of notebooks/, at the ci profile; shut down after.

    Its settings, workspaces and runtime files live in tmp_path: nothing is written to the
    repository or the user's Jupyter folders.
    """
    if not JUPYTER.is_file():
        pytest.skip(f"JupyterLab is not installed next to this Python ({JUPYTER})")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = tmp_path / "lab-settings" / "@jupyterlab"
    for extension, plugin, values in [
        ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
        # every cell in the DOM; no "Select Kernel" question: the notebook names its kernel
        ("notebook-extension", "tracker", {"windowingMode": "none",
                                           "autoStartDefaultKernel": True}),
    ]:
        (settings / extension).mkdir(parents=True, exist_ok=True)
        (settings / extension / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, KDLAB_PROFILE="ci", KDLAB_OFFLINE="1",
               KDLAB_CACHE=str(tmp_path / "kdlab-cache"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
               IPYTHONDIR=str(tmp_path / "ipython"),
               PATH=os.pathsep.join([str(JUPYTER.parent), os.environ.get("PATH", "")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [str(JUPYTER), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--port-retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={notebooks}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = tmp_path / "jupyter-lab.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=notebooks, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail() -> str:
        return log_path.read_text(errors="replace")[-3000:]

    def up() -> bool:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with status {server.returncode}:\n{log_tail()}")
        try:
            with LOCAL.open(f"{url}/api/status?token={token}", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_until(up, 120, "JupyterLab to start")
        yield SimpleNamespace(url=url, token=token, notebooks=notebooks, log=log_tail)
    finally:
        try:  # the clean way: the server stops its kernels, then itself
            request = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST")
            LOCAL.open(request, timeout=10).close()
            server.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the group this fixture started
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=15)


def test_jupyterlab_runs_chapter_01_and_its_explorer_answers_in_the_browser(jupyter_lab, page):
    page.add_init_script("globalThis.__kdlabLatency = []")  # kdlab/js/common.js records moves
    page.goto(f"{jupyter_lab.url}/lab/tree/01_temperature.ipynb?token={jupyter_lab.token}")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    notebook.locator(".jp-CodeCell").first.wait_for(timeout=120_000)
    # The status bar says "Python 3 (ipykernel) | Idle" once the kernel has started.
    idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"ipykernel\) \| Idle"))
    kernel_dialog = page.locator(".jp-Dialog", has_text="Select Kernel")

    def kernel_idle():
        if kernel_dialog.is_visible():  # should not appear (autoStartDefaultKernel), but if so
            kernel_dialog.locator(".jp-mod-accept").click()  # accept the notebook's kernel
        return idle.count() == 1

    wait_until(kernel_idle, 120, "the kernel to start")
    shot(page, "jupyterlab-01-opened")

    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
    n_code = notebook.locator(".jp-CodeCell").count()

    failed = notebook.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")

    def all_ran():
        if failed.count():  # Run All stops at a failing cell: say which, now
            pytest.fail(f"a cell of chapter 01 failed in JupyterLab:\n{failed.first.inner_text()}")
        texts = prompts.all_inner_texts()
        return len(texts) == n_code and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts)

    try:
        wait_until(all_ran, 300, "every cell of chapter 01 to run", interval=1)
        wait_until(kernel_idle, 60, "the kernel to be idle")
    finally:
        shot(page, "jupyterlab-01-ran")
    assert failed.count() == 0, failed.first.inner_text()

    # The temperature explorer is drawn in the browser (kdlab/js/temperature.js): after the
    # self-check, which visits T = 0.1 and 5 and ends at T = 1, it shows the kernel's last T.
    explorer = notebook.locator(".jp-OutputArea-output .kdlab-temperature").first
    explorer.scroll_into_view_if_needed()
    explorer.locator(".kdlab-bar").first.wait_for(timeout=30_000)
    time.sleep(2)  # time for anything late from the kernel to arrive
    assert T_shown(explorer) == 1.0
    z = logits_shown(explorer)
    np.testing.assert_allclose(bars_shown(explorer), softmax(z, 1.0), atol=1e-9)

    drag_T_slider(page, explorer, 120)
    T = T_shown(explorer)
    assert T > 1.0  # dragged to the right: hotter
    np.testing.assert_allclose(bars_shown(explorer), softmax(z, T), atol=1e-9)
    latency = page.evaluate("globalThis.__kdlabLatency")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "latency-jupyterlab-T.json").write_text(json.dumps(latency, indent=1))
    assert latency and {entry["control"] for entry in latency} == {"T"}
    shot(explorer, "jupyterlab-01-explorer-dragged")

    # The kernel heard the move: a new cell reads the explorer's T and probabilities in Python.
    notebook.locator(".jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(
        "print(f'kernel: T={float(explorer.T)!r} top={float(explorer.probs.max())!r}')")
    page.keyboard.press("Shift+Enter")
    said = notebook.locator(".jp-OutputArea-output", has_text="kernel: T=")
    wait_until(lambda: said.count() == 1, 60, "the kernel to print the explorer's T")
    kernel_T, kernel_top = re.search(r"T=([\d.e+-]+) top=([\d.e+-]+)", said.inner_text()).groups()
    assert float(kernel_T) == pytest.approx(T, rel=1e-12)
    assert float(kernel_top) == pytest.approx(softmax(z, T).max(), rel=1e-9)

    # Blocked, as everything remote: the launch badges written in the notebook's markdown, and
    # nothing else (no output fetches anything, e.g. a web font).
    text = (jupyter_lab.notebooks / "01_temperature.ipynb").read_text()
    assert [url for url in page.remote if url not in text] == []


# A notebook for JupyterLab that builds every explorer (kdlab.widgets.gallery) and shows them,
# then keeps each one's synced state, to tell afterwards which ones the kernel heard move.
GALLERY_CELLS = [
    "from kdlab.widgets import gallery\n"
    "explorers = gallery()\n"
    "display(*explorers.values())",
    "def synced(w):\n"
    "    return {k: v for k, v in w.get_state().items() if not k.startswith('_')}\n"
    "\n"
    "before = {name: synced(w) for name, w in explorers.items()}",
]


def test_jupyterlab_shows_every_explorer_and_the_kernel_hears_each_move(jupyter_lab, page):
    """All eight explorers in a real JupyterLab kernel: each is drawn in the browser, moving its
    first control redraws it at once (the latency probe hears it), and the kernel receives the
    new state (its synced traits change in Python), with no console error."""
    cells = [{"cell_type": "code", "execution_count": None, "id": f"gallery-{i}",
              "metadata": {}, "outputs": [], "source": source}
             for i, source in enumerate(GALLERY_CELLS)]
    kernel = json.loads((ROOT / "notebooks" / "01_temperature.ipynb").read_text())["metadata"]
    (jupyter_lab.notebooks / "gallery.ipynb").write_text(json.dumps(
        {"cells": cells, "metadata": kernel, "nbformat": 4, "nbformat_minor": 5}))
    page.add_init_script("globalThis.__kdlabLatency = []")
    page.goto(f"{jupyter_lab.url}/lab/tree/gallery.ipynb?token={jupyter_lab.token}")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    notebook.locator(".jp-CodeCell").first.wait_for(timeout=120_000)
    idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"ipykernel\) \| Idle"))
    wait_until(lambda: idle.count() == 1, 120, "the kernel to start")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    failed = notebook.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")
    views = notebook.locator(".jp-OutputArea-output .kdlab-explorer")
    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")

    def ran():
        if failed.count():
            pytest.fail(f"a gallery cell failed in JupyterLab:\n{failed.first.inner_text()}")
        texts = prompts.all_inner_texts()
        return len(texts) == len(cells) and all(re.fullmatch(r"\[\d+\]:", t.strip())
                                                for t in texts)

    wait_until(ran, 180, "the gallery to run", interval=1)
    wait_until(lambda: idle.count() == 1, 60, "the kernel to be idle")
    assert views.count() == 8, f"{views.count()} explorers drawn in JupyterLab, not 8"
    move_each(views, "jupyterlab-gallery")
    heard = {entry["explorer"] for entry in page.evaluate("globalThis.__kdlabLatency")}
    assert len(heard) == 8, f"the latency probe heard {sorted(heard)}"

    time.sleep(2)  # the moves' messages to reach the kernel
    notebook.locator(".jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("print('kernel heard:', sorted(n for n, w in explorers.items() "
                       "if synced(w) != before[n]))")
    page.keyboard.press("Shift+Enter")
    said = notebook.locator(".jp-OutputArea-output", has_text="kernel heard:")
    wait_until(lambda: said.count() == 1, 60, "the kernel to say which explorers moved")
    heard_by_kernel = re.search(r"kernel heard: (\[.*\])", said.inner_text()).group(1)
    assert heard_by_kernel == str(sorted(["temperature", "soft targets", "alpha x T",
                                          "clusters", "specialists", "inference",
                                          "soft k-means", "mistakes"])), heard_by_kernel
    assert page.problems == [], "\n".join(page.problems)


# --- the website ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site_url(book_site):
    """The built website served by Python's http.server on 127.0.0.1."""
    with serve_folder(book_site) as url:
        yield url


def open_chapter(page, site_url: str, chapter: str) -> None:
    """Load a chapter page and wait until its maths is typeset and the network is quiet."""
    page.goto(f"{site_url}/{chapter}.html", wait_until="load")
    page.locator("mjx-container").first.wait_for(state="attached", timeout=60_000)
    page.wait_for_load_state("networkidle")


def assert_nothing_went_wrong(page, name: str) -> None:
    assert page.remote == [], f"{name}: requests to other hosts"
    assert page.problems == [], f"{name}: " + "\n".join(page.problems)


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_page_loads_offline_with_maths_figures_and_widgets(site_url, page, chapter):
    name = Path(chapter).name
    open_chapter(page, site_url, chapter)
    assert page.locator("mjx-container").count() > 0, f"{name}: no typeset maths"
    assert page.locator("mjx-merror").count() == 0, f"{name}: a formula MathJax cannot read"

    images = page.evaluate("""() => [...document.images].map(i => ({
        src: (i.getAttribute('src') || '').slice(0, 80), complete: i.complete,
        width: i.naturalWidth}))""")
    broken = [i["src"] for i in images if i["complete"] and i["width"] == 0]
    assert broken == [], f"{name}: images that did not load"
    figures = page.locator(".cell_output img[src$='.png']")
    assert figures.count() > 0, f"{name}: no figure"
    figures.first.scroll_into_view_if_needed()
    assert figures.first.is_visible()
    assert figures.first.evaluate("i => i.naturalWidth") > 0

    has_explorer = "_explorer(" in (ROOT / f"{chapter}.ipynb").read_text()
    if has_explorer:  # its saved explorer is drawn (finished progress bars are saved hidden)
        assert page.locator(
            'script[type="application/vnd.jupyter.widget-state+json"]').count(), name
        widgets = page.locator(".cell_output .widget-subarea .jupyter-widgets").filter(visible=True)
        widgets.first.wait_for(timeout=30_000)
        widgets.first.scroll_into_view_if_needed()
        shot(page, f"site-{name}-widget")
    page.locator("mjx-container[display='true']").first.scroll_into_view_if_needed()
    shot(page, f"site-{name}-maths")
    assert_nothing_went_wrong(page, name)


def explorer_calls(chapter: str) -> int:
    """How many explorers a chapter builds: calls of kdlab.widgets' ``*_explorer`` in its code."""
    cells = json.loads((ROOT / f"{chapter}.ipynb").read_text())["cells"]
    return sum(len(re.findall(r"\b\w+_explorer\(", "".join(c["source"])))
               for c in cells if c["cell_type"] == "code")


def explorer_chapters() -> list[str]:
    """The chapters that show an explorer."""
    return [c for c in chapters() if explorer_calls(c)]


@pytest.mark.parametrize("chapter", explorer_chapters())
def test_every_explorer_is_live_on_the_website_without_a_kernel(site_url, page, chapter):
    """Each chapter's explorers on the website, drawn in the browser from the saved widget
    state: moving a control redraws the view, with no kernel behind the page, no console error
    and no request to another host; the latency probe hears the move."""
    name = Path(chapter).name
    page.add_init_script("globalThis.__kdlabLatency = []")
    open_chapter(page, site_url, chapter)
    views = page.locator(".cell_output .kdlab-explorer")
    views.first.wait_for(timeout=30_000)
    n = views.count()
    assert n == explorer_calls(chapter), f"{name}: {n} live explorers drawn, " \
        f"{explorer_calls(chapter)} built by the notebook"
    move_each(views, f"site-{name}")
    latency = page.evaluate("globalThis.__kdlabLatency")
    assert len(latency) >= n, f"{name}: the latency probe heard {len(latency)} of {n} moves"
    assert_nothing_went_wrong(page, name)


def test_chapter_01_explorer_is_live_on_the_website_without_a_kernel(site_url, page):
    """The temperature explorer on the website: drawn in the browser from the saved widget
    state, its slider, bars and predict mode answer with no kernel behind the page."""
    page.add_init_script("globalThis.__kdlabLatency = []")
    open_chapter(page, site_url, "notebooks/01_temperature")
    explorer = page.locator(".cell_output .kdlab-temperature").first
    explorer.locator(".kdlab-bar").first.wait_for(timeout=30_000)
    explorer.scroll_into_view_if_needed()
    z = logits_shown(explorer)
    T0 = T_shown(explorer)
    np.testing.assert_allclose(bars_shown(explorer), softmax(z, T0), atol=1e-9)
    drag_T_slider(page, explorer, 120)
    T = T_shown(explorer)
    assert T > T0
    np.testing.assert_allclose(bars_shown(explorer), softmax(z, T), atol=1e-9)
    options = explorer.locator(".kdlab-example option")
    assert options.count() >= 2, "the chapter's examples are offered"
    explorer.locator(".kdlab-example").select_option(index=options.count() - 1)
    z2 = logits_shown(explorer)
    np.testing.assert_allclose(bars_shown(explorer), softmax(z2, T), atol=1e-9)
    latency = page.evaluate("globalThis.__kdlabLatency")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "latency-site-01-T.json").write_text(json.dumps(latency, indent=1))
    assert {"T", "example"} <= {entry["control"] for entry in latency}
    shot(explorer, "site-01_temperature-explorer-live")
    assert_nothing_went_wrong(page, "01_temperature")


# The text of the page a reader sees, once MathJax (if the page loads it) has typeset the maths:
# for each text node outside code, outputs, scripts and typeset maths that still holds a TeX
# delimiter, the text around it.
RAW_TEX = r"""async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    const skip = "pre, code, kbd, samp, script, style, textarea, mjx-container, .cell_output, "
        + ".output, .highlight, .widget-subarea";
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const found = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.parentElement || node.parentElement.closest(skip)) continue;
        const text = node.textContent;
        const match = text.match(/\$|\\\(|\\\)|\\\[|\\\]/);
        if (match) {
            found.push(text.slice(Math.max(0, match.index - 50), match.index + 50).trim());
        }
    }
    return found;
}"""


@pytest.mark.parametrize("name", pages())
def test_no_raw_tex_is_left_after_mathjax(site_url, page, name):
    """Every formula of every page renders: after MathJax has run, no ``$``, ``\\(``, ``\\)``,
    ``\\[`` or ``\\]`` is left in the page's prose (code and cell outputs excluded)."""
    page.goto(f"{site_url}/{name}.html", wait_until="load")
    page.wait_for_load_state("networkidle")
    raw = page.evaluate(RAW_TEX)
    assert raw == [], f"{name}: TeX that MathJax did not typeset:\n" + "\n".join(raw)
    assert page.locator("mjx-merror").count() == 0, f"{name}: a formula MathJax cannot read"


def test_chapter_02_explorers_are_live_on_the_website_without_a_kernel(site_url, page):
    """Chapter 02's soft-target and alpha x T explorers on the website: drawn from the saved
    widget state, they answer real clicks and keys with no kernel; what they show is checked
    against numpy on the logits the page itself carries."""
    import base64

    page.add_init_script("globalThis.__kdlabLatency = []")
    open_chapter(page, site_url, "notebooks/02_soft_targets")
    saved = json.loads(page.locator(
        'script[type="application/vnd.jupyter.widget-state+json"]').first.text_content())
    states = [m["state"] for m in saved["state"].values()]
    soft = next(s for s in states if "pixels" in s)
    grid = next(s for s in states if "temperatures" in s and "z" in s)

    def matrix(text):
        return np.frombuffer(base64.b64decode(text), "<f8").reshape(soft["n"], -1)

    v, z = matrix(soft["teacher"]), matrix(soft["student"])
    explorer = page.locator(".cell_output .kdlab-soft-targets").first
    explorer.locator(".kdlab-teacher").first.wait_for(timeout=30_000)
    explorer.scroll_into_view_if_needed()
    explorer.locator(".kdlab-next").click()
    explorer.locator(".kdlab-T").focus()
    for _ in range(30):
        page.keyboard.press("ArrowLeft")
    i = int(explorer.locator(".kdlab-index-readout").get_attribute("data-index"))
    T = T_shown(explorer)
    for cls, logits in (("teacher", v), ("student", z)):
        shown = explorer.locator(f"g.kdlab-column .kdlab-{cls}").evaluate_all(
            "b => b.map(e => +e.dataset.p)")
        np.testing.assert_allclose(shown, softmax(logits[i], T), atol=1e-9)
    p, q = softmax(v[i], T), softmax(z[i], T)
    kl = float(explorer.locator(".kdlab-kl").get_attribute("data-kl"))
    assert kl == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-6, abs=1e-12)

    explorer = page.locator(".cell_output .kdlab-alpha-temperature").first
    explorer.scroll_into_view_if_needed()
    explorer.locator(".kdlab-alpha").focus()
    for _ in range(20):
        page.keyboard.press("ArrowLeft")
    alpha = float(explorer.locator(".kdlab-alpha-readout").get_attribute("data-alpha"))
    T = T_shown(explorer)
    gv, gz, gy = (np.array(grid[k], dtype=float) for k in ("v", "z", "y"))
    soft_g = np.stack([T * (softmax(a, T) - softmax(b, T)) for a, b in zip(gz, gv, strict=True)])
    hard_g = np.stack([softmax(a, 1) - np.eye(gz.shape[1])[int(c)]
                       for a, c in zip(gz, gy, strict=True)])
    balance = float(explorer.locator(".kdlab-balance").get_attribute("data-balance"))
    assert 0 < alpha < 1
    assert balance == pytest.approx(alpha * np.linalg.norm(soft_g)
                                    / ((1 - alpha) * np.linalg.norm(hard_g)), rel=1e-6)
    assert explorer.locator("g.kdlab-cell.kdlab-nearest").count() == 1
    latency = page.evaluate("globalThis.__kdlabLatency")
    assert {("soft_targets", "image"), ("soft_targets", "T"), ("alpha_temperature", "alpha")} \
        <= {(e["explorer"], e["control"]) for e in latency}
    shot(explorer, "site-02_soft_targets-explorers-live")
    assert_nothing_went_wrong(page, "02_soft_targets")
