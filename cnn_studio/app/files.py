"""The project's files, out of the main window: New, Open, Save, Save As, Revert, recent files and the
recovery of a crashed session. :class:`ProjectFiles` owns these actions and the logic behind them;
the window hosts it (menus, toolbar) and keeps thin delegates (``window.new_file`` ...).

Every change of the network goes through ``Document.replace``, whose ``graph_replaced`` the app
state (app/state.py) turns into "nothing of the old network's runs is shown". Dialogs go through
the window's overridable ``ask``, ``inform``, ``get_open_path``, ``get_save_path`` and
``choose_new_network`` (looked up at call time, so tests can replace them).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox, QStyle

from ..core.errors import ProjectFileError
from ..core.graph import Graph
from ..core.project import SUFFIX, load_project
from .autosave import find_orphans

MAX_RECENT = 8
FILE_FILTER = f"CNN Studio projects (*{SUFFIX});;ONNX models (*.onnx);;All files (*)"  # open and save dialogs
Btn = QMessageBox.StandardButton


def _imported_weights_path(onnx_path: Path) -> Path:
    """Where an opened ONNX model's weights go: the studio home, named by the file and a hash of it."""
    import hashlib

    from ..core.paths import studio_home

    digest = hashlib.sha256()
    with open(onnx_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    folder = studio_home() / "imported"
    folder.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in onnx_path.stem)[:60] or "model"
    return folder / f"{stem}-{digest.hexdigest()[:12]}.safetensors"


