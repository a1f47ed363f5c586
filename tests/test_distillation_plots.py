"""The plots of chapter 02's results (errors, (alpha, T) grid, bias shifts), from the Axes.

Chapter 02's explorers, drawn in the browser: tests/test_soft_target_explorers.py.
"""

from __future__ import annotations

import importlib
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import kdlab
from kdlab.experiments import PAPER_MNIST
from kdlab.plots import plot_alpha_temperature_grid, plot_bias_shift, plot_errors

ALPHAS = [0.0, 0.5, 0.9, 1.0]
TEMPERATURES = [1.0, 2.0, 5.0, 20.0]


@pytest.fixture
def ax():
    return Figure().subplots()


@pytest.fixture
def grid():
    """A (alpha, T) grid of error counts with a single best cell."""
    rng = np.random.default_rng(0)
    errors = rng.permutation(np.arange(len(ALPHAS) * len(TEMPERATURES)) + 20)
    return errors.reshape(len(ALPHAS), len(TEMPERATURES)).astype(float)


def heights(container):
    return np.array([bar.get_height() for bar in container])


def texts(ax):
    return [t.get_text() for t in ax.texts]


def outlined_cells(ax):
    """The (row, column) cells outlined by an unfilled rectangle on a heat map."""
    return [(round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in ax.patches
            if isinstance(p, Rectangle) and not p.get_fill()
            and p.get_width() == 1 and p.get_height() == 1]


# --- plot_errors ---------------------------------------------------------------------------------


def test_plot_errors_draws_annotated_bars(ax):
    names = ["teacher", "student", "distilled"]
    errors = [PAPER_MNIST[k] for k in names]
    out = plot_errors(names, errors, ax=ax, title="MNIST")
    assert out is ax
    np.testing.assert_array_equal(heights(ax.containers[0]), errors)
    np.testing.assert_array_equal([b.get_x() + b.get_width() / 2 for b in ax.containers[0]],
                                  np.arange(len(names)))
    assert texts(ax) == [f"{e:g}" for e in errors]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_ylabel() == "test errors" and ax.get_title() == "MNIST"
    assert ax.get_legend() is None  # nothing to compare with


def test_plot_errors_annotates_rates_and_custom_label(ax):
    rates = [0.445, 0.570, 0.589]
    plot_errors(["hard 3%", "soft 3%", "full"], rates, ax=ax, ylabel="frame accuracy")
    assert texts(ax) == ["0.445", "0.57", "0.589"]
    assert ax.get_ylabel() == "frame accuracy" and ax.get_title() == ""


def test_plot_errors_draws_the_reference(ax):
    ours = np.array([30.0, 70.0, 35.0])
    reference = [67 * 0.5, 146 * 0.5, 74 * 0.5]  # the paper's, scaled to 5000 test images
    plot_errors(["t", "s", "d"], ours, ax=ax, reference=reference)
    np.testing.assert_array_equal(heights(ax.containers[0]), ours)
    offsets = np.asarray(ax.collections[0].get_offsets())
    np.testing.assert_allclose(offsets, np.column_stack([np.arange(3), reference]))
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["ours", "reference"]


def test_plot_errors_default_labels_and_new_figure():
    import matplotlib.pyplot as plt

    ax = plot_errors(None, [1, 2])
    try:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    finally:
        plt.close(ax.figure)


@pytest.mark.parametrize("kwargs, match", [
    ({"errors": [[1, 2], [3, 4]]}, "errors must be 1-d"),
    ({"errors": []}, "errors"),
    ({"errors": [1.0, np.nan]}, "errors must be finite"),
    ({"reference": [1.0]}, "reference must have one value per bar"),
    ({"reference": [1.0, np.inf]}, "reference must be finite"),
])
def test_plot_errors_bad_input(ax, kwargs, match):
    kwargs = {"labels": ["a", "b"], "errors": [1, 2], **kwargs}
    with pytest.raises(ValueError, match=match):
        plot_errors(ax=ax, **kwargs)


def test_plot_errors_wrong_number_of_labels_names_labels(ax):
    with pytest.raises(ValueError, match="labels"):
        plot_errors(["a"], [1, 2], ax=ax)


# --- plot_alpha_temperature_grid -----------------------------------------------------------------


def test_plot_alpha_temperature_grid_shows_every_cell(ax, grid):
    out = plot_alpha_temperature_grid(grid, ALPHAS, TEMPERATURES, ax=ax, title="sweep")
    assert out is ax
    np.testing.assert_array_equal(ax.images[0].get_array(), grid)
    assert texts(ax) == [f"{v:g}" for v in grid.ravel()]  # row by row
    for text, (i, j) in zip(ax.texts, np.ndindex(grid.shape), strict=True):
        assert text.get_position() == (j, i)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{t:g}" for t in TEMPERATURES]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{a:g}" for a in ALPHAS]
    assert ax.get_xlabel() == "temperature T" and "α" in ax.get_ylabel()
    assert ax.get_title() == "sweep"
    colorbars = [a for a in ax.figure.axes if a is not ax]
    assert [a.get_ylabel() for a in colorbars] == ["test errors"]
    assert outlined_cells(ax) == []


