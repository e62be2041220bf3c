"""The default dock layout at the sizes of common laptop screens: every dock's controls fit (no
control cut off, no text cut short), the curves and the live feature maps are both on screen at F5,
Fit to View stays readable on a deep network, and the user's layout comes back in a new window.

The windows are rendered offscreen at exactly the sizes named; each dock is brought forward in
turn (a dock in a hidden tab has no on-screen geometry) and its widget tree is walked.
"""
from __future__ import annotations

import re

import pytest
from PySide6 import QtGui
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QApplication, QCheckBox,
                               QComboBox, QDockWidget, QGraphicsView, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QRadioButton, QScrollArea, QScrollBar, QSizePolicy, QSlider, QStyle, QStyleOptionButton,
                               QStyleOptionComboBox, QTabBar, QTextEdit, QToolButton, QWidget)

from cnn_studio.app.visibility import on_screen

SIZES = [(1440, 900), (1280, 800)]
LINE_EDIT_MIN_CHARS = 10  # a line edit shows at least this many average characters

# controls checked as a whole: their insides are Qt's own
LEAVES = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QLabel, QProgressBar, QAbstractItemView,
          QGraphicsView, QTabBar, QScrollBar, QSlider, QTextEdit)


def _window(qtbot, size, graph=None):
    from cnn_studio.app.main import create_application
    from cnn_studio.app.mainwindow import MainWindow

    app, manager = create_application()
    manager.set_mode("light")
    w = MainWindow(graph, theme_manager=manager, autosave_interval_s=3600)
    w.informed = []
    w.inform = lambda title, text, *a, **k: w.informed.append((title, text))
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    QApplication.processEvents()
    return w


def _close(w) -> None:
    w._closing_ok = True
    w.close()
    w.deleteLater()
    QApplication.processEvents()


@pytest.fixture
def windows(qtbot):
    made = []

    def make(size, graph=None):
        w = _window(qtbot, size, graph)
        made.append(w)
        return w

    yield make
    for w in made:
        if w.isVisible():
            _close(w)


def _settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


# ------------------------------------------------------------------------------ the clipping walk
def _name(w: QWidget) -> str:
    text = ""
    for attr in ("text", "title", "currentText"):
        f = getattr(w, attr, None)
        if callable(f):
            try:
                text = f()
            except TypeError:
                continue
            if text:
                break
    return f"{type(w).__name__}({w.objectName() or text[:30]!r})"


def _plain(text: str) -> str:
    if QtGui.Qt.mightBeRichText(text):
        doc = QTextDocument()
        doc.setHtml(text)
        return doc.toPlainText()
    return text


