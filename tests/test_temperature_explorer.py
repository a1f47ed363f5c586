"""Chapter 01's temperature explorer, its Python side: state synced, softmax at T, bad input
reported without raising, the typed logits parsed (its view in Chromium: test_frontend.py)."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
import scipy.special

from kdlab.temperature import entropy, softmax_t
from kdlab.widgets import parse_logits, temperature_explorer

NAMES = ["cat", "dog", "car", "ship"]
Z = np.array([2.0, 1.5, -1.0, 0.0])


# --- widgets: the temperature explorer -----------------------------------------------------------


@pytest.fixture
def explorer():
    return temperature_explorer(Z, NAMES, T=1.0, examples={"first": Z, "second": -Z})


def test_explorer_is_a_browser_rendered_widget_with_its_state_synced(explorer):
    from kdlab.frontend import BrowserExplorer

    assert isinstance(explorer, BrowserExplorer) and isinstance(explorer, widgets.DOMWidget)
    state = explorer.get_state()
    assert state["T"] == 1.0 and state["z"] == Z.tolist() and state["names"] == NAMES
    assert state["choices"] == [["first", Z.tolist()], ["second", (-Z).tolist()]]
    assert state["example"] == "first" and state["mode"] == "explore"
    assert "export default { render }" in state["_esm"]
    np.testing.assert_allclose(explorer.probs, softmax_t(Z, 1.0))


@pytest.mark.parametrize("T", [0.01, 0.5, 3.0, 100.0])
def test_explorer_update_computes_the_softmax_at_T(explorer, T):
    assert explorer.update(T=T) is explorer
    expected = scipy.special.softmax(Z / T)
    np.testing.assert_allclose(explorer.probs, expected, rtol=1e-12)
    assert explorer.entropy_value == pytest.approx(float(entropy(expected)))
    assert explorer.T == T and explorer.get_state()["T"] == T  # what the view draws
    assert explorer.error == ""


def test_explorer_follows_what_the_browser_sets(explorer):
    # The view sets these traits when a person moves a control; Python recomputes.
    explorer.set_state({"T": 10.0})
    np.testing.assert_allclose(explorer.probs, softmax_t(Z, 10.0))
    explorer.set_state({"z": [0.0, 0.0, 0.0, 5.0], "example": ""})  # a dragged bar
    np.testing.assert_allclose(explorer.logits, [0, 0, 0, 5])
    np.testing.assert_allclose(explorer.probs, softmax_t(np.array([0, 0, 0, 5.0]), 10.0))
    assert explorer.entropy_value == pytest.approx(
        float(entropy(softmax_t(np.array([0, 0, 0, 5.0]), 10.0))))
    explorer.set_state({"example": "second"})  # picked from the dropdown
    np.testing.assert_allclose(explorer.logits, -Z)
    np.testing.assert_allclose(explorer.probs, softmax_t(-Z, 10.0))
    explorer.set_state({"mode": "predict", "guesses": [
        {"T_from": 10.0, "T_to": 50.0, "guess": 1, "answer": 3}]})
    assert explorer.guesses[0]["answer"] == 3


def test_explorer_typed_logits_are_no_example(explorer):
    explorer.update(logits="0, 0, 0, 5")
    np.testing.assert_allclose(explorer.logits, [0, 0, 0, 5])
    assert explorer.example == ""
    explorer.update(logits="-2, -1.5, 1, 0")
    assert explorer.example == "second"


@pytest.mark.parametrize("text, message", [
    ("1, x, 3, 4", "'x' is not a number"),
    ("1, 2, 3", "expected 4 numbers"),
    ("1, nan, 2, 3", "not a finite number"),
    ("  ", "type some numbers"),
])
def test_explorer_bad_logits_text_shows_an_error_without_raising(explorer, text, message):
    before = explorer.probs.copy()
    explorer.update(logits=text)  # must not raise
    assert message in explorer.error and explorer.get_state()["error"] == explorer.error
    np.testing.assert_allclose(explorer.probs, before)  # the last good state stays on screen
    explorer.update(logits="1, 2, 3, 4")  # and it recovers
    assert explorer.error == ""
    np.testing.assert_allclose(explorer.probs, softmax_t(np.array([1, 2, 3, 4.0])))


def test_explorer_bad_temperature_shows_an_error(explorer):
    explorer.update(T=-1)
    assert "T must be a positive finite number" in explorer.error
    assert explorer.T == 1.0


def test_explorer_with_own_logits_selects_no_example():
    w = temperature_explorer([0.0, 1.0, 2.0, 3.0], NAMES, examples={"first": Z})
    assert w.example == ""
    np.testing.assert_allclose(w.logits, [0, 1, 2, 3])
    w.example = "first"
    np.testing.assert_allclose(w.probs, softmax_t(Z))


def test_explorer_without_class_names_or_examples():
    w = temperature_explorer([3.0, 1.0])
    assert w.names == [] and w.choices == [] and w.class_names is None
    w.update(logits="1, 1")
    np.testing.assert_allclose(w.probs, [0.5, 0.5])
    w.update(logits="1, 1, 1")
    assert "expected 2 numbers" in w.error


@pytest.mark.parametrize("T_from, T_to", [(1.0, 5.0), (0.5, 2.0), (1.0, 100.0), (3.0, 4.0)])
def test_biggest_gain_is_the_class_whose_probability_grows_most(explorer, T_from, T_to):
    gains = softmax_t(Z, T_to) - softmax_t(Z, T_from)
    assert explorer.biggest_gain(T_from, T_to) == int(np.argmax(gains))
    assert explorer.biggest_gain(T_from, T_to) != int(np.argmax(Z))  # the top class loses


@pytest.mark.parametrize("kwargs, match", [
    ({}, "give logits, or examples"),
    ({"logits": np.zeros((2, 3))}, "one example's logits"),
    ({"logits": [1.0, np.inf]}, "logits must be finite"),
    ({"logits": [1.0, 2.0], "examples": {"x": [1.0, 2.0, 3.0]}}, r"examples\['x'\] must have"),
    ({"logits": [1.0, 2.0], "class_names": ["a"]}, "class_names must name all 2 classes"),
    ({"logits": [1.0, 2.0], "T": 0.0}, "T must be a positive"),
])
def test_explorer_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        temperature_explorer(**kwargs)


def test_parse_logits():
    np.testing.assert_allclose(parse_logits("1,2 ,  -3.5e0"), [1, 2, -3.5])
    with pytest.raises(ValueError, match="expected 2 numbers"):
        parse_logits("1, 2, 3", n=2)
    with pytest.raises(TypeError, match="text must be a str"):
        parse_logits([1, 2])