def luminance(colour):
    r, g, b = to_rgb(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_plot_alpha_temperature_grid_colour_bar_label_and_contrasting_text(ax, grid):
    plot_alpha_temperature_grid(grid, ALPHAS, TEMPERATURES, ax=ax, label="errors")
    assert [a.get_ylabel() for a in ax.figure.axes if a is not ax] == ["errors"]
    colour = {t.get_text(): t.get_color() for t in ax.texts}
    assert colour[f"{grid.min():g}"] != colour[f"{grid.max():g}"]


def test_plot_alpha_temperature_grid_text_is_readable_on_its_cell(ax, grid):
    plot_alpha_temperature_grid(grid, ALPHAS, TEMPERATURES, ax=ax)
    image = ax.images[0]
    for text, value in zip(ax.texts, grid.ravel(), strict=True):
        cell = luminance(image.cmap(image.norm(value)))
        assert abs(cell - luminance(text.get_color())) > 0.4, (value, text.get_color())


@pytest.mark.parametrize("cell", [(0, 0), (3, 1), (2, 3)])
def test_plot_alpha_temperature_grid_outlines_the_highlight(ax, grid, cell):
    plot_alpha_temperature_grid(grid, ALPHAS, TEMPERATURES, ax=ax, highlight=cell)
    assert outlined_cells(ax) == [cell]


@pytest.mark.parametrize("kwargs, match", [
    ({"errors": np.zeros((3, 4))}, "errors must have shape"),
    ({"errors": np.zeros(16)}, "errors must have shape"),
    ({"alphas": ALPHAS[:2]}, "errors must have shape"),
    ({"errors": np.full((4, 4), np.nan)}, "errors must be finite"),
    ({"highlight": (4, 0)}, "highlight"),
    ({"highlight": (0, 4)}, "highlight"),
    ({"highlight": (-1, 0)}, "highlight"),
])
def test_plot_alpha_temperature_grid_bad_input(ax, grid, kwargs, match):
    kwargs = {"errors": grid, "alphas": ALPHAS, "temperatures": TEMPERATURES, **kwargs}
    with pytest.raises(ValueError, match=match):
        plot_alpha_temperature_grid(ax=ax, **kwargs)


def test_plot_alpha_temperature_grid_highlight_must_be_a_pair(ax, grid):
    with pytest.raises((ValueError, TypeError), match="highlight"):
        plot_alpha_temperature_grid(grid, ALPHAS, TEMPERATURES, ax=ax, highlight=3)


# --- plot_bias_shift -----------------------------------------------------------------------------


def test_plot_bias_shift_one_curve_and_the_chosen_shift(ax):
    shifts = np.linspace(0, 5, 11)
    errors = (shifts - PAPER_MNIST["bias_shift"]) ** 2 + 3
    out = plot_bias_shift(shifts, errors, chosen=PAPER_MNIST["bias_shift"], ax=ax, title="3s")
    assert out is ax
    curve, chosen = ax.lines
    np.testing.assert_array_equal(curve.get_xdata(), shifts)
    np.testing.assert_array_equal(curve.get_ydata(), errors)
    np.testing.assert_array_equal(chosen.get_xdata(), [3.5, 3.5])
    assert chosen.get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["errors", "chosen: 3.5"]
    assert ax.get_xlabel() == "shift added to the bias"
    assert ax.get_ylabel() == "validation errors" and ax.get_title() == "3s"


def test_plot_bias_shift_several_curves(ax):
    shifts = [-1.0, 0.0, 1.0, 2.0]
    curves = {"all": [9, 7, 5, 6], "on 3s": [8, 5, 1, 0]}
    plot_bias_shift(shifts, curves, ax=ax, ylabel="test errors")
    assert [line.get_label() for line in ax.lines] == list(curves)
    for line, values in zip(ax.lines, curves.values(), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), shifts)
        np.testing.assert_array_equal(line.get_ydata(), values)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(curves)
    assert ax.get_ylabel() == "test errors"


