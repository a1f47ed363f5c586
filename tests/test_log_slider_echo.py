"""A log slider's browser echoes must not move T.

ipywidgets 8's FloatLogSliderView sends back every value Python sets, snapped to its grid
(T = 5 returns as 10**0.70 = 5.012), and late: after a cell that sets T = 0.1, 5 and 1 in
turn, the kernel reads the echoes after the cell, as if someone had dragged the slider (chapter
01's self-check left its explorer at T = 5.01 in JupyterLab). Every explorer with a log-scale T
slider keeps the T Python asked for, and still follows a real drag. (Chapter 01's temperature
explorer draws its own slider in the browser, kdlab/js/temperature.js, which sets T only when a
person moves it: it sends no echoes; so do chapter 02's.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kdlab.widgets import (
    _LogSliderEchoes,
    soft_kmeans_explorer,
)

KINDS = ["soft k-means"]


def browser_value(slider, value):
    """What the front end sends back (its JavaScript, re-done independently): noUiSlider snaps
    log_base(value), clamped to [min, max], to min + k * step; the view sends base ** that
    when it differs from the value it was given."""
    position = min(max(math.log10(value) / math.log10(slider.base), slider.min), slider.max)
    k = round((position - slider.min) / slider.step)
    return slider.base ** (slider.min + k * slider.step)


def make(kind):
    rng = np.random.default_rng(0)
    return soft_kmeans_explorer(rng.normal(size=(20, 2)), np.array([[-1.0, 0.0], [1.0, 0.0]]))


def browser_echoes(w, values):
    """The echoes of ``values`` (set from Python, in that order) arriving at the kernel."""
    for v in values:
        if browser_value(w.slider, v) != v:
            w.slider.value = browser_value(w.slider, v)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T", [5.0, 0.3, 42.0])
def test_the_echo_of_one_update_does_not_move_T(kind, T):
    w = make(kind)
    w.update(T=T)
    assert browser_value(w.slider, T) != T  # off the slider's grid: the case this guards
    browser_echoes(w, [T])
    assert w.T == T
    assert w.slider.value == browser_value(w.slider, T)  # left alone: no endless ping-pong


@pytest.mark.parametrize("kind", KINDS)
def test_late_echoes_of_a_cell_that_set_several_T_do_not_move_T(kind):
    w = make(kind)
    for T in (0.1, 5.0, 1.0):  # chapter 01's self-check
        w.update(T=T)
    browser_echoes(w, [0.1, 5.0, 1.0])
    assert w.T == 1.0
    assert w.slider.value == 1.0  # put back: ipywidgets shows every view the kernel's value
    browser_echoes(w, [0.1, 5.0, 1.0])  # a second view of the same explorer echoes too
    assert w.T == 1.0 and w.slider.value == 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_drags_still_move_T_including_onto_a_value_set_before(kind):
    w = make(kind)
    w.update(T=5.0)
    browser_echoes(w, [5.0])
    for target in (browser_value(w.slider, 2.0), 0.5, browser_value(w.slider, 5.0), 1.0):
        w.slider.value = target  # a person dragging, continuous updates included
        assert w.T == pytest.approx(target, rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_typing_a_value_set_before_as_the_first_move_is_followed(kind):
    w = make(kind)
    for T in (0.1, 5.0, 1.0):
        w.update(T=T)
    browser_echoes(w, [5.0])  # only off-grid values come back (0.1 and 1 are grid points)
    w.slider.value = 5.0  # typed into the readout: not the echo 5.012
    assert w.T == 5.0


def test_grid_matches_the_front_end_and_clips_to_the_range():
    import ipywidgets as widgets

    slider = widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.01)
    echoes = _LogSliderEchoes(slider)
    for v in (5.0, 0.3, 42.0, 1.0, 1e-5, 1e5, 0.0123):
        assert echoes.grid(v) == pytest.approx(browser_value(slider, v), rel=1e-12)
    assert echoes.grid(1e5) == pytest.approx(100.0) and echoes.grid(1e-5) == pytest.approx(0.01)
    two = widgets.FloatLogSlider(value=1.0, base=2, min=-3, max=3, step=0.5)
    assert _LogSliderEchoes(two).grid(3.0) == pytest.approx(2 ** 1.5)
