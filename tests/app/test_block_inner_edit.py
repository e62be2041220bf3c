"""Structural editing inside a block on the canvas (canvas/inner_edit.py), with real mouse and
keyboard events: enter a shared ResNet-34 block, add a Dropout by a palette drop, wire it, move a
card, delete it again, refusals; every step is one undo step and undoing all of them gives the
project file back byte for byte."""
from __future__ import annotations

from app_helpers import click, drop, key, mouse_drag, node_pos, port_pos, vp
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cnn_studio.core import project, templates
from cnn_studio.core.graph import Edge
from cnn_studio.app.canvas.inner_edit import PSEUDO_OUT, in_id

CTRL = Qt.KeyboardModifier.ControlModifier


def _show(window, nid):
    window.view.centerOn(window.scene.node_items[nid])
    QApplication.processEvents()


def _enter(window, nid):
    _show(window, nid)
    click(window, node_pos(window, nid))
    key(window, Qt.Key.Key_Return)
    QApplication.processEvents()


def _instances_inner(window, path):
    info = None
    nodes = window.document.analysis.nodes
    for comp in path:
        info = nodes[comp]
        nodes = info.block.nodes
    return info.block


def _visible_point_of(window, edge):
    """A point of a link where no card covers it (a skip link runs behind the cards of its column)."""
    item = window.scene.edge_items[edge]
    for k in range(5, 96, 3):
        p = item.path().pointAtPercent(k / 100)
        if window.scene.target_at(p) is item:
            window.view.centerOn(p)
            QApplication.processEvents()
            return vp(window, p)
    raise AssertionError("the link is hidden everywhere")


def _messages(window):
    got = []
    window.document.message.connect(got.append)
    return got


def test_edit_inside_a_shared_resnet34_block_then_undo_everything(make_window):
    import torch

    from cnn_studio.compiler.model import compile_model

    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    g = window.graph
    start = project.dumps(g)
    msgs = _messages(window)
    scene = window.scene

    _enter(window, "layer1")
    assert scene.edit_path == ["layer1"] and window.view.breadcrumb.isVisible()
    _enter(window, "0")
    assert scene.edit_path == ["layer1", "0"] and scene.current_block() == "Basic64"
    bar = window.view.breadcrumb
    assert [b.text() for b in bar.crumbs] == ["Network", "Layer1", "Basic64"]
    assert "shared by 3 uses" in bar.info.text() and bar.unique.isVisible()
    # the inside shows the instance's real shapes: block input 1 is layer1's input, 64x16x16
    assert scene.node_items[in_id(0)].shape_text == "64x16x16"
    assert scene.node_items["conv1"].info.output_shape == (64, 16, 16)

    # 1. drop a Dropout from the palette on free canvas, to the right of the block's layers
    right = max(it.scenePos().x() for it in scene.node_items.values()) + 320
    mid = scene.node_items["conv2"].scenePos().y()
    window.view.centerOn(QPointF(right, mid))
    QApplication.processEvents()
    drop(window, "dropout", vp(window, QPointF(right, mid)))
    d = g.blocks["Basic64"]
    assert "dropout1" in d.graph.nodes and not d.graph.in_edges("dropout1")
    # shown as a problem on the new card, and on every instance, never a crash
    assert scene.node_items["dropout1"].severity == "error"
    assert any("in block 'Basic64', Dropout 'dropout1'" in i.message for i in window.document.analysis.issues)

    # 2. wire it: pick up the link end at conv2's input and drop it on the Dropout card ...
    _show(window, "conv2")
    mouse_drag(window, port_pos(window, "conv2", "in"), node_pos(window, "dropout1"), steps=8)
    d = g.blocks["Basic64"]  # each edit replaces the definitions (one undo snapshot)
    assert Edge("relu1", 0, "dropout1", 0) in d.graph.edges and d.graph.edge_into("conv2", 0) is None
    # ... then drag from the Dropout's output to conv2's input port
    mouse_drag(window, port_pos(window, "dropout1", "out"), port_pos(window, "conv2", "in"), steps=8)
    d = g.blocks["Basic64"]
    assert Edge("dropout1", 0, "conv2", 0) in d.graph.edges
    a = window.document.analysis
    assert a.ok, [str(i) for i in a.issues[:3]]
    for k in ("0", "1", "2"):  # every instance changed
        inner = _instances_inner(window, ["layer1", k])
        assert inner.nodes["dropout1"].output_shape == (64, 16, 16)
    model = compile_model(g)
    assert a.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert any(name.endswith("dropout1") for name, _ in model.named_modules())
    model.eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, 3, 64, 64)).shape) == (1, 10)

    # 3. move a card: the position is stored in the definition
    _show(window, "bn1")
    before_pos = g.blocks["Basic64"].graph.nodes["bn1"].pos
    start_pt = node_pos(window, "bn1")
    mouse_drag(window, start_pt, start_pt + QPoint(-160, 0), steps=6)
    after_pos = g.blocks["Basic64"].graph.nodes["bn1"].pos
    assert after_pos[0] < before_pos[0] - 100 and abs(after_pos[1] - before_pos[1]) < 1
    assert scene.node_items["bn1"].scenePos().x() < scene.node_items["conv1"].scenePos().x() - 100  # shown where it was put

    # 4. refusals: the block's output, and both links of block input 1, change nothing
    snap = project.dumps(g)
    _show(window, "relu")
    click(window, node_pos(window, "relu"))
    key(window, Qt.Key.Key_Delete)
    assert project.dumps(g) == snap and "output of block 'Basic64'" in msgs[-1]
    scene.clearSelection()
    for e in (Edge(in_id(0), 0, "conv1", 0), Edge(in_id(0), 0, "add", 1)):
        scene.edge_items[e].setSelected(True)
    key(window, Qt.Key.Key_Delete)
    assert project.dumps(g) == snap and "would feed nothing" in msgs[-1]
    # dragging the output link off into nothing is refused too
    _show(window, "relu")
    mouse_drag(window, port_pos(window, PSEUDO_OUT, "in"), port_pos(window, PSEUDO_OUT, "in") + QPoint(260, 120), steps=6)
    assert project.dumps(g) == snap and "needs an output" in msgs[-1]

    # 5. delete the Dropout again (Delete key): conv2's input is then open, shown as a problem
    _show(window, "dropout1")
    click(window, node_pos(window, "dropout1"))
    key(window, Qt.Key.Key_Delete)
    assert "dropout1" not in g.blocks["Basic64"].graph.nodes
    assert scene.node_items["conv2"].severity == "error"

    # 6. Esc goes up, level by level; the network's card shows the problem inside
    key(window, Qt.Key.Key_Escape)
    assert scene.edit_path == ["layer1"]
    key(window, Qt.Key.Key_Escape)
    assert scene.edit_path == [] and not window.view.breadcrumb.isVisible()
    assert scene.node_items["layer1"].severity == "error"

    # undo every step: the project file is byte-identical to the start
    stack = window.document.undo_stack
    assert stack.count() == 5  # drop, re-route, connect, move, delete
    while stack.canUndo():
        key(window, Qt.Key.Key_Z, CTRL)
    assert project.dumps(g) == start
    assert window.document.analysis.ok


