"""The app's one observed state: the open document, and the source whose tensors the views show.

Every view that shows numbers of a network (Feature maps, Filters, Evaluation, Inference, the
training curves and the training panel's summary) renders :attr:`AppState.source` and nothing else,
and says which network, run and weights that is, or that there is nothing to show yet.

A :class:`ViewSource` is one of

- ``nothing``: no run of the open network is shown (after start-up, New, Open, Revert, Recover);
- ``live``: the run in progress (its network as it started, live maps, per-epoch matrices);
- ``run``: a finished (or failed) run folder, with the weights it was loaded with (``best`` or
  ``last``), while loading (``status == "loading"``, no model yet) and once loaded (``ready``).

Events follow napari's evented-model rule: one typed signal per field, emitted only on a real
change, in the past tense (``document_changed``, ``source_changed``, ``running_changed``). Setting
an equal value emits nothing, so views can redraw on every event without checking.

Everything that changes what is shown goes through here: the file actions (the document's
``graph_replaced``), a run starting (``run_starting``), its network ready (``run_live``), its end
(``run_ended``), a failed start or run (``run_failed``), and choosing a run folder
(:meth:`AppState.show_run`, for a future Runs dock and for the end of a run).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

NOTHING_HINT = "Train this network (F5), or open a run"


def why_nothing(src, verb: str, live: str) -> str:
    """Why a view that needs a loaded network shows nothing for ``src`` ("Nothing to <verb> yet. ..."):
    nothing trained, a run going (``live``), a run loading, or a run without usable weights."""
    if src.kind == "nothing":
        return f"Nothing to {verb} yet. {NOTHING_HINT}."
    if src.kind == "live":
        return live
    if src.status == "loading":
        return f"Loading run {src.run_name}…"
    return f"Nothing to {verb}: {src.message or 'the run has no saved weights'}"


@dataclass(frozen=True)
class ViewSource:
    """What the views show. Immutable: a change is a new value (compared field by field; the
    model by identity)."""

    kind: str = "nothing"  # "nothing" | "live" | "run"
    network: str = ""  # the network's name (the document's, or the run's)
    run_dir: str | None = None
    weights: str = ""  # "best" | "last" for a run folder, "live" while training
    status: str = ""  # "running", "loading", "ready", "failed", "stopped" (before any weights were saved)
    message: str = ""  # why loading or the run failed
    imodel: Any = field(default=None, compare=False)
    model_id: int = 0  # id() of imodel: models compare by identity
    summary: dict | None = None  # the run's summary.json (a finished run)

    @classmethod
    def nothing(cls, network: str = "") -> ViewSource:
        return cls("nothing", network)

    @property
    def run_name(self) -> str:
        return Path(self.run_dir).name if self.run_dir else ""

    def same_run(self, other: ViewSource | None) -> bool:
        """Both show the same run folder (a live run and the same run once finished)."""
        return other is not None and self.run_dir is not None and self.run_dir == other.run_dir

    @property
    def ready(self) -> bool:
        """A network is there to compute with."""
        return self.imodel is not None

    def describe(self) -> str:
        """One line naming what is shown: network, run, weights; or what to do to see something."""
        net = self.network or "this network"
        if self.kind == "nothing":
            return f"{net}: not trained yet. {NOTHING_HINT}."
        if self.kind == "live":
            return f"{net} · run {self.run_name} · training (live)"
        if self.status == "loading":
            return f"{net} · run {self.run_name} · loading the {self.weights or 'saved'} weights…"
        if self.status == "stopped":
            return f"{net} · run {self.run_name} · {self.message or 'stopped'}"
        if self.status == "failed":
            why = f": {self.message}" if self.message else ""
            return f"{net} · run {self.run_name} · failed{why}"
        return f"{net} · run {self.run_name} · {self.weights or 'saved'} weights"


def _with_model(src: ViewSource, imodel) -> ViewSource:
    return replace(src, imodel=imodel, model_id=id(imodel) if imodel is not None else 0)


def read_summary(run_dir: str | None) -> dict | None:
    """A run folder's summary.json, or None (running, crashed, or not a run folder)."""
    if not run_dir:
        return None
    try:
        d = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def run_network_name(run_dir: str | None) -> str:
    """The network name a run folder's config.json records ("" when unreadable)."""
    if not run_dir:
        return ""
    try:
        d = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(d, dict):
        return ""
    graph = d.get("graph") if isinstance(d.get("graph"), dict) else {}
    return str(d.get("name") or graph.get("name") or "")


# A loader takes (run_dir, weights, on_done(imodel), on_failed(message)) and loads in the background.
Loader = Callable[[str, str, Callable, Callable], None]


