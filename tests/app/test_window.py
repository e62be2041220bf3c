"""The main window as a whole: first run, start-up imports, palette, shortcuts, layout, zoom, themes,
the New dialog, read-only mode, the excepthook, crash recovery across processes, the screenshot."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from app_helpers import Yes, key, mouse_drag, node_pos, norm
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cnn_studio.core import templates


def test_constructing_the_main_window_does_not_import_torch(tmp_path):
    code = textwrap.dedent(
        """
        import json, sys
        from cnn_studio.app.main import create_application
        from cnn_studio.app.mainwindow import MainWindow
        app, manager = create_application()
        w = MainWindow(theme_manager=manager)
        w.show()
        app.processEvents()
        print(json.dumps({"torch": "torch" in sys.modules, "numpy": "numpy" in sys.modules, "title": w.windowTitle()}))
        w._closing_ok = True
        w.close()
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CNN_STUDIO_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["torch"] is False
    assert res["title"] == "lenet5_relu[*] \u2014 CNN Studio"


def test_first_run_shows_lenet5_for_the_builtin_dataset(window):
    expected = templates.build("lenet5_relu", (3, 32, 32), 10)  # LeNet-5 with ReLU and max pooling: the first run that convinces
    assert norm(window.graph.to_config()) == norm(expected.to_config())
    a = window.document.analysis
    assert a.ok and a.input_shape == (3, 32, 32) and a.output_shape == (10,)
    assert not window.document.modified and not window.isWindowModified()
    assert set(window.scene.node_items) == set(window.graph.nodes)
    assert len(window.scene.edge_items) == len(window.graph.edges)
    # status bar and summary carry the totals
    assert "62K params" in window.status_params.text()
    assert window.summary.model.rowCount() == len(window.graph.nodes)
    assert "62,006 parameters" in window.summary.totals.text()
    # edge labels carry the tensor shape
    e = window.graph.edge_into("s2", 0)
    assert window.scene.edge_items[e].label == "6x28x28"
    # the Input card is on screen at a readable zoom
    assert window.view.zoom() >= 0.75
    assert window.view.viewport().rect().contains(node_pos(window, "input"))


def test_window_title_tracks_modified_state(window):
    title = window.windowTitle()
    assert title == "lenet5_relu[*] \u2014 CNN Studio"
    window.select_nodes(["f6_act"])
    window.view.setFocus()
    key(window, Qt.Key.Key_Delete)
    assert window.isWindowModified()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "f6_act" in window.graph.nodes and not window.isWindowModified()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "f6_act" not in window.graph.nodes


def test_palette_search_and_tooltips(window):
    pal = window.palette_widget
    assert set(pal.visible_types()) == set(pal.items)
    QTest.keyClicks(pal.search, "pool")
    vis = pal.visible_types()
    assert "maxpool2d" in vis and "avgpool2d" in vis and "conv2d" not in vis
    assert pal.categories["Activation"].isHidden()
    pal.search.clear()
    QTest.keyClicks(pal.search, "weight sharing")  # words from the help text
    assert pal.visible_types() == ["conv2d"]
    assert "local patch" in pal.items["conv2d"].toolTip(0)
    # Enter appends the match after the selected layer
    window.select_nodes(["c1"])
    QTest.keyClick(pal.search, Qt.Key.Key_Return)
    assert window.graph.out_edges("c1")[0].dst == "conv1"
    assert window.graph.out_edges("conv1")[0].dst == "c1_act"


