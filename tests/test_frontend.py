"""Browser-rendered explorers (kdlab.frontend): their module, and chapter 01's temperature
explorer live in Debian's Chromium on a page without a kernel, as the website shows it.

The page is what the website does with a saved notebook (kdlab.frontend.kernel_free_page: the
widget state, ES module included, rendered by the vendored ipywidgets HTML manager with
anywidget's front end). Every check compares what the browser drew with what Python computes.
Latency is recorded (test-artifacts/latency-kernel-free.json) but never asserted: speed is
measured in benchmarks/bench_widgets.py.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from _chromium import STATIC, T_shown, browser_test, drag_T_slider, opened

from kdlab import frontend
from kdlab.temperature import entropy, softmax_t
from kdlab.widgets import parse_logits, temperature_explorer

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
NAMES = ["cat", "dog", "car", "ship"]
Z = np.array([2.0, 1.5, -1.0, 0.0])


# --- the module, without a browser ---------------------------------------------------------------


def test_each_explorer_module_is_the_shared_helpers_then_its_own_file():
    module = frontend.esm("temperature")
    assert module.startswith((frontend.JS / "common.js").read_text())
    assert module.rstrip().endswith("export default { render };")
    assert "import " not in module and "http" not in module.replace(
        "http://www.w3.org/2000/svg", "")  # one self-contained module; nothing fetched
    with pytest.raises(ValueError, match="no front end for explorer 'nope'"):
        frontend.esm("nope")


def test_the_kernel_free_page_holds_the_state_and_module_of_each_explorer():
    w = temperature_explorer(Z, NAMES)
    page = frontend.kernel_free_page(w, static="s")
    assert page.count('type="application/vnd.jupyter.widget-view+json"') == 1
    assert w.model_id in page and "export default { render };" in page
    for name in frontend.SITE_SCRIPTS:
        assert f'src="s/{name}"' in page
    assert frontend.anywidget_amd().read_text().rstrip().endswith(
        'define(["@jupyter-widgets/base"], widget_default);')


def test_the_kernel_free_site_is_served_on_127_0_0_1_until_the_block_ends(tmp_path):
    static = tmp_path / "static"  # the website's widget scripts, stand-ins
    for name in frontend.SITE_SCRIPTS:
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text(f"// {name}")
    explorer = temperature_explorer(Z, NAMES)
    local = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: no proxy
    with frontend.serve_kernel_free_site(tmp_path / "site", explorer, static_from=static) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/index.html")
        with local.open(url, timeout=10) as response:
            assert response.read().decode() == frontend.kernel_free_page(explorer)
        script = url.replace("index.html", "_static/kdlab-widgets.js")
        with local.open(script, timeout=10) as response:
            assert response.read().decode() == "// kdlab-widgets.js"
    with pytest.raises(OSError):  # stopped: the port is closed
        local.open(url, timeout=10)


# --- in Chromium ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A kernel-free page with chapter 01's explorer, served on 127.0.0.1: (url, explorer)."""
    explorer = temperature_explorer(Z, NAMES, examples={"first": Z, "second": -Z})
    with frontend.serve_kernel_free_site(tmp_path_factory.mktemp("kernel-free"), explorer,
                                         static_from=STATIC) as url:
        yield url, explorer


@pytest.fixture
def view(served, browser):
    """The explorer's view in a fresh page, loaded with the latency probe on; no console error,
    failed request or request to another host (blocked) is allowed."""
    url, explorer = served
    with opened(browser, url, ".kdlab-temperature svg .kdlab-bar",
                viewport=(1000, 800)) as page:
        yield page, page.locator(".kdlab-temperature"), explorer


def shown(root) -> np.ndarray:
    """The probabilities the bars show (their data-p, in class order)."""
    return np.array(root.locator(".kdlab-bar").evaluate_all("b => b.map(e => +e.dataset.p)"))


def heights(root) -> np.ndarray:
    """The bars' drawn heights over the plot's full height (170 SVG units)."""
    return np.array(root.locator(".kdlab-bar").evaluate_all(
        "b => b.map(e => +e.getAttribute('height') / 170)"))


def logits_shown(root) -> np.ndarray:
    return parse_logits(root.locator(".kdlab-logits").input_value())


def bar_y(root, p: float) -> float:
    """The page y of probability ``p`` on the bars' axis."""
    box = root.locator("svg.kdlab-bars").bounding_box()
    return box["y"] + (26 + 170 * (1 - p)) * box["height"] / 254


def save_latency(page, name: str) -> list:
    page.wait_for_timeout(200)  # the last entries' frame times
    latency = page.evaluate("globalThis.__kdlabLatency")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"latency-{name}.json").write_text(json.dumps(latency, indent=1))
    return latency


