"""Copy/paste keeps a layer's training options: a pasted copy of a frozen layer (or one with a
learning-rate multiplier) is frozen too, shown as frozen on the canvas, and one undo removes it; a
clipboard with damaged options is refused by name, adding nothing."""
import json

from app_helpers import click, key, node_pos, norm
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from cnn_studio.app.edits import parse_payload
from cnn_studio.app.transfer import SetNodeTrainingCommand
from cnn_studio.core.errors import GraphEditError

CTRL = Qt.KeyboardModifier.ControlModifier


def test_ctrl_c_ctrl_v_of_a_frozen_layer_pastes_a_frozen_layer_and_undo_removes_it(window, qtbot):
    g = window.graph
    window.document.push(SetNodeTrainingCommand(g, ["c3"], frozen=True))
    window.document.push(SetNodeTrainingCommand(g, ["c3_act"], lr_mult=0.25))
    start = norm(g.to_config())
    click(window, node_pos(window, "c3"))
    click(window, node_pos(window, "c3_act"), CTRL)
    assert sorted(window.selected_node_ids()) == ["c3", "c3_act"]
    key(window, Qt.Key.Key_C, CTRL)
    payload = json.loads(QGuiApplication.clipboard().mimeData().text())
    assert {n["id"]: (n.get("frozen"), n.get("lr_mult")) for n in payload["nodes"]} == {"c3": (True, None), "c3_act": (None, 0.25)}
    key(window, Qt.Key.Key_V, CTRL)
    new = [n for n in g.nodes if n not in {x["id"] for x in start["nodes"]}]
    assert len(new) == 2 and sorted(window.selected_node_ids()) == sorted(new)
    conv = next(n for n in new if g.nodes[n].type == "conv2d")
    act = next(n for n in new if g.nodes[n].type != "conv2d")
    assert g.nodes[conv].frozen is True and g.nodes[conv].lr_mult == 1.0
    assert g.nodes[act].frozen is False and g.nodes[act].lr_mult == 0.25
    assert window.scene.node_items[conv].frozen  # the canvas marks the copy as frozen
    assert window.scene.node_items[act].lr_mult == 0.25
    key(window, Qt.Key.Key_Z, CTRL)  # one undo step removes both copies
    assert norm(g.to_config()) == start
    key(window, Qt.Key.Key_Z, CTRL)  # and the multiplier edit before it is its own step
    assert g.nodes["c3_act"].lr_mult == 1.0 and g.nodes["c3"].frozen


def test_ctrl_d_duplicate_keeps_the_freeze_too(window):
    g = window.graph
    window.document.push(SetNodeTrainingCommand(g, ["c1"], frozen=True))
    window.select_nodes(["c1"])
    copies = window.duplicate()
    assert len(copies) == 1 and g.nodes[copies[0]].frozen


def test_damaged_training_options_on_the_clipboard_are_refused_by_name():
    base = {"format": "cnn-studio-nodes", "version": 1, "edges": []}
    for bad, field in (({"frozen": "yes"}, '"frozen" must be true or false'), ({"lr_mult": 0}, '"lr_mult" must be a number')):
        text = json.dumps({**base, "nodes": [{"id": "c9", "type": "relu", "config": {}, "pos": [0, 0], **bad}]})
        try:
            parse_payload(text)
        except GraphEditError as e:
            assert "the clipboard's layer 'c9'" in str(e) and field in str(e)
        else:
            raise AssertionError(f"{bad} accepted")
