"""The explorers: widgets for exploring the course's ideas by hand, one per idea.

Every explorer is drawn in the browser (:mod:`kdlab.frontend`: an anywidget whose ES module,
``kdlab/js/NAME.js``, draws SVG or canvas and computes what it shows), so it answers a move in
milliseconds and is live on the website without a kernel, from what its state embeds (logits,
images, precomputed partitions). In the lab the kernel hears each move and recomputes, with the
package's own functions, the values a notebook's self-checks read; ``update(...)`` drives an
explorer from code and never raises (bad input is kept in its ``error``). Static figures for
print are :mod:`kdlab.plots`' (matplotlib).
"""

from __future__ import annotations

import base64
import math

import numpy as np
import traitlets

from kdlab import frontend
from kdlab.frontend import BrowserExplorer
from kdlab.temperature import entropy, softmax_t
from kdlab.validate import check_labels, check_positive, check_real

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
    "gallery",
]


def _class_names(class_names, n: int) -> list[str]:
    """``class_names`` as ``n`` strings (``[]`` for None: the view numbers the classes)."""
    if class_names is None:
        return []
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names must name all {n} classes, got {len(names)}")
    return names


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
        self.class_names = _class_names(class_names, z.size) or None
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
        names = _class_names(class_names, z.size)
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