def _text_problems(w: QWidget) -> list[str]:
    """Text cut short inside a control that is itself wholly shown."""
    fm = QFontMetrics(w.font())
    st = w.style()
    out = []
    if isinstance(w, QLabel):
        if w.pixmap() is not None and not w.pixmap().isNull():
            return []
        text = w.text()
        if not text.strip():
            return []
        room = w.contentsRect()
        if w.wordWrap():
            need_h = w.heightForWidth(w.width())
            if need_h > w.height() + 1:
                out.append(f"{_name(w)}: wrapped text needs {need_h} px of height, has {w.height()}")
        elif w.toolTip() and _plain(text) in _plain(w.toolTip()) and w.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored:
            pass  # a one-line caption cut on purpose: its tooltip says all (maps_grid.one_line)
        else:
            need = w.sizeHint().width() if QtGui.Qt.mightBeRichText(text) else max(fm.horizontalAdvance(line) for line in _plain(text).split("\n")) + 2 * w.margin() + w.indent() * (w.indent() > 0)
            if need > room.width() + 1:
                out.append(f"{_name(w)}: text needs {need} px, has {room.width()}")
    elif isinstance(w, (QPushButton, QCheckBox, QRadioButton)) and w.text():
        opt = QStyleOptionButton()
        opt.initFrom(w)
        opt.text = w.text()
        opt.icon = w.icon()
        opt.iconSize = w.iconSize()
        text = re.sub("&(.)", r"\1", w.text())
        need = fm.horizontalAdvance(text)
        if not w.icon().isNull():
            need += w.iconSize().width() + 4
        if isinstance(w, QPushButton):
            room = st.subElementRect(QStyle.SubElement.SE_PushButtonContents, opt, w).width() - 2 * st.pixelMetric(QStyle.PixelMetric.PM_ButtonMargin, opt, w) // 2
        else:
            se = QStyle.SubElement.SE_CheckBoxContents if isinstance(w, QCheckBox) else QStyle.SubElement.SE_RadioButtonContents
            room = st.subElementRect(se, opt, w).width()
        if need > room + 1:
            out.append(f"{_name(w)}: text needs {need} px, has {room}")
    elif isinstance(w, QToolButton) and w.text() and w.toolButtonStyle() != Qt.ToolButtonStyle.ToolButtonIconOnly:
        need = fm.horizontalAdvance(re.sub("&(.)", r"\1", w.text()))
        if need > w.width():
            out.append(f"{_name(w)}: text needs {need} px, has {w.width()}")
    elif isinstance(w, QComboBox) and w.count():
        opt = QStyleOptionComboBox()
        opt.initFrom(w)
        opt.editable = w.isEditable()
        room = st.subControlRect(QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, w).width()
        icon = any(not w.itemIcon(i).isNull() for i in range(w.count()))
        longest = max(range(w.count()), key=lambda i: fm.horizontalAdvance(w.itemText(i)))
        need = fm.horizontalAdvance(w.itemText(longest)) + (w.iconSize().width() + 4 if icon else 0)
        if need > room + 1:
            out.append(f"{_name(w)}: item {w.itemText(longest)!r} needs {need} px, has {room}")
    elif isinstance(w, QAbstractSpinBox):
        le = w.findChild(QLineEdit)
        if le is not None and le.text():
            need = fm.horizontalAdvance(le.text()) + 4
            if need > le.width():
                out.append(f"{_name(w)}: value {le.text()!r} needs {need} px, has {le.width()}")
    elif isinstance(w, QLineEdit):
        need = fm.averageCharWidth() * LINE_EDIT_MIN_CHARS
        if w.width() < need:
            out.append(f"{_name(w)}: {w.width()} px wide, under {LINE_EDIT_MIN_CHARS} characters ({need} px)")
    return out


def clipping_problems(root: QWidget) -> list[str]:
    """Every visible control under ``root`` that is cut off by its parent, or whose text does not
    fit. Inside a scroll area a widget may reach below the viewport (it scrolls vertically) but
    never past its right edge (nothing scrolls horizontally)."""
    out: list[str] = []

    def walk(w: QWidget, room: QRect) -> None:
        if isinstance(w, QScrollArea):
            content, view = w.widget(), w.viewport()
            if content is not None and content.isVisibleTo(root):
                # only horizontal overflow is clipping: the content scrolls vertically
                if content.width() > view.width() + 1:
                    out.append(f"{_name(content)} is {content.width()} px wide in a {view.width()} px wide scroll area (cut off on the right)")
                walk(content, content.rect())
            return
        for child in w.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if not child.isVisibleTo(root) or child.isWindow():
                continue
            g = QWidget.geometry(child)  # (a pyqtgraph widget shadows geometry())
            if not room.adjusted(-1, -1, 1, 1).contains(g):
                out.append(f"{_name(child)} at {g.getRect()} is outside its parent {_name(w)} ({room.getRect()})")
            if isinstance(child, LEAVES):
                out.extend(_text_problems(child))
            else:
                walk(child, QWidget.rect(child))

    walk(root, root.rect())
    return out


def _dock_problems(window) -> dict[str, list[str]]:
    """Bring each shown dock forward in turn and collect its problems; also the dock itself must
    lie inside the window."""
    found = {}
    for title, dock in window.docks.items():
        if dock.isHidden():
            continue
        dock.raise_()
        _settle()
        assert on_screen(dock), f"{title} cannot be seen after raise_()"
        problems = clipping_problems(dock)
        if not window.rect().contains(dock.geometry()):
            problems.append(f"dock at {dock.geometry().getRect()} is outside the window {window.rect().getRect()}")
        if problems:
            found[title] = problems
    return found


