"""The explorers: widgets for exploring the course's ideas by hand.

Chapter 01's temperature explorer is drawn in the browser (:mod:`kdlab.frontend`: an anywidget
whose ES module draws SVG), so it answers a move at once and is live on the website without a
kernel. The others are still thin ipywidgets wrappers around :mod:`kdlab.plots`: figures drawn
with matplotlib's object API (no pyplot, no global state) and shown as PNG images in an
``ipywidgets.Output``, so they work in any Jupyter front end and backend.
"""

from __future__ import annotations

import contextlib
import html
import io
import math

import ipywidgets as widgets
import numpy as np
import PIL.Image
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kdlab import frontend
from kdlab.frontend import BrowserExplorer
from kdlab.plots import plot_probs
from kdlab.temperature import entropy, softmax_t
from kdlab.validate import check_positive

__all__ = [
    "TemperatureExplorer",
    "temperature_explorer",
    "parse_logits",
    "MistakesExplorer",
    "mistakes_explorer",
    "SoftTargetExplorer",
    "soft_target_explorer",
    "AlphaTemperatureExplorer",
    "alpha_temperature_explorer",
    "ClusterExplorer",
    "cluster_explorer",
    "SpecialistExplorer",
    "specialist_explorer",
    "InferenceExplorer",
    "inference_explorer",
    "SoftKMeansExplorer",
    "soft_kmeans_explorer",
]


def _error_html(message: str) -> str:
    """A widget's status line reporting bad input (in red), never an exception."""
    return f'<span style="color:#b00020">{html.escape(message)}</span>'


class _LogSliderEchoes:
    """Tells a ``FloatLogSlider``'s echoes from the browser apart from a person's moves.

    ipywidgets 8's ``FloatLogSliderView`` snaps every value Python gives the slider to its grid
    of ``step`` in log space and, when that changes it, sends the grid value back: T = 5 returns
    as 10**0.70 = 5.012, and late: after a cell that sets T = 0.1, 5 and 1 in turn, the kernel
    reads 5.012 only once the cell has finished, as if someone had dragged the slider (chapter
    01's explorer showed T = 5.01 after its self-check). An incoming value is an echo when it is
    the grid point of the current T, or of a value Python set since the person last moved it.
    """

    def __init__(self, slider):
        self.slider = slider
        self.pending: list[float] = []

    def grid(self, value: float) -> float:
        """Where the browser puts ``value``: base ** (min + k * step), clipped to the range."""
        s = self.slider
        position = min(max(math.log(value, s.base), s.min), s.max)
        return s.base ** min(max(s.min + round((position - s.min) / s.step) * s.step, s.min),
                             s.max)

    def set(self, value: float) -> None:
        """Move the slider from Python (the caller guards its own observer)."""
        if self.slider.value != value:
            snapped = self.grid(value)
            if not math.isclose(snapped, value, rel_tol=1e-12):  # off the grid: an echo comes
                self.pending = [*self.pending[-15:], snapped]
            self.slider.value = value

    def is_echo(self, value: float, current: float) -> bool:
        """Whether ``value``, just received, is an echo; a late one puts ``current`` back.

        The kernel's value is what every view shows (ipywidgets sends it back to them), so a
        late echo that landed elsewhere on the grid is replaced by ``current`` at once.
        """
        if value > 0 and any(math.isclose(value, v, rel_tol=1e-9)
                             for v in (*self.pending, current, self.grid(current))):
            if not math.isclose(self.grid(value), self.grid(current), rel_tol=1e-9):
                self.slider.value = current  # its own echo, if any, is the current grid point
            return True
        self.pending = []  # a person moved it: every earlier echo arrived before this value
        return False


@contextlib.contextmanager
def _quiet(explorer):
    """Set an explorer's controls from Python without its observers updating it once more."""
    explorer._syncing = True
    try:
        yield
    finally:
        explorer._syncing = False


def _canvas(figsize, dpi) -> Figure:
    """A figure with its own Agg canvas, outside pyplot (no global state, no inline display)."""
    figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


class _PngOutput:
    """Mixin: render ``self.figure`` to ``self.png`` and show it in ``self.output``."""

    def _publish(self) -> None:
        self.png = _figure_png(self.figure)
        _show_png(self.output, self.png)


def _rgba_png(canvas) -> bytes:
    """The pixels of an Agg canvas as PNG bytes (fast compression: widgets redraw often)."""
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png",
                                                                compress_level=1)
    return buffer.getvalue()


def _figure_png(figure) -> bytes:
    """Render a matplotlib ``Figure`` (with an Agg canvas) to PNG bytes."""
    figure.canvas.draw()
    return _rgba_png(figure.canvas)


def _show_png(output, png: bytes) -> None:
    """Put ``png`` in ``output`` (only inside a running IPython kernel)."""
    from IPython import get_ipython
    from IPython.display import Image, display

    if get_ipython() is None:
        return
    with output:
        output.clear_output(wait=True)
        display(Image(data=png, format="png"))


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


