"""Chapter 02's explorers (kdlab.widgets.soft_target_explorer, alpha_temperature_explorer): their
Python state, and their views in Debian's Chromium on a page without a kernel, as the website
shows them.

The views compute in the browser what they show; every check compares it with an oracle computed
here: scipy's softmax and torch's kl_div for the soft targets and the KL, numpy for the image's
pixels and the nearest measured cell, torch autograd (kdlab.mistakes.gradient_balance, and the
batch's gradients taken here) for the soft:hard balance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from _chromium import STATIC, browser_test, opened

from kdlab import frontend
from kdlab.distill import distillation_loss
from kdlab.mistakes import MISTAKES, gradient_balance
from kdlab.widgets import (
    AlphaTemperatureExplorer,
    SoftTargetExplorer,
    alpha_temperature_explorer,
    soft_target_explorer,
)

NAMES = ["zero", "one", "two", "three", "four"]
SHAPE = (4, 3)
RNG = np.random.default_rng(0)
IMAGES = RNG.random((6, SHAPE[0] * SHAPE[1]))
TEACHER = RNG.normal(scale=3.0, size=(6, len(NAMES)))
STUDENT = RNG.normal(scale=2.0, size=(6, len(NAMES)))
LABELS = np.array([3, 0, 4, 3, 1, 2])
ALPHAS = [0.0, 0.5, 0.9, 1.0]
TEMPERATURES = [1.0, 2.0, 5.0, 20.0]
GRID = RNG.permutation(np.arange(16) + 20).reshape(4, 4).astype(float)


def soft_oracle(index, T):
    """(teacher's soft targets, student's, KL) from scipy and torch."""
    p = scipy.special.softmax(TEACHER[index] / T)
    q = scipy.special.softmax(STUDENT[index] / T)
    kl = F.kl_div(torch.log_softmax(torch.tensor(STUDENT[index:index + 1]) / T, 1),
                  torch.softmax(torch.tensor(TEACHER[index:index + 1]) / T, 1),
                  reduction="batchmean")
    return p, q, float(kl)


def balance_oracle(alpha, T, v=TEACHER, z=STUDENT, y=LABELS):
    """‖α ∇soft‖ / ‖(1 − α) ∇hard‖ with and without T², by autograd on this file's own loss."""
    out = []
    for power in (2, 0):
        zz = torch.tensor(z, requires_grad=True)
        soft = F.kl_div(F.log_softmax(zz / T, 1), F.softmax(torch.tensor(v) / T, 1),
                        reduction="batchmean") * T**power
        (g_soft,) = torch.autograd.grad(soft, [zz])
        zz = torch.tensor(z, requires_grad=True)
        (g_hard,) = torch.autograd.grad(F.cross_entropy(zz, torch.tensor(y)), [zz])
        hard = (1 - alpha) * float(g_hard.norm())
        out.append(alpha * float(g_soft.norm()) / hard if hard > 0 else math.inf)
    return out


def nearest_oracle(alpha, T):
    return (int(np.argmin(np.abs(np.array(ALPHAS) - alpha))),
            int(np.argmin(np.abs(np.log(np.array(TEMPERATURES)) - np.log(T)))))


def soft_explorer(**kwargs):
    return soft_target_explorer(IMAGES, TEACHER, SHAPE, class_names=NAMES, labels=LABELS,
                                student_logits=STUDENT, student_name="distilled", **kwargs)


def grid_explorer(**kwargs):
    return alpha_temperature_explorer(GRID, ALPHAS, TEMPERATURES, TEACHER, STUDENT, LABELS,
                                      reference={"labels alone": 42}, **kwargs)


# --- Python: the soft-target explorer ------------------------------------------------------------


