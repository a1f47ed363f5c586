"""Chapter 06's soft K-means explorer (kdlab.widgets.soft_kmeans_explorer): its Python state, and
its view in Debian's Chromium on a page without a kernel, as the website shows it.

The view computes the responsibilities softmax_k(−‖x − μ_k‖² / T) in the browser at every move
of its T slider; every check compares what it drew (each point's data-r and colour, the mean
entropy) with kdlab.softkmeans.soft_assignments and matplotlib's colours.
"""

from __future__ import annotations

import numpy as np
import pytest
from _chromium import STATIC, T_shown, browser_test, drag_T_slider, opened
from matplotlib import colormaps
from matplotlib.colors import to_hex, to_rgb

from kdlab import frontend
from kdlab.softkmeans import soft_assignments
from kdlab.temperature import entropy
from kdlab.widgets import SoftKMeansExplorer, _centre_palette, soft_kmeans_explorer

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 2)) * 2.0
CENTERS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5], [0.0, -1.5]])
MANY = np.c_[3 * np.cos(np.arange(12) * np.pi / 6), 3 * np.sin(np.arange(12) * np.pi / 6)]


def mixed(r, palette):
    """Each point's colour: its responsibilities mixing the centres' colours, RGB in [0, 1]."""
    return np.clip(r @ np.array([to_rgb(c) for c in palette]), 0, 1)


# --- Python --------------------------------------------------------------------------------------


def test_the_python_values_are_soft_assignments_at_T():
    w = soft_kmeans_explorer(X, CENTERS, T=0.05)
    assert isinstance(w, SoftKMeansExplorer)
    values = []
    for T in (0.05, 1.0, 50.0):
        w.update(T)
        np.testing.assert_array_equal(w.responsibilities, soft_assignments(X, CENTERS, T))
        assert w.entropy_value == entropy(soft_assignments(X, CENTERS, T)).mean()
        values.append(w.entropy_value)
    assert values[0] < values[1] < values[2] <= np.log(4) + 1e-12
    w.T = 2.5  # as the view sets it
    np.testing.assert_array_equal(w.responsibilities, soft_assignments(X, CENTERS, 2.5))
    np.testing.assert_allclose(w.colours(), mixed(w.responsibilities, w.palette))


@pytest.mark.parametrize("T", [0, -1.0, float("inf"), "hot", True])
def test_bad_temperatures_are_reported_not_raised(T):
    w = soft_kmeans_explorer(X, CENTERS)
    shown = w.responsibilities.copy()
    w.update(T)
    assert "T must be a positive" in w.error and w.T == 1.0
    assert np.array_equal(w.responsibilities, shown)
    assert w.update(2.0).error == ""


@pytest.mark.parametrize("points, centers, T, match", [
    (np.zeros((4, 3)), CENTERS, 1.0, "X must hold 2-d points"),
    (X, np.zeros((2, 3)), 1.0, "centers must hold 2-d points"),
    (np.full((3, 2), np.nan), CENTERS, 1.0, "X must be finite"),
    (X, CENTERS, -1.0, "T must be a positive"),
])
def test_the_constructor_checks_its_arguments(points, centers, T, match):
    with pytest.raises(ValueError, match=match):
        soft_kmeans_explorer(points, centers, T=T)


def test_one_palette_tab10_then_evenly_spaced_hues_beyond_ten_centres():
    assert _centre_palette(4) == [to_hex(c) for c in colormaps["tab10"].colors[:4]]
    assert _centre_palette(12) == [to_hex(colormaps["hsv"](k / 12)) for k in range(12)]
    assert len(set(_centre_palette(12))) == 12
    assert soft_kmeans_explorer(X, MANY).palette == _centre_palette(12)


# --- in Chromium ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def view(browser, tmp_path_factory):
    """Two explorers (4 and 12 centres) on a kernel-free page: (page, roots)."""
    explorers = soft_kmeans_explorer(X, CENTERS, T=1.0), soft_kmeans_explorer(X, MANY, T=1.0)
    with (frontend.serve_kernel_free_site(tmp_path_factory.mktemp("kernel-free-soft-kmeans"),
                                          *explorers, static_from=STATIC) as url,
          opened(browser, url, ".kdlab-soft-kmeans .kdlab-point") as page):
        roots = page.locator(".kdlab-soft-kmeans")
        assert roots.count() == 2
        yield page, [roots.nth(0), roots.nth(1)]


def check_drawn(root, centres):
    """The browser's responsibilities, colours and mean entropy are kdlab's at the T shown."""
    T = T_shown(root)
    r = soft_assignments(X, centres, T)
    points = root.locator(".kdlab-point")
    drawn = np.array(points.evaluate_all("p => p.map(e => e.dataset.r.split(',').map(Number))"))
    np.testing.assert_allclose(drawn, r, rtol=1e-9, atol=1e-15)
    fills = points.evaluate_all("p => p.map(e => e.getAttribute('fill'))")
    rgb = np.array([to_rgb(f) for f in fills])
    np.testing.assert_allclose(rgb, mixed(r, _centre_palette(len(centres))), atol=0.5 / 255 + 1e-9)
    H = float(root.locator(".kdlab-entropy-readout").get_attribute("data-entropy"))
    assert H == pytest.approx(entropy(r).mean(), rel=1e-9, abs=1e-15)
    assert root.locator(".kdlab-title").text_content().startswith("soft assignments at T = ")
    return T, H


@browser_test
def test_dragging_T_recomputes_the_assignments_in_the_browser(view):
    page, (root, _) = view
    assert check_drawn(root, CENTERS)[0] == 1.0
    page.evaluate("globalThis.__kdlabLatency.length = 0")
    drag_T_slider(page, root, -150)  # a person drags T down
    T_cold, H_cold = check_drawn(root, CENTERS)
    assert T_cold < 1.0
    drag_T_slider(page, root, 300)
    T_hot, H_hot = check_drawn(root, CENTERS)
    assert T_hot > 1.0 and H_hot > H_cold
    answered = page.evaluate("globalThis.__kdlabLatency.map(e => [e.explorer, e.control])")
    assert answered and set(map(tuple, answered)) == {("soft k-means", "T")}


@browser_test
def test_the_extremes_of_the_slider_hard_k_means_and_an_even_mixture(view):
    page, (root, _) = view
    slider = root.locator(".kdlab-T")
    slider.focus()
    slider.press("Home")  # T = 0.01
    T, H = check_drawn(root, CENTERS)
    assert T == pytest.approx(0.01, rel=1e-12)
    nearest = ((X[:, None] - CENTERS[None]) ** 2).sum(-1).argmin(1)
    drawn = np.array(root.locator(".kdlab-point").evaluate_all(
        "p => p.map(e => e.dataset.r.split(',').map(Number))"))
    assert np.array_equal(drawn.argmax(1), nearest)
    slider.press("End")  # T = 100
    T, H = check_drawn(root, CENTERS)
    assert T == pytest.approx(100.0, rel=1e-12) and H > 0.9 * np.log(4)


@browser_test
def test_more_than_ten_centres_get_the_evenly_spaced_hues(view):
    page, (_, root) = view
    fills = root.locator(".kdlab-centre").evaluate_all(
        "c => c.map(e => e.getAttribute('fill'))")
    assert fills == [to_hex(colormaps["hsv"](k / 12)) for k in range(12)]
    drag_T_slider(page, root, 100)
    check_drawn(root, MANY)
    assert "log 12 = " in root.locator(".kdlab-entropy-readout").text_content()