def _b64(array, dtype) -> str:
    """``array`` as little-endian ``dtype`` bytes, base64-encoded (compact in a widget's state)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _unb64(text: str, dtype, shape) -> np.ndarray:
    """The inverse of :func:`_b64`."""
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(shape)


def _kl_at_T(teacher_logits, student_logits, T) -> float:
    """``KL(softmax(v/T) ‖ softmax(z/T))`` of one example, in nats (kdlab.temperature)."""
    from kdlab.temperature import log_softmax_t

    log_p, log_q = log_softmax_t(teacher_logits, T), log_softmax_t(student_logits, T)
    return float(np.sum(np.exp(log_p) * (log_p - log_q)))


class SoftTargetExplorer(BrowserExplorer):
    """Pick a test image and a temperature; see the image, the teacher's soft targets for it and,
    when given, a student's prediction at the same T with ``KL(teacher_T ‖ student_T)``.

    Build it with :func:`soft_target_explorer`. The view (``kdlab/js/soft_targets.js``) draws
    the image from embedded pixels (``pixels``: one uint8 per pixel, base64) and computes the
    soft targets in the browser from the embedded logits (``teacher``, ``student``: float64,
    base64), in JupyterLab and on the website alike: step or slide through the images, slide T
    (log scale). ``index`` and ``T`` follow the reader; Python recomputes from them, with
    kdlab's own functions, what self-checks read: ``probs`` (the soft targets), ``student_probs``,
    ``entropy_value`` and ``kl``. :meth:`update` sets ``index`` and/or ``T``; bad input is kept
    in ``error`` and shown, never raised.

    See notebook 02.
    """

    _esm = frontend.esm("soft_targets")

    index = traitlets.Int(0).tag(sync=True)
    T = traitlets.Float(1.0).tag(sync=True)
    n = traitlets.Int(1).tag(sync=True)  # the number of images
    shape = traitlets.List(traitlets.Int()).tag(sync=True)  # (H, W)
    pixels = traitlets.Unicode("").tag(sync=True)  # N*H*W uint8 (255: darkest ink), base64
    teacher = traitlets.Unicode("").tag(sync=True)  # N*C float64 logits, base64
    student = traitlets.Unicode("").tag(sync=True)  # the same for a student, "" for none
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)  # [] when none were given
    labels = traitlets.List(traitlets.Int()).tag(sync=True)  # [] when none were given
    student_name = traitlets.Unicode("student").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, images, logits, image_shape, class_names=None, labels=None, T=1.0,
                 index=0, student_logits=None, student_name="student"):
        X = np.asarray(images, dtype=float)
        z = np.asarray(logits, dtype=float)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"images must have shape (N, pixels) with N >= 1, got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("images must be finite")
        if z.ndim != 2 or len(z) != len(X):
            raise ValueError(f"logits must have shape ({len(X)}, C), one row per image, "
                             f"got {z.shape}")
        softmax_t(z)  # raises ValueError for nan/inf or no classes
        if student_logits is not None:
            s = np.asarray(student_logits, dtype=float)
            if s.shape != z.shape:
                raise ValueError(f"student_logits must have the shape of logits {z.shape}, "
                                 f"got {s.shape}")
            try:
                softmax_t(s)
            except ValueError as err:
                raise ValueError(f"student_logits: {err}") from None
        try:
            h, w = (int(k) for k in image_shape)
        except (TypeError, ValueError):
            raise ValueError(f"image_shape must be an (H, W) pair, got {image_shape!r}") from None
        if h * w != X.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} does not match {X.shape[1]} "
                             f"pixels per image")
        names = _class_names(class_names, z.shape[1])
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(X),):
                raise ValueError(f"labels must hold {len(X)} labels, got shape {labels.shape}")
            labels = check_labels(labels, z.shape[1], "labels")
        self._check(index, T, len(X))
        lo, hi = min(0.0, float(X.min())), max(1.0, float(X.max()))  # [0, 1]: 0 is white paper
        super().__init__(
            index=int(index), T=float(T), n=len(X), shape=[h, w],
            pixels=_b64(np.rint(255 * (X - lo) / (hi - lo)), np.uint8),
            teacher=_b64(z, "<f8"),
            student="" if student_logits is None else _b64(student_logits, "<f8"),
            names=names, labels=[] if labels is None else [int(k) for k in labels],
            student_name=str(student_name))
        self._recompute()
        self.observe(self._recompute, names=["index", "T", "teacher", "student"])

    @staticmethod
    def _check(index, T, n):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                or not 0 <= index < n:
            raise ValueError(f"index must be an int in [0, {n}), got {index!r}")
        check_positive(T, "T")

    @property
    def logits(self) -> np.ndarray:
        """The teacher's logits, (N, C), as the view has them."""
        return _unb64(self.teacher, "<f8", (self.n, -1))

    @property
    def student_logits(self) -> np.ndarray | None:
        """The student's logits, (N, C), or None."""
        return _unb64(self.student, "<f8", (self.n, -1)) if self.student else None

    @property
    def pixel_bytes(self) -> np.ndarray:
        """The images as the view draws them: (N, H, W) uint8, 255 the darkest."""
        return _unb64(self.pixels, np.uint8, (self.n, *self.shape))

    def update(self, index=None, T=None):
        """Show image ``index`` and/or temperature ``T``; returns ``self``.

        Bad input never raises: it is kept in ``error`` (and shown), the state unchanged.
        """
        try:
            self._check(self.index if index is None else index, self.T if T is None else T,
                        self.n)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            if index is not None:
                self.index = int(index)
            if T is not None:
                self.T = float(T)
            self.error = ""
        return self

    def _recompute(self, change=None):
        """probs, student_probs, entropy_value and kl for the current image and T."""
        try:
            self._check(self.index, self.T, self.n)
        except (TypeError, ValueError) as err:  # e.g. a T <= 0 set on the trait directly
            self.error = str(err)
            return
        v = self.logits[self.index]
        self.probs = softmax_t(v, self.T)
        self.entropy_value = float(entropy(self.probs))
        z = self.student_logits
        self.student_probs = None if z is None else softmax_t(z[self.index], self.T)
        self.kl = None if z is None else _kl_at_T(v, z[self.index], self.T)


def soft_target_explorer(images, logits, image_shape, class_names=None, labels=None, T=1.0,
                         index=0, student_logits=None, student_name="student"):
    """Step through images and slide T: the teacher's soft targets, and a student's, in the browser.

    Parameters
    ----------
    images : array (N, H*W)
        Flattened images (values in [0, 1] are drawn as they are: 0 white, 1 black).
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
    student_logits : array (N, C), optional
        A student's logits for the same images: its prediction at T is drawn beside the
        teacher's, with ``KL(softmax(v/T) ‖ softmax(z/T))``.
    student_name : str
        What the view calls the student.

    Returns
    -------
    SoftTargetExplorer
        An ``anywidget.AnyWidget``, live in JupyterLab and on the website; ``.update(index=...,
        T=...)`` drives it and ``.probs``, ``.student_probs``, ``.kl`` report what it shows.

    Examples
    --------
    >>> import numpy as np
    >>> w = soft_target_explorer(np.zeros((2, 4)), [[2.0, 0.0], [0.0, 1.0]], (2, 2),
    ...                          student_logits=[[1.0, 0.0], [0.0, 1.0]])
    >>> w.update(index=1, T=1.0).probs.round(3).tolist(), round(w.kl, 12)
    ([0.269, 0.731], 0.0)

    See notebook 02.
    """
    return SoftTargetExplorer(images, logits, image_shape, class_names=class_names,
                              labels=labels, T=T, index=index, student_logits=student_logits,
                              student_name=student_name)


