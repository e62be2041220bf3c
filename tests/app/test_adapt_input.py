"""F5 on data whose images or classes differ from the network's Input: the app asks (fit the network
as one undoable edit, train on stated converted copies, or cancel) and never converts silently."""
import struct

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from cnn_studio.core import templates

B = QMessageBox.StandardButton


def _idx_digits(folder, n_train=40, n_test=20, h=28, w=28, classes=4):
    """MNIST-like IDX files: 1x28x28 gray images."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
        y = (np.arange(n) % classes).astype(np.uint8)
        for kind, arr in (("images", x), ("labels", y)):
            head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
            (folder / f"{stem}-{kind}-idx{arr.ndim}-ubyte").write_bytes(head + arr.tobytes())
    return folder


def _choose_source(window, qtbot, path):
    """Type the path into the Data panel's Source field as a user would."""
    window.training.data_dock.raise_()
    field = window.training.data_panel.source
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    field.selectAll()
    QTest.keyClicks(field, str(path))
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert window.training.data_panel.config_dict()["source"] == str(path)


def _shape(window):
    c = window.graph.input_node().config
    return (c["channels"], c["height"], c["width"]), window.graph.nodes["output"].config["out_features"]


def test_f5_on_idx_digits_offers_to_fit_the_network_as_one_undoable_edit(window, qtbot, tmp_path):
    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits"))
    assert _shape(window) == ((3, 32, 32), 10)
    before = window.graph.to_config()
    window.answers.replies = [B.Yes]
    QTest.keyClick(window, Qt.Key.Key_F5)
    title, text = window.answers.asked[-1]
    assert title == "The data does not fit the network"
    assert "1x28x28" in text and "3x32x32" in text and "4 classes" in text
    assert "No:" not in text  # converted copies would still have 4 classes for 10 outputs: not offered
    assert _shape(window) == ((1, 28, 28), 4)
    # LeNet-5 keeps its template's rule for 28x28 (C1 padded by 2, as in the paper), so it is valid
    assert "'c1' padding: 0 -> 2" in text
    assert window.graph.nodes["c1"].config["padding"] == 2 and window.analysis.ok
    qtbot.waitUntil(lambda: not window.training.panel.running, timeout=120_000)
    assert window.state.source.run_dir is not None  # the run went on the 1x28x28 images
    # one undo step restores the Input, the class count and C1's padding
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _shape(window) == ((3, 32, 32), 10)
    assert window.graph.to_config()["nodes"] == before["nodes"]


def test_a_class_count_alone_that_differs_is_offered_the_same_fit(window, qtbot, tmp_path):
    window.document.replace(templates.build("lenet5", (1, 28, 28), 10), None)
    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits"))
    window.answers.replies = [B.Cancel]
    QTest.keyClick(window, Qt.Key.Key_F5)
    title, text = window.answers.asked[-1]
    assert title == "The data does not fit the network"
    assert "4 classes" in text and "'output' outputs: 10 -> 4" in text and "Input:" not in text
    assert "No:" not in text  # converted images would not change the class count
    assert not window.training.panel.running and _shape(window) == ((1, 28, 28), 10)


def test_cancel_leaves_the_network_and_starts_nothing(window, qtbot, tmp_path):
    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits"))
    window.answers.replies = [B.Cancel]
    assert window.training.train() is False
    assert _shape(window) == ((3, 32, 32), 10) and not window.training.panel.running
    assert window.document.undo_stack.count() <= 1  # at most the settings edit of the new source


def test_a_network_that_fits_after_the_edit_gets_no_error(window, qtbot, tmp_path):
    """TinyVGG's input can become 1x28x28: after Yes the network is valid (the run then starts)."""
    from cnn_studio.app.training.fit_data import native_data
    from cnn_studio.core.adapt import errors_after, plan_adaptation

    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits"))
    shape, classes = native_data(window.training.data_panel)
    assert (shape, classes) == ((1, 28, 28), 4)  # the source's own shape, not the network's
    g = templates.build("tinyvgg", (3, 32, 32), 10)
    plan = plan_adaptation(g, shape, classes)
    assert errors_after(g, plan) == [] and {(c.node_id, c.key) for c in plan.changes} == {
        ("input", "channels"), ("input", "height"), ("input", "width"), ("output", "out_features")}


def test_the_app_and_train_config_have_the_same_defaults(window):
    from cnn_studio.training import TrainConfig

    shown = window.training.panel.settings.config()
    default = TrainConfig().to_dict()
    for key in ("optimizer", "lr", "batch_size", "epochs", "schedule", "monitor", "seed"):
        assert shown[key] == default[key], key


