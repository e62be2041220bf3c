"""The main window: canvas in the middle, palette on the left, inspector on the right, issues and
summary below; menus File, Edit, View, Network, Help. It hosts what others own: the file actions
(New, Open, Save, Revert, recent files, recovery: files.py ``ProjectFiles``), the edit actions and
undo (editor.py ``NetworkEditor``), and the app state every view shows (state.py ``AppState``).

Hooks for panels to come (training, inspection):

- ``window.document``: the open :class:`Document`; ``document.graph`` (core Graph),
  ``document.analysis`` (always current), signals ``analysis_changed``, ``graph_replaced``,
  ``modified_changed``.
- ``window.add_panel(widget, title, area=..., tabify_with=None)`` adds a dock (and a View menu
  entry); ``window.panel_menu`` is the View submenu listing panels.
- ``window.set_editing_enabled(False)`` locks the network (canvas, inspector, edit actions), e.g.
  while training; ``True`` unlocks it.
- ``window.select_nodes(ids, center=True)``, ``window.selected_node_ids()`` and the signal
  ``window.selection_changed(list)``.
- ``window.network_menu`` for network actions (e.g. Train, F5).
- ``window.state``: the :class:`~cnn_studio.app.state.AppState` (the document, and the run or
  nothing whose tensors the views show; ``source_changed``, ``document_changed``).
- ``window.files`` and ``window.editor``; their public methods also answer on the window
  (``new_file``, ``open_file``, ``save``, ``save_as``, ``revert``, ``undo``, ``copy`` ...).

Dialogs go through :meth:`ask`, :meth:`inform`, :meth:`get_open_path`, :meth:`get_save_path` and
:meth:`choose_new_network`, so tests replace them instead of driving modal loops.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from ..core.graph import Graph
from ..core.project import SUFFIX
from . import fmt, theme
from .autosave import RecoveryManager
from .canvas import CanvasScene, CanvasView
from .document import Document
from .editor import NetworkEditor
from .edits import NODES_MIME
from .files import FILE_FILTER, MAX_RECENT, OPEN_FILTER, SAVE_FILTER, ProjectFiles  # noqa: F401 (MAX_RECENT, FILE_FILTER: old names)
from .icons import app_icon
from .inspector import InspectorWidget
from .layout import DockLayout
from .palette import PaletteWidget
from .panels import IssuesWidget, SummaryWidget
from .transfer import TransferFeature, params_status
from .paths import app_settings
from .visibility import watch_dock

log = logging.getLogger("cnn_studio.app")

Btn = QMessageBox.StandardButton


def first_run_graph() -> Graph:
    """LeNet-5 with ReLU and max pooling (template ``lenet5_relu``), sized for the built-in
    data set (3x32x32 images, 10 classes): with the default settings it reaches over 90% test
    accuracy in 10 epochs (benchmarks/first_run.py), where the classic tanh LeNet-5 stays below."""
    from ..core import templates

    return templates.build("lenet5_relu", (3, 32, 32), 10)


def release_clipboard() -> None:
    """Swap a QMimeData this process put on the clipboard for a Qt-made copy of its text.

    A QMimeData created from Python and owned by the clipboard makes PySide crash at interpreter
    exit; the plain-text JSON it also carries pastes the same (``paste`` falls back to text)."""
    cb = QGuiApplication.clipboard()
    mime = cb.mimeData() if cb is not None else None
    if mime is not None and mime.hasFormat(NODES_MIME):
        text = mime.text()
        cb.setText(text)


class MainWindow(QMainWindow):
    selection_changed = Signal(list)
    folder_dropped = Signal(str)  # a data folder or file dropped on the window

    def __init__(
        self, graph: Graph | None = None, path: str | Path | None = None, theme_manager=None, autosave_interval_s: float = 60.0, with_training: bool = True
    ) -> None:
        super().__init__()
        self.setWindowIcon(app_icon())
        self.setObjectName("main_window")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AllowNestedDocks)
        self.settings = app_settings()
        self.theme = theme_manager
        self.editing_enabled = True
        self._closing_ok = False
        self.close_guards: list = []  # callables returning False to keep the window open

        self.document = Document(graph if graph is not None else first_run_graph(), self)
        if path is not None:
            self.document.set_path(Path(path))
        self.scene = CanvasScene(self.document, self)
        self.view = CanvasView(self.scene, self)
        self.setCentralWidget(self.view)

        self.palette_widget = PaletteWidget(self)
        self.inspector = InspectorWidget(self.document, self)
        self.issues = IssuesWidget(self.document, self)
        self.summary = SummaryWidget(self.document, self)

        self.docks: dict[str, QDockWidget] = {}
        self._build_actions()
        self._build_menus()
        self._build_context_menu()
        self._build_toolbar()
        self._build_docks()
        self._build_status_bar()

        self.recovery = RecoveryManager(self.document, interval_s=autosave_interval_s, parent=self)
        self.recovery.start()

        self.document.modified_changed.connect(self._update_title)
        self.document.path_changed.connect(self._update_title)
        self.document.graph.events.connect("meta_changed", self._on_graph_meta_changed)
        self.document.analysis_changed.connect(self._on_document_analysis_changed)
        self.document.message.connect(self.show_message)
        self.document.graph_replaced.connect(self._on_document_graph_replaced)
        self.scene.selection_ids_changed.connect(self._on_scene_selection_ids_changed)
        self.scene.node_activated.connect(self._on_scene_node_activated)
        self.view.project_dropped.connect(self._on_view_project_dropped)
        self.view.zoom_changed.connect(self._on_view_zoom_changed)
        self.palette_widget.layer_activated.connect(self.append_layer)
        self.issues.node_requested.connect(lambda nid: self.select_nodes([nid], center=True))
        self.summary.node_requested.connect(lambda nid: self.select_nodes([nid], center=True))
        self.inspector.rename_done.connect(lambda _old, new: self.select_nodes([new]))
        if self.theme is not None:
            self.theme.changed.connect(self._on_theme_changed)

        # what every view shows: the document and the run (or nothing) whose tensors they show
        from .state import AppState, background_loader

        self.state = AppState(self.document, loader=background_loader(self) if with_training else None, parent=self)
        self.training = None
        if with_training:
            from .training.attach import TrainingFeature

            self.training = TrainingFeature(self)
        self.inspect = None
        if with_training:
            from .inspect.attach import InspectFeature

            self.inspect = InspectFeature(self, self.training)
        self.runs = None
        if with_training:  # the Runs dock (runs/attach.py): past runs, reopen, compare, continue
            from .runs.attach import RunsFeature

            self.runs = RunsFeature(self, self.training)
        from .exchange import ExchangeFeature  # File > Import / Export (exchange/feature.py)

        self.exchange = ExchangeFeature(self)
        self.transfer = TransferFeature(self)  # frozen marks, Network > Initialise from weights…
        from .blocks_feature import BlocksFeature  # Group into block (Ctrl+G), My blocks (blocks_feature.py)

        self.blocks = BlocksFeature(self)

        self._update_title()
        self._on_document_analysis_changed(self.document.analysis)
        self._update_edit_actions()
        self._initial_size()
        self._restore_window_state()
        QTimer.singleShot(0, self.fit_readable)

    # ================================================================== construction
    def _act(self, text: str, slot, shortcut=None, tip: str = "", icon=None, checkable=False) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
        a.setCheckable(checkable)
        if slot is not None:
            a.triggered.connect(lambda *_: slot())
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        # the file actions and the edit actions (with undo) live in their own classes; the window
        # hosts them and keeps their names (window.act_new, window.act_undo, ...)
        self.files = ProjectFiles(self)
        self.editor = NetworkEditor(self)
        for name in ("act_new", "act_open", "act_save", "act_save_as", "act_revert"):
            setattr(self, name, getattr(self.files, name))
        for name in ("act_undo", "act_redo", "act_cut", "act_copy", "act_paste", "act_duplicate", "act_delete", "act_select_all", "act_layout"):
            setattr(self, name, getattr(self.editor, name))
        self.act_quit = self._act("&Quit", self.close, K.Quit, "Close the window")

        self.act_fit = self._act("&Fit to View", lambda: self.view.fit(), "Ctrl+0", "Show the whole network (zoomed out as far as it takes)")
        self.act_zoom_in = self._act("Zoom &In", self.view.zoom_in, [QKeySequence(K.ZoomIn).toString() or "Ctrl++", "Ctrl+="])
        self.act_zoom_out = self._act("Zoom &Out", self.view.zoom_out, K.ZoomOut)
        self.act_about = self._act("&About CNN Studio", self.about)
        self.act_shortcuts = self._act("&Keyboard and Mouse", self.show_shortcuts)

        self.theme_group = QActionGroup(self)
        self.theme_actions = {}
        for mode, label in (("system", "Follow &System"), ("light", "&Light"), ("dark", "&Dark")):
            a = QAction(label, self)
            a.setCheckable(True)
            a.triggered.connect(lambda _c=False, m=mode: self.set_theme_mode(m))
            self.theme_group.addAction(a)
            self.theme_actions[mode] = a
        current = self.theme.mode if self.theme is not None else "system"
        self.theme_actions.get(current, self.theme_actions["system"]).setChecked(True)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = self.file_menu = mb.addMenu("&File")
        m.addActions([self.act_new, self.act_open])
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        m.addActions([self.act_save, self.act_save_as, self.act_revert])
        m.addSeparator()
        m.addAction(self.act_quit)

        m = self.edit_menu = mb.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo])
        m.addSeparator()
        m.addActions([self.act_cut, self.act_copy, self.act_paste, self.act_duplicate, self.act_delete])
        m.addSeparator()
        m.addAction(self.act_select_all)

        m = self.view_menu = mb.addMenu("&View")
        m.addActions([self.act_zoom_in, self.act_zoom_out, self.act_fit])
        m.addSeparator()
        self.panel_menu = m.addMenu("&Panels")
        tm = m.addMenu("&Theme")
        tm.addActions(list(self.theme_actions.values()))

        m = self.network_menu = mb.addMenu("&Network")
        m.addActions([self.act_layout, self.act_fit])

        m = self.help_menu = mb.addMenu("&Help")
        m.addActions([self.act_shortcuts, self.act_about])

    def _build_context_menu(self) -> None:
        self.view.context_actions = [self.act_cut, self.act_copy, self.act_paste, self.act_duplicate, self.act_delete, None, self.act_select_all, self.act_layout, self.act_fit]

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("main_toolbar")
        tb.setIconSize(QSize(18, 18))
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.act_new, self.act_open, self.act_save):
            tb.addAction(a)
        tb.addSeparator()
        tb.addAction(self.act_undo)
        tb.addAction(self.act_redo)
        tb.addSeparator()
        tb.addAction(self.act_layout)
        tb.addAction(self.act_fit)
        self.toolbar = tb

    def add_panel(self, widget: QWidget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea, tabify_with: str | None = None, object_name: str | None = None) -> QDockWidget:
        """Add a dock panel (also listed under View > Panels). Returns the dock."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        watch_dock(dock)  # views that skip work in a hidden tab catch up when it comes forward
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        if tabify_with and tabify_with in self.docks:
            self.tabifyDockWidget(self.docks[tabify_with], dock)
        self.docks[title] = dock
        self.panel_menu.addAction(dock.toggleViewAction())
        return dock

    def _build_docks(self) -> None:
        # where each dock goes, and its size, is decided in one place (layout.py) once every
        # feature has added its docks: see _restore_window_state
        L, R, B = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        self.add_panel(self.palette_widget, "Layers", L, object_name="dock_palette")
        self.add_panel(self.inspector, "Inspector", R, object_name="dock_inspector")
        self.add_panel(self.summary, "Summary", B, object_name="dock_summary")
        self.add_panel(self.issues, "Issues", B, tabify_with="Summary", object_name="dock_issues")
        self.dock_layout = DockLayout(self)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.dock_layout.act_reset)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_params = QLabel(self)
        self.status_macs = QLabel(self)
        self.status_output = QLabel(self)
        self.status_errors = QLabel(self)
        self.status_zoom = QLabel(self)
        for w in (self.status_output, self.status_params, self.status_macs, self.status_errors, self.status_zoom):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

    # ================================================================== public hooks
    @property
    def graph(self) -> Graph:
        return self.document.graph

    @property
    def analysis(self):
        return self.document.analysis

    def selected_node_ids(self) -> list[str]:
        return self.scene.selected_node_ids()

    def select_nodes(self, ids, center: bool = False) -> None:
        ids = [i for i in ids if i in self.graph.nodes]
        if ids and self.scene.edit_path:  # network nodes (an issue, a Summary row): show the network
            self.scene.leave_to(0)
        self.scene.select_nodes(ids)
        if center and ids:
            self.view.center_on_node(ids[0])

    def fit_readable(self) -> None:
        self.view.fit(readable=True)

    def set_editing_enabled(self, on: bool) -> None:
        """Lock (False) or unlock (True) every edit of the network."""
        self.editing_enabled = on
        self.scene.set_read_only(not on)
        self.inspector.set_read_only(not on)
        self.palette_widget.setEnabled(on)
        for a in (self.act_cut, self.act_paste, self.act_duplicate, self.act_delete, self.act_layout, self.act_new, self.act_open, self.act_revert):
            a.setEnabled(on)
        self._update_edit_actions()

    def show_message(self, text: str, ms: int = 6000) -> None:
        self.statusBar().showMessage(text, ms)
        log.info("status: %s", text)

    # ------------------------------------------------------------------ dialogs (overridable)
    def ask(self, title: str, text: str, buttons=Btn.Yes | Btn.No, default=Btn.Yes, informative: str = ""):
        box = QMessageBox(QMessageBox.Icon.Question, title, text, buttons, self)
        box.setDefaultButton(default)
        if informative:
            box.setInformativeText(informative)
        return Btn(box.exec())

    def inform(self, title: str, text: str, icon=QMessageBox.Icon.Warning, details: str = "") -> None:
        box = QMessageBox(icon, title, text, Btn.Ok, self)
        if details:
            box.setDetailedText(details)
        box.exec()

    def get_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self._last_dir(), OPEN_FILTER)
        return path or None

    def get_save_path(self) -> str | None:
        start = str(Path(self._last_dir()) / (self.document.display_name() + SUFFIX))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, SAVE_FILTER)
        if path and not path.endswith(SUFFIX):
            path += SUFFIX
        return path or None

    def choose_new_network(self) -> Graph | None:
        from .newdialog import NewNetworkDialog

        dlg = NewNetworkDialog(self)
        if dlg.exec() != NewNetworkDialog.DialogCode.Accepted:
            return None
        return dlg.build()

    # ================================================================== files (files.py) and edits (editor.py)
    # thin delegates: menus, other features and tests call these names on the window
    def _last_dir(self) -> str:
        return self.files.last_dir()

    def maybe_save(self) -> bool:
        return self.files.maybe_save()

    def new_file(self) -> bool:
        return self.files.new_file()

    def open_file(self, path: str | Path | None = None) -> bool:
        return self.files.open_file(path)

    def save(self) -> bool:
        return self.files.save()

    def save_as(self, path: str | Path | None = None) -> bool:
        return self.files.save_as(path)

    def revert(self) -> bool:
        return self.files.revert()

    def recent_files(self) -> list[str]:
        return self.files.recent_files()

    def _add_recent(self, path: str) -> None:
        self.files.add_recent(path)

    def _forget_recent(self, path: str) -> None:
        self.files.forget_recent(path)

    def _fill_recent_menu(self) -> None:
        self.files.fill_recent_menu(self.recent_menu)

    def offer_recovery(self) -> bool:
        return self.files.offer_recovery()

    def undo(self) -> None:
        self.editor.undo()

    def redo(self) -> None:
        self.editor.redo()

    def delete_selection(self) -> bool:
        return self.editor.delete_selection()

    def select_all(self) -> None:
        self.editor.select_all()

    def copy(self) -> bool:
        return self.editor.copy()

    def cut(self) -> bool:
        return self.editor.cut()

    def paste(self) -> list[str]:
        return self.editor.paste()

    def duplicate(self) -> list[str]:
        return self.editor.duplicate()

    def auto_layout(self) -> bool:
        return self.editor.auto_layout()

    def append_layer(self, type_id: str) -> str | None:
        return self.editor.append_layer(type_id)

    def _update_undo_actions(self) -> None:
        self.editor.update_undo_actions()

    def _update_edit_actions(self, *_) -> None:
        self.editor.update_edit_actions()

    # ================================================================== slots
    def _on_scene_selection_ids_changed(self, ids: list) -> None:
        self.inspector.set_selection(ids)
        self._update_edit_actions()
        self.selection_changed.emit(ids)

    def _on_scene_node_activated(self, node_id: str) -> None:
        dock = self.docks.get("Inspector")
        if dock is not None:
            dock.show()
            dock.raise_()
        self.inspector.show_node(node_id)
        first = next(iter(self.inspector.editors.values()), None)
        if first is not None:
            first.setFocus()

    def _on_document_analysis_changed(self, a) -> None:
        text, tip = params_status(self.graph, a)  # trainable and frozen (transfer.py)
        self.status_params.setText(text)
        self.status_params.setToolTip(tip)
        self.status_macs.setText(f"{fmt.count(a.total_macs)} MACs")
        self.status_macs.setToolTip(f"{a.total_macs:,} multiply-accumulates per sample")
        self.status_output.setText(f"{fmt.shape(a.input_shape) if a.input_shape else '-'} \u2192 {fmt.shape(a.output_shape) if a.output_shape else '-'}")
        n_err, n_warn = len(a.errors), len(a.warnings)
        c = theme.colours()
        if n_err:
            self.status_errors.setText(f"<span style='color:{c.error.name()}'>\u2716 {n_err} error{'s' if n_err != 1 else ''}</span>")
        elif n_warn:
            self.status_errors.setText(f"<span style='color:{c.warning.name()}'>\u26a0 {n_warn} warning{'s' if n_warn != 1 else ''}</span>")
        else:
            self.status_errors.setText("\u2714 valid")
        dock = self.docks.get("Issues")
        if dock is not None:
            dock.setWindowTitle(f"Issues ({n_err + n_warn})" if (n_err or n_warn) else "Issues")

    def _on_document_graph_replaced(self) -> None:
        self._update_title()
        self._update_edit_actions()

    def _on_graph_meta_changed(self, what: str) -> None:
        if what == "name":
            self._update_title()

    def _on_view_project_dropped(self, path: str) -> None:
        self.open_file(path)

    def _on_view_zoom_changed(self, z: float) -> None:
        self.status_zoom.setText(f"{z * 100:.0f}%")

    def _on_theme_changed(self, colours) -> None:
        theme.set_colours(colours)
        self.scene.apply_theme()
        self._on_document_analysis_changed(self.document.analysis)
        self.inspector._update_info()

    def set_theme_mode(self, mode: str) -> None:
        if self.theme is not None:
            self.theme.set_mode(mode)
        else:
            theme.set_colours(theme.DARK if mode == "dark" else theme.LIGHT)
            self.scene.apply_theme()
        self.settings.setValue("theme", mode)
        if mode in self.theme_actions:
            self.theme_actions[mode].setChecked(True)

    def _update_title(self, *_):
        self.setWindowTitle(f"{self.document.display_name()}[*] \u2014 CNN Studio")
        self.setWindowModified(self.document.modified)
        if self.document.path is not None:
            self.setWindowFilePath(str(self.document.path))

    # ================================================================== help
    def about(self) -> None:
        from .. import __version__

        QMessageBox.about(
            self,
            "About CNN Studio",
            f"<h3>CNN Studio {__version__}</h3><p>Design convolutional neural networks on a canvas and see every "
            "tensor shape, parameter count, MAC count and receptive field as you edit.</p>",
        )

    def show_shortcuts(self) -> None:
        self.inform(
            "Keyboard and mouse",
            "<table>"
            "<tr><td><b>Drag from Layers</b></td><td>drop on a layer to append, on a link to insert, on empty canvas to add</td></tr>"
            "<tr><td><b>Drag port to port</b></td><td>connect (output at the bottom, inputs on top); drag a link's end off to remove it</td></tr>"
            "<tr><td><b>Wheel, Ctrl + / Ctrl -</b></td><td>zoom</td></tr>"
            "<tr><td><b>Middle drag, Space + drag</b></td><td>pan</td></tr>"
            "<tr><td><b>Ctrl+0</b></td><td>fit to view</td></tr>"
            "<tr><td><b>Ctrl+L</b></td><td>auto layout</td></tr>"
            "<tr><td><b>Delete, Ctrl+D, Ctrl+C, Ctrl+V</b></td><td>delete, duplicate, copy, paste</td></tr>"
            "<tr><td><b>Ctrl+Z, Ctrl+Shift+Z</b></td><td>undo, redo</td></tr>"
            "</table>",
            QMessageBox.Icon.Information,
        )

    # ================================================================== window events
    def dragEnterEvent(self, event) -> None:
        self.files.drag_enter(event)  # files.py: what a dropped file opens as

    def dropEvent(self, event) -> None:
        self.files.drop(event)

    def closeEvent(self, event) -> None:
        if not self._closing_ok and not self.maybe_save():
            event.ignore()
            return
        for guard in self.close_guards:
            if not guard():
                event.ignore()
                return
        self._save_window_state()
        loader_runner = getattr(self.state._loader, "runner", None)
        if loader_runner is not None:
            loader_runner.shutdown()
        self.exchange.shutdown()  # its worker thread: quit and wait
        release_clipboard()
        self.recovery.stop()
        self.scene.close()
        self.inspector.close_down()
        self.document.close()
        event.accept()

    def _initial_size(self) -> None:
        w, h = 1440, 900
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            avail = screen.availableGeometry()
            # a screen smaller than that (1280x800) gets nearly all of it: the default layout
            # (layout.py) is sized for at least the window a 1280x800 screen leaves
            w, h = min(w, int(avail.width() * 0.98)), min(h, int(avail.height() * 0.95))
        self.resize(max(w, 900), max(h, 600))

    # Bump when the set or arrangement of docks changes, so a layout saved by an older version is
    # not restored over docks it does not know (layout.DockLayout.VERSION).
    LAYOUT_VERSION = DockLayout.VERSION

    def _save_window_state(self) -> None:
        self.dock_layout.save()

    def _restore_window_state(self) -> None:
        """The default dock layout (layout.py), then the user's saved one over it."""
        self.dock_layout.restore()
