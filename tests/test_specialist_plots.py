"""Figures of the specialists experiment (chapters 03-05): every bucket, every seed, every cell."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from kdlab.inference import accuracy_by_covering
from kdlab.plots import plot_by_seed, plot_clustered_matrix, plot_gain_by_covering


def _axes():
    return Figure().subplots()


def test_gain_by_covering_draws_every_bucket_of_every_stratum_with_its_count():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    p = np.eye(3)[y] * 0.5 + 0.5 / 3              # the generalist right everywhere ...
    q = p.copy()
    q[:10] = np.roll(q[:10], 1, axis=1)            # ... the combination wrong on ten images
    cov = np.where(np.arange(60) < 30, 0, 3)       # buckets 1 and 2 are empty
    rows = accuracy_by_covering(y, p, q, cov, (0.0, 0.5, 1.0))
    ax = plot_gain_by_covering(rows, ax=_axes())
    assert len(ax.patches) == len(rows) == 3 * 4
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("n = 0") == sum(r["n"] == 0 for r in rows)
    drawn = sorted(round(p.get_height(), 6) for p in ax.patches)
    expected = sorted(round(100 * r["relative_change"], 6) if r["n"] else 0.0 for r in rows)
    assert drawn == expected
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "all images", "confidence 0 to 0.5", "confidence 0.5 to 1"]


def test_gain_by_covering_marks_an_undefined_change():
    rows = [dict(stratum=None, covering=0, n=4, relative_change=float("nan"))]
    ax = plot_gain_by_covering(rows, ax=_axes())
    assert [t.get_text() for t in ax.texts] == ["n=4, n/a"]


def test_by_seed_shows_one_dot_per_seed_and_position_and_the_mean_as_a_bar():
    a, b = np.array([[0.8, 0.9], [0.82, 0.91], [0.81, 0.93]]), np.full((3, 2), 0.85)
    ax = plot_by_seed({"a": a, "b": b}, labels=["g1", "g2"], ax=_axes())
    assert [len(c.get_offsets()) for c in ax.collections] == [6, 6]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [*(100 * a.mean(0)), 85, 85])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["g1", "g2"]


@pytest.mark.parametrize("series, match", [({}, "non-empty"),
                                           ({"a": np.zeros((2, 2)), "b": np.zeros(2)},
                                            "same number")])
def test_by_seed_bad_input(series, match):
    with pytest.raises(ValueError, match=match):
        plot_by_seed(series, ax=_axes())


def test_clustered_matrix_can_write_its_values():
    m = np.array([[1.0, -0.25], [-0.25, 1.0]])
    ax = plot_clustered_matrix(m, [np.array([1]), np.array([0])], ax=_axes(), fmt=".2f")
    assert sorted(t.get_text() for t in ax.texts) == ["-0.25", "-0.25", "1.00", "1.00"]
    assert len(plot_clustered_matrix(m, [np.array([0, 1])], ax=_axes()).texts) == 0