class AlphaTemperatureExplorer(BrowserExplorer):
    """What α and T do to the distillation loss's pull, beside what they did to the test errors.

    Build it with :func:`alpha_temperature_explorer`. The view (``kdlab/js/alpha_temperature.js``)
    computes in closed form, in the browser, the soft:hard gradient balance
    ``‖α ∇soft‖ / ‖(1 − α) ∇hard‖`` of a batch of real examples (the teacher's logits ``v``, a
    student's ``z``, the labels), with the soft term's ``T²`` and without it, as curves over T and
    at the chosen (α, T); beside it, the measured test errors of students distilled on the
    (α, T) grid, the measured cell nearest the chosen (α, T) outlined. Python recomputes with
    torch autograd (:func:`kdlab.mistakes.gradient_balance`) ``balance`` and ``balance_no_T2``,
    and the nearest ``cell`` and its ``value``; :meth:`update` sets α and/or T.

    See notebook 02.
    """

    _esm = frontend.esm("alpha_temperature")

    alpha = traitlets.Float(0.9).tag(sync=True)
    T = traitlets.Float(4.0).tag(sync=True)
    errors = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    alphas = traitlets.List(traitlets.Float()).tag(sync=True)
    temperatures = traitlets.List(traitlets.Float()).tag(sync=True)
    v = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)  # teacher's logits
    z = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)  # student's logits
    y = traitlets.List(traitlets.Int()).tag(sync=True)  # labels
    reference = traitlets.List().tag(sync=True)  # [name, value] pairs shown beside the cell
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, errors, alphas, temperatures, teacher_logits, student_logits, labels,
                 alpha=None, T=None, reference=None):
        m = np.asarray(errors, dtype=float)
        alphas = [float(a) for a in alphas]
        temperatures = [float(t) for t in temperatures]
        if m.ndim != 2 or m.shape != (len(alphas), len(temperatures)) or not m.size:
            raise ValueError(f"errors must have shape (len(alphas), len(temperatures)) = "
                             f"{(len(alphas), len(temperatures))}, got {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("errors must be finite")
        if not all(0 <= a <= 1 for a in alphas):
            raise ValueError(f"alphas must be in [0, 1], got {alphas}")
        if not all(math.isfinite(t) and t > 0 for t in temperatures):
            raise ValueError(f"temperatures must be positive, got {temperatures}")
        v = np.asarray(teacher_logits, dtype=float)
        z = np.asarray(student_logits, dtype=float)
        if v.ndim != 2 or len(v) < 1 or v.shape[1] < 2:
            raise ValueError(f"teacher_logits must have shape (N, C) with C >= 2, got {v.shape}")
        if z.shape != v.shape:
            raise ValueError(f"student_logits must have the shape of teacher_logits {v.shape}, "
                             f"got {z.shape}")
        for name, value in [("teacher_logits", v), ("student_logits", z)]:
            if not np.isfinite(value).all():
                raise ValueError(f"{name} must be finite")
        y = np.asarray(labels)
        if y.shape != (len(v),):
            raise ValueError(f"labels must hold {len(v)} labels, got shape {y.shape}")
        y = check_labels(y, v.shape[1], "labels")
        best = np.unravel_index(np.argmin(m), m.shape)
        alpha = alphas[best[0]] if alpha is None else alpha
        T = temperatures[best[1]] if T is None else T
        self._check(alpha, T)
        super().__init__(alpha=float(alpha), T=float(T), errors=m.tolist(), alphas=alphas,
                         temperatures=temperatures, v=v.tolist(), z=z.tolist(),
                         y=[int(k) for k in y],
                         reference=[[str(k), float(x)] for k, x in (reference or {}).items()])
        self._recompute()
        self.observe(self._recompute, names=["alpha", "T", "v", "z", "y", "errors"])

    @staticmethod
    def _check(alpha, T):
        check_real(alpha, "alpha", 0, 1)
        check_positive(T, "T")

    def update(self, alpha=None, T=None):
        """Set ``alpha`` and/or ``T`` (any values: the nearest measured cell is outlined).

        Bad input never raises: it is kept in ``error`` (and shown), the state unchanged.
        """
        try:
            self._check(self.alpha if alpha is None else alpha, self.T if T is None else T)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            if alpha is not None:
                self.alpha = float(alpha)
            if T is not None:
                self.T = float(T)
            self.error = ""
        return self

    def nearest_cell(self, alpha, T) -> tuple[int, int]:
        """The measured (row, column) nearest ``(alpha, T)``: α linearly, T on a log scale."""
        i = int(np.argmin([abs(a - alpha) for a in self.alphas]))
        j = int(np.argmin([abs(math.log(t / T)) for t in self.temperatures]))
        return i, j

    def _recompute(self, change=None):
        """balance, balance_no_T2 (autograd, kdlab.mistakes), cell and value for the state."""
        from kdlab.mistakes import MISTAKES, gradient_balance

        try:
            self._check(self.alpha, self.T)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return
        v, z = np.array(self.v), np.array(self.z)
        self.balance, self.balance_no_T2 = (
            gradient_balance(MISTAKES[k]["loss"], z, v, self.y, self.T, self.alpha)
            for k in ("correct", "no T²"))
        self.cell = self.nearest_cell(self.alpha, self.T)
        self.value = self.errors[self.cell[0]][self.cell[1]]


def alpha_temperature_explorer(errors, alphas, temperatures, teacher_logits, student_logits,
                               labels, alpha=None, T=None, reference=None):
    """Slide α and T: the soft:hard gradient balance of real examples, with and without T², beside
    the measured test errors of the (α, T) grid, drawn in the browser.

    Parameters
    ----------
    errors : array-like, shape (len(alphas), len(temperatures))
        Test errors of a student distilled at each (alpha, T), measured beforehand.
    alphas, temperatures : sequence of float
        The grid.
    teacher_logits, student_logits : array-like, shape (N, C)
        A batch of real examples: the teacher's logits and a student's.
    labels : array-like of int, shape (N,)
        Their classes (the hard term).
    alpha, T : float, optional
        Where to start (default: the grid's best cell). T's slider spans the grid's range, and
        a bit more, on a log scale.
    reference : dict of str to float, optional
        Numbers shown beside the chosen cell (e.g. ``{"labels alone": 120}``).

    Returns
    -------
    AlphaTemperatureExplorer
        ``.balance`` and ``.balance_no_T2`` are ``‖α ∇soft‖ / ‖(1 − α) ∇hard‖`` of the batch
        with and without T²; ``.cell`` the nearest measured cell and ``.value`` its errors.

    Examples
    --------
    >>> w = alpha_temperature_explorer([[30, 20], [25, 40]], [0.5, 1.0], [2.0, 20.0],
    ...                                [[3.0, 0.0, -1.0]], [[0.5, 0.2, 0.0]], [0])
    >>> w.cell, w.value
    ((0, 1), 20.0)
    >>> w = w.update(alpha=0.9, T=4.0)
    >>> w.cell, round(w.balance / w.balance_no_T2, 6)  # the T² factor: 16
    ((1, 0), 16.0)

    See notebook 02.
    """
    return AlphaTemperatureExplorer(errors, alphas, temperatures, teacher_logits, student_logits,
                                    labels, alpha=alpha, T=T, reference=reference)


# --- chapter 03 ----------------------------------------------------------------------------------


def _diverging_colours(n: int = 256, cmap: str = "RdBu_r") -> list[str]:
    """The ``n`` colours of matplotlib's ``cmap`` as "#rrggbb", for a view drawn in the browser."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return [to_hex(c) for c in colormaps[cmap].resampled(n)(np.arange(n))]


class ClusterExplorer(BrowserExplorer):
    """Pick a matrix, a number of clusters K and a method; see the matrix clustered, in the browser.

    Build it with :func:`cluster_explorer`. Every partition the controls offer (each matrix,
    each K from 1 to ``k_max``, each method of :data:`kdlab.clustering.METHODS`) is computed up
    front by :func:`kdlab.clustering.cluster_classes` and kept in the widget's state; the view
    (``kdlab/js/cluster.js``) only looks them up, so it switches at once, in JupyterLab and on
    the website alike (no kernel there). It draws the matrix as a heat map with rows and columns
    reordered cluster by cluster, each cluster boxed (red: positive, blue: negative, white: 0),
    and lists the classes of each cluster. ``dataset``, ``n_clusters`` and ``method`` follow the
    controls; ``groups`` is the partition shown; :meth:`update` sets them from code and ``error``
    holds the message shown for bad input.

    See notebook 03.
    """

    _esm = frontend.esm("cluster")

    datasets = traitlets.List().tag(sync=True)  # {name, names, matrix, k_max} per matrix
    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)
    partitions = traitlets.Dict().tag(sync=True)  # name -> method -> [cluster ids per class] by K
    colours = traitlets.List(traitlets.Unicode()).tag(sync=True)  # the diverging colour map
    dataset = traitlets.Unicode("").tag(sync=True)
    n_clusters = traitlets.Int(1).tag(sync=True)
    method = traitlets.Unicode("online-kmeans").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, matrices, n_clusters=2, method="online-kmeans", k_max=12):
        from kdlab.clustering import METHODS, cluster_classes, group_labels

        if not isinstance(matrices, dict) or not matrices:
            raise ValueError("matrices must be a non-empty dict: name -> (matrix, class_names)")
        if isinstance(k_max, bool) or not isinstance(k_max, (int, np.integer)) or k_max < 1:
            raise ValueError(f"k_max must be a positive int, got {k_max!r}")
        self.matrices = {}
        for name, value in matrices.items():
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise ValueError(f"matrices[{name!r}] must be a pair (matrix, class_names)")
            matrix, names = value
            try:
                m = np.asarray(matrix, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"matrices[{name!r}]: the matrix must hold numbers") from None
            if m.ndim != 2 or m.shape[0] != m.shape[1] or not m.size:
                raise ValueError(f"matrices[{name!r}]: the matrix must be square (C, C), got "
                                 f"shape {m.shape}")
            if not np.isfinite(m).all():
                raise ValueError(f"matrices[{name!r}]: the matrix must be finite")
            names = [str(c) for c in (range(len(m)) if names is None else names)]
            if len(names) != len(m):
                raise ValueError(f"matrices[{name!r}]: class_names must name all {len(m)} "
                                 f"classes, got {len(names)}")
            self.matrices[str(name)] = (m, names)
        self.methods_ = list(METHODS)
        self._check(next(iter(self.matrices)), n_clusters, method, int(k_max))
        partitions = {}
        for name, (m, _) in self.matrices.items():
            try:
                partitions[name] = {
                    how: [group_labels(cluster_classes(m, k, method=how), len(m)).tolist()
                          for k in range(1, min(len(m), k_max) + 1)]
                    for how in self.methods_}
            except ValueError as err:  # e.g. not symmetric
                raise ValueError(f"matrices[{name!r}]: {err}") from None
        super().__init__(
            datasets=[{"name": name, "names": names, "matrix": m.tolist(),
                       "k_max": min(len(m), int(k_max))}
                      for name, (m, names) in self.matrices.items()],
            methods=self.methods_, partitions=partitions, colours=_diverging_colours(),
            dataset=next(iter(self.matrices)), n_clusters=int(n_clusters), method=method)
        self.observe(self._on_dataset, names="dataset")
        self.observe(self._on_choice, names=["n_clusters", "method"])

    def k_max(self, dataset=None) -> int:
        """The largest K offered for ``dataset`` (default: the one shown)."""
        return next(d["k_max"] for d in self.datasets
                    if d["name"] == (self.dataset if dataset is None else dataset))

    def _check(self, dataset, n_clusters, method, k_max=None):
        if dataset not in self.matrices:
            raise ValueError(f"dataset must be one of {', '.join(map(repr, self.matrices))}; "
                             f"got {dataset!r}")
        if not isinstance(method, str) or method not in self.methods_:
            raise ValueError(f"method must be one of {', '.join(map(repr, self.methods_))}; "
                             f"got {method!r}")
        top = min(len(self.matrices[dataset][0]), k_max) if k_max else self.k_max(dataset)
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) \
                or not 1 <= n_clusters <= top:
            raise ValueError(f"n_clusters must be an int from 1 to {top} for {dataset!r}, "
                             f"got {n_clusters!r}")

    def update(self, dataset=None, n_clusters=None, method=None):
        """Choose the matrix, K and/or the method; returns ``self``.

        A new matrix with fewer classes than K lowers K to its number of classes. Bad input
        never raises: it is kept in ``error`` (and shown), the state unchanged.
        """
        dataset = self.dataset if dataset is None else dataset
        method = self.method if method is None else method
        try:
            k = n_clusters
            if k is None:
                k = min(self.n_clusters, self.k_max(dataset)) if dataset in self.matrices \
                    else self.n_clusters
            self._check(dataset, k, method)
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            self.n_clusters = min(int(k), self.n_clusters)  # valid for both matrices
            self.dataset, self.method, self.n_clusters = dataset, method, int(k)
            self.error = ""
        return self

    @property
    def labels(self) -> np.ndarray:
        """The cluster of each class in the partition shown (as :func:`group_labels` gives)."""
        return np.array(self.partitions[self.dataset][self.method][self.n_clusters - 1])

    @property
    def groups(self) -> list[np.ndarray]:
        """The partition shown: the groups of classes, as :func:`kdlab.cluster_classes` returns."""
        labels = self.labels
        return [np.flatnonzero(labels == k) for k in range(labels.max() + 1)]

    def _on_dataset(self, change):
        """A matrix with fewer classes than K (e.g. set on the trait): K becomes its size."""
        if change["new"] in self.matrices and self.n_clusters > self.k_max():
            self.n_clusters = self.k_max()
        self._on_choice()

    def _on_choice(self, change=None):
        try:
            self._check(self.dataset, self.n_clusters, self.method)
        except (TypeError, ValueError) as err:
            self.error = str(err)


def cluster_explorer(matrices, n_clusters=2, method="online-kmeans", k_max=12):
    """A matrix menu, a K slider and a method menu over precomputed :func:`kdlab.cluster_classes`.

    Parameters
    ----------
    matrices : dict of str to (array (C, C), sequence of str or None)
        The matrices to cluster, by name, each with its class names: e.g. the covariance of a
        generalist's predictions and a confusion affinity.
    n_clusters : int
        Initial K.
    method : str
        Initial method, one of :data:`kdlab.clustering.METHODS`.
    k_max : int, default 12
        The K slider spans 1 to ``min(C, k_max)``; every partition it offers is computed here,
        up front (``4 k_max`` clusterings per matrix: seconds).

    Returns
    -------
    ClusterExplorer
        An ``anywidget.AnyWidget``, live in JupyterLab and on the website (no kernel needed
        there); ``.update(dataset=..., n_clusters=..., method=...)`` drives it from code and
        ``.groups`` is the partition it shows.

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[2.0, 1.8, -1.0], [1.8, 2.0, -1.0], [-1.0, -1.0, 2.0]])
    >>> w = cluster_explorer({"toy": (cov, ["a", "b", "c"])}, n_clusters=2)
    >>> [g.tolist() for g in w.groups]
    [[0, 1], [2]]

    See notebook 03.
    """
    return ClusterExplorer(matrices, n_clusters=n_clusters, method=method, k_max=k_max)


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
        class_names = _class_names(class_names, n_classes) or None
        index = _choice(index, len(specialists), "index")
        if not isinstance(corrected, (bool, np.bool_)):
            raise TypeError(f"corrected must be True or False, got {corrected!r}")
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
        except (TypeError, ValueError) as err:
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
        names = _class_names(class_names, n_classes)
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
        super().__init__(
            p=p.tolist(), subsets=[s.tolist() for s, _ in specialists],
            probs=[np.asarray(m, dtype=float).tolist() for _, m in specialists], names=names,
            labels=labels, ids=ids, changed=changed, n_top=int(n_top), index=index,
            changed_only=bool(changed_only), enabled=enabled)
        self._recompute()
        self.observe(self._recompute, names=["index", "enabled"])

    @staticmethod
    def _enabled(enabled, n_specialists: int) -> list[bool]:
        if isinstance(enabled, (str, bytes)) or not hasattr(enabled, "__iter__"):
            raise TypeError(f"enabled must be {n_specialists} booleans (one per specialist), "
                            f"got {enabled!r}")
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
        except (TypeError, ValueError) as err:
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


def _centre_palette(k: int) -> list[str]:
    """One colour per centre, "#rrggbb": matplotlib's tab10 up to 10 centres, else ``k`` hues
    evenly spaced on its hsv circle (so that more than 10 centres stay distinct).

    Examples
    --------
    >>> _centre_palette(2)
    ['#1f77b4', '#ff7f0e']
    >>> len(set(_centre_palette(12)))
    12

    See notebook 06.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    colours = (colormaps["tab10"].colors[:k] if k <= 10
               else colormaps["hsv"](np.linspace(0, 1, k, endpoint=False)))
    return [to_hex(c) for c in colours]


