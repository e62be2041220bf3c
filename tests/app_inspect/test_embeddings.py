"""Embeddings (inspection/embeddings.py): the features of a chosen layer over the validation split,
projected to a plane. A trained network separates the built-in classes better than chance there
(leave-one-out kNN accuracy against the same measure on shuffled labels, computed here); PCA's
properties hold for any input; t-SNE runs through scikit-learn; a missing UMAP says what to install."""
import sys
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cnn_studio.inspection import embeddings as em

EMB_DATA = dict(source="shapes", shapes_train=600, shapes_test=64, height=16, width=16, val_fraction=0.25, seed=0)


@pytest.fixture(scope="module")
def trained(inspect_home):
    """A small CNN trained long enough (120 Adam steps) to tell the built-in shapes apart (~50 % on
    the validation split; the shared tiny run is too short for that)."""
    import os
    from unittest import mock

    from cnn_studio.compiler import compile_model
    from cnn_studio.core.graph import Graph, chain
    from cnn_studio.data import DataConfig, load_dataset
    from cnn_studio.inspection.model import InspectModel

    with mock.patch.dict(os.environ, {"CNN_STUDIO_HOME": str(inspect_home)}):
        b = load_dataset(DataConfig(**EMB_DATA))
    g = Graph("emb")
    chain(g, [("input", {"channels": 3, "height": 16, "width": 16}, "input"),
              ("conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, "c1"), ("relu", {}, "r1"),
              ("maxpool2d", {"kernel_size": 2}, "p1"),
              ("conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, "c2"), ("relu", {}, "r2"),
              ("maxpool2d", {"kernel_size": 2}, "p2"), ("flatten", {}, "flatten"),
              ("linear", {"out_features": 32}, "h"), ("relu", {}, "hr"),
              ("linear", {"out_features": b.num_classes}, "fc"), ("cross_entropy", {}, "loss")])
    torch.manual_seed(0)
    model = compile_model(g)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    crit = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    for _ in range(120):
        idx = torch.randint(0, len(b.train.y), (64,), generator=gen)
        opt.zero_grad()
        crit(model(b.normalize(b.train.x[idx])), b.train.y[idx]).backward()
        opt.step()
    return InspectModel(model, g, b.class_names, b.mean, b.std, b)


def shuffled_chance(coords, labels, measure=em.knn_accuracy, rounds=20, seed=0):
    """The best a measure gives on the same points with the labels shuffled: no class structure."""
    rng = np.random.default_rng(seed)
    return max(measure(coords, rng.permutation(labels)) for _ in range(rounds))


def test_the_default_features_are_what_the_classifier_sees(imodel):
    assert em.default_node(imodel) == "flatten"  # the input of the last linear layer
    assert em.node_choices(imodel)[0] == "conv1" and "fc" in em.node_choices(imodel)


def test_features_are_the_layers_outputs_for_each_sample(imodel):
    x, preds, idx, averaged = em.features(imodel, "gap", "val")
    s = imodel.split("val")
    assert x.shape == (len(s.y), 8) and not averaged and idx.tolist() == list(range(len(s.y)))
    with torch.inference_mode():
        out, cap = imodel.model.forward_capture(imodel.normalize(s.x), ["gap"])
    np.testing.assert_allclose(x, cap["gap"].reshape(len(s.y), -1).numpy(), rtol=1e-5, atol=1e-6)
    assert preds.tolist() == out.argmax(1).tolist()


def test_a_trained_network_separates_the_classes_better_than_chance_in_the_pca_plane(trained):
    e = em.compute(trained, node="hr", method="pca")
    assert e.split == "val" and e.coords.shape == (len(e.labels), 2) == (150, 2)
    assert e.explained[0] >= e.explained[1] > 0 and sum(e.explained) <= 1 + 1e-6
    # 10 classes in a plane overlap, but far less than chance: nearest neighbours share the class
    # more often than with shuffled labels, and the classes' centres lie far apart for their spread
    acc, sep = em.knn_accuracy(e.coords, e.labels), em.separation(e.coords, e.labels)
    assert acc > shuffled_chance(e.coords, e.labels), acc
    assert sep > 2.5 * shuffled_chance(e.coords, e.labels, em.separation), sep  # about 6 against 1.8
    # the raw pixels, projected the same way, separate less well than the trained features
    s = trained.split("val")
    pixels = em.pca(s.x.reshape(len(s.y), -1).numpy().astype(np.float32), 2)[0]
    assert em.separation(pixels, e.labels) < sep
    assert np.array_equal(e.correct, e.labels == e.preds)


def test_t_sne_through_scikit_learn_separates_the_classes_too(trained):
    assert em.available("tsne") is None
    e = em.compute(trained, node="hr", method="tsne")
    assert e.coords.shape == (len(e.labels), 2) and np.isfinite(e.coords).all()
    # t-SNE keeps neighbourhoods rather than distances: on this briefly trained network neighbours
    # share the class more often than with any of 20 label shuffles (0.20 against 0.13), and the
    # classes' centres are apart for their spread (4.0 against 1.9)
    assert em.knn_accuracy(e.coords, e.labels) > shuffled_chance(e.coords, e.labels)
    assert em.separation(e.coords, e.labels) > 1.5 * shuffled_chance(e.coords, e.labels, em.separation)


def test_a_missing_library_says_what_to_install(imodel, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap raises ImportError
    why = em.available("umap")
    assert why is not None and "pip install umap-learn" in why and "PCA works without it" in why
    with pytest.raises(em.EmbeddingError, match="pip install umap-learn"):
        em.compute(imodel, method="umap")
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(em.EmbeddingError, match="pip install scikit-learn"):
        em.compute(imodel, method="tsne")
    with pytest.raises(em.EmbeddingError, match="unknown method 'lda'"):
        em.compute(imodel, method="lda")
    with pytest.raises(em.EmbeddingError, match="no layer 'nope'"):
        em.compute(imodel, node="nope")


def test_cancel_stops_between_chunks(imodel):
    cancel = threading.Event()
    seen = []

    def progress(done, total, message):
        seen.append(done)
        cancel.set()  # the user pressed Cancel after the first chunk

    with pytest.raises(em.EmbeddingCancelled):
        em.features(imodel, "flatten", "train", progress=progress, cancel=cancel, batch_size=32)
    assert seen == [32]


def test_knn_accuracy_on_a_case_computed_by_hand():
    coords = np.array([[0, 0], [0, 1], [0, 2], [10, 0], [10, 1], [10, 2]], float)
    assert em.knn_accuracy(coords, np.array([0, 0, 0, 1, 1, 1]), k=2) == 1.0
    assert em.knn_accuracy(coords, np.array([0, 1, 0, 1, 0, 1]), k=1) == 0.0  # every nearest is of the other class
    assert em.chance_accuracy(np.array([0, 0, 0, 1])) == 0.75
    # two classes 10 apart, each spread by +-1 along y: B = 6 * 25 = 150 over 1, W = 4 over 4
    assert em.separation(coords, np.array([0, 0, 0, 1, 1, 1])) == pytest.approx(150.0)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 30), st.integers(1, 6)), elements=st.floats(-1e3, 1e3)))