def test_soft_target_values_are_recomputed_from_the_traits_with_kdlab_s_functions():
    w = soft_explorer(T=2.0, index=1)
    assert isinstance(w, SoftTargetExplorer) and w.n == len(IMAGES) and w.shape == list(SHAPE)
    np.testing.assert_array_equal(w.logits, TEACHER)  # float64, exactly what was given
    np.testing.assert_array_equal(w.student_logits, STUDENT)
    np.testing.assert_array_equal(w.pixel_bytes, np.rint(255 * IMAGES).reshape(-1, *SHAPE))
    for index, T in [(1, 2.0), (0, 0.1), (5, 100.0), (3, 7.5)]:
        w.update(index=index, T=T)
        p, q, kl = soft_oracle(index, T)
        assert (w.index, w.T, w.error) == (index, T, "")
        np.testing.assert_allclose(w.probs, p, rtol=1e-12)
        np.testing.assert_allclose(w.student_probs, q, rtol=1e-12)
        assert w.kl == pytest.approx(kl, rel=1e-9, abs=1e-15)
        loss = distillation_loss(torch.tensor(STUDENT[index:index + 1]),
                                 torch.tensor(TEACHER[index:index + 1]), T=T)
        assert w.kl == pytest.approx(float(loss) / T**2, rel=1e-9, abs=1e-15)
        assert w.entropy_value == pytest.approx(-np.sum(p * np.log(p)), rel=1e-9)
    w.T = 3.0  # a trait set directly (as the view does) recomputes too
    np.testing.assert_allclose(w.probs, soft_oracle(3, 3.0)[0], rtol=1e-12)


def test_soft_target_explorer_without_a_student_or_names():
    w = soft_target_explorer(IMAGES, TEACHER, SHAPE, T=4.0, index=2)
    assert w.student == "" and w.student_logits is None
    assert w.student_probs is None and w.kl is None
    assert w.names == [] and w.labels == []
    np.testing.assert_allclose(w.probs, soft_oracle(2, 4.0)[0], rtol=1e-12)


def test_the_embedded_data_is_compact():
    w = soft_explorer()
    n = IMAGES.size
    assert len(w.pixels) == 4 * math.ceil(n / 3)  # one byte per pixel, base64
    assert len(w.teacher) == len(w.student) == 4 * math.ceil(8 * TEACHER.size / 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"index": 6}, "index must be an int in [0, 6)"),
    ({"index": -1}, "index must be an int in [0, 6)"),
    ({"index": 1.0}, "index must be an int"),
    ({"index": True}, "index must be an int"),
    ({"T": -1.0}, "T must be a positive"),
    ({"T": float("nan")}, "T must be a positive"),
    ({"T": "hot"}, "T must be"),
])
def test_soft_target_bad_input_is_reported_not_raised(kwargs, message):
    w = soft_explorer(index=2, T=3.0)
    before = w.probs.copy()
    assert w.update(**kwargs) is w
    assert message in w.error
    assert (w.index, w.T) == (2, 3.0)
    np.testing.assert_array_equal(w.probs, before)
    assert w.update(index=1).error == ""


@pytest.mark.parametrize("kwargs, match", [
    ({"images": np.zeros(12)}, "images"),
    ({"images": np.full((6, 12), np.nan)}, "images must be finite"),
    ({"logits": np.zeros((3, 5))}, "logits"),
    ({"logits": np.full((6, 5), np.inf)}, "logits"),
    ({"student_logits": np.zeros((6, 4))}, "student_logits must have the shape"),
    ({"student_logits": np.full((6, 5), np.nan)}, "student_logits"),
    ({"image_shape": (3, 3)}, "image_shape"),
    ({"image_shape": 6}, "image_shape"),
    ({"class_names": NAMES[:4]}, "class_names"),
    ({"labels": [0, 1, 2]}, "labels"),
    ({"labels": [0, 1, 2, 3, 4, 5]}, "labels"),
    ({"index": 6}, "index"),
    ({"T": 0.0}, "T must"),
])
def test_soft_target_constructor_checks_and_names_the_argument(kwargs, match):
    kwargs = {"images": IMAGES, "logits": TEACHER, "image_shape": SHAPE, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        soft_target_explorer(**kwargs)


# --- Python: the alpha x T explorer --------------------------------------------------------------


def test_alpha_temperature_values_are_autograd_s_and_the_nearest_cell_numpy_s():
    w = grid_explorer()
    assert isinstance(w, AlphaTemperatureExplorer)
    best = np.unravel_index(np.argmin(GRID), GRID.shape)
    assert (w.alpha, w.T) == (ALPHAS[best[0]], TEMPERATURES[best[1]])  # starts at the best cell
    for alpha, T in [(0.9, 20.0), (0.3, 3.0), (0.71, 1.3), (1.0, 0.5), (0.0, 50.0)]:
        w.update(alpha=alpha, T=T)
        with_t2, without = balance_oracle(alpha, T)
        assert w.error == ""
        assert w.balance == pytest.approx(with_t2, rel=1e-9)
        assert w.balance_no_T2 == pytest.approx(without, rel=1e-9)
        assert w.balance == gradient_balance(MISTAKES["correct"]["loss"], STUDENT, TEACHER,
                                              LABELS, T, alpha)
        assert w.cell == nearest_oracle(alpha, T) and w.value == GRID[w.cell]
    w.update(alpha=0.5, T=4.0)
    assert w.balance / w.balance_no_T2 == pytest.approx(16.0)  # the T² factor


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": 1.5}, "alpha must be"),
    ({"alpha": "x"}, "alpha must be"),
    ({"T": 0.0}, "T must be a positive"),
    ({"T": True}, "T must be"),
])
def test_alpha_temperature_bad_input_is_reported_not_raised(kwargs, message):
    w = grid_explorer(alpha=0.5, T=2.0)
    before = (w.alpha, w.T, w.balance, w.cell)
    assert w.update(**kwargs) is w
    assert message in w.error
    assert (w.alpha, w.T, w.balance, w.cell) == before
    assert w.update(alpha=0.6).error == ""


