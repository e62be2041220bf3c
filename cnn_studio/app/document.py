"""The open project: graph (the model), undo stack, current analysis and file path.

Views observe the graph's own events (``graph.events``) to mirror its structure, and this object's
``analysis_changed`` for shapes, parameter counts and issues. The analysis is re-run right after
every push, undo and redo (and, for changes made outside the stack, on the next turn of the event
loop), so it is always current when a view looks at it. ``Document.analysis`` refreshes on access.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..core.analysis import Analysis, analyze
from ..core.errors import GraphEditError
from ..core.graph import Graph
from ..core.project import SUFFIX, save_project

GRAPH_EVENTS = ("node_added", "node_removed", "node_changed", "node_moved", "edge_added", "edge_removed", "graph_reset", "meta_changed", "block_changed")
# block_changed: an edit inside a block definition (core/block_defs.py forwards it), which changes every use
STRUCTURAL = {"node_added", "node_removed", "node_changed", "edge_added", "edge_removed", "graph_reset", "block_changed"}


class Document(QObject):
    analysis_changed = Signal(object)  # Analysis
    modified_changed = Signal(bool)
    path_changed = Signal()
    graph_replaced = Signal()  # after New / Open / Revert / Recover: the whole graph is new
    message = Signal(str)  # short feedback for the status bar (refused edits, ...)

    def __init__(self, graph: Graph | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph if graph is not None else Graph("untitled")
        self.undo_stack = QUndoStack(self)
        self.path: Path | None = None
        self._analysis: Analysis = analyze(self.graph)
        self._dirty = False
        self._handlers: list[tuple[str, Callable]] = []
        for name in GRAPH_EVENTS:
            fn = (lambda *a, _n=name: self._on_graph_event(_n))
            self.graph.events.connect(name, fn)
            self._handlers.append((name, fn))
        self.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)

    # ------------------------------------------------------------------ analysis
    @property
    def analysis(self) -> Analysis:
        if self._dirty:
            self.refresh()
        return self._analysis

    def _on_graph_event(self, name: str) -> None:
        if name in STRUCTURAL and not self._dirty:
            self._dirty = True
            self._timer.start()

    def refresh(self) -> None:
        """Re-analyse now if the graph changed since the last analysis."""
        if not self._dirty:
            return
        self._dirty = False
        self._timer.stop()
        self._analysis = analyze(self.graph)
        self.analysis_changed.emit(self._analysis)

    def _on_undo_stack_index_changed(self, _index: int) -> None:
        self.refresh()

    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(not clean)

    # ------------------------------------------------------------------ edits
    def push(self, cmd) -> None:
        """Push a command (a ``Macro``, or a single step, which is wrapped in one)."""
        from .commands import as_macro

        self.undo_stack.push(as_macro(cmd))
        self.refresh()

    def try_edit(self, build: Callable[[], QUndoCommand | tuple]) -> object | None:
        """Build a command and push it. A refusal (GraphEditError) goes to ``message`` and returns
        None; otherwise returns what ``build`` returned (command, or (command, extra))."""
        try:
            result = build()
        except GraphEditError as e:
            self.message.emit(str(e))
            return None
        cmd = result[0] if isinstance(result, tuple) else result
        self.push(cmd)
        return result

    # ------------------------------------------------------------------ files
    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def display_name(self) -> str:
        if self.path is not None:
            name = self.path.name
            return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
        return self.graph.name or "untitled"

    def replace(self, graph: Graph, path: Path | None = None, modified: bool = False) -> None:
        """Show another network (New, Open, Revert, Recover). Clears undo history."""
        self.graph.replace_with(graph.to_config())
        self.undo_stack.clear()
        if modified:
            self.undo_stack.resetClean()
        self.set_path(path)
        self.graph_replaced.emit()
        self.refresh()

    def set_path(self, path: Path | None) -> None:
        path = Path(path) if path is not None else None
        if path != self.path:
            self.path = path
            self.path_changed.emit()

    def save(self, path: Path | None = None) -> Path:
        """Save (atomically) to ``path`` or the current path; raises ProjectFileError."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no path to save to")
        if path is not None:
            stem = target.name[: -len(SUFFIX)] if target.name.endswith(SUFFIX) else target.stem
            self.graph.set_name(stem)
        save_project(self.graph, target)
        self.set_path(target)
        self.undo_stack.setClean()
        return target

    def close(self) -> None:
        for name, fn in self._handlers:
            self.graph.events.disconnect(name, fn)
        self._handlers.clear()
        self._timer.stop()
