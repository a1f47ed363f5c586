"""Chapter 04's specialist explorer (kdlab.widgets.specialist_explorer): its Python state, and
its view in Debian's Chromium on a page without a kernel, as the website shows it.

Every confusion matrix is precomputed in Python and embedded; the checks compare what the view
drew (each cell's data-count, the readout's data-accuracy / data-dustbin / data-other) with
kdlab.specialists.specialist_confusion and with numpy on the specialists' own predictions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _chromium import STATIC, browser_test, latency_controls, opened

from kdlab.frontend import BrowserExplorer, serve_kernel_free_site
from kdlab.models import MLP
from kdlab.specialists import Specialist, specialist_confusion
from kdlab.widgets import SpecialistExplorer, specialist_explorer

NAMES = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal"]
RNG = np.random.default_rng(0)
X = RNG.normal(size=(240, 6)).astype(np.float32)
Y = RNG.integers(0, 6, size=240)
SPECS = [Specialist(MLP(6, (8,), 6, seed=0), [0, 2, 4], dustbin_correction=0.8),
         Specialist(MLP(6, (8,), 6, seed=1), [5, 1], dustbin_correction=1.6),
         Specialist(MLP(6, (8,), 6, seed=2), [3], dustbin_correction=2.5)]


def oracle(spec, corrected):
    """(matrix, accuracy, dustbin rate, other rate) from the specialist's own predictions."""
    answer = spec.predict_proba(X, corrected=corrected).argmax(axis=1)
    k = len(spec.subset)
    row = np.array([list(spec.subset).index(c) if c in spec.subset else k for c in Y])
    matrix = np.zeros((k + 1, k + 1), dtype=int)
    np.add.at(matrix, (row, answer), 1)
    mine = row < k
    return matrix, np.mean(answer[mine] == row[mine]), np.mean(answer == k), np.mean(~mine)


# --- Python --------------------------------------------------------------------------------------


def test_each_choice_shows_specialist_confusion_and_its_rates():
    w = specialist_explorer(SPECS, X, Y, class_names=NAMES)
    assert isinstance(w, BrowserExplorer) and w.names == ["T-shirt, pullover, coat",
                                                          "sandal, trouser", "dress"]
    for index, spec in enumerate(SPECS):
        for corrected in (True, False):
            w.update(index=index, corrected=corrected)
            matrix, accuracy, dustbin, other = oracle(spec, corrected)
            assert w.error == "" and (w.index, w.corrected) == (index, corrected)
            np.testing.assert_array_equal(w.matrix, matrix)
            np.testing.assert_array_equal(
                w.matrix, specialist_confusion(spec, X, Y, corrected=corrected))
            assert w.accuracy == pytest.approx(accuracy, abs=1e-15)
            assert w.dustbin_rate == pytest.approx(dustbin, abs=1e-15)
            assert w.other_rate == pytest.approx(other, abs=1e-15)
            card = w.get_state()["cards"][index]  # what the view draws
            assert card["corrected" if corrected else "raw"] == matrix.tolist()
    w.set_state({"index": 0, "corrected": True})  # as the view sets them
    np.testing.assert_array_equal(w.matrix, oracle(SPECS[0], True)[0])
    assert w.get_state()["cards"][1]["correction"] == 1.6
    assert isinstance(w, SpecialistExplorer)


def test_moving_the_controls_runs_no_model():
    w = specialist_explorer(SPECS, X, Y)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.nn.Module, "__call__", lambda *a, **k: pytest.fail("ran a model"))
        w.update(index=2, corrected=False).update(index=0, corrected=True)
    assert w.error == ""


@pytest.mark.parametrize("kwargs, match", [
    ({"index": 3}, "index must be an int in"), ({"index": True}, "index must be an int in"),
    ({"index": 1.0}, "index must be an int in"), ({"corrected": "yes"}, "corrected must be")])
