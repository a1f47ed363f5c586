"""Pure plotting functions: data in, a matplotlib ``Axes`` out (one section per chapter).

Nothing here changes global matplotlib state. ``matplotlib.pyplot`` is imported only when a
function is called without ``ax`` (to make a new figure); pass ``ax`` to draw anywhere else.
"""

from __future__ import annotations

import numbers

import numpy as np

from kdlab.inference import stratum_name
from kdlab.temperature import entropy, softmax_t

__all__ = [
    "plot_probs",
    "plot_temperature_curves",
    "plot_image",
    "plot_vs_temperature",
    "plot_class_matrix",
    "plot_errors",
    "plot_alpha_temperature_grid",
    "plot_bias_shift",
    "plot_clustered_matrix",
    "plot_by_seed",
    "plot_gain_by_covering",
]


def _new_axes(ax, figsize):
    """Return ``ax``, or the axes of a new pyplot figure of ``figsize`` when ``ax`` is None."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, layout="constrained")[1]


def _names(class_names, n: int, arg: str = "class_names", what: str = "classes") -> list[str]:
    """``class_names`` as a list of ``n`` strings (default ``"0" .. "n-1"``)."""
    if class_names is None:
        return [str(i) for i in range(n)]
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"{arg} must name all {n} {what}, got {len(names)} names")
    return names


def _heatmap(ax, m: np.ndarray, label: str, fmt: str | None = None, fontsize="x-small",
             **imshow):
    """``m`` as an image with a colour bar labelled ``label``; with ``fmt``, each cell's value
    written on it in black or white, whichever reads better on that cell's own colour."""
    image = ax.imshow(m, **imshow)
    ax.figure.colorbar(image, ax=ax, label=label, shrink=0.8)
    if fmt is not None:
        for (i, j), value in np.ndenumerate(m):
            r, g, b, _ = image.cmap(image.norm(value))
            light = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5  # relative luminance
            ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=fontsize,
                    color="black" if light else "white")
    return image