def test_output_and_block_inputs_rewire_and_make_unique(make_window):
    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    g = window.graph
    scene = window.scene
    start = project.dumps(g)
    _enter(window, "layer1")
    _enter(window, "1")
    assert scene.current_block() == "Basic64"
    # drop a ReLU6 on the "block output" card: it follows the old output and becomes the output
    _show(window, PSEUDO_OUT)
    drop(window, "relu6", node_pos(window, PSEUDO_OUT))
    d = g.blocks["Basic64"]
    new = next(n for n in d.graph.nodes if n.startswith("relu6"))
    assert d.output == new and Edge("relu", 0, new, 0) in d.graph.edges
    # drag the old relu's output to "block output": relu is the output again (relu6 now dangles)
    _show(window, "relu")
    mouse_drag(window, port_pos(window, "relu", "out"), node_pos(window, PSEUDO_OUT), steps=8)
    assert g.blocks["Basic64"].output == "relu"
    # re-route block input 1 from add's input 2 to ... a new Identity dropped on that link
    e = Edge(in_id(0), 0, "add", 1)
    _show(window, "add")
    drop(window, "identity", _visible_point_of(window, e))
    d = g.blocks["Basic64"]
    ident = next(n for n in d.graph.nodes if n.startswith("identity"))
    assert (ident, 0) in d.inputs[0] and ("add", 1) not in d.inputs[0] and Edge(ident, 0, "add", 1) in d.graph.edges
    # Make unique: this use gets its own copy; the other two keep Basic64
    QTest.mouseClick(window.view.breadcrumb.unique, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    name = scene.current_block()
    assert name != "Basic64" and g.blocks["Layer1"].graph.nodes["1"].config["block"] == name
    assert g.blocks["Layer1"].graph.nodes["0"].config["block"] == "Basic64"
    assert "used once" in window.view.breadcrumb.info.text()
    # undo Make unique while inside: the scene follows the path back to the shared definition
    key(window, Qt.Key.Key_Z, CTRL)
    assert scene.current_block() == "Basic64" and scene.edit_path == ["layer1", "1"]
    while window.document.undo_stack.canUndo():
        key(window, Qt.Key.Key_Z, CTRL)
    assert project.dumps(g) == start
    key(window, Qt.Key.Key_Escape)
    key(window, Qt.Key.Key_Escape)
    assert scene.edit_path == []
    # double-click a layer inside an expanded block: that block opens for editing, the layer selected
    scene.node_items["layer1"].set_expanded(True)
    scene.node_items["layer1"].inner_items["0"].set_expanded(True)
    QApplication.processEvents()
    conv1 = scene.node_items["layer1"].inner_items["0"].inner_items["conv1"]
    window.view.centerOn(conv1)
    QApplication.processEvents()
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(window, conv1.scenePos()))
    QApplication.processEvents()
    assert scene.edit_path == ["layer1", "0"] and scene.current_block() == "Basic64"
    assert [i.node_id for i in scene.selectedItems()] == ["conv1"]
    assert window.inspector.inner is not None and window.inspector.node_id == "conv1"
    assert project.dumps(g) == start  # looking is no edit