def test_bad_choices_are_reported_not_raised(kwargs, match):
    w = specialist_explorer(SPECS, X, Y, index=1)
    shown = w.matrix.copy()
    assert w.update(**kwargs) is w
    assert match in w.error and w.get_state()["error"] == w.error
    np.testing.assert_array_equal(w.matrix, shown)
    assert w.index == 1 and w.update(index=0).error == ""


def test_the_constructor_checks_its_arguments():
    with pytest.raises(ValueError, match="specialists must be a non-empty list"):
        specialist_explorer([], X, Y)
    with pytest.raises(ValueError, match="specialists must be a non-empty list"):
        specialist_explorer([MLP(6, (8,), 6)], X, Y)
    with pytest.raises(ValueError, match="class_names must name all 6"):
        specialist_explorer(SPECS, X, Y, class_names=["a"])
    with pytest.raises(ValueError, match="index must be an int in"):
        specialist_explorer(SPECS, X, Y, index=3)
    with pytest.raises(TypeError, match="corrected must be"):
        specialist_explorer(SPECS, X, Y, corrected=1)
    with pytest.raises(ValueError, match="y"):
        specialist_explorer(SPECS, X, Y[:-1])


# --- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    explorer = specialist_explorer(SPECS, X, Y, class_names=NAMES)
    with serve_kernel_free_site(tmp_path_factory.mktemp("kernel-free-specialist"),
                                explorer, static_from=STATIC) as address:
        yield address


@pytest.fixture
def view(url, browser):
    with opened(browser, url, ".kdlab-specialist-explorer svg rect", viewport=(1000, 1200)) as page:
        yield page, page.locator(".kdlab-specialist-explorer")


def drawn(root) -> np.ndarray:
    """The counts the matrix shows, row by row (the cells' data-count)."""
    cells = root.locator("rect.kdlab-cell").evaluate_all(
        "c => c.map(e => [+e.dataset.row, +e.dataset.col, +e.dataset.count])")
    n = max(r for r, _, _ in cells) + 1
    out = np.zeros((n, n), dtype=int)
    for r, c, v in cells:
        out[r, c] = v
    return out


def rates(root) -> np.ndarray:
    return np.array(root.locator(".kdlab-rates").evaluate(
        "e => [+e.dataset.accuracy, +e.dataset.dustbin, +e.dataset.other]"))


def check(root, index, corrected):
    matrix, *expected = oracle(SPECS[index], corrected)
    np.testing.assert_array_equal(drawn(root), matrix)
    np.testing.assert_allclose(rates(root), expected, rtol=1e-12)
    assert root.locator(".kdlab-specialist").input_value() == str(index)
    assert root.locator(".kdlab-corrected").is_checked() == corrected
    labels = root.locator("svg text.kdlab-name").evaluate_all(
        "t => t.map(e => e.firstChild.textContent)")  # (not its tooltip)
    assert labels[:len(SPECS[index].subset) + 1] == [NAMES[c] for c in SPECS[index].subset] + [
        "other / dustbin"]
    assert root.locator(".kdlab-status").inner_text() == ""


@browser_test
def test_the_buttons_menu_and_switch_choose_the_matrix_drawn(view):
    page, root = view
    check(root, 0, True)
    assert root.locator(".kdlab-prev").is_disabled()
    root.locator(".kdlab-next").click()  # a real click
    check(root, 1, True)
    root.locator(".kdlab-corrected").click()
    check(root, 1, False)
    root.locator(".kdlab-next").click()
    check(root, 2, False)
    assert root.locator(".kdlab-next").is_disabled()
    root.locator(".kdlab-specialist").select_option("0")
    check(root, 0, False)
    root.locator(".kdlab-corrected").click()
    check(root, 0, True)
    assert "log ρ = 0.800" in root.inner_text()
    assert latency_controls(page) == {"specialist", "corrected"}


@browser_test
def test_the_keyboard_steps_through_the_menu(view):
    page, root = view
    root.locator(".kdlab-specialist").focus()
    page.keyboard.press("ArrowDown")
    check(root, 1, True)
