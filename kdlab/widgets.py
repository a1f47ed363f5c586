"""Thin ipywidgets wrappers around :mod:`kdlab.plots` for exploring ideas by hand.

Figures are drawn with matplotlib's object API (no pyplot, no global state) and shown as PNG
images in an ``ipywidgets.Output``, so they work in any Jupyter front end and backend.
"""

from __future__ import annotations

import html
import io
import math

import ipywidgets as widgets
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kdlab.plots import plot_probs
from kdlab.temperature import entropy, softmax_t

__all__ = ["TemperatureExplorer", "temperature_explorer", "parse_logits"]


def parse_logits(text: str, n: int | None = None) -> np.ndarray:
    """Parse comma- or space-separated numbers into a float64 array of logits.

    Parameters
    ----------
    text : str
        E.g. ``"2.0, 1, -0.5"``.
    n : int, optional
        The number of values required.

    Returns
    -------
    numpy.ndarray, shape (k,)

    Raises
    ------
    ValueError
        If a value is not a finite number, there are none, or not ``n`` of them.

    Examples
    --------
    >>> parse_logits("2, 1.5 -1")
    array([ 2. ,  1.5, -1. ])

    See notebook 01.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    parts = text.replace(",", " ").split()
    if not parts:
        raise ValueError("logits: type some numbers separated by commas, e.g. 2, 1, -0.5")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"logits: {part!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"logits: {part!r} is not a finite number")
        values.append(value)
    if n is not None and len(values) != n:
        raise ValueError(f"logits: expected {n} numbers (one per class), got {len(values)}")
    return np.array(values)


def _as_logits(logits) -> np.ndarray:
    """One example's logits as a checked 1-d float64 array."""
    z = np.asarray(logits, dtype=float)
    softmax_t(z)  # raises ValueError for nan/inf or no classes
    if z.ndim != 1:
        raise ValueError(f"logits must be one example's logits (1-d), got shape {z.shape}")
    return z


def _format_logits(z) -> str:
    return ", ".join(f"{v + 0.0:.2f}" for v in np.asarray(z, dtype=float))  # no "-0.00"


