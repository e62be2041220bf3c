"""The main window: canvas in the middle, palette on the left, inspector on the right, issues and
summary below; menus File, Edit, View, Network, Help; files, recent files, autosave and recovery.

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

Dialogs go through :meth:`ask`, :meth:`inform`, :meth:`get_open_path`, :meth:`get_save_path` and
:meth:`choose_new_network`, so tests replace them instead of driving modal loops.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeData, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QStyle, QWidget

from ..core.errors import ProjectFileError
from ..core.graph import Graph
from ..core.project import SUFFIX, load_project
from . import fmt, theme
from .autosave import RecoveryManager, find_orphans
from .canvas import CanvasScene, CanvasView
from .document import Document
from .edits import NODES_MIME, parse_payload, payload_to_json
from .icons import app_icon
from .inspector import InspectorWidget
from .layout import DockLayout
from .palette import PaletteWidget
from .panels import IssuesWidget, SummaryWidget
from .paths import app_settings
from .visibility import watch_dock

log = logging.getLogger("cnn_studio.app")

MAX_RECENT = 8
FILE_FILTER = f"CNN Studio projects (*{SUFFIX});;All files (*)"
Btn = QMessageBox.StandardButton


def first_run_graph() -> Graph:
    """LeNet-5 sized for the built-in dataset (3x32x32 images, 10 classes)."""
    from ..core import templates

    return templates.build("lenet5", (3, 32, 32), 10)


def release_clipboard() -> None:
    """Swap a QMimeData this process put on the clipboard for a Qt-made copy of its text.

    A QMimeData created from Python and owned by the clipboard makes PySide crash at interpreter
    exit; the plain-text JSON it also carries pastes the same (``paste`` falls back to text)."""
    cb = QGuiApplication.clipboard()
    mime = cb.mimeData() if cb is not None else None
    if mime is not None and mime.hasFormat(NODES_MIME):
        text = mime.text()
        cb.setText(text)


def data_paths_from_mime(mime) -> list[str]:
    """Local folders or data files (not project files) dropped on the window: a data set to import."""
    from .canvas.view import project_paths_from_mime

    if mime is None or not mime.hasUrls() or project_paths_from_mime(mime):
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


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
        S = QStyle.StandardPixmap
        K = QKeySequence.StandardKey
        self.act_new = self._act("&New…", self.new_file, K.New, "Start a new network from a template or empty", S.SP_FileIcon)
        self.act_open = self._act("&Open…", self.open_file, K.Open, "Open a project file", S.SP_DialogOpenButton)
        self.act_save = self._act("&Save", self.save, K.Save, "Save the project", S.SP_DialogSaveButton)
        self.act_save_as = self._act("Save &As…", self.save_as, "Ctrl+Shift+S", "Save the project under a new name")
        self.act_revert = self._act("&Revert", self.revert, None, "Discard unsaved changes and reload the file")
        self.act_quit = self._act("&Quit", self.close, K.Quit, "Close the window")

        # undo/redo: our own actions (not createUndoAction) so a locked network cannot be undone;
        # the menu shows "Undo <command>", the toolbar the short icon text
        stack = self.document.undo_stack
        self.act_undo = self._act("&Undo", self.undo, K.Undo, icon=S.SP_ArrowBack)
        redo_keys = {QKeySequence(K.Redo).toString(), "Ctrl+Shift+Z", "Ctrl+Y"} - {""}
        self.act_redo = self._act("&Redo", self.redo, sorted(redo_keys), icon=S.SP_ArrowForward)
        for a, name, can, changed in ((self.act_undo, "Undo", stack.canUndoChanged, stack.undoTextChanged), (self.act_redo, "Redo", stack.canRedoChanged, stack.redoTextChanged)):
            a.setIconText(name)
            a.setEnabled(False)
            can.connect(lambda on, a=a: a.setEnabled(bool(on) and self.editing_enabled))
            changed.connect(lambda text, a=a, n=name: (a.setText(f"&{n} {text}".strip()), a.setToolTip(f"{n} {text}".strip())))
        self.act_cut = self._act("Cu&t", self.cut, K.Cut, "Cut the selected layers")
        self.act_copy = self._act("&Copy", self.copy, K.Copy, "Copy the selected layers (with their links)")
        self.act_paste = self._act("&Paste", self.paste, K.Paste, "Paste layers")
        self.act_duplicate = self._act("D&uplicate", self.duplicate, "Ctrl+D", "Duplicate the selected layers")
        self.act_delete = self._act("&Delete", self.delete_selection, [QKeySequence(K.Delete).toString() or "Del", "Backspace"], "Delete the selected layers and links")
        self.act_select_all = self._act("Select &All", self.select_all, K.SelectAll)

        self.act_layout = self._act("Auto &Layout", self.auto_layout, "Ctrl+L", "Arrange the layers top to bottom (one undo step)")
        self.act_fit = self._act("&Fit to View", lambda: self.view.fit(), "Ctrl+0", "Show the whole network")
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
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self._last_dir(), FILE_FILTER)
        return path or None

    def get_save_path(self) -> str | None:
        start = str(Path(self._last_dir()) / (self.document.display_name() + SUFFIX))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, FILE_FILTER)
        if path and not path.endswith(SUFFIX):
            path += SUFFIX
        return path or None

    def choose_new_network(self) -> Graph | None:
        from .newdialog import NewNetworkDialog

        dlg = NewNetworkDialog(self)
        if dlg.exec() != NewNetworkDialog.DialogCode.Accepted:
            return None
        return dlg.build()

    # ================================================================== files
    def _last_dir(self) -> str:
        if self.document.path is not None:
            return str(self.document.path.parent)
        return str(self.settings.value("last_dir", str(Path.home())))

    def maybe_save(self) -> bool:
        """Before discarding the current network: True to go on, False to stay."""
        if not self.document.modified:
            return True
        answer = self.ask(
            "Unsaved changes",
            f"Save the changes to '{self.document.display_name()}'?",
            Btn.Save | Btn.Discard | Btn.Cancel,
            Btn.Save,
            "Your changes will be lost if you don't save them.",
        )
        if answer == Btn.Save:
            return self.save()
        return answer == Btn.Discard

    def new_file(self) -> bool:
        if not self.editing_enabled or not self.maybe_save():
            return False
        graph = self.choose_new_network()
        if graph is None:
            return False
        self.document.replace(graph, None)
        self.recovery.discard()
        QTimer.singleShot(0, self.fit_readable)
        return True

    def open_file(self, path: str | Path | None = None) -> bool:
        """Open a project. A file that fails to load shows the loader's message and leaves the
        current network untouched."""
        if not self.editing_enabled:
            return False
        if path is None:
            if not self.maybe_save():
                return False
            path = self.get_open_path()
            if not path:
                return False
        else:
            graph = self._load_or_report(path)
            if graph is None or not self.maybe_save():
                return False
            return self._show_loaded(graph, path)
        graph = self._load_or_report(path)
        if graph is None:
            return False
        return self._show_loaded(graph, path)

    def _load_or_report(self, path) -> Graph | None:
        try:
            return load_project(path)
        except ProjectFileError as e:
            self.inform("Cannot open project", str(e))
            if not Path(path).exists():
                self._forget_recent(str(Path(path).resolve()))
            return None

    def _show_loaded(self, graph: Graph, path) -> bool:
        path = Path(path).resolve()
        self.document.replace(graph, path)
        self.recovery.discard()
        self._add_recent(str(path))
        self.settings.setValue("last_dir", str(path.parent))
        QTimer.singleShot(0, self.fit_readable)
        self.show_message(f"Opened {path}")
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(None)

    def save_as(self, path: str | Path | None = None) -> bool:
        if path is None:
            path = self.get_save_path()
            if not path:
                return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path | None) -> bool:
        try:
            target = self.document.save(path)
        except ProjectFileError as e:
            self.inform("Cannot save project", str(e))
            return False
        self.recovery.discard()
        self._add_recent(str(target.resolve()))
        self.settings.setValue("last_dir", str(target.resolve().parent))
        self.show_message(f"Saved {target}")
        return True

    def revert(self) -> bool:
        if self.document.path is None or not self.document.modified:
            return False
        answer = self.ask("Revert", f"Discard your changes and reload '{self.document.path.name}'?", Btn.Yes | Btn.Cancel, Btn.Cancel)
        if answer != Btn.Yes:
            return False
        graph = self._load_or_report(self.document.path)
        if graph is None:
            return False
        self.document.replace(graph, self.document.path)
        self.recovery.discard()
        return True

    # ------------------------------------------------------------------ recent files
    def recent_files(self) -> list[str]:
        v = self.settings.value("recent_files", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or [])]

    def _add_recent(self, path: str) -> None:
        files = [p for p in self.recent_files() if p != path]
        files.insert(0, path)
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self.settings.sync()

    def _forget_recent(self, path: str) -> None:
        self.settings.setValue("recent_files", [p for p in self.recent_files() if p != path])

    def _fill_recent_menu(self) -> None:
        m = self.recent_menu
        m.clear()
        files = self.recent_files()
        for i, p in enumerate(files):
            a = m.addAction(f"&{i + 1} {Path(p).name}")
            a.setToolTip(p)
            a.setStatusTip(p)
            a.triggered.connect(lambda _c=False, path=p: self.open_file(path))
        if not files:
            m.addAction("No recent files").setEnabled(False)
        else:
            m.addSeparator()
            m.addAction("Clear list", lambda: self.settings.setValue("recent_files", []))

    # ------------------------------------------------------------------ recovery
    def offer_recovery(self) -> bool:
        """If a crashed session left a recovery file, offer to restore it. True if restored."""
        entries = find_orphans()
        if not entries:
            return False
        newest, rest = entries[0], entries[1:]
        for e in rest:  # older leftovers: only the newest is offered
            e.remove()
        import time

        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.saved_at))
        answer = self.ask(
            "Recover unsaved work",
            f"CNN Studio did not close normally. Recover the unsaved changes to '{newest.name}' from {when}?",
            Btn.Yes | Btn.No,
            Btn.Yes,
            "If you choose No, the recovered copy is deleted.",
        )
        restored = False
        if answer == Btn.Yes:
            try:
                graph = load_project(newest.file)
            except ProjectFileError as e:
                self.inform("Cannot recover", str(e))
            else:
                orig = newest.original_path
                self.document.replace(graph, Path(orig) if orig else None, modified=True)
                self.recovery.save_now()
                QTimer.singleShot(0, self.fit_readable)
                restored = True
        newest.remove()
        return restored

    # ================================================================== edit actions
    def undo(self) -> None:
        if self.editing_enabled:
            self.document.undo_stack.undo()

    def redo(self) -> None:
        if self.editing_enabled:
            self.document.undo_stack.redo()

    def _update_undo_actions(self) -> None:
        stack = self.document.undo_stack
        self.act_undo.setEnabled(self.editing_enabled and stack.canUndo())
        self.act_redo.setEnabled(self.editing_enabled and stack.canRedo())

    def delete_selection(self) -> bool:
        return self.scene.delete_selection()

    def select_all(self) -> None:
        self.scene.select_nodes(list(self.scene.node_items))

    def copy(self) -> bool:
        payload = self.scene.copy_payload()
        if payload is None:
            return False
        text = payload_to_json(payload)
        mime = QMimeData()
        mime.setData(NODES_MIME, QByteArray(text.encode("utf-8")))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        n = len(payload["nodes"])
        self.show_message(f"Copied {n} layer{'s' if n != 1 else ''}")
        return True

    def cut(self) -> bool:
        return self.copy() and self.delete_selection()

    def paste(self) -> list[str]:
        mime = QGuiApplication.clipboard().mimeData()
        raw = None
        if mime is not None and mime.hasFormat(NODES_MIME):
            raw = bytes(mime.data(NODES_MIME)).decode("utf-8", "replace")
        elif mime is not None and mime.hasText():
            raw = mime.text()
        if not raw:
            self.show_message("The clipboard holds no CNN Studio layers")
            return []
        try:
            payload = parse_payload(raw)
        except Exception as e:  # GraphEditError: damaged or foreign clipboard content
            self.show_message(str(e))
            return []
        return self.scene.paste_payload(payload)

    def duplicate(self) -> list[str]:
        payload = self.scene.copy_payload()
        if payload is None:
            return []
        return self.scene.paste_payload(payload)

    def auto_layout(self) -> bool:
        ok = self.scene.auto_layout()
        if ok:
            QTimer.singleShot(0, self.fit_readable)
        return ok

    def append_layer(self, type_id: str) -> str | None:
        """Palette double-click / Enter: append after the selected layer, else before the loss,
        else as a free layer in view."""
        if not self.editing_enabled:
            return None
        sel = self.selected_node_ids()
        scene = self.scene
        if len(sel) == 1:
            item = scene.node_items[sel[0]]
            return scene.drop_layer(type_id, item.pos())
        out = self.graph.output_node()
        if out is not None:
            return scene.drop_layer(type_id, scene.node_items[out.id].pos())
        return scene.drop_layer(type_id, self.view.visible_scene_rect().center())

    def _update_edit_actions(self, *_):
        has_sel = bool(self.scene.selectedItems())
        has_nodes = bool(self.scene.selected_node_ids())
        on = self.editing_enabled
        self.act_delete.setEnabled(on and has_sel)
        self.act_cut.setEnabled(on and has_nodes)
        self.act_copy.setEnabled(has_nodes)
        self.act_duplicate.setEnabled(on and has_nodes)
        self.act_revert.setEnabled(on and self.document.path is not None)
        self._update_undo_actions()

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
        self.status_params.setText(f"{fmt.count(a.total_params)} params")
        self.status_params.setToolTip(f"{a.total_params:,} parameters ({a.trainable_params:,} trainable)")
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
        from .canvas.view import project_paths_from_mime

        if project_paths_from_mime(event.mimeData()) or data_paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        from .canvas.view import project_paths_from_mime

        paths = project_paths_from_mime(event.mimeData())
        data = data_paths_from_mime(event.mimeData())
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_file(paths[0]))
        elif data:
            event.acceptProposedAction()
            self.folder_dropped.emit(data[0])
        else:
            event.ignore()

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
            w, h = min(w, int(avail.width() * 0.92)), min(h, int(avail.height() * 0.9))
        self.resize(max(w, 900), max(h, 600))

    # Bump when the set or arrangement of docks changes, so a layout saved by an older version is
    # not restored over docks it does not know (layout.DockLayout.VERSION).
    LAYOUT_VERSION = DockLayout.VERSION

    def _save_window_state(self) -> None:
        self.dock_layout.save()

    def _restore_window_state(self) -> None:
        """The default dock layout (layout.py), then the user's saved one over it."""
        self.dock_layout.restore()