def test_undoing_the_grouping_while_inside_goes_back_to_the_network(make_window):
    from block_helpers import group, lenet

    window = make_window(lenet())
    g = window.graph
    start = project.dumps(g)
    scene = window.scene
    ids = [n for n in g.nodes if g.nodes[n].type in ("conv2d", "relu")][:2]
    inst = group(window, ids, "Stem")
    _enter(window, inst)
    assert scene.current_block() == "Stem" and "used once" in window.view.breadcrumb.info.text()
    assert not window.view.breadcrumb.unique.isVisible()
    # block input 1 shows the network's input shape, whatever the inside holds
    assert scene.node_items[in_id(0)].shape_text == "1x28x28"
    out = g.blocks["Stem"].output
    _show(window, out)
    drop(window, "batchnorm2d", node_pos(window, out))  # appended after the output: it becomes the output
    stem = g.blocks["Stem"]
    assert stem.graph.nodes[stem.output].type == "batchnorm2d" and window.document.analysis.ok
    key(window, Qt.Key.Key_Z, CTRL)
    assert scene.edit_path == [inst] and g.blocks["Stem"].output == out
    key(window, Qt.Key.Key_Z, CTRL)  # the grouping itself: the block is gone, the canvas shows the network
    assert scene.edit_path == [] and not window.view.breadcrumb.isVisible()
    assert project.dumps(g) == start and set(scene.node_items) == set(g.nodes)


def test_palette_enter_appends_inside_and_an_issue_click_goes_back_to_the_network(make_window):
    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    g = window.graph
    scene = window.scene
    _enter(window, "layer1")
    _enter(window, "2")
    # Enter on a palette entry with nothing selected: the layer goes at the block's end, as its output
    scene.clearSelection()
    tree = window.palette_widget.tree
    tree.setCurrentItem(window.palette_widget.items["dropout"])
    QTest.keyClick(tree, Qt.Key.Key_Return)
    QApplication.processEvents()
    d = g.blocks["Basic64"]
    assert d.graph.nodes[d.output].type == "dropout" and Edge("relu", 0, d.output, 0) in d.graph.edges
    assert scene.edit_path == ["layer1", "2"] and d.output in scene.node_items
    # with a layer selected it follows that layer
    _show(window, "bn1")
    click(window, node_pos(window, "bn1"))
    tree.setCurrentItem(window.palette_widget.items["relu6"])
    QTest.keyClick(tree, Qt.Key.Key_Return)
    QApplication.processEvents()
    d = g.blocks["Basic64"]
    new = next(n for n in d.graph.nodes if d.graph.nodes[n].type == "relu6")
    assert Edge("bn1", 0, new, 0) in d.graph.edges and Edge(new, 0, "relu1", 0) in d.graph.edges
    # a network node asked for by the Issues list: the canvas goes up to the network and selects it
    issues = window.issues
    g.set_param("fc", "out_features", 0)  # a problem at the top level (not an undo step: only to list it)
    window.document.refresh()
    QApplication.processEvents()
    row = next(i for i in range(issues.list.count()) if "fc" in issues.list.item(i).text())
    issues.list.setCurrentRow(row)
    QTest.keyClick(issues.list, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert scene.edit_path == [] and window.selected_node_ids() == ["fc"]
