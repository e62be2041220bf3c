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

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox, QStyle

from ..core.errors import ProjectFileError, StudioError
from ..core.graph import Graph
from ..core.project import SUFFIX, load_project
from .autosave import find_orphans

MAX_RECENT = 8
#: File > Open's filters: first everything Open accepts (its default), then each type alone
OPEN_FILTER = (f"All supported (*{SUFFIX} *.onnx);;CNN Studio projects (*{SUFFIX});;ONNX models (*.onnx);;"
               "All files (*)")
#: File > Save / Save As: a project is saved only as a project file
SAVE_FILTER = f"CNN Studio projects (*{SUFFIX})"
FILE_FILTER = OPEN_FILTER  # the old name (the Open dialog's)
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


#: data files the Data panel reads (its file chooser's filter); a dropped folder is always data
DATA_SUFFIXES = (".npz", ".csv", ".gz", ".bin")
CAN_DROP = ("a project (.cnnstudio), an ONNX model (.onnx), or training data (an image folder with one "
            "subfolder per class, a folder of IDX or CIFAR files, a .csv or .npz file)")


def drop_kind(path: str) -> str:
    """What a file dropped on the window is: ``project``, ``onnx``, ``data``, ``python`` or ``other``."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(SUFFIX):
        return "project"
    if name.endswith(".onnx"):
        return "onnx"
    if p.is_dir() or name.endswith(DATA_SUFFIXES) or "-ubyte" in name:
        return "data"
    if name.endswith(".py"):
        return "python"
    return "other"


def dropped_paths(mime) -> list[str]:
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def _open_onnx_job(path: Path):
    """The worker-thread part of File > Open of a .onnx (app/inspect/jobs.py job): import it, write
    its weights to the studio home. Returns (OnnxImport, weights path)."""

    def job(progress, cancel):
        from ..compiler.export import export_safetensors
        from ..compiler.onnx_import import OnnxImportCancelled, OnnxImportError, import_onnx

        imp = import_onnx(path, cancel=cancel, progress=progress)
        if cancel.is_set():
            raise OnnxImportCancelled(path.name)
        progress(95, 100, f"writing the weights of {path.name}…")
        try:
            weights = _imported_weights_path(path)
            export_safetensors(imp.state, weights, {"name": imp.graph.name, "graph": imp.graph.to_config(), "source": path.name})
        except StudioError:
            raise
        except Exception as e:  # a write failure of the weights (full disk, read-only home) and the like
            raise OnnxImportError(f"{path.name}: its weights cannot be written ({type(e).__name__}: {' '.join(str(e).split())[:300]})") from None
        return imp, weights

    return job


class ProjectFiles(QObject):
    onnx_finished = Signal(bool)  # File > Open of a .onnx ended: True when the model was opened

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.onnx_opening: str | None = None  # the .onnx being imported, while it is
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
    def _still_opening(self) -> bool:
        """A .onnx is being imported: no other network replaces the document meanwhile."""
        if self.onnx_opening is None:
            return False
        self.window.show_message(f"{Path(self.onnx_opening).name} is being opened; wait for it, or cancel it")
        return True

    def new_file(self) -> bool:
        w = self.window
        if self._still_opening() or not w.editing_enabled or not self.maybe_save():
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
        if not self.window.editing_enabled or self._still_opening():
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
        """An ONNX model (compiler/onnx_import.py) as a new, unsaved document. The import (parse,
        weights, the onnxruntime check) runs in File > Export's worker thread under its non-modal
        progress dialog, whose Cancel stops it and leaves the current network as it was. The
        unsaved-changes question comes first (``asked``: it was put already); if the network is
        edited or replaced while the import runs, it is asked again at the end. Returns True when
        the import started; :attr:`onnx_finished` tells how it ended.

        The model's weights are written to ``<studio home>/imported/<name>-<hash>.safetensors``,
        named in the graph's ``meta.initial_weights`` (kept when the project is saved, and applied
        again when it is opened), attached for File > Export, and the next run (F5) starts from them
        (:meth:`start_from_weights`). A file that cannot be imported shows the importer's message
        (every unsupported operator)."""
        w = self.window
        exchange = w.exchange
        name = Path(path).name
        if exchange.busy:
            w.show_message(f"Cannot open {name} now: an import or export is running; wait for it, or cancel it")
            return False
        if not asked and not self.maybe_save():
            return False
        exchange.prepare_torch("onnx")  # torch and onnx are first imported in the GUI thread
        from ..compiler import onnx_import  # noqa: F401

        snapshot = self._document_snapshot()
        self.onnx_opening = str(path)
        exchange.start_job(f"Opening {name}", _open_onnx_job(Path(path)),
                        lambda result: self._onnx_done(path, result, snapshot), lambda m, d: self._onnx_failed(path, m))
        return True

    def _document_snapshot(self) -> tuple:
        doc = self.document
        return self.window.state.generation, doc.undo_stack.index(), doc.modified

    def _onnx_failed(self, path, message: str) -> None:
        self.onnx_opening = None
        self.window.activateWindow()  # the progress dialog had the keyboard; the window takes it back
        if message.startswith("cancelled"):
            self.window.show_message(f"Opening {Path(path).name} was cancelled; the network is unchanged")
        else:
            self.window.inform("Cannot open ONNX model", message)
        self.onnx_finished.emit(False)

    def _onnx_done(self, path, result, snapshot) -> None:
        self.onnx_opening = None
        self.window.activateWindow()  # the progress dialog had the keyboard (F5 goes to the window)
        ok = self._show_onnx(path, result, snapshot)
        self.onnx_finished.emit(ok)

    def _show_onnx(self, path, result, snapshot) -> bool:
        imp, weights = result
        w = self.window
        name = Path(path).name
        if not w.editing_enabled:  # a run started while the model was read
            w.inform("Cannot open ONNX model", f"{name} was read, but the network is locked while a run goes; stop it and open the file again.")
            return False
        if self._document_snapshot() != snapshot and not self.maybe_save():  # edited meanwhile: ask again
            w.show_message(f"{name} not opened: the current network was kept")
            return False
        graph = imp.graph
        graph.meta["imported_from"] = str(Path(path).resolve())
        graph.meta["initial_weights"] = str(weights)
        self.document.replace(graph, None, modified=True)
        w.recovery.discard()
        QTimer.singleShot(0, w.fit_readable)
        w.show_message(f"Opened {name} as a new network ({len(graph.nodes)} layers); its weights start "
                       "training (F5), and File > Export uses them")
        w.exchange.attached = (w.state.generation, imp.state, f"{name} (the ONNX model's weights)")
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

    # ------------------------------------------------------------------ files dropped on the window
    def drag_enter(self, event) -> None:
        """Any local file or folder may be dropped (what cannot be opened is said on the drop)."""
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event) -> None:
        """A project or an ONNX model opens as File > Open does (the unsaved-changes question
        first); a data folder or file goes to the Data panel (``window.folder_dropped``, as before);
        anything else gets one status-bar line saying what can be dropped. Several files: the first
        that can be opened; dialogs run after the drop has returned to the window system."""
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        w = self.window
        kinds = [(p, drop_kind(p)) for p in paths]
        path, kind = next(((p, k) for p, k in kinds if k in ("project", "onnx", "data")), kinds[0])
        if kind in ("project", "onnx"):
            QTimer.singleShot(0, lambda: w.open_file(path))
        elif kind == "data":
            w.folder_dropped.emit(path)
        elif kind == "python":
            w.show_message(f"{Path(path).name} is Python code: File > Import > PyTorch Code… brings in an nn.Module "
                           f"class from it; drop {CAN_DROP}", 12_000)
        else:
            w.show_message(f"Cannot open {Path(path).name} by dropping it; drop {CAN_DROP}", 12_000)

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
        if doc.path is None or not doc.modified or self._still_opening():
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
