"""A matrix reordered by clusters, drawn (its explorer: test_cluster_explorer.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from kdlab.clustering import cluster_order  # noqa: E402
from kdlab.plots import plot_clustered_matrix  # noqa: E402

COV = np.array([[2.0, -1.0, 1.8, -1.0],
                [-1.0, 2.0, -1.0, 1.7],
                [1.8, -1.0, 2.0, -1.0],
                [-1.0, 1.7, -1.0, 2.0]])
NAMES = ["a", "b", "c", "d"]


def test_cluster_order_lists_each_group_in_turn():
    assert cluster_order([np.array([1, 3]), np.array([0]), np.array([2])]).tolist() == [1, 3, 0, 2]


@pytest.mark.parametrize("groups", [[np.array([0, 1]), np.array([1, 2, 3])],
                                    [np.array([0, 1])], [np.array([0, 1, 2, 5])]])
def test_cluster_order_rejects_what_is_not_a_partition(groups):
    with pytest.raises(ValueError, match="partition"):
        cluster_order(groups, 4)


def test_plot_clustered_matrix_reorders_rows_and_columns_and_boxes_each_cluster():
    groups = [np.array([0, 2]), np.array([1, 3])]
    ax = plot_clustered_matrix(COV, groups, NAMES, ax=Figure().subplots(), title="t")
    shown = ax.images[0].get_array()
    order = [0, 2, 1, 3]
    assert np.array_equal(shown, COV[np.ix_(order, order)])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "c", "b", "d"]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [(b.get_x(), b.get_width()) for b in boxes] == [(-0.5, 2), (1.5, 2)]
    vmin, vmax = ax.images[0].get_clim()
    assert vmin == -vmax == -2.0  # a diverging map centred on 0
    assert ax.get_title() == "t"


def test_plot_clustered_matrix_hides_tick_labels_for_many_classes():
    m = np.eye(50)
    ax = plot_clustered_matrix(m, [np.arange(50)], ax=Figure().subplots())
    assert len(ax.get_xticks()) == 0


@pytest.mark.parametrize("matrix, match", [(np.ones((2, 3)), "square"),
                                           (np.full((2, 2), np.nan), "finite")])
def test_plot_clustered_matrix_rejects_bad_matrices(matrix, match):
    with pytest.raises(ValueError, match=match):
        plot_clustered_matrix(matrix, [np.array([0, 1])], ax=Figure().subplots())