def _points_2d(values, name: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, shape (N, 2)") from None
    if a.ndim != 2 or a.shape[1] != 2 or not len(a):
        raise ValueError(f"{name} must hold 2-d points, shape (N, 2), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite")
    return a


class SoftKMeansExplorer(BrowserExplorer):
    """A temperature slider over soft K-means assignments of 2-d points to fixed centres.

    Each point is coloured by its responsibilities ``softmax(−‖x − μ‖² / T)`` mixed over the
    centres' colours (:func:`_centre_palette`): pure colours when ``T`` is small (K-means), a
    grey mixture when it is large. Build it with :func:`soft_kmeans_explorer`. The view
    (``kdlab/js/softkmeans.js``) computes the responsibilities and their mean entropy in the
    browser from the points and centres kept in the widget's state, so the slider answers at
    once, in JupyterLab and on the website alike. ``T`` follows the slider; Python recomputes
    ``responsibilities`` (:func:`kdlab.softkmeans.soft_assignments`) and ``entropy_value`` from
    it; :meth:`update` sets ``T`` from code and ``error`` holds the message shown for bad input.

    See notebook 06.
    """

    _esm = frontend.esm("softkmeans")

    T = traitlets.Float(1.0).tag(sync=True)
    points = traitlets.List().tag(sync=True)  # [[x1, x2], ...]
    centres = traitlets.List().tag(sync=True)  # [[x1, x2], ...]
    palette = traitlets.List(traitlets.Unicode()).tag(sync=True)  # one colour per centre
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, X, centers, T=1.0):
        X, centers = _points_2d(X, "X"), _points_2d(centers, "centers")
        T = check_positive(T, "T")
        super().__init__(T=T, points=X.tolist(), centres=centers.tolist(),
                         palette=_centre_palette(len(centers)))
        self._recompute()
        self.observe(self._recompute, names=["T", "points", "centres"])

    @property
    def X(self) -> np.ndarray:
        return np.array(self.points, dtype=float)

    @property
    def centers(self) -> np.ndarray:
        return np.array(self.centres, dtype=float)

    def update(self, T=None):
        """Set the temperature ``T``; returns ``self``. Bad input is kept in ``error``, never
        raised, and the previous state stays."""
        if T is None:
            return self
        try:
            T = check_positive(T, "T")
        except (TypeError, ValueError) as err:
            self.error = str(err)
            return self
        with self.hold_sync():
            self.T = T
            self.error = ""
        return self

    def colours(self) -> np.ndarray:
        """Each point's colour, RGB in [0, 1]: its responsibilities mixing the centres' colours."""
        from matplotlib.colors import to_rgb

        base = np.array([to_rgb(c) for c in self.palette])
        return np.clip(self.responsibilities @ base, 0, 1)

    def _recompute(self, change=None):
        """responsibilities and entropy_value (kdlab.softkmeans) for the current T."""
        from kdlab.softkmeans import soft_assignments

        try:
            r = soft_assignments(self.X, self.centers, self.T)
        except (TypeError, ValueError) as err:  # e.g. a T <= 0 set on the trait directly
            self.error = str(err)
            return
        self.responsibilities = r
        self.entropy_value = float(entropy(r).mean())


