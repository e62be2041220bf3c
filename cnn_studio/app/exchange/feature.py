"""File > Export and File > Import in the main window.

Export writes the open network in one of the engine's five formats (``compiler.export.export``,
as ``cnn-studio export``), with the weights the user picks: fresh (untrained, seed 0), the weights
imported into this network, or the trained weights of the run the views show
(``window.state.source``: its run folder and best/last weights). The written file is then loaded
back and run (verify.py) and the largest output difference against the app's model is reported.

Import brings PyTorch code (file + class + input shape, ``compiler.importer``) in as a new document
through ``ProjectFiles.open_graph`` (the unsaved-changes question first), with the module's weights
attached to it; or a weights file into the open network, with a report of matched, missing,
unexpected and mismatched keys. Unsupported operations are listed in one dialog.

Long steps run in a worker thread (app/inspect/jobs.py ``JobRunner``: quit and wait on close) under
a progress dialog that can cancel them. torch is imported only when an action runs (in the GUI
thread first, as training does: a first import inside a worker thread can deadlock under PySide6).
Dialogs go through ``ask_export``, ``ask_import_code`` and ``get_weights_path`` here and the window's
``inform``, which tests replace.
"""
from __future__ import annotations

import keyword
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from ..inspect.jobs import JobRunner
from .dialogs import FORMATS, SHAPE_RE, ExportDialog, ImportCodeDialog
from .ops import FRESH, IMPORTED, RUN, ExportRequest, WeightsChoice, export_job, import_code_job, import_weights_job, unsupported_items

log = logging.getLogger("cnn_studio.app.exchange")
Icon = QMessageBox.Icon
SHOW = 12  # keys listed per kind in the weights report


def _listed(items: list[str], n: int = SHOW) -> str:
    more = f"\n  … and {len(items) - n} more" if len(items) > n else ""
    return "".join(f"\n  • {i}" for i in items[:n]) + more


