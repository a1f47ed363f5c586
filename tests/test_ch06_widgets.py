"""Chapter 06: the soft K-means temperature explorer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kdlab.softkmeans import soft_assignments  # noqa: E402
from kdlab.temperature import entropy  # noqa: E402
from kdlab.widgets import SoftKMeansExplorer, soft_kmeans_explorer  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 2))
CENTERS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]])


def test_slider_recomputes_the_assignments_and_their_entropy():
    w = soft_kmeans_explorer(X, CENTERS, T=0.05)
    assert isinstance(w, SoftKMeansExplorer) and w.png.startswith(b"\x89PNG")
    values = []
    for T in (0.05, 1.0, 50.0):
        w.slider.value = T
        assert np.allclose(w.responsibilities, soft_assignments(X, CENTERS, w.T))
        assert np.isclose(w.entropy_value, entropy(w.responsibilities).mean())
        values.append(w.entropy_value)
    assert values[0] < values[1] < values[2] <= np.log(3) + 1e-12


@pytest.mark.parametrize("T", [0, -1.0, float("inf"), "hot", True])
def test_bad_temperatures_are_reported_not_raised(T):
    w = soft_kmeans_explorer(X, CENTERS)
    shown = w.responsibilities.copy()
    w.update(T)
    assert "T" in w.error and np.array_equal(w.responsibilities, shown)


@pytest.mark.parametrize("points, centers, match", [
    (np.zeros((4, 3)), CENTERS, "X"), (X, np.zeros((2, 3)), "centers"),
])
def test_explorer_needs_two_dimensional_points(points, centers, match):
    with pytest.raises(ValueError, match=match):
        soft_kmeans_explorer(points, centers)