def test_no_trains_on_stated_converted_copies_when_the_classes_agree(window, qtbot, tmp_path):
    from cnn_studio.app.training import fit_data

    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits", classes=10))
    window.answers.replies = [B.No]
    messages = []
    window.show_message = lambda text, timeout=0: messages.append(text)
    assert fit_data.fit_data_to_network(window.training) is True
    title, text = window.answers.asked[-1]
    assert "converted to 3x32x32: gray to RGB" in text and "resized from 28x28 to 32x32 (bilinear)" in text
    assert _shape(window) == ((3, 32, 32), 10)  # the network is left as it is
    assert messages and "converted to 3x32x32" in messages[-1]


def test_status_line_names_the_weights_of_the_test_figure(window):
    panel = window.training.panel
    panel._show_summary({"stop_reason": "finished", "best_val_accuracy": 0.95, "test_accuracy": 0.958,
                         "test_weights": "best", "test_epoch": 9}, None)
    assert "test accuracy 95.8% (best weights, epoch 9)" in panel.status.text()
    panel._show_summary({"stop_reason": "finished", "test_accuracy": 0.825, "test_weights": "last", "test_epoch": 10}, None)
    assert "test accuracy 82.5% (last weights, epoch 10)" in panel.status.text()


def test_reading_the_data_for_f5_keeps_the_window_responsive(window, qtbot, tmp_path, monkeypatch):
    """F5 reads a data set other than the built-in one to compare its shape: in a helper thread,
    while the GUI thread's event loop goes on (a timer fires during the read); F5 pressed again
    meanwhile starts nothing more."""
    import threading

    import cnn_studio.data as data
    from PySide6.QtCore import QTimer

    real = data.load_dataset
    released = threading.Event()
    seen = {}

    def slow_load(cfg, *a, **k):
        if threading.current_thread().name == "cnn-studio-data-shape":
            seen["released_by_the_gui_timer"] = released.wait(10)
        return real(cfg, *a, **k)

    monkeypatch.setattr(data, "load_dataset", slow_load)
    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits"))
    window.answers.replies = [B.Cancel]
    presses = []

    def during_read():
        presses.append(window.training.train())  # a second F5 while reading: refused
        released.set()

    QTimer.singleShot(100, during_read)
    assert window.training.train() is False  # the user cancelled the question that followed
    assert seen == {"released_by_the_gui_timer": True} and presses == [False]
    assert len(window.answers.asked) == 1 and "1x28x28" in window.answers.asked[0][1]


def test_a_classifier_in_a_shared_block_is_given_its_own_copy_in_the_same_undoable_fit(window, qtbot, tmp_path):
    """The class layer sits in a block two instances share: Yes copies the block for the classifier's
    instance and sets 4 classes there only (the hidden use keeps 10); one Undo takes back both."""
    from cnn_studio.core import blocks
    from cnn_studio.core.graph import Graph, chain

    g = Graph("grouped")
    chain(g, [("input", {"channels": 1, "height": 28, "width": 28}, "input"), ("conv2d", {"out_channels": 4, "kernel_size": 3}, "c1"),
              ("relu", {}, "r1"), ("maxpool2d", {"kernel_size": 2}, "pool"), ("flatten", {}, "flat"),
              ("dropout", {"p": 0.1}, "d1"), ("linear", {"out_features": 10}, "l1"), ("relu", {}, "r2"),
              ("dropout", {"p": 0.1}, "d2"), ("linear", {"out_features": 10}, "l2"), ("cross_entropy", {}, "loss")])
    blocks.group(g, ["d1", "l1"], "Dense", instance_id="dense1")
    blocks.group(g, ["d2", "l2"], "Tmp", instance_id="dense2")
    g.nodes["dense2"].config["block"] = "Dense"
    blocks.remove_definition(g, "Tmp")
    window.document.replace(g, None)
    before = window.graph.to_config()
    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits"))
    window.answers.replies = [B.Cancel]
    QTest.keyClick(window, Qt.Key.Key_F5)
    title, text = window.answers.asked[-1]
    assert "Block 'Dense' is shared by 2 instances: 'dense2' now uses its own copy" in text
    assert "Yes: fit the network" in text and window.graph.to_config()["nodes"] == before["nodes"]  # Cancel: nothing changed
    window.answers.replies = [B.Yes]
    assert window.training.panel.settings is not None
    from cnn_studio.app.training import fit_data

    assert fit_data.fit_data_to_network(window.training) is True
    graph = window.graph
    copy_name = graph.nodes["dense2"].config["block"]
    assert copy_name != "Dense" and graph.nodes["dense1"].config["block"] == "Dense"
    assert graph.blocks[copy_name].graph.nodes["l1"].config["out_features"] == 4
    assert graph.blocks["Dense"].graph.nodes["l1"].config["out_features"] == 10
    assert window.analysis.ok
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    after_undo = window.graph.to_config()
    assert after_undo["nodes"] == before["nodes"] and after_undo.get("blocks") == before.get("blocks")