class TemperatureExplorer(BrowserExplorer):
    """A temperature slider, draggable bars of softmax(z / T) and their entropy, in the browser.

    Build it with :func:`temperature_explorer`. The view (``kdlab/js/temperature.js``) draws and
    computes in the browser, in JupyterLab and on the website alike: slide T, drag a bar to move
    that class's logit, type logits, pick an example, or turn on "predict, then reveal" (raise
    T, click the class you think gains the most, then see). What the reader does there reaches
    Python: ``T`` and ``logits`` follow it, ``guesses`` lists the predict rounds. For tests and
    scripts, :meth:`update` sets ``T`` and/or the logits; read the result from ``probs``,
    ``entropy_value`` and ``error`` (the message shown for bad input).

    See notebook 01.
    """

    _esm = frontend.esm("temperature")
    _css = frontend.css()

    T = traitlets.Float(1.0).tag(sync=True)
    z = traitlets.List(traitlets.Float()).tag(sync=True)  # the logits
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)  # [] when none were given
    choices = traitlets.List().tag(sync=True)  # the examples as [name, logits] pairs, in order
    example = traitlets.Unicode("").tag(sync=True)  # the chosen example, "" for other logits
    mode = traitlets.Unicode("explore").tag(sync=True)  # or "predict"
    guesses = traitlets.List().tag(sync=True)  # predict rounds: {T_from, T_to, guess, answer}
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, logits=None, class_names=None, T=1.0, examples=None):
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
        if self.class_names is not None and len(self.class_names) != z.size:
            raise ValueError(f"class_names: expected {z.size} names (one per class), "
                             f"got {len(self.class_names)}")
        T = float(T)
        softmax_t(z, T)  # validates T
        self.examples = examples
        super().__init__(T=T, z=z.tolist(), names=self.class_names or [],
                         choices=[[k, v.tolist()] for k, v in examples.items()],
                         example=self._example_of(z))
        self._recompute()
        self.observe(self._recompute, names=["T", "z"])
        self.observe(self._on_example, names="example")

    @property
    def logits(self) -> np.ndarray:
        """The logits shown (a copy)."""
        return np.array(self.z, dtype=float)

    def update(self, T=None, logits=None):
        """Set ``T`` and/or ``logits`` (array or text) and recompute; returns ``self``.

        Bad input never raises: it is shown in the view and kept in ``error``, and the previous
        valid state stays on screen.
        """
        try:
            if T is not None:
                T = float(T)
                softmax_t(self.logits, T)  # validates T
            z = None
            if logits is not None:
                n = self.logits.size
                z = parse_logits(logits, n) if isinstance(logits, str) else _as_logits(logits)
                if z.shape != (n,):
                    raise ValueError(f"logits: expected {n} numbers (one per class), "
                                     f"got {z.size}")
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            if z is not None:
                self.z = z.tolist()
                self.example = self._example_of(z)
            if T is not None:
                self.T = T
            self.error = ""
        return self

    def biggest_gain(self, T_from: float, T_to: float) -> int:
        """The class whose probability grows the most from ``T_from`` to ``T_to``.

        The answer of a "predict, then reveal" round (the view computes the same).
        """
        gains = softmax_t(self.logits, float(T_to)) - softmax_t(self.logits, float(T_from))
        return int(np.argmax(gains))

    def _example_of(self, z) -> str:
        """The name of the example whose logits are ``z`` (to 5e-3), else ""."""
        return next((k for k, v in self.examples.items() if np.allclose(v, z, atol=5e-3)), "")

    def _recompute(self, change=None):
        """probs and entropy_value for the current T and logits (whoever changed them)."""
        try:
            probs = softmax_t(self.logits, self.T)
        except ValueError as err:  # e.g. a T <= 0 set on the trait directly
            self.error = str(err)
            return
        self.probs = probs
        self.entropy_value = float(entropy(probs))

    def _on_example(self, change):
        if change["new"] in self.examples and not np.allclose(
                self.examples[change["new"]], self.logits, atol=5e-3):
            self.update(logits=self.examples[change["new"]])


def temperature_explorer(logits=None, class_names=None, T=1.0, examples=None):
    """An interactive softmax at temperature ``T``, drawn in the browser: slider, draggable bars.

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
        An ``anywidget.AnyWidget``, live in JupyterLab and on the website (no kernel needed
        there); ``.update(T=..., logits=...)`` drives it from code and ``.probs`` /
        ``.entropy_value`` / ``.error`` report what it shows.

    Examples
    --------
    >>> w = temperature_explorer([2.0, 1.0, 0.0], ["a", "b", "c"])
    >>> round(w.update(T=100.0).entropy_value, 2)
    1.1
    >>> w.biggest_gain(1.0, 5.0)  # what a "predict, then reveal" round asks
    2

    See notebook 01.
    """
    return TemperatureExplorer(logits, class_names=class_names, T=T, examples=examples)


# --- chapter 07 ----------------------------------------------------------------------------------


class MistakesExplorer(BrowserExplorer):
    """One example's soft-term gradient, per class, for the correct loss and a chosen mistake.

    Build it with :func:`mistakes_explorer`. The view (``kdlab/js/mistakes.js``) computes the
    gradients in closed form in the browser, in JupyterLab and on the website alike: pick a
    mistake, slide T (log scale) and alpha, and read the ratio of the two gradients' norms and
    the soft:hard balance. Python recomputes both with torch autograd
    (:func:`kdlab.mistakes.gradient_ratio` and :func:`kdlab.mistakes.gradient_balance`, one
    example) into ``ratio`` and ``balance``; :meth:`update` sets ``T``, ``alpha`` and/or
    ``mistake`` from code.

    See notebook 07.
    """

    #: The mistakes the view offers: those a single example's student gradient can show.
    OFFERED = ("correct", "no T²", 'reduction="mean"', "probabilities as input",
               "log target, no log_target")

    _esm = frontend.esm("mistakes")
    _css = frontend.css()

    T = traitlets.Float(4.0).tag(sync=True)
    alpha = traitlets.Float(0.9).tag(sync=True)
    mistake = traitlets.Unicode("no T²").tag(sync=True)
    z = traitlets.List(traitlets.Float()).tag(sync=True)  # the student's logits
    v = traitlets.List(traitlets.Float()).tag(sync=True)  # the teacher's logits
    label = traitlets.Int(0).tag(sync=True)
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    options = traitlets.List().tag(sync=True)  # [name, line, effect] per offered mistake
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, student_logits, teacher_logits, label, T=4.0, alpha=0.9,
                 mistake="no T²", class_names=None):
        from kdlab.mistakes import MISTAKES

        z, v = _as_logits(student_logits), _as_logits(teacher_logits)
        if z.shape != v.shape or z.size < 2:
            raise ValueError(f"teacher_logits: expected {z.size} logits like student_logits "
                             f"(at least 2), got {v.size}")
        label = int(label)
        if not 0 <= label < z.size:
            raise ValueError(f"label must be a class in 0..{z.size - 1}, got {label}")
        names = [] if class_names is None else [str(c) for c in class_names]
        if names and len(names) != z.size:
            raise ValueError(f"class_names: expected {z.size} names, got {len(names)}")
        self._check(mistake, T, alpha)
        super().__init__(T=float(T), alpha=float(alpha), mistake=mistake, z=z.tolist(),
                         v=v.tolist(), label=label, names=names,
                         options=[[k, MISTAKES[k]["line"], MISTAKES[k]["effect"]]
                                  for k in self.OFFERED])
        self._recompute()
        self.observe(self._recompute, names=["T", "alpha", "mistake", "z", "v", "label"])

    def _check(self, mistake, T, alpha):
        if mistake not in self.OFFERED:
            raise ValueError(f"mistake must be one of {list(self.OFFERED)}, got {mistake!r}")
        check_positive(T, "T")
        alpha = float(alpha)
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")

    def update(self, T=None, alpha=None, mistake=None):
        """Set ``T``, ``alpha`` and/or ``mistake`` and recompute; returns ``self``.

        Bad input never raises: it is kept in ``error`` (and shown), the state unchanged.
        """
        try:
            self._check(self.mistake if mistake is None else mistake,
                        self.T if T is None else T, self.alpha if alpha is None else alpha)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            if T is not None:
                self.T = float(T)
            if alpha is not None:
                self.alpha = float(alpha)
            if mistake is not None:
                self.mistake = mistake
            self.error = ""
        return self

    def gradients(self) -> dict:
        """Autograd's soft-term gradients of this example, ``{mistake: array (C,)}``."""
        from kdlab.mistakes import MISTAKES, soft_gradient

        z, v = np.array([self.z]), np.array([self.v])
        return {k: soft_gradient(MISTAKES[k]["loss"], z, v, self.T)[0] for k in self.OFFERED}

    def _recompute(self, change=None):
        """ratio and balance (autograd, kdlab.mistakes) for the current state."""
        from kdlab.mistakes import MISTAKES, gradient_balance, gradient_ratio

        try:
            self._check(self.mistake, self.T, self.alpha)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return
        loss = MISTAKES[self.mistake]["loss"]
        z, v = np.array([self.z]), np.array([self.v])
        self.ratio = gradient_ratio(loss, z, v, self.T)
        self.balance = gradient_balance(loss, z, v, [self.label], self.T, self.alpha)
        self.correct_balance = gradient_balance(MISTAKES["correct"]["loss"], z, v,
                                                [self.label], self.T, self.alpha)