@pytest.mark.parametrize("kwargs, match", [
    ({"errors": np.zeros((3, 4))}, "errors must have shape"),
    ({"errors": np.full((4, 4), np.inf)}, "errors must be finite"),
    ({"alphas": [0.0, 0.5, 0.9, 1.5]}, "alphas must be in"),
    ({"temperatures": [1.0, 2.0, 0.0, 20.0]}, "temperatures must be positive"),
    ({"teacher_logits": np.zeros((6,))}, "teacher_logits"),
    ({"student_logits": np.zeros((5, 5))}, "student_logits"),
    ({"student_logits": np.full((6, 5), np.nan)}, "student_logits must be finite"),
    ({"labels": [0, 1]}, "labels"),
    ({"labels": [0, 1, 2, 3, 4, 5]}, "labels"),
    ({"alpha": 2.0}, "alpha"),
    ({"T": -1.0}, "T must"),
])
def test_alpha_temperature_constructor_checks_and_names_the_argument(kwargs, match):
    kwargs = {"errors": GRID, "alphas": ALPHAS, "temperatures": TEMPERATURES,
              "teacher_logits": TEACHER, "student_logits": STUDENT, "labels": LABELS, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        alpha_temperature_explorer(**kwargs)


# --- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    """Both explorers on one kernel-free page in Chromium; no console error and no request off
    the page's host are allowed."""
    explorers = soft_explorer(T=1.0, index=0), grid_explorer(alpha=0.9, T=2.0)
    with (frontend.serve_kernel_free_site(tmp_path_factory.mktemp("kernel-free-ch02"),
                                          *explorers, static_from=STATIC) as url,
          opened(browser, url, ".kdlab-soft-targets .kdlab-student",
                 ".kdlab-alpha-temperature .kdlab-cell", viewport=(1000, 1200)) as tab):
        yield tab


def shown_soft(root):
    """(index, T, teacher bars, student bars, KL, entropy) as the view shows them."""
    bars = {k: np.array(root.locator(f"g.kdlab-column .kdlab-{k}").evaluate_all(
        "b => b.map(e => +e.dataset.p)")) for k in ("teacher", "student")}
    data = root.locator(".kdlab-kl").evaluate("e => [+e.dataset.kl, +e.dataset.entropy]")
    index = int(root.locator(".kdlab-index-readout").get_attribute("data-index"))
    T = float(root.locator(".kdlab-T-readout").get_attribute("data-t"))
    return index, T, bars["teacher"], bars["student"], data[0], data[1]


def check_soft_view(root):
    index, T, teacher, student, kl, h = shown_soft(root)
    p, q, kl_torch = soft_oracle(index, T)
    np.testing.assert_allclose(teacher, p, rtol=1e-9)
    np.testing.assert_allclose(student, q, rtol=1e-9)
    assert kl == pytest.approx(kl_torch, rel=1e-6, abs=1e-12)
    assert h == pytest.approx(-np.sum(p * np.log(p)), rel=1e-9)
    pixels = np.array(root.locator("canvas.kdlab-image").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"))
    rgba = pixels.reshape(SHAPE[0], SHAPE[1], 4)
    expected = 255 - np.rint(255 * IMAGES[index]).reshape(SHAPE)  # dark ink on white paper
    for channel in range(3):
        np.testing.assert_array_equal(rgba[..., channel], expected)
    band = root.locator("g.kdlab-column.kdlab-true-class").get_attribute("data-class")
    assert int(band) == LABELS[index]
    caption = root.locator(".kdlab-caption").inner_text()
    assert caption == f"image {index}: {NAMES[LABELS[index]]}"
    return index, T


@browser_test
def test_soft_targets_view_follows_real_clicks_keys_and_drags(page):
    root = page.locator(".kdlab-soft-targets")
    assert check_soft_view(root) == (0, 1.0)
    root.locator(".kdlab-next").click()  # a real click
    root.locator(".kdlab-next").click()
    assert check_soft_view(root)[0] == 2
    root.locator(".kdlab-prev").click()
    assert check_soft_view(root)[0] == 1
    root.locator(".kdlab-index").focus()
    page.keyboard.press("End")  # a real key on the image slider
    assert check_soft_view(root)[0] == len(IMAGES) - 1
    root.locator(".kdlab-next").click()  # stays on the last image
    assert check_soft_view(root)[0] == len(IMAGES) - 1
    slider = root.locator(".kdlab-T")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 8 + (box["width"] - 16) / 3, y)  # the thumb: log10 T = 0 of -1..2
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=8)  # a real drag
    page.mouse.up()
    index, T = check_soft_view(root)
    assert T > 10 and index == len(IMAGES) - 1
    page.keyboard.press("Home")
    assert check_soft_view(root)[1] == pytest.approx(0.1)
    text = root.locator(".kdlab-kl").inner_text()
    assert "KL(teacher_T ‖ distilled_T)" in text and "distilled" in root.inner_text()


