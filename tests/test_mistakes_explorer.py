"""Chapter 07's mistakes explorer (kdlab.widgets.mistakes_explorer): its Python state, and its
view in Debian's Chromium on a page without a kernel, as the website shows it.

The view computes each mistake's soft-term gradient in closed form in the browser; every check
compares what it drew (the bars' data-g, the readout's data-ratio / data-balance) with torch
autograd on kdlab.mistakes' own losses, to 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from _chromium import STATIC, browser_test, opened

from kdlab import frontend
from kdlab.mistakes import MISTAKES, gradient_balance, gradient_ratio, soft_gradient
from kdlab.widgets import MistakesExplorer, mistakes_explorer

NAMES = ["cat", "dog", "car", "ship", "frog"]
Z = np.array([0.3, -0.2, 1.1, 0.0, -0.7])    # a student's logits
V = np.array([4.0, 2.5, -1.0, 0.5, -3.0])    # the teacher's
LABEL = 0


def autograd(mistake, T, alpha=0.9):
    """(gradient per class, ratio, balance, correct balance) by torch autograd."""
    loss = MISTAKES[mistake]["loss"]
    z, v = Z[None], V[None]
    return (soft_gradient(loss, z, v, T)[0], gradient_ratio(loss, z, v, T),
            gradient_balance(loss, z, v, [LABEL], T, alpha),
            gradient_balance(MISTAKES["correct"]["loss"], z, v, [LABEL], T, alpha))


# --- Python --------------------------------------------------------------------------------------


def test_python_values_are_kdlab_mistakes_own_at_every_state():
    w = mistakes_explorer(Z, V, LABEL, T=4.0, alpha=0.9, class_names=NAMES)
    for mistake in MistakesExplorer.OFFERED:
        for T in (0.5, 1.0, 4.0, 20.0):
            w.update(T=T, mistake=mistake, alpha=0.7)
            _, ratio, balance, correct = autograd(mistake, T, 0.7)
            assert w.error == ""
            assert w.ratio == ratio and w.balance == balance and w.correct_balance == correct
    w.T = 2.0  # a trait set directly (as the view does) recomputes too
    assert w.ratio == autograd("log target, no log_target", 2.0, 0.7)[1]


def test_bad_input_is_reported_not_raised_and_the_constructor_checks():
    w = mistakes_explorer(Z, V, LABEL)
    before = (w.T, w.ratio)
    assert "T must be a positive" in w.update(T=-1).error
    assert "mistake must be one of" in w.update(mistake="nope").error
    assert "alpha must be in [0, 1]" in w.update(alpha=2).error
    assert (w.T, w.ratio) == before
    assert w.update(T=3).error == ""
    with pytest.raises(ValueError, match="teacher_logits"):
        mistakes_explorer(Z, V[:3], LABEL)
    with pytest.raises(ValueError, match="label must be a class"):
        mistakes_explorer(Z, V, 5)
    with pytest.raises(ValueError, match="mistake must be one of"):
        mistakes_explorer(Z, V, 0, mistake='reduction="sum"')  # one example: same as correct


# --- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def view(browser, tmp_path_factory):
    """The explorer on a kernel-free page in Chromium: (page, root); no console error and no
    request off the page's host are allowed."""
    explorer = mistakes_explorer(Z, V, LABEL, T=4.0, alpha=0.9, class_names=NAMES)
    with (frontend.serve_kernel_free_site(tmp_path_factory.mktemp("kernel-free-mistakes"),
                                          explorer, static_from=STATIC) as url,
          opened(browser, url, ".kdlab-mistakes-explorer .kdlab-grad-mistake") as page):
        yield page, page.locator(".kdlab-mistakes-explorer")


def drawn(root, which):
    return np.array(root.locator(f"g.kdlab-column .kdlab-grad-{which}").evaluate_all(
        "b => b.map(e => +e.dataset.g)"))


def readout(root):
    data = root.locator(".kdlab-balance").evaluate(
        "e => [+e.dataset.ratio, +e.dataset.balance, +e.dataset.correctBalance]")
    return np.array(data)


def set_slider(root, cls, value):
    """Set a range input as a person would, firing its input event."""
    root.locator(cls).evaluate(
        "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }",
        value)


@browser_test
def test_every_mistake_s_gradient_and_balance_match_autograd_as_T_moves(view):
    page, root = view
    labels = root.locator("label.kdlab-toggle").all_inner_texts()
    assert [t.strip() for t in labels] == list(MistakesExplorer.OFFERED)
    for mistake in MistakesExplorer.OFFERED:
        root.locator(f"input.kdlab-mistake[value='{mistake}']").check()
        for log_T in (-0.3, 0.0, 0.6, 1.2, 1.7):
            set_slider(root, ".kdlab-T", str(log_T))
            T = float(root.locator(".kdlab-T-readout").get_attribute("data-t"))
            assert T == pytest.approx(10 ** log_T, rel=1e-9)
            grad, ratio, balance, correct_balance = autograd(mistake, T)
            np.testing.assert_allclose(drawn(root, "mistake"), grad, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(drawn(root, "correct"), autograd("correct", T)[0],
                                       rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(readout(root), [ratio, balance, correct_balance],
                                       rtol=1e-6)
            assert mistake in root.locator(".kdlab-balance").inner_text()
        assert root.locator(".kdlab-line").inner_text() == MISTAKES[mistake]["line"]


@browser_test
def test_alpha_moves_the_balance_not_the_gradients(view):
    page, root = view
    root.locator("input.kdlab-mistake[value='no T²']").check()
    set_slider(root, ".kdlab-T", "0.6")
    T = float(root.locator(".kdlab-T-readout").get_attribute("data-t"))
    grads = drawn(root, "mistake")
    for alpha in (0.1, 0.5, 0.99):
        set_slider(root, ".kdlab-alpha", str(alpha))
        _, ratio, balance, correct_balance = autograd("no T²", T, alpha)
        np.testing.assert_allclose(readout(root), [ratio, balance, correct_balance], rtol=1e-6)
        np.testing.assert_array_equal(drawn(root, "mistake"), grads)
    set_slider(root, ".kdlab-alpha", "1")
    assert "∞" in root.locator(".kdlab-balance").inner_text()  # no hard term left
