"""Tests for kdlab.static: the kernel-free twins (a figure per value, scrubbed in the browser).

The player itself is exercised in a real browser by tests/test_browser.py; here: the frames it
embeds, what its HTML refers to, and bad input.
"""

from __future__ import annotations

import doctest
import io
import re

import numpy as np
import PIL.Image
import pytest
from IPython.display import HTML

import kdlab.static
from kdlab.plots import plot_probs
from kdlab.static import MAX_FRAMES, scrubber
from kdlab.temperature import softmax_t

Z = np.array([2.0, 1.0, -0.5])


def bars(fig, T):
    plot_probs(softmax_t(Z, T), ["a", "b", "c"], ax=fig.subplots(), title=f"T = {T:g}")


@pytest.fixture(scope="module")
def twin():
    return scrubber(bars, [0.5, 1.0, 5.0], start=1, figsize=(3, 2), dpi=50)


def test_one_png_frame_per_value_of_the_figure_size(twin):
    assert isinstance(twin, HTML)
    assert twin.values == [0.5, 1.0, 5.0]
    assert twin.n_frames == 3 == len(twin.frames)
    for png in twin.frames:
        image = PIL.Image.open(io.BytesIO(png))
        assert image.format == "PNG"
        assert image.size == (150, 100)  # figsize * dpi


def test_frames_are_drawn_in_order_each_from_an_empty_figure():
    seen = []

    def draw(fig, value):
        seen.append((value, len(fig.axes)))
        fig.subplots().plot([0, 1], [0, value])

    twin = scrubber(draw, [3, 1, 2], figsize=(2, 2), dpi=30)
    assert seen == [(3, 0), (1, 0), (2, 0)]
    assert twin.n_frames == 3


def test_each_frame_shows_its_own_value():
    twin = scrubber(bars, [1.0, 1.0, 50.0], figsize=(3, 2), dpi=40)
    first, same, other = twin.frames
    assert first == same
    assert first != other


def test_the_html_is_a_player_that_loads_nothing_from_another_site(twin):
    html = twin.data
    assert twin._repr_html_() == html
    assert re.search(r'<input id="_anim_slider\w+" type="range"', html)
    assert re.search(r'<img id="_anim_img\w+"', html)
    assert 'title="Next frame"' in html
    assert "new Array(3)" in html
    assert "://" not in html  # no CDN, no remote stylesheet
    assert "fa fa-" not in html  # the icons are plain characters, no web font


def test_it_starts_at_the_frame_asked_for(twin):
    assert re.search(r"anim\w+ = new Animation\([^;]*\);\s*anim\w+\.set_frame\(1\);", twin.data)
    default = scrubber(bars, [1.0, 2.0], figsize=(2, 2), dpi=30)
    assert ".set_frame(0);" in default.data


def test_play_mode_follows_loop():
    once = scrubber(bars, [1.0], figsize=(2, 2), dpi=30)
    looping = scrubber(bars, [1.0], figsize=(2, 2), dpi=30, loop=True)
    assert re.search(r'value="once"[^>]*\n?\s*checked', once.data)
    assert re.search(r'value="loop"[^>]*\n?\s*checked', looping.data)


def test_figures_stay_out_of_pyplot():
    plt = pytest.importorskip("matplotlib.pyplot")
    before = plt.get_fignums()
    scrubber(bars, [1.0, 2.0], figsize=(2, 2), dpi=30)
    assert plt.get_fignums() == before


def test_an_error_while_drawing_is_raised():
    def broken(fig, value):
        raise RuntimeError(f"cannot draw {value}")

    with pytest.raises(RuntimeError, match="cannot draw 1"):
        scrubber(broken, [1])


@pytest.mark.parametrize("values", [[], "abc", 3, list(range(MAX_FRAMES + 1))])
def test_bad_values(values):
    with pytest.raises(ValueError, match="values"):
        scrubber(bars, values)


@pytest.mark.parametrize("start", [-1, 2, 1.0, True, None])
def test_bad_start(start):
    with pytest.raises(ValueError, match="start"):
        scrubber(bars, [1.0, 2.0], start=start)


@pytest.mark.parametrize("kwargs", [
    {"figsize": (0, 2)}, {"figsize": (2,)}, {"figsize": "big"}, {"figsize": (np.inf, 2)},
    {"dpi": 0}, {"dpi": -72}, {"dpi": True}, {"dpi": "72"}, {"dpi": np.nan},
    {"interval": 0}, {"interval": np.inf}, {"interval": None},
])
def test_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        scrubber(bars, [1.0], **kwargs)


def test_draw_must_be_callable():
    with pytest.raises(TypeError, match="draw"):
        scrubber("bars", [1.0])


def test_frames_that_do_not_fit_the_embed_limit_are_an_error():
    import matplotlib as mpl

    with mpl.rc_context({"animation.embed_limit": 1e-4}), pytest.raises(ValueError, match="fit"):
        scrubber(bars, [1.0, 2.0], figsize=(2, 2), dpi=30)


def test_an_unknown_icon_or_remote_reference_is_refused():
    with pytest.raises(RuntimeError, match="icon"):
        kdlab.static._offline('<i class="fa fa-rocket"></i>')
    with pytest.raises(RuntimeError, match="another site"):
        kdlab.static._offline('<img src="https://example.org/x.png">')
    assert kdlab.static._offline(
        '<link rel="stylesheet"\nhref="https://cdn.example/fa.css">\n<i class="fa fa-play"></i>'
    ) == "\u25b6"


def test_the_docstring_example_runs():
    result = doctest.testmod(kdlab.static, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