# ------------------------------------------------------------------------------ the tests
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_dock_fits_its_controls_in_the_default_layout(windows, size):
    w = windows(size)
    assert w.size().toTuple() == size
    conv = next(n.id for n in w.graph.nodes.values() if n.type == "conv2d")
    w.select_nodes([conv])  # the Inspector shows a convolution's editors (its longest form)
    problems = _dock_problems(w)
    assert not problems, "\n".join(f"{t}: {p}" for t, ps in problems.items() for p in ps)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_main_views_have_room_in_the_default_layout(windows, size):
    """The canvas, the inspection views and the curves each get a usable share of the window."""
    w = windows(size)
    _settle()
    vp = w.view.viewport()
    assert vp.width() >= 0.45 * size[0] and vp.height() >= 0.38 * size[1], vp.size()
    for title in ("Feature maps", "Training curves"):
        d = w.docks[title]
        d.raise_()
        _settle()
        assert d.width() >= 0.3 * size[0] and d.height() >= 0.3 * size[1], (title, d.size())
    # the side columns are as wide as their forms: the Data panel's source field shows a path
    data = w.training.data_panel
    w.docks["Data"].raise_()
    _settle()
    fm = QFontMetrics(data.source.font())
    assert data.source.width() >= fm.horizontalAdvance("/home/user/data/mnist"), data.source.width()


def _tiny_run(w, qtbot, tmp_path, epochs=2):
    from test_training_ui import _npz, _setup

    feat = _setup(w, _npz(tmp_path, n=160), epochs=epochs, batch=32)
    w.select_nodes(["c3"])
    QTest.keyClick(w, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: feat.panel.running, timeout=10_000)
    return feat


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_f5_shows_the_curves_and_the_live_feature_maps_together(windows, qtbot, tmp_path, size):
    """F5 brought the curves forward over Feature maps (the same tab group): the live maps were
    out of sight, and paused. Now both are on screen from the start of the run to its end, and
    after the run every dock still fits its (now filled) controls."""
    w = windows(size)
    w.docks["Summary"].raise_()  # what a user left in front before pressing F5
    feat = _tiny_run(w, qtbot, tmp_path)
    fm_dock, curves_dock = w.docks["Feature maps"], w.docks["Training curves"]
    try:
        qtbot.waitUntil(lambda: on_screen(fm_dock) and on_screen(curves_dock) and on_screen(feat.panel.progress), timeout=5000)
        assert w.docks["Feature maps"] not in w.tabifiedDockWidgets(w.docks["Training curves"])
        # the training thread refreshes the maps live: they are shown, so it does not pause them
        runner = feat.panel.worker.runner
        qtbot.waitUntil(lambda: runner._live_node == "c3" or not feat.panel.running, timeout=60_000)
    finally:
        qtbot.waitUntil(lambda: not feat.panel.running, timeout=120_000)
    _settle()
    assert on_screen(fm_dock) and on_screen(curves_dock)
    assert not w.informed, w.informed
    # the Feature maps dock is tall enough for the whole view (tiles and timeline) without scrolling
    fm_area = fm_dock.widget()
    assert fm_area.widget().minimumSizeHint().height() <= fm_area.viewport().height(), (fm_area.widget().minimumSizeHint(), fm_area.viewport().size())
    # the Training dock shows the run's controls, bar and outcome (all its lines), not the settings
    area = w.docks["Training"].widget()
    for part in (feat.panel.train_button, feat.panel.progress, feat.panel.status):
        at = QRect(part.mapTo(area.viewport(), QPoint(0, 0)), part.size())
        assert area.viewport().rect().contains(at), (_name(part), at.getRect(), area.viewport().rect().getRect())
    problems = _dock_problems(w)
    assert not problems, "\n".join(f"{t}: {p}" for t, ps in problems.items() for p in ps)