class ExchangeFeature(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.runner = JobRunner(self, "cnn-studio-exchange")
        self.progress: QProgressDialog | None = None  # the progress dialog, while a job runs
        self._progress_dialog: QProgressDialog | None = None
        self.attached: tuple[int, dict, str] | None = None  # (document generation, state_dict, origin)
        self.last_outcome = None  # the last export's ExportOutcome (tests, status)
        self.last_report = None  # the last weights import's WeightsReport

        fm = window.file_menu
        self.import_menu = fm.addMenu("&Import")
        self.act_import_code = self._action(self.import_menu, "&PyTorch Code…", self.import_code, "Import an nn.Module class from a Python file as a new network")
        self.act_import_weights = self._action(self.import_menu, "&Weights…", self.import_weights, "Load a state_dict or safetensors file into this network (for export)")
        self.export_menu = fm.addMenu("&Export")
        self.export_actions: dict[str, QAction] = {}
        for fmt, (text, _suffix, _filt) in FORMATS.items():
            self.export_actions[fmt] = self._action(self.export_menu, text, lambda f=fmt: self.export(f), f"Export the network as {text.replace('&', '').rstrip('…')}")
        self.export_menu.addSeparator()
        self.act_report = self._action(self.export_menu, "Run &Report (HTML)…", self.save_report, "Write a one-file HTML report of the run the views show")
        quit_act = getattr(window, "act_quit", None)
        if quit_act is not None:  # File: ... Import, Export, then Quit last
            fm.removeAction(self.import_menu.menuAction())
            fm.removeAction(self.export_menu.menuAction())
            fm.insertMenu(quit_act, self.import_menu)
            fm.insertMenu(quit_act, self.export_menu)
            fm.insertSeparator(quit_act)
        window.state.document_changed.connect(self._on_document_changed)
        self.runner.busy_changed.connect(self._on_busy_changed)
        self.runner.progress.connect(self._on_progress)

    def _action(self, menu, text, slot, tip) -> QAction:
        a = menu.addAction(text)
        a.setStatusTip(tip)
        a.triggered.connect(lambda *_: slot())
        return a

    # ------------------------------------------------------------------ overridable dialogs
    def ask_export(self, fmt: str, offers: list[tuple[str, str, bool]], default_kind: str, default_path: str) -> ExportRequest | None:
        dlg = ExportDialog(fmt, offers, default_kind, default_path, self.window)
        if dlg.exec() != ExportDialog.DialogCode.Accepted:
            return None
        return dlg.result_request()

    def ask_import_code(self) -> tuple[str, str, str] | None:
        dlg = ImportCodeDialog(self.window._last_dir(), self.window)
        if dlg.exec() != ImportCodeDialog.DialogCode.Accepted:
            return None
        return dlg.result_values()

    def get_report_path(self, default_path: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save the run report", default_path, "HTML files (*.html);;All files (*)")
        if path and not Path(path).suffix:
            path += ".html"
        return path or None

    def get_weights_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import weights", self.window._last_dir(), "Weights (*.safetensors *.pt *.pth);;All files (*)")
        return path or None

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        return self.runner.busy

    def attached_weights(self) -> tuple[dict, str] | None:
        """The weights imported into the open network (File > Import), while it is the same document."""
        if self.attached is None or self.attached[0] != self.window.state.generation:
            return None
        return self.attached[1], self.attached[2]

    def _on_document_changed(self, *_):
        if self.attached is not None and self.attached[0] != self.window.state.generation:
            self.attached = None

    def _on_busy_changed(self, busy: bool) -> None:
        for a in [self.act_import_code, self.act_import_weights, self.act_report, *self.export_actions.values()]:
            a.setEnabled(not busy)

    def _run_offer(self) -> tuple[str, str, bool, str]:
        """(run_dir, weights, recover, label) of the run the views show, or ('', '', False, why not)."""
        src = self.window.state.source
        if src.kind not in ("run", "live") or not src.run_dir:
            return "", "", False, "trained weights: no run is shown (train, or open a run)"
        ckpt = Path(src.run_dir) / "checkpoints"
        live = src.kind == "live"
        weights = "last" if live else (src.weights if src.weights in ("best", "last") else "best")
        if not ((ckpt / "best.pt").is_file() or (ckpt / "last.pt").is_file()):
            return "", "", False, f"trained weights of run {src.run_name}: none saved yet"
        what = "last saved weights (training)" if live else f"{weights} weights"
        return src.run_dir, weights, not live, f"trained: run {src.run_name}, {what} (the run's network)"

    def prepare_torch(self, fmt: str | None = None) -> None:
        """Import what the job will use in the GUI thread (once; a wait cursor meanwhile)."""
        from ..cursor import wait_cursor
        from ..training.worker import prepare_torch

        with wait_cursor():
            prepare_torch()
            from ...compiler import export, importer  # noqa: F401

            if fmt == "onnx":
                import torch.onnx  # noqa: F401

                for name in ("onnx", "onnxscript", "onnxruntime"):
                    try:
                        __import__(name)
                    except ImportError:
                        pass

    # ------------------------------------------------------------------ progress
    def _dialog(self) -> QProgressDialog:
        """One progress dialog, made once and reused (never deleted while a signal may reach it).
        Not modal: a modal QProgressDialog's setValue runs the event loop, which delivered the
        job's end, and so the dialog's close, inside its own setValue (a crash). The window stays
        usable; the actions that would start another job are disabled meanwhile (busy_changed)."""
        if self._progress_dialog is None:
            dlg = QProgressDialog("", "Cancel", 0, 0, self.window)
            dlg.setWindowModality(Qt.WindowModality.NonModal)
            dlg.setMinimumDuration(0)
            dlg.setAutoClose(False)
            dlg.setAutoReset(False)
            dlg.canceled.connect(self.cancel)
            dlg.hide()
            self._progress_dialog = dlg
        return self._progress_dialog

    def start_job(self, title: str, job, on_done, on_failed) -> None:
        dlg = self._dialog()
        dlg.reset()
        dlg.setWindowTitle(title)
        dlg.setLabelText(title)
        dlg.setRange(0, 0)
        self.progress = dlg

        def finish():
            self.progress = None
            dlg.hide()

        def done(result):
            finish()
            on_done(result)

        def failed(message, details):
            finish()
            on_failed(message, details)

        dlg.show()
        self.runner.submit(job, done, failed, key="exchange")

    def _on_progress(self, key: str, done: int, total: int, message: str) -> None:
        dlg = self.progress
        if dlg is None or key != "exchange":
            return
        if message:
            dlg.setLabelText(message)
        dlg.setRange(0, max(total, 0))
        dlg.setValue(min(done, total))

    def cancel(self) -> None:
        """Cancel the running step (the progress dialog's Cancel button)."""
        if self.progress is not None:
            self.progress.setLabelText("Cancelling…")
        self.runner.cancel("exchange")

    def wait_idle(self, timeout_ms: int = 120_000) -> bool:
        return self.runner.wait_idle(timeout_ms)

    def shutdown(self) -> None:
        self.runner.shutdown()

    # ------------------------------------------------------------------ export
    def export(self, fmt: str) -> bool:
        """File > Export > ``fmt``: ask the options, write in the background, check, report."""
        w = self.window
        if self.busy:
            return False
        run_dir, run_weights, recover, run_label = self._run_offer()
        attached = self.attached_weights()
        offers = [
            (FRESH, "untrained: freshly initialised (seed 0)", True),
            (IMPORTED, f"imported: {attached[1]}" if attached else "imported weights: none (File > Import > Weights…)", attached is not None),
            (RUN, run_label, bool(run_dir)),
        ]
        default = RUN if run_dir else (IMPORTED if attached else FRESH)
        name = (w.document.graph.name or w.document.display_name() or "network").strip() or "network"
        stem = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name).strip("_").lower() or "network"
        if stem[0].isdigit():
            stem = "net_" + stem
        default_path = str(Path(w._last_dir()) / (stem + FORMATS[fmt][1]))
        req = self.ask_export(fmt, offers, default, default_path)
        if req is None:
            return False
        if not req.path:
            w.inform("Cannot export", "Give the file to write.")
            return False
        if Path(req.path).is_dir():
            w.inform("Cannot export", f"'{req.path}' is a folder; give a file name.")
            return False
        if not Path(req.path).parent.is_dir():
            w.inform("Cannot export", f"The folder '{Path(req.path).parent}' does not exist; choose an existing folder.")
            return False
        if req.weights == RUN and not run_dir:
            w.inform("Cannot export", "No run with saved weights is shown; train the network or open a run, or export it untrained.")
            return False
        if req.weights == IMPORTED and attached is None:
            w.inform("Cannot export", "No weights were imported into this network (File > Import > Weights…).")
            return False
        if req.weights != RUN and not w.document.analysis.ok:
            n = len(w.document.analysis.errors)
            w.inform("Cannot export", f"The network has {n} error{'s' if n != 1 else ''} (see Issues); fix {'them' if n != 1 else 'it'} first.")
            return False
        choice = WeightsChoice(
            w.document.graph.to_config(), run_dir or None, run_weights or "best",
            attached[0] if attached else None, attached[1] if attached else "", recover=recover,
        )
        self.prepare_torch(fmt)
        self.start_job(f"Exporting {Path(req.path).name}", export_job(req, choice), lambda out: self._export_done(req, out), self._export_failed)
        return True

    def _export_done(self, req: ExportRequest, out) -> None:
        self.last_outcome = out
        w = self.window
        files = "\n".join(f"  {f}" for f in out.files)
        v = out.verification
        text = f"Wrote\n{files}\n\n" + "\n".join(out.notes)
        if v is not None:
            text += f"\n\n{'✔' if v.ok else '✖'} {v.message}"
        w.show_message(f"Exported {Path(out.files[0]).name}" + (f": {v.message}" if v is not None else ""), 10_000)
        ok = v is None or v.ok
        w.inform("Exported" if ok else "Exported, but the check failed", text, Icon.Information if ok else Icon.Warning)

    def _export_failed(self, message: str, details: str) -> None:
        self.last_outcome = None
        if message == "cancelled" or "Cancelled" in message:
            self.window.show_message("Export cancelled; nothing was written")
            return
        self.window.inform("Export failed", message, Icon.Warning)

    # ------------------------------------------------------------------ report
    def save_report(self) -> bool:
        """File > Export > Run Report: inspection/report.py's HTML report of the run shown (as
        ``cnn-studio report``), written in the background (its feature maps load the weights)."""
        w = self.window
        src = w.state.source
        if self.busy:
            return False
        if src.kind != "run" or not src.run_dir:
            why = "the run is still training; wait for it to end" if src.kind == "live" else "no run is shown; train the network or open a run (Runs dock)"
            w.inform("No run to report", f"A report is made of a finished run: {why}.")
            return False
        path = self.get_report_path(str(Path(w._last_dir()) / f"{src.run_name}-report.html"))
        if not path:
            return False
        run_dir = src.run_dir

        def job(progress, cancel):
            from ...inspection.report import write_report

            progress(0, 1, f"writing the report of {Path(run_dir).name}…")
            return str(write_report(run_dir, path))

        self.prepare_torch()
        self.start_job(f"Report of {src.run_name}", job, self._report_done, lambda m, d: m == "cancelled" or w.inform("Cannot write the report", m, Icon.Warning))
        return True

    def _report_done(self, path: str) -> None:
        self.window.show_message(f"Wrote the report {path}", 10_000)
        self.window.inform("Report written", f"Wrote\n  {path}", Icon.Information)

    # ------------------------------------------------------------------ import code
    def import_code(self) -> bool:
        """File > Import > PyTorch code: the module as a new document, its weights attached."""
        w = self.window
        if self.busy:
            return False
        if not w.editing_enabled:
            w.inform("Cannot import now", "The network is read-only while a run goes; stop it or wait for it to end.")
            return False
        answer = self.ask_import_code()
        if answer is None:
            return False
        path, cls, shape = answer
        if not path or not Path(path).is_file():
            w.inform("Cannot import", f"'{path}' is not a file; choose the Python file (.py) that defines the network." if path else "Choose the Python file (.py) that defines the network.")
            return False
        if not cls.isidentifier() or keyword.iskeyword(cls):
            w.inform("Cannot import", f"'{cls}' is not a class name; give the name of the nn.Module class in {Path(path).name}.")
            return False
        if not SHAPE_RE.match(shape):
            w.inform("Cannot import", f"'{shape}' is not an input shape; give channels x height x width, e.g. 3x32x32.")
            return False
        self.prepare_torch()
        self.start_job(f"Importing {cls} from {Path(path).name}", import_code_job(path, cls, shape), self._code_done, self._code_failed)
        return True

    def _code_done(self, imp) -> None:
        w = self.window
        from ...core.analysis import analyze

        a = analyze(imp.graph)
        msg = f"Imported {imp.class_name} from {Path(imp.path).name}: {len(imp.graph.nodes)} layers, {a.total_params:,} parameters"
        if not w.files.open_graph(imp.graph, msg):
            w.show_message("Import not opened: the current network was kept")
            return
        self.attached = (w.state.generation, imp.state, f"{Path(imp.path).name} ({imp.class_name}'s weights)")

    def _code_failed(self, message: str, details: str) -> None:
        if message == "cancelled":
            self.window.show_message("Import cancelled")
            return
        items = unsupported_items(message)
        if items:
            head = message.split(": ", 1)[0]  # "cannot import Name"
            text = f"{head[0].upper() + head[1:]}: {len(items)} unsupported operation{'s' if len(items) != 1 else ''}:{_listed(items, 50)}\n\nRewrite those with supported layers (see docs/export.md), or build the network in CNN Studio."
            self.window.inform("Cannot import this module", text, Icon.Warning, message)
        else:
            self.window.inform("Cannot import this module", message, Icon.Warning)

    # ------------------------------------------------------------------ import weights
    def import_weights(self) -> bool:
        """File > Import > Weights: match a weights file to the open network; report the keys."""
        w = self.window
        if self.busy:
            return False
        path = self.get_weights_path()
        if not path:
            return False
        if not w.document.analysis.ok:
            w.inform("Cannot import weights", "The network has errors (see Issues); fix them first.")
            return False
        self.prepare_torch()
        gen = w.state.generation
        self.start_job(f"Importing {Path(path).name}", import_weights_job(w.document.graph.to_config(), path), lambda rep: self._weights_done(gen, rep), self._weights_failed)
        return True

    def _weights_done(self, generation: int, rep) -> None:
        self.last_report = rep
        w = self.window
        name = Path(rep.path).name
        counts = f"{len(rep.matched)} matched, {len(rep.missing)} missing, {len(rep.unexpected)} unexpected, {len(rep.mismatched)} with a different shape"
        lists = ""
        for label, items in (("Missing (the network has them, the file does not)", rep.missing), ("Unexpected (in the file, not in the network)", rep.unexpected), ("Different shape", rep.mismatched)):
            if items:
                lists += f"\n\n{label}:{_listed(items)}"
        if rep.ok and generation == w.state.generation:
            self.attached = (generation, rep.state, name)
            w.show_message(f"Weights {name} imported: {counts}")
            w.inform("Weights imported", f"{name} fits this network: {counts}.{lists}\n\nFile > Export can now write the network with these weights.", Icon.Information)
        elif rep.ok:
            w.inform("Weights not imported", f"{name} was read, but another network was opened meanwhile; import it again.", Icon.Warning)
        else:
            w.inform("Weights do not fit this network", f"{name}: {counts}.{lists}\n\nNothing was imported; check that the file belongs to this network, input shape and class count.", Icon.Warning, rep.error)

    def _weights_failed(self, message: str, details: str) -> None:
        if message != "cancelled":
            self.window.inform("Cannot import weights", message, Icon.Warning)
