"""Chapter 03's cluster explorer (kdlab.widgets.cluster_explorer): its Python state, and its view
in Debian's Chromium on a page without a kernel, as the website shows it.

Every partition the controls offer is computed in Python, up front, and embedded in the widget's
state; the view only looks them up and draws. Every check compares what the browser drew (the
listed clusters, the heat map's cells and colours, the boxes) with a fresh call of
kdlab.clustering.cluster_classes and with matplotlib's colour map.
"""

from __future__ import annotations

import numpy as np
import pytest
from _chromium import STATIC, browser_test, opened

from kdlab import frontend
from kdlab.clustering import METHODS, cluster_classes, cluster_order
from kdlab.covariance import correlation_from_covariance, prediction_covariance
from kdlab.hierarchy import gibbs_probabilities, make_hierarchical
from kdlab.widgets import ClusterExplorer, cluster_explorer

TOY = np.array([[2.0, -1.0, 1.8, -1.0],
                [-1.0, 2.0, -1.0, 1.7],
                [1.8, -1.0, 2.0, -1.0],
                [-1.0, 1.7, -1.0, 2.0]])
TOY_NAMES = ["a", "b", "c", "d"]


def hierarchical_covariance():
    """The covariance of the Bayes posteriors of 12 Gaussian classes in 3 superclasses."""
    X, _, _, centers = make_hierarchical(3, 4, n_per_class=20, random_state=0,
                                         return_centers=True)
    return prediction_covariance(gibbs_probabilities(X, centers, T=2.0))


COV = hierarchical_covariance()
NAMES = [f"class {k}" for k in range(len(COV))]


@pytest.fixture(scope="module")
def matrices():
    return {"covariance": (COV, NAMES), "correlation": (correlation_from_covariance(COV), NAMES),
            "toy": (TOY, TOY_NAMES)}


# --- Python --------------------------------------------------------------------------------------


def test_every_offered_partition_is_cluster_classes_own(matrices):
    w = cluster_explorer(matrices, n_clusters=3, k_max=6)
    assert isinstance(w, ClusterExplorer) and w.methods == list(METHODS)
    assert [d["k_max"] for d in w.datasets] == [6, 6, 4]
    for name, (m, _) in matrices.items():
        for method in METHODS:
            for k in range(1, w.k_max(name) + 1):
                w.update(dataset=name, n_clusters=k, method=method)
                assert w.error == ""
                expected = cluster_classes(m, k, method=method)
                assert [g.tolist() for g in w.groups] == [g.tolist() for g in expected]
    w.method, w.n_clusters, w.dataset = "spectral", 2, "covariance"  # traits set directly
    assert [g.tolist() for g in w.groups] == [
        g.tolist() for g in cluster_classes(COV, 2, method="spectral")]


def test_a_smaller_matrix_lowers_k_and_the_state_embeds_what_the_view_draws(matrices):
    w = cluster_explorer(matrices, n_clusters=6, method="kmeans")
    w.update(dataset="toy")  # 4 classes: K = 6 becomes 4
    assert (w.dataset, w.n_clusters, w.error) == ("toy", 4, "")
    w.update(dataset="covariance", n_clusters=6)
    w.dataset = "toy"  # as the view sets it
    assert w.n_clusters == 4 and w.error == ""
    toy = next(d for d in w.datasets if d["name"] == "toy")
    assert toy["names"] == TOY_NAMES and np.array_equal(toy["matrix"], TOY)
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    assert w.colours == [to_hex(colormaps["RdBu_r"](k)) for k in range(256)]


@pytest.mark.parametrize("kwargs, match", [({"dataset": "nope"}, "dataset must be one of"),
                                           ({"method": "dbscan"}, "method must be one of"),
                                           ({"n_clusters": 13}, "n_clusters must be an int"),
                                           ({"n_clusters": 0}, "n_clusters must be an int"),
                                           ({"n_clusters": 2.0}, "n_clusters must be an int")])
def test_bad_choices_are_reported_not_raised(matrices, kwargs, match):
    w = cluster_explorer(matrices, n_clusters=2)
    before = (w.dataset, w.n_clusters, w.method, [g.tolist() for g in w.groups])
    w.update(**kwargs)
    assert match in w.error
    assert (w.dataset, w.n_clusters, w.method, [g.tolist() for g in w.groups]) == before
    assert w.update(n_clusters=3).error == ""