def shown_grid(root):
    data = root.locator(".kdlab-balance").evaluate(
        "e => [+e.dataset.balance, +e.dataset.balanceNoT2, e.dataset.cell, +e.dataset.value]")
    alpha = float(root.locator(".kdlab-alpha-readout").get_attribute("data-alpha"))
    T = float(root.locator(".kdlab-T-readout").get_attribute("data-t"))
    return alpha, T, data


def check_grid_view(root):
    alpha, T, (with_t2, without, cell, value) = shown_grid(root)
    oracle = balance_oracle(alpha, T)
    assert with_t2 == pytest.approx(oracle[0], rel=1e-9)
    assert without == pytest.approx(oracle[1], rel=1e-9)
    i, j = nearest_oracle(alpha, T)
    assert cell == f"{i},{j}" and value == GRID[i, j]
    outlined = root.locator("g.kdlab-cell.kdlab-nearest")
    assert outlined.count() == 1
    assert (int(outlined.get_attribute("data-row")), int(outlined.get_attribute("data-col"))) \
        == (i, j)
    assert float(outlined.locator("rect").get_attribute("data-errors")) == GRID[i, j]
    return alpha, T


@browser_test
def test_alpha_temperature_view_matches_autograd_as_real_input_moves_it(page):
    root = page.locator(".kdlab-alpha-temperature")
    assert check_grid_view(root) == (0.9, 2.0)
    cells = root.locator("g.kdlab-cell rect").evaluate_all("r => r.map(e => +e.dataset.errors)")
    np.testing.assert_array_equal(np.array(cells).reshape(GRID.shape), GRID)
    slider = root.locator(".kdlab-T")
    slider.focus()
    for _ in range(40):
        page.keyboard.press("ArrowRight")  # real keys: log10 T up by 40 steps of 0.01
    alpha, T = check_grid_view(root)
    assert T == pytest.approx(10 ** (0.30 + 0.4), rel=1e-9) and alpha == 0.9  # 2 on the grid
    alpha_slider = root.locator(".kdlab-alpha")
    alpha_slider.scroll_into_view_if_needed()
    box = alpha_slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 8 + (box["width"] - 16) * 0.9, y)  # the thumb at 0.9
    page.mouse.down()
    page.mouse.move(box["x"] + 8 + (box["width"] - 16) * 0.35, y, steps=8)  # a real drag
    page.mouse.up()
    alpha, T = check_grid_view(root)
    assert alpha < 0.5
    page.keyboard.press("End")  # alpha = 1: no hard term, the balance is infinite
    assert check_grid_view(root)[0] == 1.0
    assert "∞ with T²" in root.locator(".kdlab-balance").inner_text()
    assert "labels alone: 42" in root.locator(".kdlab-balance").inner_text()
    page.keyboard.press("Home")  # alpha = 0: no soft term
    assert check_grid_view(root)[0] == 0.0
