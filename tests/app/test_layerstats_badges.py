"""The Layer statistics view and the canvas badges, on a real run that provably has dead ReLUs (half of
a conv's channels get a bias of -100) and saturated tanh units (large weights and biases): the view
shows the stored histograms and the gradient flow, the canvas cards of exactly those layers get a
badge whose tooltip says what it means and what helps, and the badges follow the shown run: gone
after File > New, back when the run is shown again, kept when the scene rebuilds its cards. And the
Embeddings dock in the window: a clicked point becomes Feature maps' sample."""
import os
from unittest import mock

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cnn_studio.core import templates
from cnn_studio.core.graph import Graph, chain

Discard = __import__("app_helpers").Discard
DATA = dict(source="shapes", shapes_train=192, shapes_test=48, height=16, width=16, val_fraction=0.25, seed=0)


def sick_graph() -> Graph:
    g = Graph("sick")
    chain(g, [
        ("input", {"channels": 3, "height": 16, "width": 16}, "input"),
        ("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, "conv"),
        ("relu", {}, "relu"),
        ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv_t"),
        ("tanh", {}, "act"),
        ("maxpool2d", {"kernel_size": 4}, "pool"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": 10}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


@pytest.fixture(scope="module")
def sick_run(tmp_path_factory):
    import torch

    from cnn_studio.data import DataConfig
    from cnn_studio.training import TrainConfig, Trainer

    home = tmp_path_factory.mktemp("ls_home")
    run = tmp_path_factory.mktemp("ls_runs") / "sick"
    with mock.patch.dict(os.environ, {"CNN_STUDIO_HOME": str(home)}):
        t = Trainer(sick_graph(), DataConfig(**DATA), TrainConfig(epochs=3, batch_size=48, lr=0.01, schedule="constant",
                    restore_best_weights=False, device="cpu", seed=0, layer_stats_every=2), run_dir=run)
        with torch.no_grad():
            t.model.conv.bias[:3] = -100.0  # these 3 of 6 channels output zero after the ReLU for every image
            t.model.conv_t.weight.mul_(100.0)
            t.model.conv_t.bias.copy_(torch.tensor([30.0, -30.0, 30.0, -30.0]))  # tanh pinned at +-1
        t.fit()
    return run


def _show(window, qtbot, run):
    window.state.show_run(str(run))
    view = window.inspect.layerstats
    qtbot.waitUntil(lambda: view.stats is not None, timeout=30_000)
    return view


def test_the_view_shows_the_stored_histograms_gradient_flow_and_problems(make_window, qtbot, sick_run):
    from cnn_studio.training import layerstats as ls

    window = make_window(sick_graph())
    view = window.inspect.layerstats
    assert "Train this network (F5), or open a run" in view.placeholder.text() and view.stats is None
    _show(window, qtbot, sick_run)
    data = ls.load_stats(sick_run)
    assert view.stats["epochs"] == [1, 2, 3] and view.epoch_label.text() == "epoch 3 of 3"
    # the heat map of the first conv's weights: one column per epoch, each keeping its total count
    assert view.layer() == "conv" and view.kind() == "weight"
    assert view.grid.shape == (3, 64)
    np.testing.assert_allclose(view.grid.sum(axis=1), data["epoch_weight_hist"][:, 0].sum(axis=1))
    lo, hi = view.grid_range
    assert lo == pytest.approx(float(data["epoch_weight_range"][:, 0, 0].min()), rel=1e-6)
    assert hi == pytest.approx(float(data["epoch_weight_range"][:, 0, 1].max()), rel=1e-6)
    # activations of the tanh: inside [-1, 1], the chosen layer from the canvas
    view.kind_combo.setCurrentIndex(view.kind_combo.findData("act"))
    assert view.set_layer("act") and view.layer() == "act"
    j = data["meta"]["act_ids"].index("act")
    np.testing.assert_allclose(view.grid.sum(axis=1), data["epoch_act_hist"][:, j].sum(axis=1))
    assert -1.0 <= view.grid_range[0] < view.grid_range[1] <= 1.0
    # gradient flow: one point per layer with weights, the last epoch's norms
    xs, ys = view.flow_curve.getData()  # as drawn: log10 on the log axis
    assert list(xs) == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(10 ** ys, data["epoch_grad_norm"][-1], rtol=1e-5)
    text = view.problems_box.toPlainText()
    assert "50% dead" in text and "saturated tanh" in text and "Leaky ReLU" in text
    # the slider, with the keyboard: an earlier epoch stops following the latest
    view.epoch_slider.setFocus()
    QTest.keyClick(view.epoch_slider, Qt.Key.Key_Left)
    assert view.epoch_index == 1 and view.epoch_label.text() == "epoch 2 of 3" and not view.latest_box.isChecked()
    np.testing.assert_allclose(10 ** view.flow_curve.getData()[1], data["epoch_grad_norm"][1], rtol=1e-5)
    qtbot.mouseClick(view.latest_box, Qt.MouseButton.LeftButton, pos=view.latest_box.rect().center())
    assert view.latest_box.isChecked() and view.epoch_index == 2


def test_canvas_badges_mark_the_dead_and_saturated_layers_and_follow_the_shown_run(make_window, qtbot, sick_run):
    window = make_window(sick_graph())
    ctrl = window.inspect.badges
    assert ctrl.badges() == {}
    _show(window, qtbot, sick_run)
    badges = ctrl.badges()
    assert set(badges) == {"relu", "act"}
    assert badges["relu"].text == "50% dead"
    assert "saturated tanh" in badges["act"].text
    tip = badges["relu"].toolTip()
    assert "Leaky ReLU" in tip and "learning rate" in tip and "passes no gradient" in tip
    assert "flat" in badges["act"].toolTip() and "batch norm" in badges["act"].toolTip()
    # on screen: the badge is the item under its own centre, over its card
    b = badges["relu"]
    window.view.center_on_node("relu")
    qtbot.wait(20)
    centre = window.view.mapFromScene(b.sceneBoundingRect().center())
    assert b in window.view.items(centre) and b.isVisible() and b.parentItem() is window.scene.node_items["relu"]
    # the scene makes its cards again (undo of a removal): the badge comes back on the new card
    window.select_nodes(["relu"])
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_Delete)
    assert "relu" not in window.graph.nodes and "relu" not in ctrl.badges()
    window.undo()
    assert "relu" in window.graph.nodes
    qtbot.waitUntil(lambda: "relu" in ctrl.badges(), timeout=5_000)
    assert ctrl.badges()["relu"].text == "50% dead"
    # File > New: another network, nothing shown, no badge anywhere
    window.answers.new_graph = templates.build("lenet5", (3, 32, 32), 10)
    window.answers.replies = [Discard]
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.state.source.kind == "nothing"
    qtbot.wait(20)
    assert ctrl.badges() == {} and ctrl.flags == []
    assert "Train this network" in window.inspect.layerstats.placeholder.text()


def test_a_run_without_statistics_says_so_and_has_no_badges(make_window, qtbot, sick_run, tmp_path):
    import shutil

    window = make_window(sick_graph())
    _show(window, qtbot, sick_run)
    assert window.inspect.badges.badges()
    bare = tmp_path / "bare"
    shutil.copytree(sick_run, bare)
    (bare / "layer_stats.npz").unlink()
    window.state.show_run(str(bare))
    view = window.inspect.layerstats
    qtbot.waitUntil(lambda: "no layer statistics" in view.placeholder.text(), timeout=30_000)
    assert view.stats is None and window.inspect.badges.badges() == {}
    assert "layer_stats_every" in view.placeholder.text()


def test_a_point_clicked_in_embeddings_becomes_the_feature_maps_sample(make_window, qtbot, sick_run):
    """The Embeddings dock of the window: computed when its tab comes forward, a click on a point
    (a real mouse click) makes that sample Feature maps' input through its sample picker."""
    from PySide6.QtCore import QPoint

    window = make_window(sick_graph())
    window.state.show_run(str(sick_run))
    qtbot.waitUntil(lambda: window.state.source.status == "ready", timeout=60_000)
    emb, fm = window.inspect.embeddings, window.inspect.featuremaps
    assert emb.embedding is None  # its tab is behind another: nothing computed for nobody
    window.docks["Embeddings"].raise_()
    qtbot.waitUntil(lambda: emb.embedding is not None, timeout=60_000)
    e = emb.embedding
    assert e.split == "val" and e.node == "flatten"
    qtbot.wait(200)  # painted once: the axes have their tick labels' width, the plot its final size
    # the point farthest from the others, inside the plot
    pts = [emb.scene_pos_of(i) for i in range(len(e.labels))]
    w, h = emb.plot_widget.width(), emb.plot_widget.height()
    inside = [i for i, p in enumerate(pts) if 20 < p.x() < w - 20 and 20 < p.y() < h - 20]
    px = np.array([[p.x(), p.y()] for p in pts], float)
    d = ((px[:, None] - px[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    i = max(inside, key=lambda k: d[k].min())
    pos = QPoint(int(round(px[i, 0])), int(round(px[i, 1])))
    qtbot.mouseMove(emb.plot_widget.viewport(), pos)
    qtbot.mouseClick(emb.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    idx = int(e.indices[i])
    qtbot.waitUntil(lambda: fm.picker.split == "val" and fm.picker.index == idx, timeout=10_000)
    assert emb.selected == i and window.docks["Embeddings"].isVisible()


def test_a_live_run_refreshes_the_view_at_each_epoch_end(window, qtbot, tmp_path):
    """F5: while the run trains, each epoch's end re-reads layer_stats.npz (the recorder wrote it
    before the epoch's row reached the window); once it ends, the finished run's file is shown."""
    from test_training_ui import _npz, _setup

    view, state = window.inspect.layerstats, window.state
    seen = []
    view.flags_changed.connect(lambda *_: seen.append((state.source.kind, tuple(view.stats["epochs"])))
                               if view.stats is not None else None)
    feat = _setup(window, _npz(tmp_path), epochs=3)
    QTest.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: state.source.kind == "live", timeout=60_000)
    assert "Training: the statistics of each epoch show here" in view.placeholder.text()
    qtbot.waitUntil(lambda: not feat.panel.running and state.source.kind == "run" and state.source.status == "ready",
                    timeout=180_000)
    qtbot.waitUntil(lambda: view.stats is not None and view.stats["epochs"] == [1, 2, 3], timeout=30_000)
    live = [epochs for kind, epochs in seen if kind == "live"]
    assert live and live[0][0] == 1 and all(list(e) == list(range(1, len(e) + 1)) for e in live)  # grew epoch by epoch
    assert view.epoch_label.text() == "epoch 3 of 3"