def test_fit_to_view_keeps_a_deep_network_readable_and_shows_its_input(windows, qtbot):
    """Opening ResNet-18 in the default layout shows its input end at a readable zoom; Fit to View
    (Ctrl+0) then shows the whole network, as its name says (QA: it stopped at 60 % with most of
    the network cut off)."""
    from cnn_studio.app.canvas.view import READABLE_ZOOM, ZOOM_MIN
    from cnn_studio.core import templates

    w = windows((1280, 800), templates.build("resnet18", (3, 32, 32), 10))
    _settle()
    w.fit_readable()
    assert w.view.zoom() >= READABLE_ZOOM
    card = w.scene.node_items[w.graph.input_node().id].sceneBoundingRect()
    assert w.view.visible_scene_rect().contains(card)  # the input end is in view
    QTest.keyClick(w, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert w.view.zoom() >= ZOOM_MIN
    assert w.view.visible_scene_rect().contains(w.scene.itemsBoundingRect().adjusted(2, 2, -2, -2))
    # a network that fits at a readable zoom is still shown whole
    from cnn_studio.app.newdialog import empty_network

    small = windows((1280, 800), empty_network((3, 32, 32)))
    _settle()
    QTest.keyClick(small, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert small.view.visible_scene_rect().contains(small.scene.itemsBoundingRect().adjusted(5, 5, -5, -5))


def _arrangement(w) -> dict[str, tuple]:
    """Where each dock is: its area, the titles it is tabbed with, floating, shown."""
    out = {}
    for title, d in w.docks.items():
        tabs = tuple(sorted(t.windowTitle() for t in w.tabifiedDockWidgets(d)))
        out[title] = (w.dockWidgetArea(d), tabs, d.isFloating(), d.isHidden())
    return out


def test_the_users_layout_comes_back_in_a_new_window_and_reset_restores_the_default(windows, qtbot):
    a = windows((1280, 800))
    default = _arrangement(a)
    # the user moves Feature maps beside the inspector and closes Filters
    a.tabifyDockWidget(a.docks["Inspector"], a.docks["Feature maps"])
    a.docks["Filters"].close()
    _settle()
    moved = _arrangement(a)
    assert moved != default
    _close(a)

    b = windows((1280, 800))
    _settle()
    assert _arrangement(b) == moved
    assert b.dockWidgetArea(b.docks["Feature maps"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert b.docks["Filters"].isHidden()

    # View > Reset Layout: the default again, every dock shown, and the default at the next start
    act = next(x for x in b.view_menu.actions() if x.text().replace("&", "") == "Reset Layout")
    act.trigger()
    _settle()
    assert _arrangement(b) == default
    assert not _dock_problems(b)
    _close(b)
    c = windows((1280, 800))
    assert _arrangement(c) == default


def test_a_layout_saved_by_an_older_version_is_not_restored(windows):
    from cnn_studio.app.mainwindow import MainWindow

    a = windows((1280, 800))
    default = _arrangement(a)
    a.tabifyDockWidget(a.docks["Inspector"], a.docks["Feature maps"])
    assert MainWindow.LAYOUT_VERSION > 2
    a.settings.setValue("window/state", a.saveState(2))  # the version before this arrangement
    a.settings.sync()
    a._save_window_state = lambda: None  # keep the old-version state as the one saved
    _close(a)
    b = windows((1280, 800))
    assert _arrangement(b) == default


def test_no_dock_can_be_dragged_narrower_than_its_form(windows):
    """A dock's form scrolls vertically only; the dock stops at the form's minimum width instead of
    cutting its controls off on the right (the Data panel's source field was ~40 px)."""
    w = windows((1280, 800))
    for title in ("Data", "Training", "Inspector"):
        d = w.docks[title]
        d.raise_()
        w.resizeDocks([d], [120], Qt.Orientation.Horizontal)
        _settle()
        problems = clipping_problems(d)
        assert not problems, (title, problems)


def test_the_window_can_shrink_to_a_1024_px_wide_screen(windows):
    """The docks' minimum widths add up to the window's: the curves' one-line legend (434 px) and
    the Summary's totals line (809 px) set it above what a 1024 px screen leaves the window."""
    w = windows((1280, 800))
    assert w.minimumSizeHint().width() <= 1000, w.minimumSizeHint()
    w.resize(1000, 700)
    _settle()
    assert w.width() <= 1000
    problems = _dock_problems(w)
    assert not problems, "\n".join(f"{t}: {p}" for t, ps in problems.items() for p in ps)


def test_combos_widen_to_items_added_after_they_were_shown_up_to_a_cap(qtbot):
    """A combo sized on its first show for no items read "validatio" once a run filled it; it
    follows its items now, up to COMBO_MAX_W (a 200-character class name does not widen the dock
    past the screen)."""
    from PySide6.QtWidgets import QHBoxLayout

    from cnn_studio.app.layout import COMBO_MAX_W, widen_combos

    box = QWidget()
    lay = QHBoxLayout(box)
    combo = QComboBox()
    lay.addWidget(combo)
    lay.addStretch(1)
    qtbot.addWidget(box)
    widen_combos(box)
    box.resize(900, 60)
    box.show()
    qtbot.waitExposed(box)
    combo.addItems(["validation", "test"])
    _settle()
    assert not _text_problems(combo), _text_problems(combo)
    combo.addItem("x" * 200)
    _settle()
    assert combo.width() <= COMBO_MAX_W
