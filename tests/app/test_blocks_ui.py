"""Blocks in the app (issue 13), driven with real mouse and keyboard: group with Ctrl+G and a name,
the block card's numbers, expand in place and edit inside through the Inspector (every shared use
changes), make unique, ungroup, rename, save to the library and drop from "My blocks", nested
blocks, the Summary's block tree; each step's undo gives the exact graph config back."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/block_graphs.py

from app_helpers import click, drop_mime, key, norm, vp  # noqa: E402
from block_graphs import residual_graph, tiny_resnet  # noqa: E402

from cnn_studio.app import fmt  # noqa: E402
from cnn_studio.app.canvas.block_item import BlockItem, InnerNodeItem  # noqa: E402
from cnn_studio.core import blocks  # noqa: E402
from cnn_studio.core.block_library import library_dir  # noqa: E402
from cnn_studio.core.block_report import block_tree  # noqa: E402
from cnn_studio.core.layout import apply_layout  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier


def undo_key(window):
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Z, CTRL)
    QApplication.processEvents()


def laid_out(g):
    apply_layout(g)
    return g


def two_uses():
    """residual_graph with r1 c2 bn2 grouped into Body and a second Body instance after r2."""
    g = laid_out(residual_graph())
    inst = blocks.group(g, ["r1", "c2", "bn2"], "Body")
    e = next(e for e in g.edges if e.src == "r2")
    g.disconnect(e)
    second = blocks.instantiate(g, "Body", pos=(g.nodes["r2"].pos[0] + 260, g.nodes["r2"].pos[1]))
    g.connect("r2", second)
    g.connect(second, "pool")
    return g, inst, second


def group_by_keyboard(window, qtbot, ids, name):
    window.scene.clearSelection()
    for i, nid in enumerate(ids):
        window.select_nodes([nid], center=True) if i == 0 else None
        QApplication.processEvents()
        item = window.scene.node_items[nid]
        click(window, vp(window, item.scenePos()), CTRL if i else Qt.KeyboardModifier.NoModifier)
    assert sorted(window.selected_node_ids()) == sorted(ids)
    key(window, Qt.Key.Key_G, CTRL)
    dialog = window.blocks.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.edit.selectAll()
    QTest.keyClicks(dialog.edit, name)
    QTest.keyClick(dialog.edit, Qt.Key.Key_Return)
    QApplication.processEvents()


def test_group_with_ctrl_click_and_ctrl_g_then_undo_redo(make_window, qtbot):
    window = make_window(laid_out(residual_graph()))
    g = window.graph
    before = norm(g.to_config())
    window.view.centerOn(window.scene.node_items["c2"])
    QApplication.processEvents()
    group_by_keyboard(window, qtbot, ["r1", "c2", "bn2"], "Body")
    assert "Body" in g.blocks and list(g.blocks["Body"].graph.nodes) == ["r1", "c2", "bn2"]
    insts = [n.id for n in g.nodes.values() if n.type == "block"]
    assert len(insts) == 1 and not {"r1", "c2", "bn2"} & set(g.nodes)
    inst = insts[0]
    assert window.selected_node_ids() == [inst] and window.inspector.title.text() == "Block Body"
    # the card shows the engine's numbers
    item = window.scene.node_items[inst]
    assert isinstance(item, BlockItem)
    info = window.document.analysis.nodes[inst]
    assert info.params == 144 + 16 and item.info.params == info.params
    assert item._texts["params"] == f"{fmt.count(info.params)} params"
    assert item._texts["macs"] == f"{fmt.count(info.macs)} MACs" and info.macs > 0
    assert fmt.shape(info.output_shape) in item._texts["shape"] and fmt.shape(info.input_shapes[0]) in item._texts["in"]
    after = norm(g.to_config())
    undo_key(window)
    assert norm(g.to_config()) == before
    assert all(not isinstance(i, BlockItem) for i in window.scene.node_items.values())
    window.redo()
    assert norm(g.to_config()) == after


def test_group_refusal_shows_the_engine_message_and_changes_nothing(make_window):
    window = make_window(laid_out(residual_graph()))
    g = window.graph
    before = norm(g.to_config())
    window.select_nodes(["inp", "c1"])
    key(window, Qt.Key.Key_G, CTRL)
    assert window.blocks.dialog is None
    assert "Input layer" in window.statusBar().currentMessage()
    window.select_nodes(["r1", "bn2"])  # c2 lies between them
    key(window, Qt.Key.Key_G, CTRL)
    assert "lies between selected layers" in window.statusBar().currentMessage()
    assert norm(g.to_config()) == before and window.document.undo_stack.count() == 0


def test_name_dialog_refuses_bad_and_taken_names(make_window):
    window = make_window(two_uses()[0])
    window.select_nodes(["c1"])
    key(window, Qt.Key.Key_G, CTRL)
    d = window.blocks.dialog
    for bad in ("9lives", "class", "Body"):
        d.edit.setText(bad)
        QTest.keyClick(d.edit, Qt.Key.Key_Return)
        assert d.problem.text() and d.isVisible()
    assert window.document.undo_stack.count() == 0
    d.edit.setText("Stem")
    QTest.keyClick(d.edit, Qt.Key.Key_Return)
    assert "Stem" in window.graph.blocks


def test_expand_edit_inside_in_the_inspector_changes_every_use_and_undoes(make_window, qtbot):
    g, inst, second = two_uses()
    window = make_window(g)
    g = window.graph
    a = window.document.analysis
    assert a.nodes[inst].params == a.nodes[second].params == 160
    card = window.scene.node_items[inst]
    assert card._texts["shared"] == "shared by 2"
    start = norm(g.to_config())
    window.view.centerOn(card)
    QApplication.processEvents()
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(window, card.scenePos()))
    QApplication.processEvents()
    card = window.scene.node_items[inst]
    assert card.expanded and set(card.inner_items) == {"r1", "c2", "bn2"}
    # room is made below the frame without moving the model
    assert window.scene.node_items["add"].pos().y() > g.nodes["add"].pos[1]
    inner = card.inner_items["c2"]
    assert isinstance(inner, InnerNodeItem)
    window.view.centerOn(inner)
    QApplication.processEvents()
    click(window, vp(window, inner.scenePos()))
    QApplication.processEvents()
    assert window.inspector.inner == ("Body", f"{inst}/c2") and window.inspector.node_id == "c2"
    assert window.selected_node_ids() == []
    box = window.inspector.editors["bias"].findChild(QCheckBox)
    assert not box.isChecked()
    box.click()
    QApplication.processEvents()
    assert g.blocks["Body"].graph.nodes["c2"].config["bias"] is True
    a = window.document.analysis
    assert a.nodes[inst].params == a.nodes[second].params == 164  # both uses changed
    assert window.scene.node_items[second].info.params == 164
    assert "164" in window.inspector.stats.text() or "148" in window.inspector.stats.text()
    # collapse again (double-click the header), the model is untouched by expanding
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(window, card.scenePos() + QPointF(0, -card._h / 2 + 20)))
    QApplication.processEvents()
    assert not window.scene.node_items[inst].expanded
    assert window.scene.node_items["add"].pos().y() == g.nodes["add"].pos[1]
    undo_key(window)
    assert norm(g.to_config()) == start
    assert window.document.analysis.nodes[second].params == 160


def test_make_unique_ungroup_and_rename_are_undoable(make_window):
    g, inst, second = two_uses()
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    window.select_nodes([second])
    window.blocks.act_unique.trigger()
    assert g.nodes[second].config["block"] == "Body2" and g.nodes[inst].config["block"] == "Body"
    assert window.scene.node_items[inst]._texts["shared"] == "used once"
    # the copy edits alone
    g2 = norm(g.to_config())
    undo_key(window)
    assert norm(g.to_config()) == start
    window.redo()
    assert norm(g.to_config()) == g2
    undo_key(window)
    # ungroup one use: its layers come back, the other instance keeps the definition
    window.select_nodes([inst])
    key(window, Qt.Key.Key_G, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert {"r1", "c2", "bn2"} <= set(g.nodes) and inst not in g.nodes and "Body" in g.blocks
    assert sorted(window.selected_node_ids()) == ["bn2", "c2", "r1"]
    undo_key(window)
    assert norm(g.to_config()) == start
    # rename (every use)
    window.select_nodes([inst])
    d = window.blocks.rename()
    d.edit.setText("Residual")
    QTest.keyClick(d.edit, Qt.Key.Key_Return)
    assert g.nodes[inst].config["block"] == g.nodes[second].config["block"] == "Residual"
    undo_key(window)
    assert norm(g.to_config()) == start


def test_save_to_library_and_drop_from_my_blocks(make_window):
    g, inst, _ = two_uses()
    window = make_window(g)
    window.select_nodes([inst])
    d = window.blocks.save_to_library()
    d.edit.setText("ResBody")
    QTest.keyClick(d.edit, Qt.Key.Key_Return)
    assert (library_dir() / "ResBody.cnnblock").exists()
    pal = window.palette_widget
    assert "ResBody" in pal.library_items and not pal.library.isHidden()
    # a fresh network: drop the saved block from the palette on empty canvas
    window.document.replace(laid_out(residual_graph()))
    QApplication.processEvents()
    g = window.graph
    start = norm(g.to_config())
    mime = pal.tree.mimeData([pal.library_items["ResBody"]])
    empty = window.view.viewport().rect().bottomRight() - window.view.viewport().rect().center() / 4
    drop_mime(window, mime, empty)
    QApplication.processEvents()
    new = [n for n in g.nodes.values() if n.type == "block"]
    assert len(new) == 1 and new[0].config["block"] == "ResBody" and "ResBody" in g.blocks
    assert isinstance(window.scene.node_items[new[0].id], BlockItem)  # one card (a free one: no input yet)
    undo_key(window)
    assert norm(g.to_config()) == start
    # double-click appends after the selected layer, fed by it
    window.select_nodes(["c1"])
    pal.tree.itemActivated.emit(pal.library_items["ResBody"], 0)
    QApplication.processEvents()
    new = [n for n in g.nodes.values() if n.type == "block"]
    assert len(new) == 1 and any(e.src == "c1" and e.dst == new[0].id for e in g.edges)
    assert window.document.analysis.nodes[new[0].id].params == 160


def test_nested_blocks_expand_and_the_summary_shows_the_block_tree(make_window):
    window = make_window(laid_out(tiny_resnet()))
    g = window.graph
    start = norm(g.to_config())
    layer2 = window.scene.node_items["layer2"]
    layer2.set_expanded(True)
    inner0 = window.scene.node_items["layer2"].inner_items["0"]
    assert isinstance(inner0, BlockItem) and inner0.block_name == "Basic8s2"
    inner0.set_expanded(True)
    layer2 = window.scene.node_items["layer2"]
    inner0 = layer2.inner_items["0"]
    assert inner0.expanded and isinstance(inner0.inner_items["downsample"], BlockItem)
    # the nested frame fits inside its owner's frame, and no two inner cards overlap
    assert layer2.mapRectFromItem(inner0, inner0.rect()).height() < layer2.rect().height()
    rects = [layer2.mapRectFromItem(i, i.rect() if isinstance(i, BlockItem) else i.boundingRect().adjusted(3, 3, -3, -3)) for i in layer2.inner_items.values()]
    assert not any(a.intersects(b) for k, a in enumerate(rects) for b in rects[k + 1:])
    a = window.document.analysis
    assert inner0.inner_items["conv1"].info.params == a.nodes["layer2"].block.nodes["0"].block.nodes["conv1"].params
    assert norm(g.to_config()) == start  # expanding is a view: the model is unchanged
    # Summary: one row per block-tree row, nested rows indented, clicks select the top-level node
    tree = block_tree(a)
    m = window.summary.model
    assert m.rowCount() == len(tree) and m.paths == [r.path for r in tree]
    row = m.paths.index("layer2/0/downsample/0")
    assert m.rows[row][0].startswith("\u2003" * 3) and m.ids[row] == "layer2"
    blk = m.paths.index("layer2")
    assert m.rows[blk][1] == "Block Layer2" and m.rows[blk][3] == fmt.full(a.nodes["layer2"].params)


def test_copy_paste_delete_and_freeze_a_block_card(make_window):
    g, inst, second = two_uses()
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    window.select_nodes([inst])
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_D, CTRL)  # duplicate: a third use of the same definition
    QApplication.processEvents()
    uses = [n.id for n in g.nodes.values() if n.type == "block" and n.config["block"] == "Body"]
    assert len(uses) == 3 and isinstance(window.scene.node_items[uses[-1]], BlockItem)
    assert window.scene.node_items[inst]._texts["shared"] == "shared by 3"
    undo_key(window)
    assert norm(g.to_config()) == start
    # delete the card and undo
    window.select_nodes([second])
    key(window, Qt.Key.Key_Delete)
    assert second not in g.nodes
    undo_key(window)
    assert norm(g.to_config()) == start and isinstance(window.scene.node_items[second], BlockItem)
    # the Inspector's Trainable box freezes a block instance; its card shows the frozen mark
    window.select_nodes([inst])
    QApplication.processEvents()
    box = window.inspector.training_box.findChild(QCheckBox)
    box.click()
    QApplication.processEvents()
    assert g.nodes[inst].frozen and window.scene.node_items[inst].frozen
    assert window.scene.node_items[inst]._texts["params"].startswith("\u2744")
    undo_key(window)
    assert norm(g.to_config()) == start and not window.scene.node_items[inst].frozen


def test_grouping_a_block_card_with_a_layer_nests_it(make_window, qtbot):
    g, inst, second = two_uses()
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    window.view.centerOn(window.scene.node_items[second])
    QApplication.processEvents()
    group_by_keyboard(window, qtbot, [second, "pool"], "Tail")
    outer = next(n.id for n in g.nodes.values() if n.type == "block" and n.config["block"] == "Tail")
    assert set(g.blocks["Tail"].graph.nodes) == {second, "pool"} and g.blocks["Tail"].uses() == {"Body"}
    card = window.scene.node_items[outer]
    a = window.document.analysis
    assert a.nodes[outer].params == 160 and card.info.params == 160
    card.set_expanded(True)
    card = window.scene.node_items[outer]
    nested = card.inner_items[second]
    assert isinstance(nested, BlockItem) and nested.block_name == "Body"
    nested.set_expanded(True)
    nested = window.scene.node_items[outer].inner_items[second]
    assert set(nested.inner_items) == {"r1", "c2", "bn2"}
    assert window.scene.node_items[inst]._texts["shared"] == "shared by 2"  # the nested use counts
    undo_key(window)
    assert norm(g.to_config()) == start


def test_rubber_band_select_then_ctrl_g_with_the_default_name(make_window):
    from app_helpers import mouse_drag

    window = make_window(laid_out(residual_graph()))
    g = window.graph
    before = norm(g.to_config())
    window.view.centerOn(window.scene.node_items["c2"])
    QApplication.processEvents()
    r = window.scene.node_items["r1"].sceneBoundingRect().united(window.scene.node_items["bn2"].sceneBoundingRect())
    mouse_drag(window, vp(window, (r.left() - 150, r.top() + 20)), vp(window, (r.center().x(), r.bottom() - 20)), steps=6)
    assert sorted(window.selected_node_ids()) == ["bn2", "c2", "r1"]
    key(window, Qt.Key.Key_G, CTRL)
    d = window.blocks.dialog
    assert d.edit.text() == "Block"  # a valid, free default
    QTest.keyClick(d.edit, Qt.Key.Key_Return)
    assert "Block" in g.blocks and window.document.undo_stack.count() == 1
    undo_key(window)
    assert norm(g.to_config()) == before