def mistakes_explorer(student_logits, teacher_logits, label, T=4.0, alpha=0.9,
                      mistake="no T²", class_names=None):
    """The soft-term gradient of one example, correct vs a chosen mistake, drawn in the browser.

    Parameters
    ----------
    student_logits, teacher_logits : array-like, shape (C,)
        One example's logits: the student's ``z`` and the teacher's ``v``.
    label : int
        The example's class (for the hard term of the balance).
    T : float, default 4.0
        Initial temperature (the slider spans 0.5 to 50 on a log scale).
    alpha : float, default 0.9
        The soft term's weight.
    mistake : str, default "no T²"
        One of :attr:`MistakesExplorer.OFFERED` (keys of :data:`kdlab.mistakes.MISTAKES`).
    class_names : sequence of str, optional
        Names of the ``C`` classes.

    Returns
    -------
    MistakesExplorer
        An ``anywidget.AnyWidget``, live in JupyterLab and on the website; ``.ratio`` is
        ``‖∇ mistake‖ / ‖∇ correct‖``, ``.balance`` the mistake's soft:hard balance
        ``‖α ∇soft‖ / ‖(1 − α) ∇hard‖`` (``.correct_balance`` the correct loss's).

    Examples
    --------
    >>> w = mistakes_explorer([0.5, 0.0, -0.5], [3.0, 1.0, 0.0], label=0, T=4.0)
    >>> round(w.ratio, 6)  # no T²: 1/T²
    0.0625
    >>> round(w.update(mistake='reduction="mean"').ratio, 6)  # 1/C
    0.333333

    See notebook 07.
    """
    return MistakesExplorer(student_logits, teacher_logits, label, T=T, alpha=alpha,
                            mistake=mistake, class_names=class_names)


# --- chapter 02 ----------------------------------------------------------------------------------


class SoftTargetExplorer(_PngOutput, widgets.VBox):
    """Pick an image and a temperature; see the image and the teacher's soft targets for it.

    Build it with :func:`soft_target_explorer`. :meth:`update` sets the image (``index``, a
    row of ``images``) and/or ``T`` and redraws; ``probs`` holds the soft targets shown and
    ``error`` the message shown for bad input.

    See notebook 02.
    """

    def __init__(self, images, logits, image_shape, class_names=None, labels=None, T=1.0,
                 index=0, figsize=(9.0, 3.0), dpi=80):
        X = np.asarray(images, dtype=float)
        z = np.asarray(logits, dtype=float)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"images must have shape (N, pixels) with N >= 1, got {X.shape}")
        if z.ndim != 2 or len(z) != len(X):
            raise ValueError(f"logits must have shape ({len(X)}, C), one row per image, "
                             f"got {z.shape}")
        softmax_t(z)  # raises ValueError for nan/inf or no classes
        try:
            h, w = (int(k) for k in image_shape)
        except (TypeError, ValueError):
            raise ValueError(f"image_shape must be an (H, W) pair, got {image_shape!r}") from None
        if h * w != X.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} does not match {X.shape[1]} "
                             f"pixels per image")
        if class_names is not None and len(class_names) != z.shape[1]:
            raise ValueError(f"class_names must name all {z.shape[1]} classes, got "
                             f"{len(class_names)}")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(X),):
                raise ValueError(f"labels must hold {len(X)} labels, got shape {labels.shape}")
        self.images, self.logits, self.labels = X, z, labels
        self.image_shape = (int(h), int(w))
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.index, self.T, self.error = 0, 1.0, ""
        self._syncing = False
        self.index_slider = widgets.IntSlider(value=0, min=0, max=len(X) - 1,
                                              description="image", continuous_update=False,
                                              layout=widgets.Layout(width="420px"))
        self.slider = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=2, step=0.01,
                                             description="T", readout_format=".3g",
                                             layout=widgets.Layout(width="420px"))
        self._echoes = _LogSliderEchoes(self.slider)
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.figure = _canvas(figsize, dpi)
        self.ax_image, self.ax_probs = self.figure.subplots(1, 2, width_ratios=[1, 3.5])
        self.index_slider.observe(self._on_index, names="value")
        self.slider.observe(self._on_T, names="value")
        super().__init__(children=[self.index_slider, self.slider, self.status, self.output])
        self.update(index=index, T=T)
        if self.error:
            raise ValueError(self.error)

    def update(self, index=None, T=None):
        """Show image ``index`` and/or temperature ``T``; bad input is reported, never raised."""
        try:
            if index is not None:
                if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                        or not 0 <= index < len(self.images):
                    raise ValueError(f"index must be an int in [0, {len(self.images)}), "
                                     f"got {index!r}")
            if T is not None:
                T = check_positive(T, "T")
        except (TypeError, ValueError) as err:
            self.error = str(err)
            self.status.value = _error_html(self.error)
            return self
        self.error = ""
        if index is not None:
            self.index = int(index)
        if T is not None:
            self.T = T
        with _quiet(self):
            self.index_slider.value = self.index
            self._echoes.set(self.T)
        self.probs = softmax_t(self.logits[self.index], self.T)
        self.entropy_value = float(entropy(self.probs))
        self._draw()
        return self

    def _name(self, k) -> str:
        return str(k) if self.class_names is None else self.class_names[int(k)]

    def _draw(self):
        from kdlab.plots import plot_image

        true = None if self.labels is None else int(self.labels[self.index])
        self.ax_image.clear()
        self.ax_probs.clear()
        title = f"image {self.index}" + ("" if true is None else f": {self._name(true)}")
        plot_image(self.images[self.index], self.image_shape, ax=self.ax_image, title=title)
        plot_probs(self.probs, self.class_names, ax=self.ax_probs, highlight=true,
                   title=f"soft targets at T = {self.T:.3g}  (H = {self.entropy_value:.2f} "
                         "nats; grey band: true class)")
        order = np.argsort(-self.probs)
        self.status.value = "most probable: " + ", ".join(
            f"{html.escape(self._name(k))} {self.probs[k]:.3f}" for k in order[:3])
        self._publish()

    def _on_index(self, change):
        if not self._syncing:
            self.update(index=change["new"])

    def _on_T(self, change):
        if not self._syncing and not self._echoes.is_echo(change["new"], self.T):
            self.update(T=change["new"])


