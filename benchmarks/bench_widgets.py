"""Widget update latency: every explorer of `kdlab.widgets`, one control moved ~20 times.

Each explorer is built once on small synthetic inputs (10 classes; nothing is trained) and its
`update` is called with alternating values, as a slider drag would; an update recomputes and
redraws the figure to PNG. Median and worst of the updates, and the median as a ratio of one
bare matplotlib bar chart rendered to PNG in the same run (what any full redraw costs at least).
A slider drag feels live while an update stays around 100 ms or less.
"""

from __future__ import annotations

import io
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from kdlab.inference import kl_inference  # noqa: E402
from kdlab.models import MLP  # noqa: E402
from kdlab.specialists import Specialist  # noqa: E402
from kdlab.widgets import (  # noqa: E402
    AlphaTemperatureExplorer,
    ClusterExplorer,
    InferenceExplorer,
    SoftKMeansExplorer,
    SoftTargetExplorer,
    SpecialistExplorer,
    TemperatureExplorer,
)

C = 10
N_UPDATES = 20


def _bare_png() -> None:
    """The reference: one bar chart of C bars on a fresh figure, rendered to PNG."""
    fig = Figure(figsize=(6.4, 3.0), dpi=80)
    FigureCanvasAgg(fig)
    fig.add_subplot().bar(range(C), np.linspace(0.0, 1.0, C))
    fig.savefig(io.BytesIO(), format="png")


def _cases(rng: np.random.Generator) -> dict:
    """Each explorer (built on synthetic inputs) and the i-th update a slider drag would make."""
    logits = rng.normal(scale=3.0, size=(50, C))
    images = rng.random((50, 28 * 28))
    temperatures = [1.0, 2.0, 4.0, 8.0, 20.0]
    alphas = [0.0, 0.5, 0.9, 1.0]
    grid = rng.integers(100, 300, size=(len(alphas), len(temperatures)))
    a = rng.normal(size=(C, C))
    cov = a @ a.T
    Xs = rng.normal(size=(200, 16)).astype(np.float32)
    ys = rng.integers(0, C, size=200)
    specs = [Specialist(MLP(16, (32,), C, seed=k), s, dustbin_correction=1.0)
             for k, s in enumerate([[0, 1, 2], [3, 4], [5, 6, 7]])]
    p_g = rng.dirichlet(np.ones(C), size=200)
    opinions = [(np.array(s), rng.dirichlet(np.ones(len(s) + 1), size=200))
                for s in ([0, 1, 2], [3, 4], [5, 6, 7])]
    q = kl_inference(p_g, opinions)
    X2 = rng.normal(size=(300, 2))
    centers = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5], [0.0, -1.5]])
    sweep = np.geomspace(0.05, 50.0, N_UPDATES)
    return {
        "TemperatureExplorer (T)": (
            lambda: TemperatureExplorer(logits[0], T=1.0),
            lambda w, i: w.update(T=float(sweep[i]))),
        "SoftTargetExplorer (image, T)": (
            lambda: SoftTargetExplorer(images, logits, (28, 28), labels=np.arange(50) % C),
            lambda w, i: w.update(index=i % 50, T=float(sweep[i]))),
        "AlphaTemperatureExplorer (α, T)": (
            lambda: AlphaTemperatureExplorer(grid, alphas, temperatures),
            lambda w, i: w.update(alpha=alphas[i % len(alphas)],
                                  T=temperatures[i % len(temperatures)])),
        "ClusterExplorer (K, online K-means)": (
            lambda: ClusterExplorer({"synthetic": (cov, None)}, n_clusters=2),
            lambda w, i: w.update(n_clusters=2 + i % 4)),
        "SpecialistExplorer (specialist, correction)": (
            lambda: SpecialistExplorer(specs, Xs, ys),
            lambda w, i: w.update(index=i % len(specs), corrected=bool(i % 2))),
        "InferenceExplorer (example)": (
            lambda: InferenceExplorer(p_g, opinions, q, labels=ys),
            lambda w, i: w.update(index=i)),
        "SoftKMeansExplorer (T)": (
            lambda: SoftKMeansExplorer(X2, centers, T=1.0),
            lambda w, i: w.update(T=float(sweep[i]))),
    }


def _time(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def run(n_updates: int = N_UPDATES) -> str:
    rng = np.random.default_rng(0)
    _bare_png()  # warm up matplotlib's font cache
    bare = statistics.median(_time(_bare_png) for _ in range(n_updates))
    rows = [f"| explorer (control moved) | build, ms | update median, ms | update worst, ms "
            f"(of {n_updates}) | median / bare PNG |", "|---|---:|---:|---:|---:|"]
    for label, (build, update) in _cases(rng).items():
        start = time.perf_counter()
        widget = build()
        built = time.perf_counter() - start
        times = []
        for i in range(n_updates):
            times.append(_time(update, widget, i))
            if getattr(widget, "error", ""):  # a rejected update would time nothing
                raise RuntimeError(f"{label}: update {i} was rejected: {widget.error}")
        med = statistics.median(times)
        rows.append(f"| {label} | {1e3 * built:.0f} | {1e3 * med:.1f} | {1e3 * max(times):.1f} "
                    f"| {med / bare:.1f}× |")
    rows.append(f"| (bare matplotlib bar chart to PNG, the reference) | | {1e3 * bare:.1f} | | "
                "1.0× |")
    return "\n".join(rows)