def test_auto_layout_is_one_undo_step(window):
    g = window.graph
    for i, nid in enumerate(["c1", "s2", "f6"]):
        g.move_node(nid, (500 + 50 * i, 40 * i))  # outside the stack: as if a file had these positions
    window.document.undo_stack.clear()
    start = norm(g.to_config())
    key(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert g.nodes["c1"].pos == (0.0, 110.0)
    assert window.document.undo_stack.count() == 1
    assert window.scene.node_items["c1"].pos() == QPointF(0, 110)
    window.document.undo_stack.undo()
    assert norm(g.to_config()) == start


def test_zoom_keys_wheel_and_fit(window):
    v = window.view
    z0 = v.zoom()
    key(window, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert v.zoom() > z0
    key(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    key(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert v.zoom() < z0
    pos = QPointF(200, 200)
    ev = QWheelEvent(pos, v.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    before = v.zoom()
    QApplication.sendEvent(v.viewport(), ev)
    assert v.zoom() > before
    key(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    visible = v.visible_scene_rect()
    net = window.scene.itemsBoundingRect().adjusted(5, 5, -5, -5)
    # the whole network, or, where that would be unreadably small, its input end at a readable zoom
    from cnn_studio.app.canvas.view import FIT_MIN_ZOOM

    assert visible.contains(net) or (v.zoom() >= FIT_MIN_ZOOM and visible.contains(window.scene.node_items["input"].sceneBoundingRect()))
    # middle-button drag pans
    h0 = v.verticalScrollBar().value()
    v.set_zoom(1.0)
    h0 = v.verticalScrollBar().value()
    QTest.mousePress(v.viewport(), Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 300))
    QTest.mouseMove(v.viewport(), QPoint(300, 200))
    QTest.mouseRelease(v.viewport(), Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 200))
    assert v.verticalScrollBar().value() == h0 + 100


def test_dark_theme_switch(window):
    from cnn_studio.app import theme

    window.set_theme_mode("dark")
    QApplication.processEvents()
    assert theme.colours().dark and window.palette().window().color().lightness() < 100
    assert window.settings.value("theme") == "dark"
    img = window.view.grab().toImage()
    assert img.pixelColor(5, 5).lightness() < 80  # the canvas background follows
    window.set_theme_mode("light")
    assert not theme.colours().dark


def test_read_only_mode_blocks_edits(window):
    start = norm(window.graph.to_config())
    window.set_editing_enabled(False)
    window.select_nodes(["c3"])
    window.view.setFocus()
    key(window, Qt.Key.Key_Delete)
    mouse_drag(window, node_pos(window, "c3"), node_pos(window, "c3") + QPoint(80, 0))
    assert not window.inspector.editors["out_channels"].isEnabled()
    assert norm(window.graph.to_config()) == start
    window.set_editing_enabled(True)
    key(window, Qt.Key.Key_Delete)
    assert "c3" not in window.graph.nodes


def test_new_dialog_lists_templates_with_stats(qtbot):
    from cnn_studio.app.newdialog import EMPTY, NewNetworkDialog

    dlg = NewNetworkDialog(None, (3, 32, 32), 10)
    qtbot.addWidget(dlg)
    texts = [dlg.list.item(i).text() for i in range(dlg.list.count())]
    assert dlg.list.item(0).data(Qt.ItemDataRole.UserRole + 1) == EMPTY
    lenet = next(t for t in texts if t.startswith("lenet5"))
    assert "62,006 parameters" in lenet and "MACs" in lenet
    assert len(texts) == 1 + len(templates.names())
    dlg.list.setCurrentRow(1 + templates.names().index("tinyvgg"))
    dlg.h.setValue(64)
    dlg.w.setValue(64)
    g = dlg.build()
    assert g.input_node().config["height"] == 64 and "conv_1_1" in g.nodes
    dlg.list.setCurrentRow(0)
    g = dlg.build()
    assert set(g.nodes) == {"input", "loss"}


def test_excepthook_autosaves_and_shows_a_dialog(window):
    from cnn_studio.app.main import ExceptionHandler

    window.select_nodes(["f6_act"])
    window.delete_selection()
    handler = ExceptionHandler(window, None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        handler(*sys.exc_info())
    assert window.recovery.file.exists()
    title, text = window.answers.informed[-1]
    assert "RuntimeError: boom" in text and "recovery file" in text


def test_recovery_of_a_process_that_died(window, tmp_path):
    """A real crash: another process autosaves and dies without cleaning up its lock."""
    code = textwrap.dedent(
        """
        import os
        from PySide6.QtCore import QCoreApplication
        app = QCoreApplication([])
        from cnn_studio.app.autosave import RecoveryManager
        from cnn_studio.app.document import Document
        from cnn_studio.core import templates
        doc = Document(templates.build("mlp", (1, 28, 28), 10))
        doc.graph.set_name("crashed")
        doc.undo_stack.resetClean()
        r = RecoveryManager(doc)
        r.start()
        assert r.save_now()
        os._exit(3)
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 3, out.stderr
    window.answers.replies = [Yes]
    assert window.offer_recovery()
    assert "fc1" in window.graph.nodes and window.document.modified


def test_screenshot_renders_first_run(tmp_path, qtbot):
    from PySide6.QtGui import QImage

    from cnn_studio.app.screenshot import render_first_run

    out = render_first_run(str(tmp_path / "shot.png"), 1280, 800)
    img = QImage(out)
    assert img.width() >= 1280 and img.height() >= 800
