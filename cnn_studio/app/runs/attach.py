"""The Runs dock in the main window: which folders are listed, when they are listed again, and what
each action does.

Listing: the open project's runs (``<project stem>_runs/`` beside the saved file, where the app
writes them: ``TrainingFeature.run_root``) and ``studio_home()/runs``, by ``core.runs.scan_runs``
(standard library only, no torch; cached on the files' stamps, so a warm list only stats files:
500 folders in ~0.04 s, ``benchmarks/runs_list.py``), in the GUI thread. The first scan comes just
after the window is up (a cold scan is kept off the start-up path). It is repeated, debounced, when
a watched folder changes (a run folder made or removed, by the app or the command line), when the
window is activated again, at each epoch of the app's run and when it starts or ends, and every few
seconds while a listed run is being written by another process.

Actions: Show (double-click: ``AppState.show_run`` with the chosen weights, so every view shows
the run, named), Open network (its graph as a new document, after the unsaved-changes question),
Compare, Continue (to more epochs, as ``cnn-studio train --resume``), Train from weights (a new run of
the current network initialised from this run's best.pt: ``TrainConfig.init_from``), Star, Rename, Note, Delete
(to the trash, else after a confirmation). Questions go through the window's ``ask``/``inform``
and the small ``ask_text``/``ask_note``/``ask_epochs`` methods here, which tests replace.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QFile, QFileSystemWatcher, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QMessageBox

from ...core.paths import studio_home
from ..visibility import on_screen
from .compare import CompareView
from .model import field, run_path
from .view import RunsView

log = logging.getLogger("cnn_studio.app.runs")
Btn = QMessageBox.StandardButton

FIRST_SCAN_MS = 300  # once the window is up: a cold scan of many folders is not on the start-up path
DEBOUNCE_MS = 250
POLL_RUNNING_MS = 3000  # a run written by another process: its row follows it


def _state(info) -> str:
    return str(field(info, "status", default="")).split(":", 1)[0]


class RunsFeature(QObject):
    rows_changed = Signal()  # a scan's rows are on screen

    def __init__(self, window, training) -> None:
        super().__init__(window)
        self.window = window
        self.training = training
        self.view = RunsView()
        self.compare = CompareView()
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.dock = window.add_panel(self.view, "Runs", bottom, tabify_with="Summary", object_name="RunsDock")
        self.compare_dock = window.add_panel(self.compare, "Compare runs", bottom, tabify_with="Runs", object_name="CompareRunsDock")
        self.scans = 0  # scans whose rows were shown (tests wait on it)
        self._scanned_once = False
        self._closed = False
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda *_: self.schedule_refresh())
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_RUNNING_MS)
        self._poll.timeout.connect(self._on_poll_timeout)

        v = self.view
        v.run_activated.connect(lambda path: self.show_run(path))
        v.act_show.triggered.connect(lambda *_: self.show_run())
        v.act_compare.triggered.connect(lambda *_: self.compare_selected())
        v.act_continue.triggered.connect(lambda *_: self.continue_run())
        v.act_train_from.triggered.connect(lambda *_: self.train_from_run())
        v.act_open_network.triggered.connect(lambda *_: self.open_network())
        v.act_star.triggered.connect(lambda *_: self.toggle_star())
        v.act_rename.triggered.connect(lambda *_: self.rename())
        v.act_note.triggered.connect(lambda *_: self.edit_note())
        v.act_delete.triggered.connect(lambda *_: self.delete_selected())
        v.act_refresh.triggered.connect(lambda *_: self.refresh())
        v.on_dock_shown = self._on_dock_shown  # called by watch_dock when the tab comes forward

        window.document.path_changed.connect(self.schedule_refresh)
        window.state.running_changed.connect(lambda *_: self.schedule_refresh())
        if training is not None:
            training.panel.run_started.connect(self.schedule_refresh)
            training.panel.epoch_done.connect(self._on_epoch_done)
        window.installEventFilter(self)
        window.close_guards.append(self._close_guard)
        QTimer.singleShot(FIRST_SCAN_MS, self, self._first_scan)

    # ------------------------------------------------------------------ listing
    def folders(self) -> list[Path]:
        """The open project's runs folder (when saved), then the studio home's runs."""
        out = []
        if self.training is not None:
            out.append(Path(self.training.run_root()))
        home = studio_home() / "runs"
        if home not in out:
            out.append(home)
        return out

    def _first_scan(self) -> None:
        if not self._scanned_once and not self._closed:
            self.refresh()

    def _on_dock_shown(self) -> None:
        if not self._scanned_once or self._stale:
            self.refresh()

    _stale = False

    def _on_epoch_done(self, *_) -> None:
        # a live run's row (its epochs, its best) follows each epoch while the list can be seen; in
        # a hidden tab the list is marked stale and scanned when its tab comes forward: a scan and
        # a table refill each epoch took ~13 ms of the GUI thread, ~1 % of a core in a run of
        # 1-second epochs (benchmarks/app_training.py)
        if on_screen(self.view):
            self.schedule_refresh()
        else:
            self._stale = True

    def schedule_refresh(self, *_) -> None:
        if not self._closed and self._scanned_once:
            self._debounce.start()

    def refresh(self) -> None:
        """List the folders again (in the worker thread); the rows replace the table's when done."""
        if self._closed:
            return
        self._scanned_once = True
        self._stale = False
        from ...core.runs import scan_runs

        try:  # standard library only and cached: 500 folders in ~0.04 s warm (benchmarks/runs_list.py)
            rows = scan_runs([str(f) for f in self.folders()])
        except Exception as e:  # scan_runs never raises for a folder; anything else is a bug: say it
            self._on_scan_failed(f"{type(e).__name__}: {e}")
            return
        self._on_scan_done(rows)

    def _on_scan_done(self, rows) -> None:
        if self._closed:
            return
        self.view.set_rows(list(rows or []))
        n = len(self.view.model.rows)
        # short (it must fit a narrow dock); the folders are in the tooltip
        self.view.status.setText(f"{n} run{'s' if n != 1 else ''}")
        self.view.status.setToolTip("Runs in " + ", ".join(str(f) for f in self.folders()))
        self._watch()
        running = any(_state(r) == "running" for r in self.view.model.rows)
        live = self.window.state.running
        if running and not live:
            self._poll.start()
        else:
            self._poll.stop()
        self.scans += 1
        self.rows_changed.emit()

    def _on_scan_failed(self, message: str, details: str = "") -> None:
        if message != "cancelled":
            self.view.status.setText(f"The runs could not be listed: {message}")
            log.warning("runs scan failed: %s\n%s", message, details)

    def _watch(self) -> None:
        want = [str(f) for f in self.folders() if f.is_dir()]
        have = self.watcher.directories()
        if sorted(have) != sorted(want):
            if have:
                self.watcher.removePaths(have)
            if want:
                self.watcher.addPaths(want)

    def _on_poll_timeout(self) -> None:
        if self.window.isVisible():
            self.refresh()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window and event.type() == QEvent.Type.WindowActivate and self._scanned_once:
            self.schedule_refresh()  # runs the command line wrote while the window was in the back
        return False

    def _close_guard(self) -> bool:
        self._closed = True
        self._debounce.stop()
        self._poll.stop()
        return True

    # ------------------------------------------------------------------ helpers
    def info(self, path: str):
        r = self.view.model.row_of(path)
        return self.view.model.rows[r] if r >= 0 else None

    def _one(self, path: str | None = None):
        if path is not None:
            return self.info(path)
        infos = self.view.selected_infos()
        return infos[0] if len(infos) == 1 else None

    def _meta(self, path: str, **kw) -> bool:
        from ...core.runs import set_run_meta

        try:
            set_run_meta(path, **kw)
        except Exception as e:  # a RunsError (or a folder that vanished): say so
            self.window.inform("Cannot change the run", str(e))
            return False
        return True

    def _raise(self, *titles: str) -> None:
        for t in titles:
            dock = self.window.docks.get(t)
            if dock is not None and not dock.isHidden():
                dock.raise_()

    # overridable questions (tests replace them)
    def ask_text(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self.window, title, label, text=text)
        return value if ok else None

    def ask_note(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getMultiLineText(self.window, title, label, text)
        return value if ok else None

    def ask_epochs(self, title: str, label: str, value: int, minimum: int) -> int | None:
        n, ok = QInputDialog.getInt(self.window, title, label, value, minimum, 100000)
        return n if ok else None

    def move_to_trash(self, path: str) -> bool:
        """Qt's system trash (False where the platform or file system has none)."""
        ok = QFile.moveToTrash(path)
        return bool(ok[0] if isinstance(ok, tuple) else ok)

    # ------------------------------------------------------------------ show / open
    def show_run(self, path: str | None = None) -> bool:
        """Every view shows the run (its curves; its best or last weights, as chosen)."""
        info = self._one(path)
        if info is None:
            return False
        path = run_path(info)
        state = self.window.state
        if state.running:
            if state.source.run_dir == path:  # the run going: the views follow it already
                self._raise("Training curves")
                return True
            # the curves and maps receive the live run's points: another run cannot share them
            self.window.inform("A run is going", "The views follow the run being trained now; open this run once it ends (or stop it).")
            return False
        st = _state(info)
        ckpts = list(field(info, "checkpoints", default=[]) or [])
        if st in ("corrupt", "newer version") or not ckpts:
            why = field(info, "message", default="") or field(info, "status", default="")
            self.window.inform("Cannot show this run", f"The run '{field(info, 'name', default=path)}' has no weights to show: {why or 'no checkpoint was saved'}.")
            return False
        weights = self.view.weights()
        if weights not in ckpts:
            weights = ckpts[0]
        state.show_run(path, weights)
        self._raise("Training curves", "Evaluation")
        return True

    def open_network(self, path: str | None = None) -> bool:
        """The run's network (config.json) on the canvas as a new, unsaved document; the views show the run."""
        from ...core.errors import StudioError
        from ...core.graph import Graph

        info = self._one(path)
        if info is None:
            return False
        path = run_path(info)
        w = self.window
        if not w.editing_enabled:
            w.inform("Cannot open the network now", "The network is read-only while a run goes; stop it or wait for it to end.")
            return False
        try:
            config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
            graph = Graph.from_config(config["graph"])
        except (OSError, ValueError, KeyError, TypeError, StudioError) as e:
            w.inform("Cannot open the network of this run", f"'{Path(path) / 'config.json'}' does not hold a network this version can read ({e}).")
            return False
        if not w.maybe_save():
            return False
        w.document.replace(graph, None)
        w.recovery.discard()
        QTimer.singleShot(0, w.fit_readable)
        w.show_message(f"Opened the network of run {field(info, 'name', default=Path(path).name)}")
        if field(info, "checkpoints", default=[]):
            w.state.show_run(path, self.view.weights() if self.view.weights() in info.checkpoints else info.checkpoints[0])
        return True

    # ------------------------------------------------------------------ meta
    def toggle_star(self) -> None:
        infos = self.view.selected_infos()
        if not infos:
            return
        on = not all(field(i, "star", default=False) for i in infos)
        for i in infos:
            self._meta(run_path(i), star=on)
        self.refresh()

    def rename(self, path: str | None = None) -> bool:
        info = self._one(path)
        if info is None:
            return False
        name = self.ask_text("Rename run", "Name of this run:", str(field(info, "name", default="")))
        if name is None:
            return False
        ok = self._meta(run_path(info), name=name)
        self.refresh()
        return ok

    def edit_note(self, path: str | None = None) -> bool:
        info = self._one(path)
        if info is None:
            return False
        note = self.ask_note("Note", f"Note on run {field(info, 'name', default='')}:", str(field(info, "note", default="")))
        if note is None:
            return False
        ok = self._meta(run_path(info), note=note)
        self.refresh()
        return ok

    def delete_selected(self) -> int:
        """Move the selected run folders to the trash (else delete them after a confirmation).
        A run being trained is never deleted. Returns how many went."""
        from ...core.runs import RunsError, delete_run, is_run_folder

        infos = self.view.selected_infos()
        busy = [i for i in infos if _state(i) == "running"]
        if busy:
            self.window.inform("Cannot delete a run being trained", f"'{field(busy[0], 'name', default='')}' is being trained now; stop it first, then delete it.")
            return 0
        gone, left = 0, []
        for i in infos:
            p = run_path(i)
            if not is_run_folder(p):
                continue
            if self.move_to_trash(p):
                gone += 1
            else:
                left.append(i)
        if left:
            names = ", ".join(str(field(i, "name", default="")) for i in left[:3]) + (" …" if len(left) > 3 else "")
            answer = self.window.ask(
                "Delete runs",
                f"Delete {len(left)} run folder{'s' if len(left) != 1 else ''} for good ({names})?",
                Btn.Yes | Btn.No, Btn.No,
                "There is no trash here: the folders and their checkpoints cannot be restored.",
            )
            if answer == Btn.Yes:
                for i in left:
                    try:
                        delete_run(run_path(i))
                        gone += 1
                    except RunsError as e:
                        self.window.inform("Cannot delete the run", str(e))
                        break
        if gone:
            self.window.show_message(f"Deleted {gone} run{'s' if gone != 1 else ''}")
        self.refresh()
        return gone

    # ------------------------------------------------------------------ compare
    def compare_selected(self, paths: list[str] | None = None) -> bool:
        """Overlay the curves of two or more runs and put their settings side by side."""
        from ...core import runs as engine

        paths = paths if paths is not None else self.view.selected_paths()
        infos = [self.info(p) or engine.read_run(p) for p in paths]
        if len(infos) < 2:
            self.window.inform("Compare runs", "Select two or more runs to compare (Ctrl+click or Shift+click).")
            return False
        names = _unique_names([str(field(i, "name", default=Path(run_path(i)).name)) for i in infos])
        self.compare.set_curves([(n, engine.read_metrics(run_path(i))) for n, i in zip(names, infos)])
        try:
            rows, net = compare_rows(infos, names)
        except engine.RunsError as e:
            self.window.inform("Cannot compare these runs", str(e))
            return False
        self.compare.set_table(names, rows, net)
        self.compare_dock.show()
        self.compare_dock.raise_()
        return True

    # ------------------------------------------------------------------ train from weights
    def train_from_run(self, path: str | None = None) -> bool:
        """A new run of the current network (the canvas, the Data and Training settings) starting from
        this run's weights; weights that do not fit fail the start with the key list."""
        info = self._one(path)
        if info is None or self.training is None:
            return False
        if self.training.panel.running:
            self.window.inform("Cannot train now", "A run is going: wait for it to end or stop it first.")
            return False
        return self.training.train(init_from=run_path(info))

    # ------------------------------------------------------------------ continue
    def continue_run(self, path: str | None = None, epochs: int | None = None) -> bool:
        """Resume a stopped or finished run to more epochs, as ``cnn-studio train --resume RUN
        --epochs N`` does: the checkpoint's network, data and settings, repaired first."""
        info = self._one(path)
        w = self.window
        if info is None:
            return False
        panel = self.training.panel if self.training is not None else None
        if panel is None or panel.running:
            w.inform("Cannot continue now", "A run is going: wait for it to end or stop it first.")
            return False
        path = run_path(info)
        from ...core.runs import read_run

        info = read_run(path)  # now, not the list's last scan: a run that just ended was "running" then
        if not getattr(info, "can_resume", False):
            why = field(info, "message", default="") or field(info, "status", default="")
            w.inform("Cannot continue this run", f"The run '{field(info, 'name', default='')}' cannot be continued: {why or 'it has no last checkpoint'}.")
            return False
        done = int(field(info, "epochs_done", default=0) or 0)
        if epochs is None:
            planned = int(field(info, "epochs", default=done) or done)
            epochs = self.ask_epochs("Continue training", f"Train '{field(info, 'name', default='')}' to how many epochs in all? ({done} done)", max(done + 1, planned + (planned <= done) * max(1, planned)), done + 1)
            if epochs is None:
                return False
        from ..training.worker import prepare_torch

        prepare_torch()
        from ...core.errors import StudioError
        from ...data import DataConfig
        from ...training.checkpoint import load_checkpoint
        from ...training.recovery import repair_run
        from ...training.rundir import RunDir

        rd = RunDir(path)
        try:
            if rd.is_locked():
                raise StudioError(f"the run in '{rd.path}' is being trained now (by another process or window); wait for it to end or stop it first")
            payload = load_checkpoint(rd.last_checkpoint)
            repair_run(rd, payload)  # best.pt and metrics.csv of the epoch last.pt committed, as --resume does
            done = int(payload["progress"].get("epoch", 0))
            if epochs <= done:
                raise StudioError(f"the run already has {done} epoch(s); ask for more than {done} to continue it")
            if payload.get("data") is None:
                raise StudioError(f"the checkpoint in '{rd.path}' does not say which data it was trained on")
            data = DataConfig.from_dict(payload["data"])
            train = {**payload["train"], "epochs": int(epochs)}
        except (StudioError, OSError, ValueError, TypeError, KeyError) as e:
            w.inform("Cannot continue this run", str(e))
            return False
        panel.start_training(payload["graph"], data, str(rd.path), resume=payload, train_config=train)
        show = getattr(self.training, "_show_run_views", None)
        if show is not None:
            show()
        return True


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n} ({k + 1})")
    return out


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "×".join(str(x) for x in v) if all(isinstance(x, int) for x in v) else json.dumps(v)
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return str(v)


def compare_rows(infos, names: list[str]) -> tuple[list[tuple[str, list[str], bool]], list[str]]:
    """(label, texts per run, differs) rows of settings then results, and the lines saying how each
    run's network differs from the first's (``core.runs_compare.compare_runs``)."""
    from ...core.runs_compare import compare_runs, network_diff_lines

    cmp = compare_runs(infos)
    rows = [(str(r["key"]), [_fmt(v) for v in r["values"]], bool(r["differs"])) for part in ("settings", "results") for r in cmp[part]]
    lines = []
    for name, diff in zip(names[1:], cmp["networks"][1:]):
        lines += [f"{name} vs {names[0]}: {line}" for line in network_diff_lines(diff)]
    return rows, lines
