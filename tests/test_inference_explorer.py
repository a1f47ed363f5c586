"""Chapter 05's inference explorer (kdlab.widgets.inference_explorer): its Python state, and its
view in Debian's Chromium on a page without a kernel, as the website shows it.

The view solves KL inference for the image shown, in JavaScript, by kl_inference's EM iteration;
every check compares what it drew (the readout's data-q and data-consulted, the bars' data-p)
with kdlab.inference.kl_inference itself, and Python's values with the paper's gradient method
(kl_inference(method="gradient")), an independent solver.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from _chromium import STATIC, browser_test, latency_controls, opened

from kdlab.frontend import BrowserExplorer, serve_kernel_free_site
from kdlab.inference import active_specialists, dustbin_fold, expand_specialist, kl_inference
from kdlab.widgets import InferenceExplorer, inference_explorer

NAMES = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal"]
N, C = 40, len(NAMES)
RNG = np.random.default_rng(5)
P = RNG.dirichlet(np.full(C, 0.7), size=N)
GROUPS = ([0, 1, 2], [2, 3], [1, 3])  # overlapping: several at once; none on 4 and 5
OPINIONS = [(np.array(g), RNG.dirichlet(np.full(len(g) + 1, 0.4), size=N)) for g in GROUPS]
LABELS = RNG.integers(0, C, size=N)
IDS = np.arange(N) * 7 + 3  # e.g. where the images sit in a test set
N_TOP = 2
ALL = (True,) * len(GROUPS)


def combined(i, enabled=ALL, method="em"):
    """kl_inference of image i with the enabled specialists only."""
    mine = [(s, m[i:i + 1]) for (s, m), e in zip(OPINIONS, enabled, strict=True) if e]
    return kl_inference(P[i:i + 1], mine, n_top=N_TOP, method=method)[0]


def consulted(i, enabled=ALL):
    active = active_specialists(P[i:i + 1], [(s, m[i:i + 1]) for s, m in OPINIONS],
                                n_top=N_TOP)[0]
    return [m for m, (a, e) in enumerate(zip(active, enabled, strict=True)) if a and e]


CHANGED = np.flatnonzero(kl_inference(P, OPINIONS, n_top=N_TOP).argmax(1) != P.argmax(1))


def explorer(**kwargs):
    return inference_explorer(P, OPINIONS, class_names=NAMES, labels=LABELS, ids=IDS,
                              n_top=N_TOP, **kwargs)


def test_the_data_hold_what_the_tests_need():
    """Images with several specialists consulted, changed and unchanged answers, and images
    where EM needs many steps."""
    _, n_iter = kl_inference(P, OPINIONS, n_top=N_TOP, return_n_iter=True)
    assert max(len(consulted(i)) for i in range(N)) >= 3 and n_iter.max() > 50
    assert 0 < len(CHANGED) < N and any(not consulted(i) for i in range(N))


# --- Python --------------------------------------------------------------------------------------


def test_q_is_the_minimiser_for_every_image_and_every_choice_of_specialists():
    w = explorer()
    assert isinstance(w, BrowserExplorer) and w.changed == CHANGED.tolist()
    for i in range(N):
        for enabled in itertools.product((True, False), repeat=len(GROUPS)):
            if i % 5 and not all(enabled):
                continue  # every image with all specialists; every choice on every 5th image
            w.update(index=i, enabled=list(enabled))
            assert w.error == "" and w.index == i
            np.testing.assert_allclose(w.q, combined(i, enabled, method="gradient"), atol=1e-9)
            assert w.consulted == consulted(i, enabled)
            assert w.row_names == ["generalist", *(f"specialist {m}" for m in w.consulted),
                                   "combined q"]
            np.testing.assert_array_equal(w.rows[0], P[i])
            for row, m in zip(w.rows[1:-1], w.consulted, strict=True):
                np.testing.assert_allclose(dustbin_fold(row, GROUPS[m]), OPINIONS[m][1][i])
            if not w.consulted:
                np.testing.assert_array_equal(w.q, P[i])
    w.set_state({"index": 3, "enabled": [True, False, True]})  # as the view sets them
    np.testing.assert_allclose(w.q, combined(3, (True, False, True)), atol=1e-12)


def test_the_filter_moves_to_the_next_changed_image_and_keeps_to_them():
    w = explorer(index=0)
    first_after = [c for c in CHANGED if c >= 5][0]
    w.update(index=5).update(changed_only=True)
    assert w.changed_only and w.index == first_after and w.error == ""
    assert "is not one whose answer" in w.update(index=int(np.setdiff1d(
        np.arange(N), CHANGED)[0])).error
    assert w.index == first_after
    w.update(changed_only=False, index=0)
    assert (w.changed_only, w.index, w.error) == (False, 0, "")
    late = explorer(index=N - 1, changed_only=True)  # no changed image after it: the last one
    assert late.index == (N - 1 if N - 1 in CHANGED else CHANGED[-1])


@pytest.mark.parametrize("kwargs, match", [
    ({"index": N}, "index must be an int in"), ({"index": -1}, "index must be an int in"),
    ({"index": True}, "index must be an int in"), ({"index": 1.0}, "index must be an int in"),
    ({"enabled": [True]}, "enabled must be 3 booleans"),
    ({"enabled": [1, 1, 1]}, "enabled must be 3 booleans"),
    ({"enabled": 5}, "enabled must be 3 booleans"),
    ({"changed_only": "yes"}, "changed_only must be True or False")])
def test_bad_input_is_reported_not_raised(kwargs, match):
    w = explorer(index=2)
    q = w.q.copy()
    assert w.update(**kwargs) is w
    assert match in w.error and w.get_state()["error"] == w.error
    np.testing.assert_array_equal(w.q, q)
    assert w.index == 2 and w.update(index=1).error == ""


def test_the_constructor_checks_its_arguments():
    with pytest.raises(ValueError, match="specialists\\[0\\] probs"):
        inference_explorer(P, [(OPINIONS[0][0], OPINIONS[0][1][:3])])
    with pytest.raises(ValueError, match="p_general"):
        inference_explorer(P * 2, OPINIONS)
    with pytest.raises(ValueError, match="class_names must name all 6"):
        inference_explorer(P, OPINIONS, class_names=["a"])
    with pytest.raises(ValueError, match="labels must be 40 class ids"):
        inference_explorer(P, OPINIONS, labels=LABELS[:3])
    with pytest.raises(ValueError, match="ids must be 40 integers"):
        inference_explorer(P, OPINIONS, ids=IDS[:3])
    with pytest.raises(ValueError, match="n_top .*must be"):
        inference_explorer(P, OPINIONS, n_top=0)
    with pytest.raises(ValueError, match="enabled must be 3 booleans"):
        inference_explorer(P, OPINIONS, enabled=[True])
    with pytest.raises(ValueError, match="changes no image's answer"):
        inference_explorer(P, [(s, np.c_[P[:, s], 1 - P[:, s].sum(1)]) for s, _ in OPINIONS],
                           changed_only=True)  # specialists that agree with the generalist
    assert isinstance(explorer(), InferenceExplorer)


# --- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with serve_kernel_free_site(tmp_path_factory.mktemp("kernel-free-inference"),
                                explorer(), static_from=STATIC) as address:
        yield address


@pytest.fixture
def view(url, browser):
    with opened(browser, url, ".kdlab-inference-explorer svg rect", viewport=(1000, 1200)) as page:
        yield page, page.locator(".kdlab-inference-explorer")


def state(root) -> dict:
    """What the view shows: the image, q, the specialists consulted, the answers."""
    said = root.locator(".kdlab-said")
    return {"index": int(root.locator(".kdlab-where").get_attribute("data-index")),
            "q": np.array(json.loads(said.get_attribute("data-q"))),
            "consulted": json.loads(said.get_attribute("data-consulted")),
            "general": int(said.get_attribute("data-general")),
            "combined": int(said.get_attribute("data-combined"))}


def bars(root, row) -> np.ndarray:
    return np.array(root.locator(f'g.kdlab-panel[data-row="{row}"] rect.kdlab-bar').evaluate_all(
        "b => b.map(e => +e.dataset.p)"))


def check(root, i, enabled=ALL):
    shown = state(root)
    assert shown["index"] == i
    q = combined(i, enabled)
    np.testing.assert_allclose(shown["q"], q, rtol=0, atol=1e-11)
    assert shown["consulted"] == consulted(i, enabled)
    assert (shown["general"], shown["combined"]) == (P[i].argmax(), q.argmax())
    np.testing.assert_array_equal(bars(root, "generalist"), P[i])
    np.testing.assert_allclose(bars(root, "combined q"), q, atol=1e-11)
    for m in shown["consulted"]:
        np.testing.assert_allclose(bars(root, f"specialist {m}"),
                                   expand_specialist(OPINIONS[m][1][i], GROUPS[m], q), atol=1e-11)
    assert root.locator("g.kdlab-panel").count() == 2 + len(shown["consulted"])
    assert f"test image {IDS[i]}" in root.locator(".kdlab-where").inner_text()
    assert root.locator(".kdlab-status").inner_text() == ""


@browser_test
def test_stepping_through_every_image_shows_kl_inference_of_each(view):
    page, root = view
    check(root, 0)
    slider = root.locator(".kdlab-image")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 8, y)  # a real drag of the slider to its far end
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, y, steps=8)
    page.mouse.up()
    check(root, N - 1)
    root.locator(".kdlab-image").focus()
    page.keyboard.press("Home")
    check(root, 0)
    for i in range(1, N):
        root.locator(".kdlab-next").click()  # a real click, image by image
        check(root, i)
    assert root.locator(".kdlab-next").is_disabled()
    assert latency_controls(page) == {"image", "step"}


@browser_test
def test_switching_specialists_off_and_on_solves_again_without_them(view):
    page, root = view
    i = max(range(N), key=lambda j: (len(consulted(j)), -j))  # the most specialists consulted
    root.locator(".kdlab-image").focus()
    for _ in range(i):
        page.keyboard.press("ArrowRight")
    check(root, i)
    boxes = root.locator("input.kdlab-specialist-on")
    enabled = [True] * len(GROUPS)
    for choice in itertools.product((True, False), repeat=len(GROUPS)):
        for m, on in enumerate(choice):
            if enabled[m] != on:
                boxes.nth(m).click()
                enabled[m] = on
        check(root, i, tuple(enabled))
        labels = root.locator("label.kdlab-consulted").evaluate_all(
            "l => l.map(e => +e.dataset.specialist)")
        assert labels == consulted(i, enabled)
    assert "specialist" in latency_controls(page)


@browser_test
def test_the_filter_steps_through_the_changed_answers_only(view):
    page, root = view
    root.locator(".kdlab-changed-only").click()
    assert f"({len(CHANGED)} of {N})" in root.inner_text()
    seen = [state(root)["index"]]
    while not root.locator(".kdlab-next").is_disabled():
        root.locator(".kdlab-next").click()
        seen.append(state(root)["index"])
    assert seen == CHANGED.tolist()
    for _ in seen[-2:]:
        root.locator(".kdlab-prev").click()
    check(root, seen[-3])
    assert "changed the answer" in root.locator(".kdlab-said").inner_text()
    root.locator(".kdlab-changed-only").click()  # off again: every image
    root.locator(".kdlab-next").click()
    check(root, seen[-3] + 1)
    assert "filter" in latency_controls(page)