class ProjectFiles(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        S = QStyle.StandardPixmap
        K = QKeySequence.StandardKey
        act = window._act
        self.act_new = act("&New…", self.new_file, K.New, "Start a new network from a template or empty", S.SP_FileIcon)
        self.act_open = act("&Open…", self.open_file, K.Open, "Open a project file", S.SP_DialogOpenButton)
        self.act_save = act("&Save", self.save, K.Save, "Save the project", S.SP_DialogSaveButton)
        self.act_save_as = act("Save &As…", self.save_as, "Ctrl+Shift+S", "Save the project under a new name")
        self.act_revert = act("&Revert", self.revert, None, "Discard unsaved changes and reload the file")

    @property
    def document(self):
        return self.window.document

    @property
    def settings(self):
        return self.window.settings

    def fill_recent_menu(self, menu) -> None:
        menu.clear()
        files = self.recent_files()
        for i, p in enumerate(files):
            a = menu.addAction(f"&{i + 1} {Path(p).name}")
            a.setToolTip(p)
            a.setStatusTip(p)
            a.triggered.connect(lambda _c=False, path=p: self.window.open_file(path))
        if not files:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list", lambda: self.settings.setValue("recent_files", []))

    # ------------------------------------------------------------------ dialogs
    def last_dir(self) -> str:
        if self.document.path is not None:
            return str(self.document.path.parent)
        return str(self.settings.value("last_dir", str(Path.home())))

    def maybe_save(self) -> bool:
        """Before discarding the current network: True to go on, False to stay."""
        if not self.document.modified:
            return True
        answer = self.window.ask(
            "Unsaved changes",
            f"Save the changes to '{self.document.display_name()}'?",
            Btn.Save | Btn.Discard | Btn.Cancel,
            Btn.Save,
            "Your changes will be lost if you don't save them.",
        )
        if answer == Btn.Save:
            return self.window.save()
        return answer == Btn.Discard

    # ------------------------------------------------------------------ new / open
    def new_file(self) -> bool:
        w = self.window
        if not w.editing_enabled or not self.maybe_save():
            return False
        graph = w.choose_new_network()
        if graph is None:
            return False
        self.document.replace(graph, None)
        w.recovery.discard()
        QTimer.singleShot(0, w.fit_readable)
        return True

    def open_file(self, path: str | Path | None = None) -> bool:
        """Open a project. A file that fails to load shows the loader's message and leaves the
        current network untouched."""
        if not self.window.editing_enabled:
            return False
        if path is None:
            if not self.maybe_save():
                return False
            path = self.window.get_open_path()
            if not path:
                return False
        else:
            if str(path).lower().endswith(".onnx"):
                return self.open_onnx(path)
            graph = self.load_or_report(path)
            if graph is None or not self.maybe_save():
                return False
            return self._show_loaded(graph, path)
        if str(path).lower().endswith(".onnx"):
            return self.open_onnx(path, asked=True)
        graph = self.load_or_report(path)
        if graph is None:
            return False
        return self._show_loaded(graph, path)

    def open_graph(self, graph: Graph, message: str = "") -> bool:
        """A network made elsewhere (File > Import > PyTorch code) as a new, unsaved document,
        after the unsaved-changes question. False when the user kept the current one."""
        w = self.window
        if not w.editing_enabled or not self.maybe_save():
            return False
        self.document.replace(graph, None, modified=True)
        w.recovery.discard()
        QTimer.singleShot(0, w.fit_readable)
        if message:
            w.show_message(message)
        return True

    def open_onnx(self, path, asked: bool = False) -> bool:
        """An ONNX model (compiler/onnx_import.py) as a new, unsaved document. Its weights are
        written to ``<studio home>/imported/<name>-<hash>.safetensors``, named in the graph's
        ``meta.initial_weights`` (kept when the project is saved, and applied again when it is
        opened), attached for File > Export, and the next run (F5) starts from them
        (:meth:`start_from_weights`).
        A file that cannot be imported shows the importer's message (every unsupported operator)
        and leaves the current network untouched. ``asked``: the unsaved-changes question was put."""
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        w = self.window
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            from ..compiler.onnx_import import OnnxImportError, import_onnx

            imp = import_onnx(path)
            weights = _imported_weights_path(Path(path))
            from ..compiler.export import export_safetensors

            export_safetensors(imp.state, weights, {"name": imp.graph.name, "graph": imp.graph.to_config(), "source": Path(path).name})
        except (OnnxImportError, ProjectFileError) as e:
            QApplication.restoreOverrideCursor()
            w.inform("Cannot open ONNX model", str(e))
            return False
        except Exception as e:  # a write failure of the weights (full disk, read-only home) and the like
            QApplication.restoreOverrideCursor()
            w.inform("Cannot open ONNX model", f"{Path(path).name}: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
            return False
        QApplication.restoreOverrideCursor()
        graph = imp.graph
        graph.meta["imported_from"] = str(Path(path).resolve())
        graph.meta["initial_weights"] = str(weights)
        if not asked and not self.maybe_save():  # asked: the question was put before the file dialog
            return False
        self.document.replace(graph, None, modified=True)
        w.recovery.discard()
        QTimer.singleShot(0, w.fit_readable)
        w.show_message(f"Opened {Path(path).name} as a new network ({len(graph.nodes)} layers); its weights start "
                       "training (F5), and File > Export uses them")
        w.exchange.attached = (w.state.generation, imp.state, f"{Path(path).name} (the ONNX model's weights)")
        self.start_from_weights(str(weights))
        self.add_recent(str(Path(path).resolve()))
        return True

    def start_from_weights(self, path: str) -> bool:
        """Make the next run (F5) of the open network start from ``path`` as Network > Initialise
        from weights… does once its report is applied (app/transfer.py: ``init_from`` with the
        tensors that fit, a status-bar mark "Starts from …"). False when nothing fits or the
        feature is absent; the document stays as it is either way."""
        w = self.window
        transfer = getattr(w, "transfer", None)
        if transfer is None or not Path(path).is_file() or not w.document.analysis.ok:
            return False
        try:
            from ..training.init_weights import init_report

            report = init_report(w.graph, path)
        except Exception:  # unreadable now (deleted, damaged): the network opens without them
            return False
        if not report.matched:
            return False
        try:
            transfer._apply(w.state.generation, report)
        except Exception:  # the network opens either way; Network > Initialise from weights… remains
            return False
        return True

    def load_or_report(self, path) -> Graph | None:
        try:
            return load_project(path)
        except ProjectFileError as e:
            self.window.inform("Cannot open project", str(e))
            if not Path(path).exists():
                self.forget_recent(str(Path(path).resolve()))
            return None

    def _show_loaded(self, graph: Graph, path) -> bool:
        w = self.window
        path = Path(path).resolve()
        self.document.replace(graph, path)
        w.recovery.discard()
        self.add_recent(str(path))
        self.settings.setValue("last_dir", str(path.parent))
        QTimer.singleShot(0, w.fit_readable)
        w.show_message(f"Opened {path}")
        init = (graph.meta or {}).get("initial_weights")
        if isinstance(init, str) and init and self.start_from_weights(init):  # an imported model's weights
            w.show_message(f"Opened {path}; the next run starts from {Path(init).name}")
        return True

    # ------------------------------------------------------------------ save / revert
    def save(self) -> bool:
        if self.document.path is None:
            return self.window.save_as()
        return self._save_to(None)

    def save_as(self, path: str | Path | None = None) -> bool:
        if path is None:
            path = self.window.get_save_path()
            if not path:
                return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path | None) -> bool:
        w = self.window
        try:
            target = self.document.save(path)
        except ProjectFileError as e:
            w.inform("Cannot save project", str(e))
            return False
        w.recovery.discard()
        self.add_recent(str(target.resolve()))
        self.settings.setValue("last_dir", str(target.resolve().parent))
        w.show_message(f"Saved {target}")
        return True

    def revert(self) -> bool:
        doc = self.document
        if doc.path is None or not doc.modified:
            return False
        answer = self.window.ask("Revert", f"Discard your changes and reload '{doc.path.name}'?", Btn.Yes | Btn.Cancel, Btn.Cancel)
        if answer != Btn.Yes:
            return False
        graph = self.load_or_report(doc.path)
        if graph is None:
            return False
        doc.replace(graph, doc.path)
        self.window.recovery.discard()
        return True

    # ------------------------------------------------------------------ recent files
    def recent_files(self) -> list[str]:
        v = self.settings.value("recent_files", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or [])]

    def add_recent(self, path: str) -> None:
        files = [p for p in self.recent_files() if p != path]
        files.insert(0, path)
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self.settings.sync()

    def forget_recent(self, path: str) -> None:
        self.settings.setValue("recent_files", [p for p in self.recent_files() if p != path])

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

        w = self.window
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.saved_at))
        answer = w.ask(
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
                w.inform("Cannot recover", str(e))
            else:
                orig = newest.original_path
                self.document.replace(graph, Path(orig) if orig else None, modified=True)
                w.recovery.save_now()
                QTimer.singleShot(0, w.fit_readable)
                restored = True
        newest.remove()
        return restored
