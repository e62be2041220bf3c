"""Training in the main window: Data and Training docks, the Train action (F5), a read-only canvas
while a run goes, settings stored in the project file (as undoable edits), a clear dialog when a run
fails, and a close that asks, stops and joins the training thread.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand
from PySide6.QtWidgets import QFileDialog, QMessageBox, QScrollArea

from ...core.paths import studio_home
from .data_panel import DataPanel
from .panel import TrainingPanel

SETTINGS_MERGE_ID = 7302
# A run's start, network ready, end and failure go through the app state (window.state): the views,
# the curves and the panel's summary show what it names; this note lasts only while a run goes.
READ_ONLY_TEXT = "Training: the network is read-only until the run ends"


class TrainingSettingsCommand(QUndoCommand):
    """One undo step for a change of the project's data/training settings (consecutive changes
    within a short time merge, so spinning a box is one step)."""

    def __init__(self, graph, new: dict):
        super().__init__("Change training settings")
        self.graph = graph
        self.old = copy.deepcopy(graph.training)
        self.new = copy.deepcopy(new)
        self.stamp = time.monotonic()

    def id(self) -> int:
        return SETTINGS_MERGE_ID

    def mergeWith(self, other) -> bool:
        if not isinstance(other, TrainingSettingsCommand) or other.stamp - self.stamp > 1.5:
            return False
        self.new = copy.deepcopy(other.new)
        self.stamp = other.stamp
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.graph.set_training(self.new)

    def undo(self) -> None:
        self.graph.set_training(self.old)


def _scrolling(widget) -> QScrollArea:
    """Long forms scroll (vertically) inside their dock instead of forcing the window taller than
    the screen; the dock is never narrower than the form (see layout.VScrollArea)."""
    from ..layout import VScrollArea

    return VScrollArea(widget)


class TrainingFeature(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self._loading_settings = False
        self._pushing = False
        self.data_panel = DataPanel()
        self.panel = TrainingPanel(embed_plots=False)
        # the window's DockLayout (layout.py) places and sizes these by their titles
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.data_dock = window.add_panel(_scrolling(self.data_panel), "Data", right, object_name="DataDock")
        self.training_dock = window.add_panel(_scrolling(self.panel), "Training", right, object_name="TrainingDock")
        self.curves_dock = window.add_panel(self.panel.plots, "Training curves", Qt.DockWidgetArea.BottomDockWidgetArea, object_name="CurvesDock")
        # the run's outcome (a few lines under the bar) scrolls into view when the run ends
        self.panel.run_finished.connect(lambda *_: self._scroll_to_run())
        self.panel.run_failed.connect(lambda *_: self._scroll_to_run())
        self.act_train = QAction("&Train", window)
        self.act_train.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.act_train.setToolTip("Compile the network and train it on the chosen data (F5)")
        self.act_train.triggered.connect(self.train)
        self.act_stop = QAction("&Stop training", window)
        self.act_stop.setShortcut(QKeySequence("Shift+F5"))
        self.act_stop.setEnabled(False)
        self.act_stop.triggered.connect(self.panel.stop_training)
        window.network_menu.addSeparator()
        self.act_train_from_file = QAction("Train from &weights file…", window)
        self.act_train_from_file.setToolTip("Train the current network starting from saved weights (.pt, .pth or .safetensors; "
                                            "every key and shape must fit)")
        self.act_train_from_file.triggered.connect(lambda *_: self.train_from_file())
        window.network_menu.addAction(self.act_train)
        window.network_menu.addAction(self.act_train_from_file)
        window.network_menu.addAction(self.act_stop)
        self.act_caches = QAction("Speed &caches…", window)
        self.act_caches.setToolTip("What the speed probe's cache and the compile cache hold; clear them so the next "
                                   "run probes and compiles afresh")
        self.act_caches.triggered.connect(lambda *_: self.show_caches())
        window.network_menu.addAction(self.act_caches)
        window.toolbar.addSeparator()
        window.toolbar.addAction(self.act_train)
        self.panel.train_button.clicked.connect(self.train)
        self.panel.run_started.connect(self._on_panel_run_started)
        self.panel.run_finished.connect(self._on_panel_run_finished)
        self.panel.run_failed.connect(self._on_panel_run_failed)
        self.panel.settings.changed.connect(self._on_settings_changed)
        self.data_panel.changed.connect(self._on_settings_changed)
        window.document.graph_replaced.connect(self._on_document_graph_replaced)
        window.graph.events.connect("meta_changed", self._on_graph_meta_changed)
        window.close_guards.append(self._close_guard)
        window.folder_dropped.connect(self._on_window_folder_dropped)
        window.state.source_changed.connect(self._on_state_source_changed)
        self._run_message: str | None = None
        self._on_document_graph_replaced()
        self._on_state_source_changed(window.state.source)
        # torch loads in a background thread once the window has painted (never on the start-up path):
        # 1.5 s after the event loop first runs, not after construction (a slow, loaded start-up would
        # otherwise reach the probe in its first event pass)
        settings = self.panel.settings
        QTimer.singleShot(0, settings, lambda: QTimer.singleShot(1500, settings, settings.probe_devices))

    def show_caches(self):
        """Network > Speed caches…: the speed and compile caches, with Clear (refused while a run goes)."""
        from ..cursor import wait_cursor
        from .caches_dialog import SpeedCachesDialog
        from .worker import prepare_torch

        # the caches' code lives beside torch's (training.speed): imported here, once, under a wait
        # cursor, if the window's background probe has not loaded it yet
        with wait_cursor():
            prepare_torch()
        dlg = getattr(self, "caches_dialog", None)
        if dlg is None:  # one dialog, shown again (read afresh) each time
            dlg = self.caches_dialog = SpeedCachesDialog(self.window, is_running=lambda: self.panel.running)
            # a run that starts or ends while it is open disables or enables Clear (a slot of the
            # dialog's own, so the connection goes with it)
            for sig in (self.panel.run_started, self.panel.run_finished, self.panel.run_failed):
                sig.connect(dlg.on_run_state_changed)
        else:
            dlg.refresh()
        dlg.open()
        return dlg

    # ------------------------------------------------------------------ settings <-> project
    def settings_dict(self) -> dict:
        return {"train": self.panel.settings.config(), "data": self.data_panel.config_dict()}

    @Slot()
    def _on_document_graph_replaced(self) -> None:
        self._loading_settings = True
        try:
            t = self.window.graph.training or {}
            self.panel.settings.set_config(t.get("train") or {})
            self.data_panel.set_config(t.get("data") or {})
        finally:
            self._loading_settings = False

    def _on_graph_meta_changed(self, what: str) -> None:
        if what == "training" and not self._pushing:
            self._on_document_graph_replaced()  # undo/redo of a settings change: show it

    @Slot()
    def _on_settings_changed(self) -> None:
        if self._loading_settings:
            return
        new = self.settings_dict()
        new["data"].pop("channels", None), new["data"].pop("height", None), new["data"].pop("width", None)
        if new != self.window.graph.training:
            self._pushing = True
            try:
                self.window.document.push(TrainingSettingsCommand(self.window.graph, new))
            finally:
                self._pushing = False

    @Slot(str)
    def _on_window_folder_dropped(self, path: str) -> None:
        self.data_panel.set_source(path)
        self.data_dock.raise_()
        self.data_panel.load_preview()

    # ------------------------------------------------------------------ running
    def run_root(self) -> Path:
        """Runs of a saved project go beside it (``<name>_runs/``); others under the user's data folder."""
        path = self.window.document.path
        if path is not None:
            return Path(path).parent / f"{Path(path).stem}_runs"
        return studio_home() / "runs"

    def ask_weights_file(self) -> str | None:
        """The weights file to start from (tests replace this)."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Train from weights file", "",
                                              "Weights (*.pt *.pth *.safetensors);;All files (*)")
        return path or None

    def train_from_file(self) -> bool:
        """A new run of the current network initialised from a weights file (TrainConfig.init_from)."""
        if self.panel.running:
            return False
        path = self.ask_weights_file()
        return self.train(init_from=path) if path else False

    @Slot()
    def train(self, init_from=None) -> bool:
        """Start a run of the current network; ``init_from`` (a run folder or weights file) starts it
        from those weights: a file that does not fit fails the start with the importer's key list."""
        if not isinstance(init_from, (str, Path)):  # a signal's checked flag is not a path
            init_from = None
        if self.panel.running:
            return False
        a = self.window.analysis
        if not a.ok:
            first = a.errors[0]
            if first.node_id:
                self.window.select_nodes([first.node_id], center=True)
            more = f"\n\n({len(a.errors) - 1} more problem(s) in the Issues list.)" if len(a.errors) > 1 else ""
            self.window.inform("The network cannot be trained yet", str(first) + more)
            return False
        problem = self.data_panel.check_source()
        if problem:  # said beside the Source field, where it is fixed
            self.data_dock.show()
            self.data_dock.raise_()
            self.data_panel.source.setFocus()
            self.window.show_message("Cannot train: " + problem)
            return False
        from .fit_data import fit_data_to_network

        if not fit_data_to_network(self):  # data of another shape or class count: ask, never convert silently
            return False
        a = self.window.analysis
        from ...training.rundir import new_run_path

        self.data_panel.target_shape = tuple(a.input_shape)
        try:
            data_config = self.data_panel.data_config()
        except Exception as e:  # a DataError from the settings: say what is wrong
            self.window.inform("Check the data settings", str(e))
            return False
        graph = self.window.graph
        try:  # the folder is created now (exclusively: a run never shares one)
            run_dir = new_run_path(graph.name or "run", self.run_root())
        except Exception as e:  # a RunDirError: the runs folder cannot be written
            self.window.inform("Cannot create the run folder", str(e))
            return False
        transfer = getattr(self.window, "transfer", None)  # Network > Initialise from weights… applied (app/transfer.py)
        init = {"init_from": str(init_from)} if init_from is not None else (transfer.initial_weights() if transfer is not None else {})
        train_config = {**self.panel.settings.config(), **init} if init else None
        self.panel.start_training(graph.to_config(), data_config, str(run_dir), train_config=train_config)
        self._show_run_views()
        return True

    def _show_run_views(self) -> None:
        """Bring the run forward: the Training dock (scrolled to its progress bar), the curves and
        the live feature maps; in the default layout these are in three different places, so all
        are on screen together. A dock the user closed stays closed."""
        for title in ("Training", "Training curves", "Feature maps"):
            dock = self.window.docks.get(title)
            if dock is not None and not dock.isHidden():
                dock.raise_()
        self._scroll_to_run()

    def _scroll_to_run(self) -> None:
        """Scroll the Training dock to its end: Train/Pause/Stop, the bar and the status (the
        settings above are locked while a run goes). It stays at the end as the status grows
        (the run's outcome takes a few lines) until the user scrolls it."""
        area = self.training_dock.widget()
        if not isinstance(area, QScrollArea):
            return
        bar = area.verticalScrollBar()
        if not getattr(self, "_pin_connected", False):
            self._pin_connected = True
            bar.rangeChanged.connect(lambda _lo, hi: bar.setValue(hi) if self._pin_to_end else None)
            bar.actionTriggered.connect(lambda *_: setattr(self, "_pin_to_end", False))  # the user scrolls
        self._pin_to_end = True
        bar.setValue(bar.maximum())

    @Slot()
    def _on_panel_run_started(self) -> None:
        self.window.set_editing_enabled(False)
        self.act_train.setEnabled(False)
        self.act_train_from_file.setEnabled(False)
        self.act_stop.setEnabled(True)
        self._show_run_message(READ_ONLY_TEXT, 0)
        self.window.state.run_starting(self.panel.run_dir)
        worker = self.panel.worker
        if worker is not None:
            worker.started.connect(self._on_worker_started)

    @Slot(dict)
    def _on_worker_started(self, info: dict) -> None:
        """The run's data and network are ready: the views follow it from now on."""
        worker = self.panel.worker
        if worker is None or not self.panel.running:
            return
        imodel = worker.runner.inspect_model  # copied by the training thread before its first step
        self.window.state.run_live(info.get("run_dir") or self.panel.run_dir, imodel)

    def _show_run_message(self, text: str, ms: int = 6000) -> None:
        self._run_message = text
        self.window.show_message(text, ms)

    def _clear_run_message(self) -> None:
        """The status bar drops a message about a run that is no longer shown."""
        sb = self.window.statusBar()
        if getattr(self, "_run_message", None) and sb.currentMessage() == self._run_message:
            sb.clearMessage()
        self._run_message = None

    def _run_ended(self) -> None:
        self.window.set_editing_enabled(True)
        self.act_train.setEnabled(True)
        self.act_train_from_file.setEnabled(True)
        self.act_stop.setEnabled(False)

    @Slot(dict)
    def _on_panel_run_finished(self, summary: dict) -> None:
        self._run_ended()
        self._show_run_message(self.panel.status.text())
        self.window.state.run_ended({**summary, "run_dir": summary.get("run_dir") or self.panel.run_dir})

    @Slot(str, str)
    def _on_panel_run_failed(self, message: str, details: str) -> None:
        self._run_ended()
        # the read-only note must not outlive the run
        self._show_run_message(f"Training stopped with an error: {message}", 15000)
        self.window.state.run_failed(message)
        self.window.inform("Training stopped with an error", message, icon=QMessageBox.Icon.Critical, details=details)

    @Slot(object)
    def _on_state_source_changed(self, src) -> None:
        self.panel.show_source(src)
        self.panel.plots.show_source(src)
        if src.kind == "nothing":
            self._clear_run_message()

    def _close_guard(self) -> bool:
        """Called by the window before it closes: ask while training, then stop and join."""
        if self.panel.running:
            answer = self.window.ask(
                "Training is running",
                "Stop training and close? A resumable checkpoint of the run is kept.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self.panel.shutdown()
        self.data_panel.shutdown()
        return True
