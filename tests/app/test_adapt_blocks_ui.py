"""F5 on data with another class count, for a network whose Fully connected classifier is inside a
block (as MobileNetV2's classifier/1): the app offers the fit, sets the definition's layer in the same
one undoable edit, trains, and one Ctrl+Z restores the class count."""
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox
from test_adapt_input import _choose_source, _idx_digits

from cnn_studio.core import blocks
from cnn_studio.core.graph import Graph, chain

B = QMessageBox.StandardButton


def block_head_network() -> Graph:
    g = Graph("block head")
    g.add_node("input", {"channels": 1, "height": 28, "width": 28}, node_id="input")
    last = chain(g, [("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv"), ("relu", {}, "relu"),
                     ("maxpool2d", {"kernel_size": 4}, "pool"), ("flatten", {}, "flatten")], "input")
    inner = blocks.new_inner_graph(g)
    chain(inner, [("dropout", {"p": 0.2}, "0"), ("linear", {"out_features": 10}, "1")])
    blocks.define(g, "Classifier", inner, [[("0", 0)]], "1")
    blocks.instantiate(g, "Classifier", "classifier", pos=(600, 0))
    g.connect(last, "classifier")
    g.add_node("cross_entropy", {}, node_id="loss", pos=(700, 0))
    g.connect("classifier", "loss")
    return g


def _classes(window):
    return window.graph.blocks["Classifier"].graph.nodes["1"].config["out_features"]


def test_f5_fits_a_classifier_inside_a_block_as_one_undoable_edit(window, qtbot, tmp_path):
    window.document.replace(block_head_network(), None)
    _choose_source(window, qtbot, _idx_digits(tmp_path / "digits"))  # 1x28x28, 4 classes
    before = window.graph.to_config()
    steps_before = window.document.undo_stack.count()
    window.answers.replies = [B.Yes]
    QTest.keyClick(window, Qt.Key.Key_F5)
    title, text = window.answers.asked[-1]
    assert title == "The data does not fit the network"
    assert "'classifier/1' outputs: 10 -> 4" in text and "Input:" not in text
    assert _classes(window) == 4 and window.analysis.ok
    assert tuple(window.analysis.output_shape) == (4,)
    assert window.document.undo_stack.count() == steps_before + 1  # one edit
    qtbot.waitUntil(lambda: not window.training.panel.running, timeout=120_000)
    assert window.state.source.run_dir is not None  # the run went on the 4-class data
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _classes(window) == 10
    assert window.graph.to_config() == before
