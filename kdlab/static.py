"""Kernel-free twins of the explorers: a figure over precomputed values, scrubbed with a slider.

A static web page cannot run Python, so a widget there shows one frozen frame. :func:`scrubber`
draws the figure once per value and embeds the frames, with matplotlib's JavaScript player (its
``HTMLWriter``, what ``FuncAnimation.to_jshtml`` writes), in one self-contained piece of HTML: the
reader drags a slider or steps through the frames, and nothing is loaded from another site.
"""

from __future__ import annotations

import base64
import math
import numbers
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from IPython.display import HTML
from matplotlib.animation import HTMLWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["Scrubber", "scrubber", "MAX_FRAMES"]

MAX_FRAMES = 60  # each frame is an embedded PNG: keep pages (and saved notebooks) small

# matplotlib's player draws its buttons with Font Awesome icons from a CDN; these characters
# need no web font.
_ICONS = {
    "fa fa-minus": "\u2212",
    "fa fa-fast-backward": "|\u25c0\u25c0",
    "fa fa-step-backward": "|\u25c0",
    "fa fa-play fa-flip-horizontal": "\u25c0",
    "fa fa-pause": "\u275a\u275a",
    "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u25b6|",
    "fa fa-fast-forward": "\u25b6\u25b6|",
    "fa fa-plus": "+",
}
_REMOTE_CSS = re.compile(r'<link\s+rel="stylesheet"\s+href="https?://[^"]*"\s*/?>\s*')
_ICON = re.compile(r'<i class="(fa [^"]*)"></i>')
_CREATE = re.compile(r"(anim[0-9a-f]+) = new Animation\([^;]*\);")
_FRAME = re.compile(r'frames\[(\d+)\] = "data:image/png;base64,([^"]*)"')


class Scrubber(HTML):
    """The HTML of a scrubbable figure, with what it holds: ``values`` and the PNG ``frames``.

    Made by :func:`scrubber`; displays itself in Jupyter and on the website.
    """

    def __init__(self, html: str, values: Sequence):
        super().__init__(html)
        self.values = list(values)
        found = sorted((int(i), base64.b64decode(data)) for i, data in _FRAME.findall(html))
        self.frames = [png for _, png in found]

    @property
    def n_frames(self) -> int:
        """How many frames the HTML embeds."""
        return len(self.frames)


def _offline(html: str) -> str:
    """matplotlib's player without its remote stylesheet, icons as plain characters."""
    html = _REMOTE_CSS.sub("", html)

    def icon(match):
        name = match.group(1)
        if name not in _ICONS:
            raise RuntimeError(f"matplotlib's player uses an unknown icon {name!r}")
        return _ICONS[name]

    html = _ICON.sub(icon, html)
    if re.search(r'://|(?:src|href)="//', html):
        raise RuntimeError("matplotlib's player still refers to another site")
    return html


def _start_at(html: str, start: int) -> str:
    """The player, showing frame ``start`` first instead of frame 0."""
    html, found = _CREATE.subn(lambda m: f"{m.group(0)}\n        {m.group(1)}.set_frame({start});",
                               html)
    if found != 1:
        raise RuntimeError("matplotlib's player changed: cannot choose its first frame")
    return html


def scrubber(draw: Callable, values, *, start=0, figsize=(6.4, 3.2), dpi=72, interval=400,
             loop=False) -> Scrubber:
    """A figure drawn for each of ``values``, as self-contained HTML with a slider and buttons.

    Parameters
    ----------
    draw : callable
        ``draw(fig, value)`` draws one frame onto ``fig``, an empty matplotlib ``Figure``
        (constrained layout): add axes with ``fig.subplots()`` and plot, e.g. with
        :mod:`kdlab.plots`. Say which value a frame shows (a title), since the player shows
        only the frame number.
    values : sequence
        One frame per value, in slider order; 1 to ``MAX_FRAMES`` (60) of them.
    start : int, default 0
        The frame shown first (an index into ``values``), e.g. the one at ``T = 1``.
    figsize : (float, float), default (6.4, 3.2)
        Size of each frame in inches.
    dpi : int, default 72
        Resolution of the frames: ``figsize * dpi`` pixels; keep it low, every frame is
        embedded.
    interval : int, default 400
        Milliseconds between frames when the reader presses play.
    loop : bool, default False
        Whether play starts over after the last frame.

    Returns
    -------
    Scrubber
        An ``IPython.display.HTML``: a bare expression displays it. ``values`` holds the
        values, ``frames`` the PNG frames embedded (in order), ``n_frames`` their number. The
        HTML loads nothing from another site.

    Raises
    ------
    ValueError
        If ``values`` is empty or too long, ``start`` is not one of its indices, or
        ``figsize``, ``dpi`` or ``interval`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from kdlab.plots import plot_probs
    >>> from kdlab.temperature import softmax_t
    >>> z = np.array([2.0, 1.0, 0.0])
    >>> twin = scrubber(lambda fig, T: plot_probs(softmax_t(z, T), ax=fig.subplots(),
    ...                                           title=f"T = {T:g}"), [0.5, 1.0, 5.0])
    >>> twin.n_frames, "<script" in twin.data
    (3, True)

    See notebook 01.
    """
    if not callable(draw):
        raise TypeError(f"draw must be a function draw(fig, value), got {type(draw).__name__}")
    if isinstance(values, (str, bytes)):
        raise ValueError(f"values must be a sequence of frame values, got {values!r}")
    try:
        values = list(values)
    except TypeError:
        raise ValueError(f"values must be a sequence of frame values, got {values!r}") from None
    if not 1 <= len(values) <= MAX_FRAMES:
        raise ValueError(f"values: expected 1 to {MAX_FRAMES} frames, got {len(values)}")
    if isinstance(start, bool) or not isinstance(start, numbers.Integral) \
            or not 0 <= start < len(values):
        raise ValueError(f"start must be the index of a frame, 0 to {len(values) - 1}, "
                         f"got {start!r}")
    try:
        width, height = (float(s) for s in figsize)
    except (TypeError, ValueError):
        raise ValueError(f"figsize must be a (width, height) pair, got {figsize!r}") from None
    if not (0 < width < math.inf and 0 < height < math.inf):
        raise ValueError(f"figsize must be positive and finite, got {figsize!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not 0 < dpi < math.inf:
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    if isinstance(interval, bool) or not isinstance(interval, numbers.Real) \
            or not 0 < interval < math.inf:
        raise ValueError(f"interval must be a positive number of milliseconds, got {interval!r}")

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    writer = HTMLWriter(fps=1000 / interval, embed_frames=True,
                        default_mode="loop" if loop else "once")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "scrubber.html")
        with writer.saving(fig, path, dpi):
            for value in values:
                fig.clear()
                draw(fig, value)
                writer.grab_frame()
        html = path.read_text()
    twin = Scrubber(_start_at(_offline(html), int(start)), values)
    if twin.n_frames != len(values):
        raise ValueError(f"only {twin.n_frames} of {len(values)} frames fit in matplotlib's "
                         "animation.embed_limit: use fewer values, a smaller figsize or dpi")
    return twin
