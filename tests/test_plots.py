"""Tests for kdlab.plots: pure functions on an Axes, read back from the Axes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.special
from matplotlib.figure import Figure

from kdlab.plots import (
    plot_class_matrix,
    plot_image,
    plot_probs,
    plot_temperature_curves,
    plot_vs_temperature,
)
from kdlab.temperature import entropy, softmax_t

NAMES = ["cat", "dog", "car", "ship"]
Z = np.array([2.0, 1.5, -1.0, 0.0])


@pytest.fixture
def ax():
    return Figure().subplots()


def heights(container):
    return np.array([bar.get_height() for bar in container])


# --- plots: chapter 01 ---------------------------------------------------------------------------


def test_plot_probs_draws_one_bar_per_class_with_labelled_axes(ax):
    p = scipy.special.softmax(Z)
    out = plot_probs(p, NAMES, ax=ax, title="one example")
    assert out is ax
    np.testing.assert_allclose(heights(ax.containers[0]), p)
    assert ax.get_xlabel() == "class" and ax.get_ylabel() == "probability"
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert ax.get_title() == "one example"
    assert ax.get_ylim() == (0.0, 1.0)


def test_plot_probs_groups_several_rows_with_a_legend(ax):
    rows = np.stack([softmax_t(Z, T) for T in (1.0, 5.0, 20.0)])
    plot_probs(rows, NAMES, ax=ax, labels=["T=1", "T=5", "T=20"], highlight=1)
    assert len(ax.containers) == 3
    for container, row in zip(ax.containers, rows, strict=True):
        np.testing.assert_allclose(heights(container), row)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["T=1", "T=5", "T=20"]


def test_plot_probs_default_names_and_new_figure():
    import matplotlib.pyplot as plt

    ax = plot_probs([0.25, 0.75])
    try:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    finally:
        plt.close(ax.figure)


@pytest.mark.parametrize("kwargs, match", [
    ({"probs": [0.5, 0.5], "class_names": ["a"]}, "class_names must name all 2 classes"),
    ({"probs": [[0.5, 0.5]], "labels": ["a", "b"]}, "labels must name all 1 rows"),
    ({"probs": [0.5, np.nan]}, "probs must be finite"),
    ({"probs": np.zeros((1, 1, 2))}, "probs must be a non-empty 1-d or 2-d array"),
])
def test_plot_probs_bad_input(ax, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_probs(ax=ax, **kwargs)


def test_plot_temperature_curves_probs(ax):
    Ts = np.logspace(-1, 1, 7)
    plot_temperature_curves(Z, Ts, NAMES, ax=ax, title="curves")
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "temperature T" and ax.get_ylabel() == "probability"
    lines = {line.get_label(): line for line in ax.lines}
    for k, name in enumerate(NAMES):
        np.testing.assert_allclose(lines[name].get_xdata(), Ts)
        np.testing.assert_allclose(lines[name].get_ydata(), [softmax_t(Z, T)[k] for T in Ts])
    assert "uniform 1/C" in lines


def test_plot_temperature_curves_entropy(ax):
    plot_temperature_curves(Z, kind="entropy", ax=ax)
    assert ax.get_ylabel() == "entropy (nats)" and ax.get_xscale() == "log"
    line = ax.lines[0]
    Ts, H = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(H, [entropy(softmax_t(Z, T)) for T in Ts])
    assert np.all(np.diff(H) >= -1e-12)  # grows with T


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "bars"}, "kind must be 'probs' or 'entropy'"),
    ({"logits": np.zeros((2, 3))}, "logits must be one example's logits"),
    ({"temperatures": [1.0, -1.0]}, "temperatures must be a 1-d array of positive numbers"),
])
def test_plot_temperature_curves_bad_input(ax, kwargs, match):
    kwargs = {"logits": Z, **kwargs}
    with pytest.raises(ValueError, match=match):
        plot_temperature_curves(ax=ax, **kwargs)


def test_plot_image(ax):
    x = np.linspace(0, 1, 12)
    plot_image(x, (3, 4), ax=ax, title="an image")
    np.testing.assert_allclose(ax.images[0].get_array(), x.reshape(3, 4))
    assert ax.get_xticks().size == 0 and ax.get_title() == "an image"
    with pytest.raises(ValueError, match="cannot be reshaped to image_shape"):
        plot_image(x, (5, 5), ax=ax)


def test_plot_vs_temperature(ax):
    Ts = [1.0, 10.0, 100.0]
    plot_vs_temperature(Ts, {"a": [1, 2, 3], "b": [3, 2, 1]}, ax=ax, ylabel="size")
    assert [line.get_label() for line in ax.lines] == ["a", "b"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [3, 2, 1])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "temperature T" and ax.get_ylabel() == "size"
    with pytest.raises(ValueError, match="must have one value per temperature"):
        plot_vs_temperature(Ts, {"a": [1, 2]}, ax=ax)
    with pytest.raises(TypeError, match="curves must be a non-empty dict"):
        plot_vs_temperature(Ts, [1, 2, 3], ax=ax)


def test_plot_class_matrix(ax):
    m = np.array([[0.9, 0.1], [0.3, 0.7]])
    plot_class_matrix(m, ["a", "b"], ax=ax, title="soft targets", label="mean probability")
    np.testing.assert_allclose(ax.images[0].get_array(), m)
    assert ax.get_xlabel() == "class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.texts] == ["0.90", "0.10", "0.30", "0.70"]
    with pytest.raises(ValueError, match="matrix must be square"):
        plot_class_matrix(np.zeros((2, 3)), ax=ax)


def test_plot_class_matrix_names_its_axes_and_centres_a_diverging_scale(ax):
    cov = np.array([[0.09, -0.01, -0.08], [-0.01, 0.02, -0.01], [-0.08, -0.01, 0.09]])
    plot_class_matrix(cov, ax=ax, cmap="RdBu_r", center=0.0, xlabel="P_j", ylabel="P_i")
    assert ax.get_xlabel() == "P_j" and ax.get_ylabel() == "P_i"
    image = ax.images[0]
    assert image.get_clim() == pytest.approx((-0.09, 0.09))
    white = image.cmap(image.norm(0.0))  # the middle of RdBu_r, where 0 is
    assert white == pytest.approx(image.cmap(0.5))
    for bad in (float("nan"), "0", True):
        with pytest.raises(ValueError, match="center must be a finite number"):
            plot_class_matrix(cov, ax=ax, center=bad)


@pytest.mark.parametrize("cmap", ["Blues", "viridis", "Greys_r"])
def test_plot_class_matrix_text_is_readable_on_its_cell(ax, cmap):
    from matplotlib.colors import to_rgb

    def luminance(colour):
        r, g, b = to_rgb(colour)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    m = np.linspace(0, 1, 16).reshape(4, 4)
    plot_class_matrix(m, ax=ax, cmap=cmap)
    image = ax.images[0]
    colours = set()
    for text, value in zip(ax.texts, m.ravel(), strict=True):
        assert abs(luminance(image.cmap(image.norm(value))) - luminance(text.get_color())) > 0.4
        colours.add(text.get_color())
    assert colours == {"black", "white"}


def test_importing_plots_and_widgets_leaves_matplotlib_alone():
    code = (  # read the raw values: rcParams["backend"] would itself import pyplot
        "import sys, matplotlib\n"
        "raw = lambda: {k: dict.__getitem__(matplotlib.rcParams, k) "
        "for k in dict.keys(matplotlib.rcParams)}\n"
        "before = raw()\n"
        "import kdlab.plots, kdlab.widgets\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
        "assert raw() == before, 'rcParams changed'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
