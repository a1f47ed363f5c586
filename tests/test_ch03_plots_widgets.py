"""Chapter 03's plot (a matrix reordered by clusters) and cluster explorer widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from kdlab.clustering import cluster_classes, cluster_order  # noqa: E402
from kdlab.plots import plot_clustered_matrix  # noqa: E402
from kdlab.widgets import ClusterExplorer, cluster_explorer  # noqa: E402

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


def test_explorer_shows_cluster_classes_result_and_lists_the_groups():
    w = cluster_explorer({"toy": (COV, NAMES), "eye": (np.eye(6), None)}, n_clusters=2)
    assert isinstance(w, ClusterExplorer)
    assert [g.tolist() for g in w.groups] == [[0, 2], [1, 3]]
    assert "a, c" in w.status.value and "b, d" in w.status.value
    assert w.png.startswith(b"\x89PNG")
    w.update(dataset="eye", n_clusters=6, method="agglomerative")
    assert [g.tolist() for g in w.groups] == [g.tolist() for g in
                                             cluster_classes(np.eye(6), 6, "agglomerative")]
    assert w.k_slider.max == 6 and w.error == ""


def test_explorer_controls_drive_it_and_k_is_clamped_to_the_matrix():
    w = cluster_explorer({"big": (np.eye(6), None), "toy": (COV, NAMES)}, n_clusters=5)
    w.dataset_menu.value = "toy"  # 5 clusters of 4 classes: clamped to 4
    assert w.dataset == "toy" and w.n_clusters == 4 and w.error == ""
    w.method_menu.value = "kmeans"
    w.k_slider.value = 2
    assert w.method == "kmeans" and [g.tolist() for g in w.groups] == [[0, 2], [1, 3]]


@pytest.mark.parametrize("kwargs, match", [({"dataset": "nope"}, "dataset"),
                                           ({"method": "dbscan"}, "method"),
                                           ({"n_clusters": 9}, "n_clusters")])
def test_explorer_reports_bad_choices_without_raising(kwargs, match):
    w = cluster_explorer({"toy": (COV, NAMES)}, n_clusters=2)
    before = [g.tolist() for g in w.groups]
    w.update(**kwargs)
    assert match in w.error and "b00020" in w.status.value
    assert [g.tolist() for g in w.groups] == before


@pytest.mark.parametrize("matrices, match", [({}, "non-empty"), ({"x": np.eye(2)}, "pair"),
                                             ({"x": (np.ones((2, 3)), None)}, "square"),
                                             ({"x": (np.eye(2), ["a"])}, "class_names")])
def test_explorer_rejects_bad_matrices(matrices, match):
    with pytest.raises(ValueError, match=match):
        cluster_explorer(matrices)


def test_explorer_with_a_bad_initial_k_raises():
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_explorer({"toy": (COV, NAMES)}, n_clusters=7)