def soft_target_explorer(images, logits, image_shape, class_names=None, labels=None, T=1.0,
                         index=0):
    """An image slider and a temperature slider over a teacher's soft targets.

    Parameters
    ----------
    images : array (N, H*W)
        Flattened images.
    logits : array (N, C)
        The teacher's logits for them.
    image_shape : (int, int)
        ``(H, W)``.
    class_names : sequence of str, optional
        Names of the ``C`` classes.
    labels : array (N,), optional
        True labels (marked with a grey band).
    T, index
        Initial temperature (slider: 0.1 to 100, log scale) and image.

    Returns
    -------
    SoftTargetExplorer

    Examples
    --------
    >>> import numpy as np
    >>> w = soft_target_explorer(np.zeros((2, 4)), [[2.0, 0.0], [0.0, 1.0]], (2, 2))
    >>> w.update(index=1, T=1.0).probs.round(3).tolist()
    [0.269, 0.731]

    See notebook 02.
    """
    return SoftTargetExplorer(images, logits, image_shape, class_names=class_names,
                              labels=labels, T=T, index=index)


class AlphaTemperatureExplorer(_PngOutput, widgets.VBox):
    """Sliders over a precomputed (alpha, T) grid of distilled students' errors: a look-up.

    Nothing is trained in a callback: the grid is computed once, up front (e.g. by
    :func:`kdlab.experiments.distill_grid`). :meth:`update` picks a cell; ``value`` is its
    error count and ``cell`` its (row, column).

    See notebook 02.
    """

    def __init__(self, errors, alphas, temperatures, reference=None, figsize=(6.4, 3.4),
                 dpi=80):
        m = np.asarray(errors, dtype=float)
        self.alphas = [float(a) for a in alphas]
        self.temperatures = [float(t) for t in temperatures]
        if m.ndim != 2 or m.shape != (len(self.alphas), len(self.temperatures)) or not m.size:
            raise ValueError(f"errors must have shape (len(alphas), len(temperatures)) = "
                             f"{(len(self.alphas), len(self.temperatures))}, got {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("errors must be finite")
        self.errors = m
        self.reference = dict(reference or {})
        self.error = ""
        self._syncing = False
        self.alpha_slider = widgets.SelectionSlider(
            options=[(f"{a:g}", a) for a in self.alphas], description="α",
            layout=widgets.Layout(width="420px"))
        self.T_slider = widgets.SelectionSlider(
            options=[(f"{t:g}", t) for t in self.temperatures], description="T",
            layout=widgets.Layout(width="420px"))
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.figure = _canvas(figsize, dpi)
        self.ax = self.figure.add_subplot()
        self.alpha_slider.observe(self._on_change, names="value")
        self.T_slider.observe(self._on_change, names="value")
        super().__init__(children=[self.alpha_slider, self.T_slider, self.status, self.output])
        best = np.unravel_index(np.argmin(m), m.shape)
        self.update(alpha=self.alphas[best[0]], T=self.temperatures[best[1]])

    def update(self, alpha=None, T=None):
        """Select the cell of ``alpha`` and/or ``T`` (values of the grid); returns ``self``."""
        try:
            i = self.cell[0] if alpha is None else self._find(alpha, self.alphas, "alpha")
            j = self.cell[1] if T is None else self._find(T, self.temperatures, "T")
        except (TypeError, ValueError) as err:
            self.error = str(err)
            self.status.value = _error_html(self.error)
            return self
        self.error = ""
        self.cell = (i, j)
        self.value = self.errors[i, j]
        with _quiet(self):
            self.alpha_slider.value = self.alphas[i]
            self.T_slider.value = self.temperatures[j]
        self._draw()
        return self

    @staticmethod
    def _find(value, options, name) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        for k, option in enumerate(options):
            if math.isclose(float(value), option, rel_tol=1e-9, abs_tol=1e-12):
                return k
        raise ValueError(f"{name} must be one of the precomputed values "
                         f"{', '.join(f'{o:g}' for o in options)}; got {value!r}")

    def _draw(self):
        from kdlab.plots import plot_alpha_temperature_grid

        self.figure.clear()
        self.ax = self.figure.add_subplot()
        plot_alpha_temperature_grid(self.errors, self.alphas, self.temperatures, ax=self.ax,
                                    highlight=self.cell, title="distilled students (precomputed)")
        i, j = self.cell
        refs = "".join(f"; {html.escape(str(k))}: {v:g}" for k, v in self.reference.items())
        self.status.value = (f"α = {self.alphas[i]:g}, T = {self.temperatures[j]:g}: "
                             f"<b>{self.value:g}</b> test errors{refs}")
        self._publish()

    def _on_change(self, _change):
        if not self._syncing:
            self.update(alpha=self.alpha_slider.value, T=self.T_slider.value)


def alpha_temperature_explorer(errors, alphas, temperatures, reference=None):
    """Two sliders (α, T) that look up precomputed errors of distilled students.

    Parameters
    ----------
    errors : array-like, shape (len(alphas), len(temperatures))
        Test errors of a student distilled at each (alpha, T).
    alphas, temperatures : sequence of float
        The grid.
    reference : dict of str to float, optional
        Numbers printed beside the chosen cell (e.g. ``{"student alone": 146}``).

    Returns
    -------
    AlphaTemperatureExplorer

    Examples
    --------
    >>> w = alpha_temperature_explorer([[30, 20], [25, 40]], [0.5, 1.0], [2.0, 20.0])
    >>> w.cell, float(w.update(alpha=1.0, T=20.0).value)
    ((0, 1), 40.0)

    See notebook 02.
    """
    return AlphaTemperatureExplorer(errors, alphas, temperatures, reference=reference)


# --- chapter 03 ----------------------------------------------------------------------------------


class ClusterExplorer(_PngOutput, widgets.VBox):
    """Pick a matrix (data set), a number of clusters K and a method; see the clustered heat map.

    Build it with :func:`cluster_explorer`. Each choice re-runs :func:`kdlab.cluster_classes`
    on a C×C matrix (milliseconds for tens of classes) and redraws; ``groups`` holds the
    clusters shown and ``error`` the message shown for bad input.

    See notebook 03.
    """

    def __init__(self, matrices, n_clusters=2, method="online-kmeans", figsize=(6.4, 5.2),
                 dpi=80):
        from kdlab.clustering import METHODS

        if not isinstance(matrices, dict) or not matrices:
            raise ValueError("matrices must be a non-empty dict: name -> (matrix, class_names)")
        self.matrices = {}
        for name, value in matrices.items():
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise ValueError(f"matrices[{name!r}] must be a pair (matrix, class_names)")
            matrix, names = value
            m = np.asarray(matrix, dtype=float)
            if m.ndim != 2 or m.shape[0] != m.shape[1] or not m.size:
                raise ValueError(f"matrices[{name!r}]: the matrix must be square (C, C), got "
                                 f"shape {m.shape}")
            names = [str(c) for c in (range(len(m)) if names is None else names)]
            if len(names) != len(m):
                raise ValueError(f"matrices[{name!r}]: class_names must name all {len(m)} "
                                 f"classes, got {len(names)}")
            self.matrices[str(name)] = (m, names)
        self.methods = list(METHODS)
        self.error = ""
        self._syncing = False
        first = next(iter(self.matrices))
        self.dataset_menu = widgets.Dropdown(options=list(self.matrices), value=first,
                                             description="matrix")
        self.k_slider = widgets.IntSlider(value=1, min=1, max=len(self.matrices[first][0]),
                                          description="K", continuous_update=False)
        self.method_menu = widgets.Dropdown(options=self.methods, value=self.methods[0],
                                            description="method")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.figure = _canvas(figsize, dpi)
        self.dataset, self.n_clusters, self.method = first, 1, self.methods[0]
        for control in (self.dataset_menu, self.k_slider, self.method_menu):
            control.observe(self._on_change, names="value")
        super().__init__(children=[widgets.HBox([self.dataset_menu, self.method_menu]),
                                   self.k_slider, self.status, self.output])
        self.update(n_clusters=n_clusters, method=method)
        if self.error:
            raise ValueError(self.error)

    def update(self, dataset=None, n_clusters=None, method=None):
        """Choose the matrix, K and/or the method, re-cluster and redraw; returns ``self``."""
        from kdlab.clustering import cluster_classes

        try:
            dataset = self.dataset if dataset is None else dataset
            if dataset not in self.matrices:
                raise ValueError(f"dataset must be one of {', '.join(map(repr, self.matrices))}; "
                                 f"got {dataset!r}")
            method = self.method if method is None else method
            if method not in self.methods:
                raise ValueError(f"method must be one of {', '.join(map(repr, self.methods))}; "
                                 f"got {method!r}")
            k = self.n_clusters if n_clusters is None else n_clusters
            matrix, _ = self.matrices[dataset]
            if n_clusters is None:
                k = min(k, len(matrix))
            groups = cluster_classes(matrix, k, method=method)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            self.status.value = _error_html(self.error)
            return self
        self.error = ""
        self.dataset, self.n_clusters, self.method, self.groups = dataset, int(k), method, groups
        with _quiet(self):
            self.dataset_menu.value = dataset
            self.k_slider.max = len(matrix)
            self.k_slider.value = self.n_clusters
            self.method_menu.value = method
        self._draw()
        return self

    def _draw(self):
        from kdlab.plots import plot_clustered_matrix

        matrix, names = self.matrices[self.dataset]
        self.figure.clear()
        ax = self.figure.add_subplot()
        plot_clustered_matrix(matrix, self.groups, names, ax=ax,
                              title=f"{self.dataset}: K = {self.n_clusters}, {self.method}")
        items = "".join(f"<li>{html.escape(', '.join(names[c] for c in g))}</li>"
                        for g in self.groups)
        self.status.value = f"{len(self.groups)} clusters:<ol>{items}</ol>"
        self._publish()

    def _on_change(self, _change):
        if not self._syncing:
            dataset = self.dataset_menu.value
            k = min(self.k_slider.value, len(self.matrices[dataset][0]))
            self.update(dataset=dataset, n_clusters=k, method=self.method_menu.value)


def cluster_explorer(matrices, n_clusters=2, method="online-kmeans"):
    """A matrix menu, a K slider and a method menu over :func:`kdlab.cluster_classes`.

    Parameters
    ----------
    matrices : dict of str to (array (C, C), sequence of str or None)
        The matrices to cluster, by name, each with its class names: e.g. the covariance of a
        generalist's predictions and a confusion affinity.
    n_clusters : int
        Initial K.
    method : str
        Initial method, one of :data:`kdlab.clustering.METHODS`.

    Returns
    -------
    ClusterExplorer

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[2.0, 1.8, -1.0], [1.8, 2.0, -1.0], [-1.0, -1.0, 2.0]])
    >>> w = cluster_explorer({"toy": (cov, ["a", "b", "c"])}, n_clusters=2)
    >>> [g.tolist() for g in w.groups]
    [[0, 1], [2]]

    See notebook 03.
    """
    return ClusterExplorer(matrices, n_clusters=n_clusters, method=method)


# --- chapter 04 ----------------------------------------------------------------------------------


def _choice(value, n: int, name: str) -> int:
    """``value`` as an index in ``[0, n)``, or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise ValueError(f"{name} must be an int in [0, {n}), got {value!r}")
    return int(value)


class SpecialistExplorer(BrowserExplorer):
    """Pick a specialist; see its confusion matrix over its classes and the dustbin, in the browser.

    Build it with :func:`specialist_explorer`. Every specialist's confusion matrix, with and
    without the log-oversampling correction of the dustbin logit, is computed once in Python
    (:func:`kdlab.specialists.specialist_confusion`) and embedded (``cards``); the view
    (``kdlab/js/specialist.js``) only chooses which one to draw, so switching is instant, in
    JupyterLab and on the website alike. ``index`` and ``corrected`` follow the view; Python
    reads the matrix shown from ``matrix``, and ``accuracy``, ``dustbin_rate`` and
    ``other_rate`` from it; :meth:`update` sets them from code.

    See notebook 04.
    """

    _esm = frontend.esm("specialist")
    _css = frontend.css()

    index = traitlets.Int(0).tag(sync=True)  # the specialist shown
    corrected = traitlets.Bool(True).tag(sync=True)  # with the log-oversampling correction
    # per specialist: {name, classes, correction, corrected, raw} (the two count matrices)
    cards = traitlets.List().tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, specialists, X, y, class_names=None, index=0, corrected=True):
        from kdlab.specialists import Specialist, specialist_confusion

        specialists = list(specialists)
        if not specialists or not all(isinstance(s, Specialist) for s in specialists):
            raise ValueError("specialists must be a non-empty list of kdlab Specialist models")
        n_classes = specialists[0].config["n_classes"]
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if len(class_names) != n_classes:
                raise ValueError(f"class_names must name all {n_classes} classes, got "
                                 f"{len(class_names)}")
        index = _choice(index, len(specialists), "index")
        if not isinstance(corrected, (bool, np.bool_)):
            raise TypeError(f"corrected must be True or False, got {corrected!r}")
        self.class_names = class_names
        self.specialists = specialists
        self.confusions = {(i, corr): specialist_confusion(s, X, y, corrected=corr)
                           for i, s in enumerate(specialists) for corr in (True, False)}
        cards = []
        for i, s in enumerate(specialists):
            classes = [class_names[c] if class_names else str(c) for c in s.subset]
            cards.append({"name": ", ".join(classes), "classes": classes,
                          "correction": float(s.dustbin_correction),
                          "corrected": self.confusions[(i, True)].tolist(),
                          "raw": self.confusions[(i, False)].tolist()})
        super().__init__(index=index, corrected=bool(corrected), cards=cards)
        self._recompute()
        self.observe(self._recompute, names=["index", "corrected"])

    @property
    def names(self) -> list[str]:
        """Each specialist's name in the menu: its classes."""
        return [card["name"] for card in self.cards]

    def update(self, index=None, corrected=None):
        """Show specialist ``index`` with or without the correction; returns ``self``.

        Bad input never raises: it is kept in ``error`` (and shown), the state unchanged.
        """
        try:
            if index is not None:
                index = _choice(index, len(self.specialists), "index")
            if corrected is not None and not isinstance(corrected, (bool, np.bool_)):
                raise ValueError(f"corrected must be True or False, got {corrected!r}")
        except ValueError as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            if index is not None:
                self.index = index
            if corrected is not None:
                self.corrected = bool(corrected)
            self.error = ""
        return self

    def _recompute(self, change=None):
        """matrix and the rates read from it, for the current specialist and correction."""
        if not 0 <= self.index < len(self.specialists):  # e.g. set on the trait directly
            self.error = f"index must be an int in [0, {len(self.specialists)}), got {self.index}"
            return
        m = self.confusions[(self.index, bool(self.corrected))]
        k = len(m) - 1
        #: the counts shown: true class (the subset's, then "other") by the specialist's answer
        self.matrix = m
        #: right on its own classes' images (an answer "dustbin" counts as wrong)
        self.accuracy = float(np.trace(m[:k, :k]) / max(int(m[:k].sum()), 1))
        #: how often it answers "dustbin", on all images; and the true share of other classes
        self.dustbin_rate = float(m[:, k].sum() / max(int(m.sum()), 1))
        self.other_rate = float(m[k].sum() / max(int(m.sum()), 1))


def specialist_explorer(specialists, X, y, class_names=None, index=0, corrected=True):
    """A menu of specialists and a correction switch, showing confusion matrices on ``(X, y)``.

    Parameters
    ----------
    specialists : list of kdlab.specialists.Specialist
        E.g. from :func:`kdlab.specialists.train_specialists`.
    X, y : arrays
        Labelled images to evaluate on (e.g. the test set).
    class_names : sequence of str, optional
        Names of the generalist's classes.
    index : int, default 0
        The specialist shown first.
    corrected : bool, default True
        Whether the dustbin logit carries the log-oversampling correction.

    Returns
    -------
    SpecialistExplorer
        An ``anywidget.AnyWidget``, live in JupyterLab and on the website (no kernel needed
        there); ``.matrix`` holds the counts shown, ``.accuracy`` the fraction of its classes'
        images it gets right, ``.error`` the message shown for bad input.

    Examples
    --------
    >>> import numpy as np
    >>> from kdlab.models import MLP
    >>> from kdlab.specialists import Specialist
    >>> spec = Specialist(MLP(4, (8,), 3, seed=0), [0, 2])
    >>> w = specialist_explorer([spec], np.zeros((4, 4), np.float32), [0, 1, 2, 2])
    >>> w.matrix.shape, int(w.matrix.sum())
    ((3, 3), 4)

    See notebook 04.
    """
    return SpecialistExplorer(specialists, X, y, class_names=class_names, index=index,
                              corrected=corrected)


# --- chapter 05 ----------------------------------------------------------------------------------


class InferenceExplorer(BrowserExplorer):
    """Step through test images: the generalist's distribution, each consulted specialist's
    opinion and their combination by KL inference, with specialists switched on and off.

    Build it with :func:`inference_explorer`. The view (``kdlab/js/inference.js``) solves the
    KL inference of the image shown in the browser, by the EM iteration of
    :func:`kdlab.inference.kl_inference` from the same starting point to the same tolerance,
    so that switching a specialist off (or on) answers at once, in JupyterLab and on the
    website alike. The images whose answer the combination of all specialists changes are
    found in Python (``changed``) for the view's filter. ``index``, ``changed_only`` and
    ``enabled`` follow the view; Python recomputes the image's combination with
    :func:`~kdlab.inference.kl_inference` into ``q`` (``consulted``: the specialists that took
    part; ``rows`` / ``row_names``: the distributions drawn); :meth:`update` sets them from code.

    See notebook 05.
    """

    _esm = frontend.esm("inference")
    _css = frontend.css()

    p = traitlets.List().tag(sync=True)  # the generalist's probabilities, one row per image
    subsets = traitlets.List().tag(sync=True)  # each specialist's classes
    probs = traitlets.List().tag(sync=True)  # each specialist's rows: its classes, dustbin
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)  # [] when none were given
    labels = traitlets.List(traitlets.Int()).tag(sync=True)  # true classes ([] if unknown)
    ids = traitlets.List(traitlets.Int()).tag(sync=True)  # each image's number (in the test set)
    changed = traitlets.List(traitlets.Int()).tag(sync=True)  # where all specialists change it
    n_top = traitlets.Int(1).tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)  # the image shown (a row of p)
    changed_only = traitlets.Bool(False).tag(sync=True)  # step through `changed` only
    enabled = traitlets.List(traitlets.Bool()).tag(sync=True)  # which specialists may take part
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, p_general, specialists, class_names=None, labels=None, ids=None, n_top=1,
                 index=0, changed_only=False, enabled=None):
        from kdlab.inference import kl_inference

        specialists = [(np.asarray(s, dtype=int), m) for s, m in specialists] \
            if isinstance(specialists, list | tuple) else specialists
        q_all = kl_inference(p_general, specialists, n_top=n_top)  # checks every argument
        p = np.asarray(p_general, dtype=float)
        if not len(p):
            raise ValueError("p_general must hold at least one image")
        n, n_classes = p.shape
        names = [] if class_names is None else [str(c) for c in class_names]
        if names and len(names) != n_classes:
            raise ValueError(f"class_names must name all {n_classes} classes, got {len(names)}")
        labels = [] if labels is None else np.asarray(labels).tolist()
        if labels and (len(labels) != n or not all(
                isinstance(c, int) and 0 <= c < n_classes for c in labels)):
            raise ValueError(f"labels must be {n} class ids in [0, {n_classes})")
        ids = list(range(n)) if ids is None else np.asarray(ids).tolist()
        if len(ids) != n or not all(isinstance(i, int) for i in ids):
            raise ValueError(f"ids must be {n} integers (one per image)")
        enabled = [True] * len(specialists) if enabled is None else self._enabled(
            enabled, len(specialists))
        changed = np.flatnonzero(q_all.argmax(1) != p.argmax(1)).tolist()
        index = _choice(index, n, "index")
        if changed_only and not changed:
            raise ValueError("changed_only: the combination changes no image's answer here")
        if changed_only and index not in changed:
            index = self._nearest(index, changed)
        self.q_all = q_all  #: the combination of every image with all specialists
        super().__init__(
            p=p.tolist(), subsets=[s.tolist() for s, _ in specialists],
            probs=[np.asarray(m, dtype=float).tolist() for _, m in specialists], names=names,
            labels=labels, ids=ids, changed=changed, n_top=int(n_top), index=index,
            changed_only=bool(changed_only), enabled=enabled)
        self._recompute()
        self.observe(self._recompute, names=["index", "enabled"])

    @staticmethod
    def _enabled(enabled, n_specialists: int) -> list[bool]:
        enabled = list(enabled)
        if len(enabled) != n_specialists or not all(
                isinstance(e, (bool, np.bool_)) for e in enabled):
            raise ValueError(f"enabled must be {n_specialists} booleans (one per specialist), "
                             f"got {enabled!r}")
        return [bool(e) for e in enabled]

    @staticmethod
    def _nearest(index: int, changed: list[int]) -> int:
        """Where the filter moves ``index``: the first changed image from it on, else the last
        (the view does the same)."""
        return next((c for c in changed if c >= index), changed[-1])

    def update(self, index=None, changed_only=None, enabled=None):
        """Show image ``index``, filter to changed answers, switch specialists; returns ``self``.

        ``enabled`` is one boolean per specialist. Turning ``changed_only`` on moves ``index``
        to the first changed image from it on. Bad input never raises: it is kept in ``error``
        (and shown), the state unchanged.
        """
        try:
            if index is not None:
                index = _choice(index, len(self.p), "index")
            if enabled is not None:
                enabled = self._enabled(enabled, len(self.subsets))
            if changed_only is not None and not isinstance(changed_only, (bool, np.bool_)):
                raise ValueError(f"changed_only must be True or False, got {changed_only!r}")
            only = self.changed_only if changed_only is None else bool(changed_only)
            if only and not self.changed:
                raise ValueError("changed_only: the combination changes no image's answer here")
            if only and index is not None and index not in self.changed:
                raise ValueError(f"index: image {index} is not one whose answer the combination "
                                 "changed (set changed_only=False to see it)")
        except ValueError as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            if only and index is None and self.index not in self.changed:
                index = self._nearest(self.index, self.changed)
            self.changed_only = only
            if enabled is not None:
                self.enabled = enabled
            if index is not None:
                self.index = index
            self.error = ""
        return self

    def _recompute(self, change=None):
        """q (kl_inference), consulted, rows and row_names for the image shown."""
        from kdlab.inference import active_specialists, expand_specialist, kl_inference

        i = self.index
        if not 0 <= i < len(self.p) or len(self.enabled) != len(self.subsets):
            self.error = f"index must be an int in [0, {len(self.p)}), got {i}"
            return
        p = np.array(self.p[i:i + 1])
        on = [m for m, e in enumerate(self.enabled) if e]
        mine = [(np.array(self.subsets[m]), np.array(self.probs[m][i:i + 1])) for m in on]
        #: the combined distribution of the image shown, with the specialists enabled
        self.q = kl_inference(p, mine, n_top=self.n_top)[0]
        active = active_specialists(p, mine, n_top=self.n_top)[0] if mine else []
        #: the specialists that took part: enabled, and active for this image
        self.consulted = [m for m, a in zip(on, active, strict=True) if a]
        rows, row_names = [p[0]], ["generalist"]
        for m in self.consulted:
            rows.append(expand_specialist(self.probs[m][i], self.subsets[m], self.q))
            row_names.append(f"specialist {m}")
        self.rows = np.array([*rows, self.q])
        self.row_names = [*row_names, "combined q"]