def _matrix(values, name: str) -> np.ndarray:
    """``values`` as a finite float array with one or two axes."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ValueError(f"{name} must be a non-empty 1-d or 2-d array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


# --- chapter 01 ----------------------------------------------------------------------------------


def plot_probs(probs, class_names=None, ax=None, title=None, labels=None, highlight=None):
    """Bar chart of one probability vector, or grouped bars for several (one row each).

    Parameters
    ----------
    probs : array-like, shape (C,) or (K, C)
        Probabilities over ``C`` classes; ``K`` rows are drawn side by side.
    class_names : sequence of str, optional
        Tick labels (default ``0 .. C-1``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    labels : sequence of str, optional
        Legend entry for each of the ``K`` rows.
    highlight : int, optional
        A class to mark with a grey band (e.g. the true label).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; its ``containers`` hold one ``BarContainer`` per row.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_probs([0.7, 0.2, 0.1], ["cat", "dog", "car"], ax=Figure().subplots())
    >>> [round(float(b.get_height()), 1) for b in ax.patches]
    [0.7, 0.2, 0.1]

    See notebook 01.
    """
    p = _matrix(probs, "probs")
    rows = p.reshape(1, -1) if p.ndim == 1 else p
    k, c = rows.shape
    names = _names(class_names, c)
    if labels is not None and len(labels) != k:
        raise ValueError(f"labels must name all {k} rows of probs, got {len(labels)}")
    ax = _new_axes(ax, (max(5.0, 0.6 * c + 1), 3.2))
    width = 0.8 / k
    x = np.arange(c)
    for i, row in enumerate(rows):
        label = None if labels is None else str(labels[i])
        ax.bar(x + (i - (k - 1) / 2) * width, row, width=width, label=label)
    if highlight is not None:
        ax.axvspan(highlight - 0.45, highlight + 0.45, color="0.5", alpha=0.15, zorder=0)
    long_names = max(map(len, names)) > 3
    ax.set_xticks(x, names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    ax.set_ylim(0, max(1.0, float(rows.max()) * 1.05))
    if labels is not None:
        ax.legend(frameon=False)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_temperature_curves(logits, temperatures=None, class_names=None, ax=None, title=None,
                            kind="probs"):
    """Each class's probability (``kind="probs"``) or the entropy (``"entropy"``) against T.

    Parameters
    ----------
    logits : array-like, shape (C,)
        One example's logits.
    temperatures : array-like, optional
        The temperatures to evaluate (default: 200 points from 1e-2 to 1e2, log-spaced).
    class_names : sequence of str, optional
        Legend labels of the classes for ``kind="probs"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    kind : {"probs", "entropy"}
        What to draw. The entropy plot also marks its maximum ``log C`` (uniform).

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with a log-scaled T axis.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_temperature_curves([2.0, 1.0, 0.0], kind="entropy", ax=Figure().subplots())
    >>> ax.get_xscale(), ax.get_ylabel()
    ('log', 'entropy (nats)')

    See notebook 01.
    """
    if kind not in ("probs", "entropy"):
        raise ValueError(f"kind must be 'probs' or 'entropy', got {kind!r}")
    z = _matrix(logits, "logits")
    if z.ndim != 1:
        raise ValueError(f"logits must be one example's logits (1-d), got shape {z.shape}")
    Ts = np.logspace(-2, 2, 200) if temperatures is None else _matrix(temperatures,
                                                                      "temperatures")
    if Ts.ndim != 1 or (Ts <= 0).any():
        raise ValueError("temperatures must be a 1-d array of positive numbers")
    probs = np.stack([softmax_t(z, T) for T in Ts])
    ax = _new_axes(ax, (6.0, 3.5))
    if kind == "probs":
        for name, column in zip(_names(class_names, len(z)), probs.T, strict=True):
            ax.plot(Ts, column, label=name)
        ax.axhline(1 / len(z), color="0.5", lw=0.8, ls="--", label="uniform 1/C")
        ax.set_ylabel("probability")
        ax.set_ylim(0, 1.02)
        ax.legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1, 0.5))
    else:
        ax.plot(Ts, entropy(probs), label="entropy of softmax(z/T)")
        ax.axhline(np.log(len(z)), color="0.5", lw=0.8, ls="--", label="log C (uniform)")
        ax.set_ylabel("entropy (nats)")
        ax.set_ylim(0, np.log(len(z)) * 1.05)
        ax.legend(frameon=False)
    ax.axvline(1.0, color="0.3", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("temperature T")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_image(x, image_shape, ax=None, title=None, cmap="gray_r"):
    """Show a flattened image ``x`` reshaped to ``image_shape``, without ticks.

    Parameters
    ----------
    x : array-like, shape (H*W,)
        Pixel values, e.g. in [0, 1].
    image_shape : tuple of int
        ``(H, W)``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    cmap : str, default "gray_r"
        Colour map (dark ink on white paper).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> ax = plot_image(np.zeros(4), (2, 2), ax=Figure().subplots())
    >>> ax.images[0].get_array().shape
    (2, 2)

    See notebook 01.
    """
    shape = tuple(int(s) for s in image_shape)
    arr = np.asarray(x, dtype=float)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"x has {arr.size} values, which cannot be reshaped to image_shape "
                         f"{shape}")
    ax = _new_axes(ax, (2.5, 2.5))
    ax.imshow(arr.reshape(shape), cmap=cmap, vmin=min(0.0, arr.min()), vmax=max(1.0, arr.max()))
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


def plot_vs_temperature(temperatures, curves, ax=None, ylabel="value", title=None, logy=True):
    """Line plot of one or more named series against the temperature, on log axes.

    Parameters
    ----------
    temperatures : array-like, shape (K,)
        The x values.
    curves : dict of str to array-like of shape (K,)
        One line per entry, labelled by its key.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    ylabel : str
        The y-axis label.
    title : str, optional
        Axes title.
    logy : bool, default True
        Log-scale the y axis too.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_vs_temperature([1, 10], {"1/T": [1, 0.1]}, ax=Figure().subplots())
    >>> [line.get_label() for line in ax.lines]
    ['1/T']

    See notebook 01.
    """
    Ts = _matrix(temperatures, "temperatures")
    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict of label -> values")
    ax = _new_axes(ax, (5.5, 3.5))
    for label, values in curves.items():
        values = _matrix(values, f"curves[{label!r}]")
        if values.shape != Ts.shape:
            raise ValueError(f"curves[{label!r}] must have one value per temperature "
                             f"({Ts.shape}), got shape {values.shape}")
        ax.plot(Ts, values, marker="o", ms=3, label=str(label))
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("temperature T")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_class_matrix(matrix, class_names=None, ax=None, title=None, label="value",
                      fmt=".2f", cmap="Blues", *, xlabel="class", ylabel="true class",
                      center=None):
    """Heat map of a C x C matrix over classes (rows: true class by default), each cell annotated.

    Parameters
    ----------
    matrix : array-like, shape (C, C)
        E.g. the mean soft target of each true class, or a confusion matrix.
    class_names : sequence of str, optional
        Row and column labels (default ``0 .. C-1``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    label : str
        Colour-bar label.
    fmt : str or None, default ".2f"
        Format of the numbers written in the cells; ``None`` writes none.
    cmap : str, default "Blues"
        Colour map.
    xlabel, ylabel : str
        What the columns and the rows are (default "class" and "true class"; e.g. for a
        covariance of predicted probabilities, both are predicted probabilities).
    center : float, optional
        Make the colour scale symmetric about this value (for a diverging ``cmap`` such as
        "RdBu_r": its middle colour, white, at ``center``, e.g. 0 for a covariance).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> ax = plot_class_matrix(np.eye(3), ["a", "b", "c"], ax=Figure().subplots())
    >>> ax.images[0].get_array().shape
    (3, 3)
    >>> ax = plot_class_matrix([[2.0, -0.5], [-0.5, 1.0]], ax=Figure().subplots(),
    ...                        cmap="RdBu_r", center=0, ylabel="P_i", xlabel="P_j")
    >>> ax.images[0].get_clim()
    (-2.0, 2.0)

    See notebook 01.
    """
    m = _matrix(matrix, "matrix")
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square (C, C), got shape {m.shape}")
    names = _names(class_names, m.shape[0])
    limits = {}
    if center is not None:
        if isinstance(center, bool) or not isinstance(center, numbers.Real) or not np.isfinite(
                center):
            raise ValueError(f"center must be a finite number, got {center!r}")
        half = float(np.abs(m - center).max()) or 1.0
        limits = dict(vmin=center - half, vmax=center + half)
    ax = _new_axes(ax, (0.55 * len(names) + 2.5, 0.5 * len(names) + 1.5))
    _heatmap(ax, m, label, fmt, cmap=cmap, **limits)
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return ax


# --- chapter 02 ----------------------------------------------------------------------------------


def plot_errors(labels, errors, ax=None, title=None, reference=None, ylabel="test errors"):
    """Bar chart of error counts (e.g. teacher, student, distilled), each bar annotated.

    Parameters
    ----------
    labels : sequence of str
        One name per bar.
    errors : array-like, shape (K,)
        The error counts (or rates).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    reference : array-like, shape (K,), optional
        Numbers to compare with (e.g. the paper's, scaled), drawn as black ticks.
    ylabel : str
        The y-axis label.

    Returns
    -------
    matplotlib.axes.Axes
        Its first container holds the bars.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_errors(["a", "b"], [3, 5], ax=Figure().subplots())
    >>> [float(b.get_height()) for b in ax.containers[0]]
    [3.0, 5.0]

    See notebook 02.
    """
    values = _matrix(errors, "errors")
    if values.ndim != 1:
        raise ValueError(f"errors must be 1-d (one value per bar), got shape {values.shape}")
    names = _names(labels, len(values), "labels", "bars")
    ax = _new_axes(ax, (max(4.0, 1.2 * len(values) + 1), 3.2))
    x = np.arange(len(values))
    bars = ax.bar(x, values, color=[f"C{i}" for i in range(len(values))], label="ours")
    ax.bar_label(bars, fmt="%g", fontsize="small")
    if reference is not None:
        ref = _matrix(reference, "reference")
        if ref.shape != values.shape:
            raise ValueError(f"reference must have one value per bar ({len(values)}), got "
                             f"shape {ref.shape}")
        ax.scatter(x, ref, marker="_", s=600, color="black", zorder=3, label="reference")
        ax.legend(frameon=False)
    ax.set_xticks(x, names)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_alpha_temperature_grid(errors, alphas, temperatures, ax=None, title=None,
                                highlight=None, label="test errors"):
    """Heat map of errors of students distilled at each (alpha, T); rows alpha, columns T.

    Parameters
    ----------
    errors : array-like, shape (len(alphas), len(temperatures))
        E.g. the result of :func:`kdlab.experiments.distill_grid`.
    alphas, temperatures : sequence of float
        The row and column values.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    highlight : (int, int), optional
        A (row, column) cell to outline (e.g. the one chosen with the sliders).
    label : str
        Colour-bar label.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_alpha_temperature_grid([[3, 2], [4, 1]], [0.5, 1.0], [2, 20],
    ...                                  ax=Figure().subplots())
    >>> ax.images[0].get_array().shape
    (2, 2)

    See notebook 02.
    """
    m = _matrix(errors, "errors")
    a, t = np.asarray(alphas, dtype=float), np.asarray(temperatures, dtype=float)
    if m.ndim != 2 or m.shape != (a.size, t.size):
        raise ValueError(f"errors must have shape (len(alphas), len(temperatures)) = "
                         f"{(a.size, t.size)}, got {m.shape}")
    ax = _new_axes(ax, (0.8 * t.size + 2.5, 0.6 * a.size + 1.5))
    _heatmap(ax, m, label, "g", fontsize="small", cmap="viridis_r", aspect="auto")
    ax.set_xticks(np.arange(t.size), [f"{v:g}" for v in t])
    ax.set_yticks(np.arange(a.size), [f"{v:g}" for v in a])
    ax.set_xlabel("temperature T")
    ax.set_ylabel("α (weight of the soft loss)")
    if highlight is not None:
        try:
            i, j = (int(k) for k in highlight)
        except (TypeError, ValueError):
            raise ValueError(f"highlight must be a (row, column) cell of the grid {m.shape}, "
                             f"got {highlight!r}") from None
        if not (0 <= i < a.size and 0 <= j < t.size):
            raise ValueError(f"highlight must be a (row, column) cell of the grid {m.shape}, "
                             f"got {highlight!r}")
        from matplotlib.patches import Rectangle

        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=3, ec="C3"))
    if title is not None:
        ax.set_title(title)
    return ax


def plot_bias_shift(grid, errors, chosen=None, ax=None, title=None, ylabel="validation errors"):
    """Errors against the shift added to one class's bias, with the chosen shift marked.

    Parameters
    ----------
    grid : array-like, shape (K,)
        The shifts tried.
    errors : array-like, shape (K,) or dict of str to shape (K,)
        The errors for every shift (several curves: a dict of label -> errors).
    chosen : float, optional
        The shift picked, drawn as a dashed vertical line.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    ylabel : str
        The y-axis label.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_bias_shift([0, 1, 2], [5, 2, 4], chosen=1, ax=Figure().subplots())
    >>> ax.lines[0].get_ydata().tolist()
    [5.0, 2.0, 4.0]

    See notebook 02.
    """
    g = _matrix(grid, "grid")
    curves = errors if isinstance(errors, dict) else {"errors": errors}
    if not curves:
        raise ValueError("errors must not be empty")
    ax = _new_axes(ax, (5.5, 3.4))
    for label, values in curves.items():
        values = _matrix(values, f"errors[{label!r}]")
        if values.shape != g.shape:
            raise ValueError(f"errors[{label!r}] must have one value per shift ({g.size}), "
                             f"got shape {values.shape}")
        ax.plot(g, values, marker="o", ms=3, label=str(label))
    if chosen is not None:
        if isinstance(chosen, bool) or not isinstance(chosen, numbers.Real) \
                or not np.isfinite(chosen):
            raise ValueError(f"chosen must be a finite number (the shift picked), got {chosen!r}")
        ax.axvline(float(chosen), color="0.3", ls="--", label=f"chosen: {float(chosen):g}")
    ax.set_xlabel("shift added to the bias")
    ax.set_ylabel(ylabel)
    if isinstance(errors, dict) or chosen is not None:
        ax.legend(frameon=False)
    if title is not None:
        ax.set_title(title)
    return ax


# --- chapter 03 ----------------------------------------------------------------------------------


def plot_clustered_matrix(matrix, groups, class_names=None, ax=None, title=None,
                          label="covariance", cmap="RdBu_r", fmt=None):
    """Heat map of a C×C matrix with rows and columns reordered cluster by cluster, boxed.

    Parameters
    ----------
    matrix : array-like, shape (C, C)
        E.g. the covariance of predicted probabilities, or a confusion affinity.
    groups : list of int arrays
        A partition of the classes (e.g. from :func:`kdlab.cluster_classes`).
    class_names : sequence of str, optional
        Names of the ``C`` classes.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    title : str, optional
        Axes title.
    label : str
        Colour-bar label.
    cmap : str
        A diverging map, centred on 0 (red: positive, blue: negative).
    fmt : str, optional
        Format of the values written in the cells (e.g. ``".2f"``); none by default.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> ax = plot_clustered_matrix(np.eye(3), [np.array([1]), np.array([0, 2])],
    ...                            ax=Figure().subplots())
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '0', '2']

    See notebook 03.
    """
    from matplotlib.patches import Rectangle

    m = _matrix(matrix, "matrix")
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square (C, C), got shape {m.shape}")
    from kdlab.clustering import cluster_order

    order = cluster_order(groups, m.shape[0])
    names = _names(class_names, m.shape[0])
    ax = _new_axes(ax, (0.45 * len(names) + 2.5, 0.4 * len(names) + 1.5))
    vmax = float(np.abs(m).max()) or 1.0
    _heatmap(ax, m[np.ix_(order, order)], label, fmt, cmap=cmap, vmin=-vmax, vmax=vmax)
    ticks = np.arange(len(order))
    if len(order) <= 40:
        ax.set_xticks(ticks, [names[k] for k in order], rotation=45, ha="right")
        ax.set_yticks(ticks, [names[k] for k in order])
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    start = 0
    for g in groups:
        size = len(np.atleast_1d(g))
        ax.add_patch(Rectangle((start - 0.5, start - 0.5), size, size, fill=False, lw=1.5,
                               ec="black"))
        start += size
    ax.set_xlabel("class (grouped by cluster)")
    ax.set_ylabel("class (grouped by cluster)")
    if title is not None:
        ax.set_title(title)
    return ax


# --- chapters 04 and 05 ----------------------------------------------------------------------


def plot_by_seed(series, labels=None, ax=None, title=None, ylabel="test accuracy",
                 percent=True):
    """Several models compared over seeds: one dot per seed, a bar at their mean.

    Parameters
    ----------
    series : dict of str -> array (n_seeds,) or (n_seeds, n_positions)
        Each model's numbers, one row per seed (e.g. within-group accuracy per group).
    labels : sequence of str, optional
        Names of the positions (e.g. the groups); one position by default.
    ax, title, ylabel
        As usual.
    percent : bool, default True
        Show fractions as percentages.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> ax = plot_by_seed({"a": np.array([0.8, 0.82]), "b": np.array([0.85, 0.84])},
    ...                   ax=Figure().subplots())
    >>> len(ax.patches), len(ax.collections)            # a bar and a dot cloud per model
    (2, 2)

    See notebooks 04 and 05.
    """
    if not isinstance(series, dict) or not series:
        raise ValueError("series must be a non-empty dict: model name -> values per seed")
    arrays = {}
    for name, values in series.items():
        a = _matrix(values, f"series[{name!r}]")
        arrays[str(name)] = a[:, None] if a.ndim == 1 else a
    shapes = {a.shape[1] for a in arrays.values()}
    if len(shapes) != 1:
        raise ValueError("series must all have the same number of positions (columns)")
    n_pos = shapes.pop()
    names = _names(labels, n_pos, "labels", "positions") if labels is not None else [""] * n_pos
    scale = 100.0 if percent else 1.0
    ax = _new_axes(ax, (max(4.0, 1.6 * n_pos * len(arrays) ** 0.5 + 2), 3.4))
    width = 0.8 / len(arrays)
    x = np.arange(n_pos)
    for k, (name, a) in enumerate(arrays.items()):
        pos = x - 0.4 + width * (k + 0.5)
        ax.bar(pos, scale * a.mean(axis=0), width * 0.9, color=f"C{k}", alpha=0.35, label=name)
        ax.scatter(np.repeat(pos, a.shape[0]), scale * a.T.ravel(), s=14, color=f"C{k}",
                   zorder=3)
    low = min(float(a.min()) for a in arrays.values()) * scale
    high = max(float(a.max()) for a in arrays.values()) * scale
    pad = (high - low) * 0.25 or abs(high) * 0.01 or 1.0
    ax.set_ylim(low - pad, high + pad)
    ax.set_xticks(x, names)
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    ax.legend(frameon=False, fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_gain_by_covering(rows, ax=None, title=None):
    """The paper's Table 4 as bars: the relative change in correct answers by the number of
    specialists covering the correct class, every bucket drawn and labelled with its count.

    ``rows`` come from :func:`kdlab.inference.accuracy_by_covering` (one series per stratum of
    the generalist's confidence, plus all images). A bucket with no example is marked
    "n = 0"; one where the generalist got nothing right (the relative change is undefined)
    "n/a".

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> rows = [dict(stratum=None, covering=k, n=n, relative_change=r)
    ...         for k, n, r in [(0, 5, 0.0), (1, 0, float("nan")), (2, 9, 0.2)]]
    >>> ax = plot_gain_by_covering(rows, ax=Figure().subplots())
    >>> [t.get_text() for t in ax.texts]
    ['n=5', 'n = 0', 'n=9']

    See notebook 05.
    """
    if not isinstance(rows, (list, tuple)) or not rows:
        raise ValueError("rows must be the non-empty list of accuracy_by_covering")
    strata = list(dict.fromkeys(r["stratum"] for r in rows))
    buckets = sorted({int(r["covering"]) for r in rows})
    ax = _new_axes(ax, (1.0 * len(buckets) + 3, 3.6))
    width = 0.8 / len(strata)
    values = [100 * r["relative_change"] for r in rows if r["n"] and np.isfinite(
        r["relative_change"])]
    top = max([abs(v) for v in values] + [1.0])
    for k, stratum in enumerate(strata):
        mine = {int(r["covering"]): r for r in rows if r["stratum"] == stratum}
        pos = np.array(buckets) - 0.4 + width * (k + 0.5)
        heights = [100 * mine[b]["relative_change"] if b in mine and mine[b]["n"]
                   and np.isfinite(mine[b]["relative_change"]) else 0.0 for b in buckets]
        ax.bar(pos, heights, width * 0.9, color=f"C{k}", label=stratum_name(stratum))
        for x, b, h in zip(pos, buckets, heights, strict=True):
            r = mine.get(b)
            n = 0 if r is None else int(r["n"])
            text = "n = 0" if n == 0 else (f"n={n}" if np.isfinite(r["relative_change"])
                                           else f"n={n}, n/a")
            ax.text(x, h + (0.03 * top if h >= 0 else -0.03 * top), text, rotation=90,
                    ha="center", va="bottom" if h >= 0 else "top", fontsize="xx-small")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(buckets)
    ax.set_ylim(-1.5 * top if any(v < 0 for v in values) else -0.1 * top, 1.6 * top)
    ax.set_xlabel("specialists covering the correct class")
    ax.set_ylabel("relative change in correct answers (%)")
    if len(strata) > 1:
        ax.legend(frameon=False, fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax
