"""Canvas UX inside blocks (QA defects 5, 6, 7, 12c), with real mouse and keyboard events:
Esc goes up from anywhere in the window (the Inspector, the palette search), a field with a pending
edit takes the first Esc; links are routed around the cards they would pass behind (no path point
inside another card, ResNet-34 inside Basic64, a flat ResNet-18 at the top level, an expanded
frame); Fit to View shows the whole network; leaving a block keeps its card selected and in view."""
from __future__ import annotations

from app_helpers import click, drop, key, mouse_drag, node_pos, vp
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cnn_studio.app.canvas.inner_edit import in_id
from cnn_studio.core import project, templates


def _enter(window, nid):
    window.view.centerOn(window.scene.node_items[nid])
    QApplication.processEvents()
    click(window, node_pos(window, nid))
    key(window, Qt.Key.Key_Return)
    QApplication.processEvents()


def _card(item) -> QRectF:
    return item.mapRectToScene(item.shape().boundingRect()).adjusted(1, 1, -1, -1)


def _links_behind_cards(scene) -> list:
    """(edge, card id) for every link with a path point inside a card that is not one of its ends."""
    bad = []
    for edge, item in scene.edge_items.items():
        path = item.path()
        pts = [path.pointAtPercent(k / 200) for k in range(1, 200)]
        for nid, card in scene.node_items.items():
            if card is item.src or card is item.dst:
                continue
            r = _card(card)
            if any(r.contains(p) for p in pts):
                bad.append((edge, nid))
    return bad


def test_links_go_around_cards_inside_basic64_and_at_the_top_level(make_window):
    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    scene = window.scene
    assert _links_behind_cards(scene) == []
    _enter(window, "layer1")
    _enter(window, "0")
    assert scene.current_block() == "Basic64"
    skip = next(e for e in scene.edge_items if e.src == in_id(0) and scene.node_items[e.dst].type_id == "add")
    column = [scene.node_items[n] for n in ("conv1", "bn1", "relu1", "conv2", "bn2")]
    # the plain curve from the block input to the add would run behind the whole column
    from cnn_studio.app.canvas.routing import bezier, crossed

    item = scene.edge_items[skip]
    plain = bezier(item.src.output_anchor(), item.dst.input_anchor(skip.dst_port))
    assert len(crossed(plain, [_card(c) for c in column])) == len(column)
    assert _links_behind_cards(scene) == []
    # the detour is a real link: a click on it selects the skip link, not a card
    path = item.path()
    p = path.pointAtPercent(0.5)
    assert not any(_card(c).contains(p) for c in scene.node_items.values())
    window.view.centerOn(p)
    QApplication.processEvents()
    click(window, vp(window, p))
    assert [i for i in scene.selectedItems()] == [item]

    # delete bn1: no line is drawn from conv1's output to relu1's input any more
    start = project.dumps(window.graph)
    window.view.centerOn(scene.node_items["bn1"])
    QApplication.processEvents()
    click(window, node_pos(window, "bn1"))
    key(window, Qt.Key.Key_Delete)
    QApplication.processEvents()
    assert "bn1" not in scene.node_items
    assert _links_behind_cards(scene) == []
    gap = QRectF(scene.node_items["conv1"].output_anchor(), scene.node_items["relu1"].input_anchor(0)).normalized().adjusted(-2, 1, 2, -1)
    for edge, it in scene.edge_items.items():
        pts = [it.path().pointAtPercent(k / 200) for k in range(1, 200)]
        assert not any(gap.contains(q) for q in pts), edge
    window.undo()
    QApplication.processEvents()
    assert project.dumps(window.graph) == start and "bn1" in scene.node_items
    assert _links_behind_cards(scene) == []


def test_flat_resnet18_skips_and_an_expanded_frame_route_around_cards(make_window, qtbot):
    window = make_window(templates.build("resnet18", (3, 32, 32), 10))
    scene = window.scene
    adds = [n for n in window.graph.nodes.values() if n.type == "add"]
    assert adds  # the flat template has skip connections at the top level
    assert _links_behind_cards(scene) == []
    # inside an expanded frame of ResNet-34 too
    w2 = make_window(templates.build("resnet34", (3, 64, 64), 10))
    w2.scene.expanded_blocks.add("layer1")
    w2.scene.expanded_blocks.add("layer1/0")
    w2.scene._rebuild()
    QApplication.processEvents()
    assert _links_behind_cards(w2.scene) == []
    frame = w2.scene.node_items["layer1"].inner_items["0"]
    assert frame.expanded
    cards = {nid: it.mapRectToParent(it.shape().boundingRect()).adjusted(1, 1, -1, -1) for nid, it in frame.inner_items.items()}
    d = w2.graph.blocks[frame.block_name]
    assert frame._inner_links
    for link in frame._inner_links:
        path = link.path()
        pts = [path.pointAtPercent(k / 200) for k in range(2, 199)]
        hit = [nid for nid, r in cards.items() if any(r.contains(p) for p in pts)]
        assert hit == [], hit
    assert any(d.graph.nodes[n].type == "add" for n in d.graph.nodes)


def test_esc_goes_up_from_the_inspector_and_the_palette_search(make_window):
    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    scene = window.scene
    _enter(window, "layer1")
    _enter(window, "0")
    assert scene.edit_path == ["layer1", "0"]
    click(window, node_pos(window, "conv1"))
    QApplication.processEvents()
    spin = window.inspector.editors["out_channels"].spin
    before = window.graph.blocks["Basic64"].graph.nodes["conv1"].config["out_channels"]
    spin.setFocus()
    QApplication.processEvents()
    spin.selectAll()
    QTest.keyClicks(spin, "32")
    # a typed change still in the field: the first Esc is the field's (it is kept, focus to canvas)
    QTest.keyClick(spin, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert scene.edit_path == ["layer1", "0"]
    assert window.graph.blocks["Basic64"].graph.nodes["conv1"].config["out_channels"] == 32 != before
    assert QApplication.focusWidget() is window.view
    window.undo()
    assert window.graph.blocks["Basic64"].graph.nodes["conv1"].config["out_channels"] == before
    # Filters, then Tab: the next field has focus, nothing pending: Esc goes up to Layer1
    click(window, node_pos(window, "conv1"))
    QApplication.processEvents()
    spin = window.inspector.editors["out_channels"].spin
    spin.setFocus()
    QTest.keyClick(spin, Qt.Key.Key_Tab)
    QApplication.processEvents()
    fw = QApplication.focusWidget()
    assert fw is not None and fw is not window.view and window.inspector.isAncestorOf(fw)
    QTest.keyClick(fw, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert scene.edit_path == ["layer1"]
    # typing in the palette search, Esc goes up again, the search text stays
    search = window.palette_widget.search
    search.setFocus()
    QTest.keyClicks(search, "conv")
    QTest.keyClick(search, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert scene.edit_path == [] and search.text() == "conv"
    # at the network level Esc is not taken: nothing changes
    QTest.keyClick(search, Qt.Key.Key_Escape)
    assert scene.edit_path == [] and not window.editor.escape_up.isEnabled()


def test_leaving_a_block_keeps_its_card_selected_and_in_view(make_window):
    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    scene, view = window.scene, window.view
    _enter(window, "layer4")
    assert scene.edit_path == ["layer4"]
    key(window, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert scene.edit_path == [] and scene.selected_node_ids() == ["layer4"]
    card = scene.node_items["layer4"].sceneBoundingRect()
    assert view.visible_scene_rect().contains(card)
    # the Done button does the same, one level at a time
    _enter(window, "layer3")
    _enter(window, "2")
    click_done = view.breadcrumb.done
    QTest.mouseClick(click_done, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert scene.edit_path == ["layer3"] and [i.node_id for i in scene.selectedItems()] == ["2"]
    assert view.visible_scene_rect().contains(scene.node_items["2"].sceneBoundingRect())


def test_fit_to_view_shows_the_whole_resnet34(make_window):
    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    view = window.view
    QTest.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()
    net = window.scene.itemsBoundingRect().adjusted(2, 2, -2, -2)
    assert view.visible_scene_rect().contains(net)
    # a small network is not blown up past 100 %
    window.view.set_zoom(2.0)
    from cnn_studio.app.newdialog import empty_network

    small = make_window(empty_network((3, 32, 32)))
    QTest.keyClick(small, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert small.view.zoom() <= 1.0 + 1e-9
    assert small.view.visible_scene_rect().contains(small.scene.itemsBoundingRect().adjusted(2, 2, -2, -2))


def test_esc_in_a_dialog_is_the_dialogs_not_a_level_up(make_window, qtbot):
    from PySide6.QtWidgets import QDialog, QLineEdit

    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    _enter(window, "layer2")
    dlg = QDialog(window)
    QLineEdit(dlg).setFocus()
    dlg.show()
    dlg.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dlg)
    QTest.keyClick(QApplication.focusWidget() or dlg, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert not dlg.isVisible()  # the dialog took Esc (rejected)
    assert window.scene.edit_path == ["layer2"]
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.view.setFocus()
    key(window, Qt.Key.Key_Escape)
    assert window.scene.edit_path == []
    dlg.deleteLater()


def test_a_card_dragged_onto_a_detour_pushes_it_further_out(make_window):
    window = make_window(templates.build("resnet34", (3, 64, 64), 10))
    scene = window.scene
    _enter(window, "layer1")
    _enter(window, "0")
    skip = next(e for e in scene.edge_items if e.src == in_id(0) and scene.node_items[e.dst].type_id == "add")
    side = scene.edge_items[skip].path().pointAtPercent(0.5)  # on the detour, right of the column
    right = max(_card(c).right() for c in scene.node_items.values())
    free = QPointF(right + 400, side.y())
    window.view.centerOn(QPointF((side.x() + free.x()) / 2, side.y()))
    QApplication.processEvents()
    drop(window, "dropout", vp(window, free))
    QApplication.processEvents()
    new = next(n for n in scene.node_items if n.startswith("dropout"))
    mouse_drag(window, node_pos(window, new), vp(window, side), steps=8)
    QApplication.processEvents()
    assert _card(scene.node_items[new]).contains(side)  # the card now sits where the detour ran
    assert _links_behind_cards(scene) == []  # ... and the detour went round it
    window.undo()
    window.undo()
    QApplication.processEvents()
    assert new not in scene.node_items and _links_behind_cards(scene) == []