def inference_explorer(p_general, specialists, class_names=None, labels=None, ids=None, n_top=1,
                       index=0, changed_only=False, enabled=None):
    """Step through images and see their KL inference: generalist, specialists, combined q.

    Parameters
    ----------
    p_general : array (N, C)
        The generalist's probabilities for ``N`` images.
    specialists : list of (subset, probs (N, k + 1))
        As for :func:`kdlab.inference.kl_inference`.
    class_names : sequence of str, optional
    labels : array (N,), optional
        True classes (marked with a grey band).
    ids : array (N,) of int, optional
        The number shown for each image (e.g. its index in the test set; default 0 .. N-1).
    n_top : int, default 1
        How many of the generalist's top classes decide which specialists are consulted.
    index : int, default 0
        The image shown first (a row of ``p_general``).
    changed_only : bool, default False
        Step only through the images whose answer the combination (all specialists) changes.
    enabled : sequence of bool, optional
        Which specialists may take part (default: all).

    Returns
    -------
    InferenceExplorer
        An ``anywidget.AnyWidget``, live in JupyterLab and on the website (no kernel needed
        there); ``.q`` is the combined distribution of the image shown (by
        :func:`~kdlab.inference.kl_inference`), ``.consulted`` the specialists that took part.

    Examples
    --------
    >>> import numpy as np
    >>> p_g = np.array([[0.5, 0.3, 0.2]])
    >>> specs = [([0, 1], np.array([[0.2, 0.7, 0.1]]))]
    >>> w = inference_explorer(p_g, specs)
    >>> w.row_names, w.q.round(3).tolist()
    (['generalist', 'specialist 0', 'combined q'], [0.35, 0.5, 0.15])
    >>> w.update(enabled=[False]).q.tolist()  # no specialist: the generalist's own
    [0.5, 0.3, 0.2]

    See notebook 05.
    """
    return InferenceExplorer(p_general, specialists, class_names=class_names, labels=labels,
                             ids=ids, n_top=n_top, index=index, changed_only=changed_only,
                             enabled=enabled)