def soft_kmeans_explorer(X, centers, T=1.0):
    """A log-scale T slider (0.01 to 100) over soft K-means assignments of 2-d points.

    Parameters
    ----------
    X : array (N, 2)
        The points.
    centers : array (K, 2)
        The centres (e.g. K-means' ``cluster_centers_``).
    T : float, default 1.0
        The initial temperature.

    Returns
    -------
    SoftKMeansExplorer
        An ``anywidget.AnyWidget``, live in JupyterLab and on the website (no kernel needed
        there); ``.update(T)`` drives it from code, ``.responsibilities`` and
        ``.entropy_value`` report what it shows.

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


# --- all of them ---------------------------------------------------------------------------------


def gallery(seed: int = 0) -> dict:
    """Every explorer, built on synthetic inputs of the notebooks' sizes (nothing is trained).

    For a look at all eight side by side, for ``benchmarks/bench_widgets.py`` and for the
    browser tests (in JupyterLab): ten classes; 300 images of 28 × 28 with a teacher's and a
    student's logits; a 4 × 4 grid of errors beside 64 examples; the 40 synthetic classes'
    correlation matrix of chapter 03; three untrained specialists with overlapping groups and
    200 images (KL inference consults several at once, ``n_top=2``); 300 points and 4 centres.

    Returns
    -------
    dict
        Name → explorer: "temperature", "soft targets", "alpha x T", "clusters",
        "specialists", "inference", "soft k-means", "mistakes".

    Examples
    --------
    >>> sorted(gallery())[:3]
    ['alpha x T', 'clusters', 'inference']
    """
    from kdlab.covariance import correlation_from_covariance, prediction_covariance
    from kdlab.hierarchy import gibbs_probabilities, make_hierarchical
    from kdlab.models import MLP
    from kdlab.specialists import Specialist

    rng, C = np.random.default_rng(seed), 10
    names = [f"class {k}" for k in range(C)]
    logits = rng.normal(scale=3.0, size=(300, C))
    alphas, temperatures = [0.0, 0.5, 0.9, 1.0], [1.0, 4.0, 8.0, 20.0]
    X40, _, _, centres40 = make_hierarchical(8, 5, n_per_class=20, random_state=seed,
                                             return_centers=True)
    corr40 = correlation_from_covariance(prediction_covariance(
        gibbs_probabilities(X40, centres40)))
    groups = ([0, 1, 2], [2, 3], [3, 4, 5])
    Xs, ys = rng.normal(size=(200, 16)).astype(np.float32), rng.integers(0, C, size=200)
    specialists = [Specialist(MLP(16, (32,), C, seed=k), s, dustbin_correction=1.0)
                   for k, s in enumerate(groups)]
    p_g = rng.dirichlet(np.ones(C), size=200)
    opinions = [(np.array(s), rng.dirichlet(np.ones(len(s) + 1), size=200)) for s in groups]
    return {
        "temperature": TemperatureExplorer(rng.normal(scale=3.0, size=C), class_names=names),
        "soft targets": SoftTargetExplorer(
            rng.random((300, 28 * 28)), logits, (28, 28), class_names=names,
            labels=np.arange(300) % C, T=4.0,
            student_logits=logits + rng.normal(size=logits.shape)),
        "alpha x T": AlphaTemperatureExplorer(
            rng.integers(100, 300, size=(len(alphas), len(temperatures))), alphas,
            temperatures, logits[:64], rng.normal(scale=0.3, size=(64, C)), np.arange(64) % C,
            alpha=0.9, T=4.0),
        "clusters": ClusterExplorer({"synthetic": (corr40, None)}, n_clusters=1),
        "specialists": SpecialistExplorer(specialists, Xs, ys, class_names=names),
        "inference": InferenceExplorer(p_g, opinions, class_names=names, labels=ys, n_top=2),
        "soft k-means": SoftKMeansExplorer(
            rng.normal(size=(300, 2)) * 2.0,
            np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5], [0.0, -1.5]])),
        "mistakes": MistakesExplorer(rng.normal(size=C), rng.normal(scale=3.0, size=C), 0,
                                     class_names=names),
    }