def test_plot_bias_shift_without_choice_has_no_legend(ax):
    plot_bias_shift([0, 1], [2, 1], ax=ax)
    assert len(ax.lines) == 1 and ax.get_legend() is None


@pytest.mark.parametrize("kwargs, match", [
    ({"errors": [1, 2]}, r"errors\['errors'\] must have one value per shift"),
    ({"errors": {"a": [1, 2, 3], "b": [1, 2]}}, r"errors\['b'\] must have one value per shift"),
    ({"errors": {}}, "errors must not be empty"),
    ({"errors": [1, np.nan, 3]}, r"errors\['errors'\] must be finite"),
    ({"grid": [0, np.inf, 2]}, "grid must be finite"),
    ({"grid": []}, "grid"),
])
def test_plot_bias_shift_bad_input(ax, kwargs, match):
    kwargs = {"grid": [0, 1, 2], "errors": [3, 2, 4], **kwargs}
    with pytest.raises(ValueError, match=match):
        plot_bias_shift(ax=ax, **kwargs)


@pytest.mark.parametrize("chosen", [float("nan"), "best"])
def test_plot_bias_shift_bad_chosen_names_it(ax, chosen):
    with pytest.raises(ValueError, match="chosen"):
        plot_bias_shift([0, 1, 2], [3, 2, 4], chosen=chosen, ax=ax)


# --- no global matplotlib state ------------------------------------------------------------------


def raw_rcparams():
    # read the raw values: rcParams["backend"] would itself resolve (and import) pyplot
    return {k: dict.__getitem__(matplotlib.rcParams, k) for k in dict.keys(matplotlib.rcParams)}


def test_chapter_02_plots_and_widgets_leave_matplotlib_alone(monkeypatch):
    """Import both modules afresh and use every chapter-02 function: no rcParams written, no pyplot.

    (A subprocess would see a pristine matplotlib, but importing torch there takes seconds; the
    chapter-01 test in test_plots.py already does that for the import.)
    """
    before, writes = raw_rcparams(), []
    set_item = matplotlib.RcParams.__setitem__

    def spy(self, key, value):  # every rcParams[...] = ..., update(), rc(), use() comes here
        writes.append(key)
        set_item(self, key, value)

    monkeypatch.setattr(matplotlib.RcParams, "__setitem__", spy)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # importing pyplot now fails
    for name in ("plots", "widgets"):  # the originals come back after the test
        monkeypatch.delitem(sys.modules, f"kdlab.{name}")
        monkeypatch.setattr(kdlab, name, getattr(kdlab, name))
    plots = importlib.import_module("kdlab.plots")
    fresh = importlib.import_module("kdlab.widgets")
    assert plots.plot_errors is not plot_errors and raw_rcparams() == before  # really afresh
    plots.plot_errors(["a", "b"], [1, 2], ax=Figure().subplots(), reference=[2, 1])
    plots.plot_alpha_temperature_grid([[1, 2]], [1.0], [2, 4], ax=Figure().subplots(),
                                      highlight=(0, 1))
    plots.plot_bias_shift([0, 1], {"x": [2, 1]}, chosen=1, ax=Figure().subplots())
    fresh.soft_target_explorer(np.zeros((2, 4)), [[1.0, 0], [0, 1]], (2, 2)).update(T=3.0)
    fresh.alpha_temperature_explorer([[3, 1], [2, 4]], [0.5, 1.0], [2, 20], [[1.0, 0]],
                                     [[0.0, 0]], [0]).update(alpha=0.5)
    assert writes == [] and raw_rcparams() == before