class TemperatureExplorer(widgets.VBox):
    """A temperature slider, editable logits and the softmax bars with their entropy.

    Build it with :func:`temperature_explorer`. For tests and scripts, :meth:`update` sets
    ``T`` and/or the logits and redraws; read the result from ``probs``, ``entropy_value``,
    ``bars`` (the displayed bar heights) and ``error`` (the message shown for bad input).

    See notebook 01.
    """

    def __init__(self, logits=None, class_names=None, T=1.0, examples=None,
                 figsize=(6.4, 3.0), dpi=80):
        examples = {} if examples is None else dict(examples)
        examples = {str(k): np.asarray(v, dtype=float) for k, v in examples.items()}
        if logits is None:
            if not examples:
                raise ValueError("logits: give logits, or examples to pick them from")
            logits = next(iter(examples.values()))
        z = _as_logits(logits)
        for name, v in examples.items():
            if v.shape != z.shape:
                raise ValueError(f"examples[{name!r}] must have shape {z.shape}, got {v.shape}")
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.logits = z
        self.T = float(T)
        self.error = ""
        self._syncing = False

        self.slider = widgets.FloatLogSlider(
            value=self.T, base=10, min=-2, max=2, step=0.01, description="T",
            readout_format=".3g", continuous_update=True,
            layout=widgets.Layout(width="420px"))
        self.logits_text = widgets.Text(
            value=_format_logits(z), description="logits", continuous_update=False,
            layout=widgets.Layout(width="620px"))
        self.dropdown = widgets.Dropdown(options=list(examples), description="example",
                                         index=next((k for k, v in enumerate(examples.values())
                                                     if np.allclose(v, z)), None),
                                         layout=widgets.Layout(width="420px"))
        self.examples = examples
        self.status = widgets.HTML()
        self.output = widgets.Output()

        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_subplot()
        plot_probs(softmax_t(z, self.T), self.class_names, ax=self.ax,
                   title="softmax(z / T): drag the T slider, edit the logits")
        self.bars = list(self.ax.containers[0])
        self.label = self.ax.text(0.98, 0.95, "", transform=self.ax.transAxes, ha="right",
                                  va="top", fontsize="small")
        self._dynamic = [*self.bars, self.label]
        self._cache_background()

        self.slider.observe(self._on_slider, names="value")
        self.logits_text.observe(self._on_text, names="value")
        self.dropdown.observe(self._on_dropdown, names="value")
        controls = [self.dropdown] if examples else []
        super().__init__(children=[*controls, self.slider, self.logits_text, self.status,
                                   self.output])
        self.update()

    # --- the one place that computes and draws -------------------------------------------------

    def update(self, T=None, logits=None):
        """Set ``T`` and/or ``logits`` (array or text), recompute and redraw; returns ``self``.

        Bad input never raises: it is shown in ``status`` and kept in ``error``, and the
        previous valid state stays on screen.
        """
        try:
            if T is not None:
                T = float(T)
                softmax_t(self.logits, T)  # validates T
            if logits is not None:
                n = None if self.class_names is None else len(self.class_names)
                z = parse_logits(logits, n) if isinstance(logits, str) else _as_logits(logits)
                if z.shape != self.logits.shape:
                    raise ValueError(f"logits: expected {self.logits.size} numbers "
                                     f"(one per class), got {z.size}")
                self.logits = z
            if T is not None:
                self.T = T
        except (TypeError, ValueError) as err:
            self.error = str(err)
            self.status.value = f'<span style="color:#b00020">{html.escape(self.error)}</span>'
            return self
        self.error = ""
        self._sync_controls()
        self.probs = softmax_t(self.logits, self.T)
        self.entropy_value = float(entropy(self.probs))
        self._draw()
        return self

    def _draw(self):
        """Set the bar heights and redraw only the bars and the label onto the cached axes."""
        top = int(np.argmax(self.probs))
        for i, (bar, p) in enumerate(zip(self.bars, self.probs, strict=True)):
            bar.set_height(p)
            bar.set_color("C3" if i == top else "C0")
        n = len(self.probs)
        self.label.set_text(f"T = {self.T:.3g}\nH = {self.entropy_value:.3f} nats")
        self.status.value = (f"entropy H = <b>{self.entropy_value:.3f}</b> nats &nbsp; "
                             f"(one-hot: 0, uniform: log {n} = {math.log(n):.3f}); "
                             f"largest p = {self.probs[top]:.3f} ({self._name(top)})")
        canvas = self.figure.canvas
        canvas.restore_region(self._background)
        for artist in self._dynamic:
            self.ax.draw_artist(artist)
        buffer = io.BytesIO()
        PIL.Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png",
                                                                    compress_level=1)
        self.png = buffer.getvalue()
        self._show()

    def _cache_background(self):
        """Draw everything but the bars and the label once, and keep the pixels."""
        for artist in self._dynamic:
            artist.set_visible(False)
        self.figure.canvas.draw()
        self.figure.set_layout_engine("none")  # the layout is fixed from now on
        self._background = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        for artist in self._dynamic:
            artist.set_visible(True)

    def _show(self):
        """Put the current PNG in the output area (only inside a running IPython kernel)."""
        from IPython import get_ipython
        from IPython.display import Image, display

        if get_ipython() is None:
            return
        with self.output:
            self.output.clear_output(wait=True)
            display(Image(data=self.png, format="png"))

    def _name(self, i: int) -> str:
        return str(i) if self.class_names is None else self.class_names[i]

    def _sync_controls(self):
        """Show the current state in the controls without triggering another update."""
        self._syncing = True
        try:
            if self.slider.value != self.T:
                self.slider.value = self.T
            text = _format_logits(self.logits)
            try:
                same = np.allclose(parse_logits(self.logits_text.value), self.logits, atol=5e-3)
            except ValueError:
                same = False
            if not same:
                self.logits_text.value = text
        finally:
            self._syncing = False

    # --- observers -----------------------------------------------------------------------------

    def _on_slider(self, change):
        if not self._syncing:
            self.update(T=change["new"])

    def _on_text(self, change):
        if self._syncing:
            return
        self.update(logits=change["new"])
        chosen = self.dropdown.value
        if not self.error and chosen is not None and not np.allclose(
                self.examples[chosen], self.logits, atol=5e-3):
            self._syncing = True  # typed logits are no longer the chosen example
            try:
                self.dropdown.index = None
            finally:
                self._syncing = False

    def _on_dropdown(self, change):
        if not self._syncing and change["new"] in self.examples:
            self.update(logits=self.examples[change["new"]])


def temperature_explorer(logits=None, class_names=None, T=1.0, examples=None):
    """An interactive softmax at temperature ``T``: slider, editable logits, bars and entropy.

    Parameters
    ----------
    logits : array-like, shape (C,), optional
        The logits to start from (default: the first of ``examples``).
    class_names : sequence of str, optional
        Names of the ``C`` classes.
    T : float, default 1.0
        Initial temperature (the slider spans 1e-2 to 1e2 on a log scale).
    examples : dict of str to array-like of shape (C,), optional
        Named logit vectors (e.g. real images' logits) offered in a dropdown.

    Returns
    -------
    TemperatureExplorer
        An ``ipywidgets.VBox``; ``.update(T=..., logits=...)`` drives it from code and
        ``.probs`` / ``.entropy_value`` / ``.error`` report what it shows.

    Examples
    --------
    >>> w = temperature_explorer([2.0, 1.0, 0.0], ["a", "b", "c"])
    >>> round(w.update(T=100.0).entropy_value, 2)
    1.1

    See notebook 01.
    """
    return TemperatureExplorer(logits, class_names=class_names, T=T, examples=examples)