class AppState(QObject):
    document_changed = Signal(object)  # the Document, after New / Open / Revert / Recover
    source_changed = Signal(object)  # the new ViewSource
    running_changed = Signal(bool)  # a run started (True) or ended, failed (False)

    def __init__(self, document=None, loader: Loader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.generation = 0  # bumps on every replacement of the document
        self._loader = loader
        self._source = ViewSource.nothing(self._network())
        self._running = False
        self._run_dir: str | None = None  # the run starting or going
        if document is not None:
            document.graph_replaced.connect(self.document_replaced)

    # ------------------------------------------------------------------ fields
    @property
    def source(self) -> ViewSource:
        return self._source

    @property
    def running(self) -> bool:
        return self._running

    def set_source(self, source: ViewSource) -> bool:
        """Show ``source``; emits ``source_changed`` only when it differs. True if it changed."""
        if source == self._source:
            return False
        self._source = source
        self.source_changed.emit(source)
        return True

    def _set_running(self, on: bool) -> None:
        if on != self._running:
            self._running = on
            self.running_changed.emit(on)

    def _network(self) -> str:
        doc = self.document
        return (doc.graph.name or doc.display_name()) if doc is not None else ""

    # ------------------------------------------------------------------ document
    def document_replaced(self) -> None:
        """New, Open, Revert or Recover put another network in the document: nothing of the old
        one's runs is shown any more."""
        self.generation += 1
        self.document_changed.emit(self.document)
        self.set_source(ViewSource.nothing(self._network()))

    # ------------------------------------------------------------------ runs
    def run_starting(self, run_dir: str | None) -> None:
        """A run was asked for: until its network is ready the views keep what they show (a start
        that fails leaves them, and the previous run's curves, as they were)."""
        self._run_dir = run_dir
        self._set_running(True)

    def run_live(self, run_dir: str | None, imodel=None) -> None:
        """The run's data and network are ready: the views follow it live."""
        self._run_dir = run_dir or self._run_dir
        self.set_source(_with_model(ViewSource("live", self._network(), self._run_dir, "live", "running"), imodel))

    def run_ended(self, summary: dict | None) -> None:
        """The run finished (or was stopped): show its saved weights once loaded."""
        summary = dict(summary or {})
        run_dir = summary.get("run_dir") or self._run_dir
        self._set_running(False)
        if run_dir and int(summary.get("epochs_completed") or 0) > 0:
            self.show_run(str(run_dir), "best", summary=summary, network=self._source.network if self._source.kind == "live" else "")
        elif self._source.kind == "live":  # stopped before the first epoch ended: no weights to show
            self.set_source(_with_model(replace(self._source, kind="run", weights="", status="stopped", message="stopped before the first epoch ended: no weights were saved", summary=summary), None))

    def run_failed(self, message: str) -> None:
        """A start that failed leaves the source as it was; a run that failed mid-way shows its
        last saved weights, if any."""
        self._set_running(False)
        src = self._source
        if src.kind != "live":
            return
        ckpt = Path(src.run_dir or "") / "checkpoints"
        if src.run_dir and ((ckpt / "best.pt").is_file() or (ckpt / "last.pt").is_file()):
            self.show_run(src.run_dir, "best", network=src.network)
        else:
            self.set_source(_with_model(replace(src, kind="run", weights="", status="failed", message=message), None))

    def show_run(self, run_dir: str, weights: str = "best", summary: dict | None = None, network: str = "") -> None:
        """Show a run folder's ``weights`` ("best" or "last"): the views say it is loading, then
        show it (or why it could not be loaded). Issue 12's list of past runs calls this too."""
        if weights not in ("best", "last"):
            raise ValueError(f"weights must be 'best' or 'last', not {weights!r}")
        run_dir = str(run_dir)
        src = ViewSource("run", network or run_network_name(run_dir) or self._network(), run_dir, weights, "loading", summary=summary or read_summary(run_dir))
        if self.set_source(src) and self._loader is not None:
            self._loader(run_dir, weights, lambda m, s=src: self._on_loaded(s, m), lambda msg, s=src: self._on_load_failed(s, msg))

    def _on_loaded(self, asked: ViewSource, imodel) -> None:
        if self._source != asked:  # something else was chosen meanwhile: drop it
            return
        info = getattr(imodel, "info", None)
        ckpt = Path(getattr(info, "checkpoint", None) or "").stem  # the weights really loaded
        weights = ckpt if ckpt in ("best", "last") else asked.weights
        self.set_source(_with_model(replace(asked, status="ready", weights=weights), imodel))

    def _on_load_failed(self, asked: ViewSource, message: str) -> None:
        if self._source == asked:
            self.set_source(replace(asked, status="failed", message=message))


def background_loader(parent: QObject) -> Loader:
    """Loads ``InspectModel.from_run`` (with its data) in a background thread."""
    from .inspect.jobs import JobRunner

    runner = JobRunner(parent, "cnn-studio-run-loader")

    def load(run_dir: str, weights: str, on_done, on_failed) -> None:
        def job(progress, cancel):
            from ..inspection.model import InspectModel
            from ..training.recovery import recover_run

            # a run killed between last.pt and best.pt (or before summary.json) is finished first,
            # so the views show the same weights and figures as `cnn-studio evaluate`
            recover_run(run_dir)
            return InspectModel.from_run(run_dir, weights=weights, progress=progress, cancel=cancel)

        runner.submit(job, on_done, lambda message, details: on_failed(message), key="run")

    load.runner = runner  # type: ignore[attr-defined]
    return load