@pytest.mark.parametrize("matrices, kwargs, match", [
    ({}, {}, "non-empty"), ({"x": np.eye(2)}, {}, "pair"),
    ({"x": (np.ones((2, 3)), None)}, {}, "square"),
    ({"x": (np.full((2, 2), np.nan), None)}, {}, "finite"),
    ({"x": (np.eye(2), ["a"])}, {}, "class_names"),
    ({"x": (np.array([[1.0, 0.5], [0.0, 1.0]]), None)}, {}, r"matrices\['x'\].*symmetric"),
    ({"x": (TOY, None)}, {"n_clusters": 5}, "n_clusters"),
    ({"x": (TOY, None)}, {"method": "dbscan"}, "method"),
    ({"x": (TOY, None)}, {"k_max": 0}, "k_max"),
])
def test_the_constructor_checks_its_arguments(matrices, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cluster_explorer(matrices, **kwargs)


# --- in Chromium ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def view(browser, matrices, tmp_path_factory):
    """The explorer on a kernel-free page: (page, root); no console error, no request off-host."""
    explorer = cluster_explorer(matrices, n_clusters=3, k_max=8)
    with (frontend.serve_kernel_free_site(tmp_path_factory.mktemp("kernel-free-cluster"),
                                          explorer, static_from=STATIC) as url,
          opened(browser, url, ".kdlab-cluster-explorer .kdlab-cell") as page):
        yield page, page.locator(".kdlab-cluster-explorer")


def shown(root):
    """(matrix name, K, method) as the controls show them."""
    return (root.locator(".kdlab-dataset").input_value(),
            int(root.locator(".kdlab-K-readout").get_attribute("data-k")),
            root.locator(".kdlab-method").input_value())


def check_drawn(root, matrices):
    """The drawn clusters, heat map and boxes are what cluster_classes and matplotlib give."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_hex

    name, k, method = shown(root)
    m, names = matrices[name]
    groups = cluster_classes(m, k, method=method)
    items = root.locator(".kdlab-groups li")
    assert items.all_inner_texts() == [", ".join(names[c] for c in g) for g in groups]
    assert items.evaluate_all("l => l.map(e => e.dataset.classes)") == [
        ",".join(map(str, g)) for g in groups]
    order = cluster_order(groups, len(m))
    cells = root.locator(".kdlab-cell")
    values = np.array(cells.evaluate_all("c => c.map(e => +e.dataset.v)")).reshape(len(m), -1)
    np.testing.assert_array_equal(values, m[np.ix_(order, order)])
    vmax = np.abs(m).max()
    colour = colormaps["RdBu_r"]
    expected = [to_hex(colour(Normalize(-vmax, vmax)(v))) for v in values.ravel()]
    assert cells.evaluate_all("c => c.map(e => e.getAttribute('fill'))") == expected
    assert root.locator(".kdlab-row-label").all_text_contents() == [names[c] for c in order]
    boxes = root.locator(".kdlab-box").evaluate_all(
        "b => b.map(e => [+e.dataset.start, +e.dataset.size])")
    sizes = [len(g) for g in groups]
    assert boxes == [[int(s), z] for s, z in zip(np.cumsum([0, *sizes[:-1]]), sizes,
                                                   strict=True)]
    assert root.locator(".kdlab-title").text_content() == f"{name}: K = {k}, {method}"


@browser_test
def test_keys_move_k_and_the_view_draws_cluster_classes_partition(view, matrices):
    page, root = view
    assert shown(root) == ("covariance", 3, "online-kmeans")
    check_drawn(root, matrices)
    slider = root.locator(".kdlab-K")
    assert slider.get_attribute("max") == "8"
    slider.focus()
    page.evaluate("globalThis.__kdlabLatency.length = 0")
    for k in (4, 5, 6, 7, 8):
        slider.press("ArrowRight")  # a person on the keyboard
        assert shown(root)[1] == k
        check_drawn(root, matrices)
    slider.press("Home")
    assert shown(root)[1] == 1
    check_drawn(root, matrices)
    assert root.locator(".kdlab-box").count() == 1
    answered = page.evaluate("globalThis.__kdlabLatency.map(e => [e.explorer, e.control])")
    assert answered == [["cluster", "K"]] * 6  # every input answered, its latency recorded


@browser_test
def test_each_method_and_matrix_is_drawn_from_its_own_partition(view, matrices):
    page, root = view
    slider = root.locator(".kdlab-K")
    slider.focus()
    slider.press("End")  # K = 8
    for name in ("correlation", "covariance"):
        root.locator(".kdlab-dataset").select_option(name)
        for method in METHODS:
            root.locator(".kdlab-method").select_option(method)
            assert shown(root) == (name, 8, method)
            check_drawn(root, matrices)
    root.locator(".kdlab-dataset").select_option("toy")  # 4 classes: K = 8 becomes 4
    assert shown(root) == ("toy", 4, METHODS[-1])
    assert slider.get_attribute("max") == "4"
    check_drawn(root, matrices)
    slider.press("ArrowLeft")
    assert shown(root)[1] == 3
    check_drawn(root, matrices)
    assert root.locator(".kdlab-status").text_content() == ""