def test_pca_centres_decorrelates_and_orders_the_axes(x):
    coords, shares = em.pca(x, 2)
    c = coords.astype(np.float64)
    scale = max(1.0, float(np.abs(x - x.mean(0)).max()))
    assert coords.shape == (len(x), 2)
    np.testing.assert_allclose(c.mean(axis=0), 0.0, atol=1e-4 * scale * len(x))
    assert abs(float(c[:, 0] @ c[:, 1])) <= 1e-3 * scale ** 2 * len(x)  # uncorrelated axes
    assert shares[0] >= shares[1] >= 0 and sum(shares) <= 1 + 1e-9
    var = np.linalg.eigvalsh(np.cov((x - x.mean(0)).T, bias=True).reshape(x.shape[1], x.shape[1]))[::-1]
    np.testing.assert_allclose(c.var(axis=0)[: len(var)], var[:2], rtol=1e-3, atol=1e-3 * scale ** 2)


# ---- the view --------------------------------------------------------------------------------------
def _isolated_point(view):
    """The point farthest (in pixels) from any other, so the mouse over it can mean only it."""
    e = view.embedding
    px = np.array([[view.scene_pos_of(i).x(), view.scene_pos_of(i).y()] for i in range(len(e.labels))], float)
    d = ((px[:, None] - px[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    inside = [i for i in range(len(px)) if 20 < px[i, 0] < view.plot_widget.width() - 20
              and 20 < px[i, 1] < view.plot_widget.height() - 20]
    i = max(inside, key=lambda k: d[k].min())
    return i, px[i]


def test_the_view_computes_hovers_and_clicks_with_real_mouse_events(view_factory, trained, qtbot):
    from PySide6.QtCore import QPoint, Qt

    from cnn_studio.app.inspect.embeddings_view import RIGHT, WRONG, EmbeddingsView

    view = view_factory(EmbeddingsView, size=(1000, 520))
    view.set_model(trained)  # on screen: computed at once (PCA of what the last layer reads)
    assert view.wait_idle(60_000)
    e = view.embedding
    assert e is not None and e.node == "hr" and e.method == "pca" and e.split == "val"
    xs, ys = view.scatter.getData()
    np.testing.assert_allclose(np.c_[xs, ys], e.coords)
    assert "150 samples of the validation split" in view.summary.text() and "nearest neighbours" in view.summary.text()
    qtbot.wait(200)  # painted once: the axes have their tick labels' width, the plot its final size
    i, (x, y) = _isolated_point(view)
    vp = view.plot_widget.viewport()
    qtbot.mouseMove(vp, QPoint(int(round(x)), int(round(y))))
    qtbot.waitUntil(lambda: view.hovered == i, timeout=3000)
    idx = int(e.indices[i])
    assert f"sample {idx} (validation)" in view.hover_text.text()
    assert f"true: {trained.class_name(int(e.labels[i]))}" in view.hover_text.text()
    assert view.thumb.pixmap() is not None and not view.thumb.pixmap().isNull()
    with qtbot.waitSignal(view.sample_activated, timeout=3000) as sig:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=QPoint(int(round(x)), int(round(y))))
    assert sig.args == ["val", idx] and view.selected == i
    # away from every point: nothing is activated
    with qtbot.assertNotEmitted(view.sample_activated):
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=QPoint(3, 3))
    # colour by correctness
    view.colour_combo.setCurrentIndex(view.colour_combo.findData("correct"))
    assert view.colours() == [RIGHT if ok else WRONG for ok in e.correct]
    assert f"wrong ({int((~e.correct).sum())})" in view.legend.text()


def test_another_layer_and_method_and_cancel(view_factory, trained, qtbot):
    from PySide6.QtCore import Qt

    from cnn_studio.app.inspect.embeddings_view import EmbeddingsView

    view = view_factory(EmbeddingsView, size=(1000, 520))
    view.set_model(trained)
    assert view.wait_idle(60_000)
    view.layer_combo.setCurrentIndex(view.layer_combo.findData("p1"))  # an 8x8x8 feature map: 512 features
    view.method_combo.setCurrentIndex(view.method_combo.findData("tsne"))
    qtbot.mouseClick(view.compute_button, Qt.MouseButton.LeftButton)
    assert view.cancel_button.isVisible() and not view.compute_button.isEnabled()
    assert view.wait_idle(120_000)
    e = view.embedding
    assert e.node == "p1" and e.method == "tsne" and e.dim == 512 and e.explained == []
    assert "t-SNE 1" in view.plot.getAxis("bottom").labelText
    # Cancel, clicked right after Compute (the job checks between its steps): the old picture stays
    view.method_combo.setCurrentIndex(view.method_combo.findData("pca"))
    qtbot.mouseClick(view.compute_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert view.wait_idle(60_000)
    assert view.embedding is e and "Cancelled" in view.status.text() and view.compute_button.isEnabled()


def test_nothing_shown_says_what_to_do(view_factory):
    from cnn_studio.app.inspect.embeddings_view import EmbeddingsView
    from cnn_studio.app.state import ViewSource

    view = view_factory(EmbeddingsView)
    view.show_source(ViewSource.nothing("tiny"))
    assert "Train this network (F5), or open a run" in view.summary.text()
    assert not view.compute_button.isEnabled() and view.embedding is None