# --- chapter 06 ----------------------------------------------------------------------------------


class SoftKMeansExplorer(_PngOutput, widgets.VBox):
    """A temperature slider over soft K-means assignments of 2-d points to fixed centres.

    Each point is coloured by its responsibilities ``softmax(−‖x − μ‖² / T)`` mixed over the
    centres' colours: pure colours when ``T`` is small (K-means), grey when it is large. Build it
    with :func:`soft_kmeans_explorer`; ``responsibilities`` holds what is shown.

    See notebook 06.
    """

    def __init__(self, X, centers, T=1.0, figsize=(5.2, 4.2), dpi=80):
        from kdlab.softkmeans import soft_assignments

        self.X = np.asarray(X, dtype=float)
        self.centers = np.asarray(centers, dtype=float)
        if self.X.ndim != 2 or self.X.shape[1] != 2 or not len(self.X):
            raise ValueError(f"X must hold 2-d points, shape (N, 2), got {self.X.shape}")
        if self.centers.ndim != 2 or self.centers.shape[1] != 2 or not len(self.centers):
            raise ValueError(f"centers must have shape (K, 2), got {self.centers.shape}")
        self._assign = soft_assignments
        self.error = ""
        self._syncing = False
        self.slider = widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.02,
                                             description="T", readout_format=".3g",
                                             layout=widgets.Layout(width="420px"))
        self._echoes = _LogSliderEchoes(self.slider)
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.figure = _canvas(figsize, dpi)
        self.T = 1.0
        self.slider.observe(self._on_change, names="value")
        super().__init__(children=[self.slider, self.status, self.output])
        self.update(T)
        if self.error:
            raise ValueError(self.error)

    def update(self, T=None):
        """Recompute the assignments at temperature ``T`` and redraw; returns ``self``."""
        try:
            if T is not None:
                r = self._assign(self.X, self.centers, check_positive(T, "T"))
            else:
                r = self._assign(self.X, self.centers, self.T)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            self.status.value = _error_html(self.error)
            return self
        self.error = ""
        self.T = self.T if T is None else float(T)
        self.responsibilities = r
        self.entropy_value = float(entropy(r).mean())
        with _quiet(self):
            self._echoes.set(self.T)
        self._draw()
        return self

    def _draw(self):
        from matplotlib import colormaps

        k = len(self.centers)
        base = np.array(colormaps["tab10"].colors[:k] if k <= 10
                        else colormaps["hsv"](np.linspace(0, 1, k, endpoint=False))[:, :3])
        colours = np.clip(self.responsibilities @ base, 0, 1)
        self.figure.clear()
        ax = self.figure.add_subplot()
        ax.scatter(self.X[:, 0], self.X[:, 1], c=colours, s=12)
        ax.scatter(self.centers[:, 0], self.centers[:, 1], c=base, marker="X", s=160,
                   edgecolors="black")
        ax.set(title=f"soft assignments at T = {self.T:.3g}", xlabel="x₁", ylabel="x₂")
        self.status.value = (f"mean entropy of the assignments: <b>{self.entropy_value:.3f}</b> "
                             f"nats (0: hard K-means; log {k} = {math.log(k):.3f}: uniform)")
        self._publish()

    def _on_change(self, _change):
        if not self._syncing and not self._echoes.is_echo(self.slider.value, self.T):
            self.update(self.slider.value)


def soft_kmeans_explorer(X, centers, T=1.0):
    """A log-scale T slider (0.01 to 100) over soft K-means assignments of 2-d points.

    Examples
    --------
    >>> import numpy as np
    >>> w = soft_kmeans_explorer(np.array([[0.0, 0.0], [3.0, 0.0]]),
    ...                          np.array([[0.0, 0.0], [3.0, 0.0]]), T=0.01)
    >>> w.responsibilities.round(3).tolist()
    [[1.0, 0.0], [0.0, 1.0]]

    See notebook 06.
    """
    return SoftKMeansExplorer(X, centers, T=T)