@browser_test
def test_the_explorer_draws_softmax_at_T_and_its_entropy_without_a_kernel(view):
    page, root, explorer = view
    np.testing.assert_allclose(shown(root), softmax_t(Z, 1.0), rtol=1e-9)
    np.testing.assert_allclose(heights(root), softmax_t(Z, 1.0), rtol=1e-6)
    assert T_shown(root) == 1.0
    assert f"H = {entropy(softmax_t(Z, 1.0)):.3f} nats" in root.inner_text()
    assert root.locator(".kdlab-bar.kdlab-top").count() == 1  # the most probable class, in red
    assert root.locator(".kdlab-example").input_value() == "first"
    # what tests/test_browser.py looks for on a chapter page: a saved widget, drawn
    assert page.locator(".widget-subarea > .jupyter-widgets.kdlab-temperature").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "kernel-free-temperature.png"))


@browser_test
def test_dragging_the_T_slider_redraws_the_bars_and_the_entropy(view):
    page, root, explorer = view
    drag_T_slider(page, root, 120)
    T = T_shown(root)
    assert T > 1.0  # dragged to the right: hotter
    expected = softmax_t(Z, T)
    np.testing.assert_allclose(shown(root), expected, rtol=1e-9)
    np.testing.assert_allclose(heights(root), expected, rtol=1e-6)
    assert f"H = {entropy(expected):.3f} nats" in root.inner_text()
    latency = save_latency(page, "kernel-free-T")
    assert {entry["control"] for entry in latency} == {"T"} and len(latency) >= 5


@browser_test
def test_dragging_a_bar_sets_that_class_s_probability_by_moving_only_its_logit(view):
    page, root, explorer = view
    column = root.locator('.kdlab-column[data-class="3"] .kdlab-hit')  # ship, p = 0.076
    box = column.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, bar_y(root, 0.2))
    page.mouse.down()
    page.mouse.move(x, bar_y(root, 0.6), steps=10)
    page.mouse.up()
    p = shown(root)
    assert p[3] == pytest.approx(0.6, abs=0.01)  # the bar followed the pointer
    z = logits_shown(root)
    np.testing.assert_allclose(z[:3], Z[:3])  # the other logits did not move
    np.testing.assert_allclose(p, softmax_t(z, 1.0), atol=5e-3)  # (the text shows 2 decimals)
    assert root.locator(".kdlab-example").input_value() == ""  # no longer the example
    latency = save_latency(page, "kernel-free-drag")
    assert {entry["control"] for entry in latency} == {"drag"} and len(latency) >= 5


@browser_test
def test_predict_then_reveal_waits_for_the_guess_then_shows_who_gained_most(view):
    page, root, explorer = view
    root.locator(".kdlab-predict-mode").check()
    before = shown(root)
    drag_T_slider(page, root, 100)
    np.testing.assert_allclose(shown(root), before)  # the view waits for the guess
    assert "Click its bar" in root.locator(".kdlab-prompt").inner_text()
    readout = root.locator(".kdlab-T-readout").inner_text()
    assert "→" in readout
    T_to = 10 ** float(root.locator(".kdlab-T").input_value())
    root.locator('.kdlab-column[data-class="0"] .kdlab-hit').click()  # cat: the top class
    assert T_shown(root) == pytest.approx(T_to)
    np.testing.assert_allclose(shown(root), softmax_t(Z, T_to), rtol=1e-9)  # revealed
    answer = temperature_explorer(Z).biggest_gain(1.0, T_to)
    assert root.locator(".kdlab-answer").get_attribute("data-class") == str(answer)
    assert root.locator(".kdlab-guess").get_attribute("data-class") == "0"
    prompt = root.locator(".kdlab-prompt").inner_text()
    assert f"{NAMES[answer]} gained the most" in prompt and "Not quite" in prompt  # cat loses
    gains = root.locator(".kdlab-gain").evaluate_all("g => g.map(e => e.textContent)")
    assert gains[0].startswith("−")  # the top class always loses as T rises
    root.screenshot(path=str(ARTIFACTS / "kernel-free-temperature-revealed.png"))


@browser_test
def test_typed_logits_and_examples_redraw_and_bad_text_is_reported(view):
    page, root, explorer = view
    text = root.locator(".kdlab-logits")
    text.fill("0, 0, 0, 5")
    text.press("Enter")
    np.testing.assert_allclose(shown(root), softmax_t(np.array([0, 0, 0, 5.0])), rtol=1e-9)
    root.locator(".kdlab-example").select_option("second")
    np.testing.assert_allclose(shown(root), softmax_t(-Z), rtol=1e-9)
    np.testing.assert_allclose(logits_shown(root), -Z)
    text.fill("1, x, 3, 4")
    text.press("Enter")
    assert "logits: 'x' is not a number" in root.locator(".kdlab-status").inner_text()
    np.testing.assert_allclose(shown(root), softmax_t(-Z), rtol=1e-9)  # the last good state
