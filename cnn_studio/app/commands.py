"""Undo commands. Each one changes only the model (the core ``Graph``); the scene follows from the
graph's events, and the document re-analyses after every push, undo and redo.

A command that cannot apply is never built: constructors check their preconditions and raise
:class:`GraphEditError` with the reason, which the caller shows in the status bar. Children of a macro
are built with ``check=False`` because they run against the state their earlier siblings create.

Steps are plain Python objects (``redo``/``undo``); only :class:`Macro`, a ``QUndoCommand`` holding a
list of steps, ever reaches the ``QUndoStack``. (PySide6 6.12 does not keep Python wrappers of
``QUndoCommand`` children alive, and deleting a parent then double-frees them, so Qt's own
parent/child macros crash; a Python list of steps avoids that.) ``parent=`` on a step appends it to
that macro or step, as Qt's child commands would be.

Deleting a node is a macro whose children remove its links first (Orange's ``RemoveNodeCommand``),
so undo restores the node and then its links. A parameter edit is :class:`SetConfigCommand`; edits
of the same field within one editing session (the inspector passes a ``merge_key``) merge into one
undo step, and a session that ends where it began disappears from the stack.
"""
from __future__ import annotations

import copy
import re
from typing import Iterable

from PySide6.QtGui import QUndoCommand

from ..core.errors import GraphEditError
from ..core.graph import ID_RE, Edge, Graph
# the block spec too: block instances are copied, pasted, deleted and undone like layers
from ..core.block_spec import is_known_type as has_spec, spec_for as get_spec

MERGE_CONFIG_ID = 7301


def id_prefix(type_id: str) -> str:
    """'Conv' -> 'conv', 'SiLU (Swish)' -> 'silu', 'BN2d' -> 'bn2d_' (ids then read bn2d_1)."""
    short = get_spec(type_id).short or type_id
    base = re.sub(r"[^a-z0-9_]", "", short.split(" (")[0].lower()) or "node"
    if not base[0].isalpha():
        base = "n" + base
    return base + "_" if base[-1].isdigit() else base


def unique_id(base: str, taken: Iterable[str]) -> str:
    """A fresh id near ``base``: 'conv1' -> 'conv2', 'flatten' -> 'flatten_2'."""
    taken = set(taken)
    if base not in taken and ID_RE.match(base):
        return base
    m = re.match(r"^(.*?)(\d+)$", base)
    if m:
        prefix, i = m.group(1), int(m.group(2)) + 1
    else:
        prefix, i = base + "_", 2
    if not prefix or not re.match(r"[A-Za-z_]", prefix):
        prefix = "n_" + prefix
    while f"{prefix}{i}" in taken:
        i += 1
    return f"{prefix}{i}"


def auto_id(graph: Graph, type_id: str, reserved: Iterable[str] = ()) -> str:
    taken = set(graph.nodes) | set(reserved)
    prefix = id_prefix(type_id)
    i = 1
    while f"{prefix}{i}" in taken:
        i += 1
    return f"{prefix}{i}"


class Step:
    """One model change with its inverse; may hold child steps (run before its own redo)."""

    def __init__(self, text: str = "", parent=None) -> None:
        self._text = text
        self.children: list[Step] = []
        if parent is not None:
            parent.add(self)

    def add(self, step: "Step") -> None:
        self.children.append(step)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        self._text = text

    def redo(self) -> None:
        for c in self.children:
            c.redo()

    def undo(self) -> None:
        for c in reversed(self.children):
            c.undo()


class Macro(QUndoCommand):
    """The undo-stack entry: a list of steps done in order and undone in reverse.

    A macro of a single mergeable step (a parameter edit) merges with the next such macro."""

    def __init__(self, text: str, steps: Iterable[Step] = ()) -> None:
        super().__init__(text)
        self.steps: list[Step] = list(steps)

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def redo(self) -> None:
        for s in self.steps:
            s.redo()

    def undo(self) -> None:
        for s in reversed(self.steps):
            s.undo()

    def id(self) -> int:
        if len(self.steps) == 1 and isinstance(self.steps[0], SetConfigCommand) and self.steps[0].merge_key is not None:
            return MERGE_CONFIG_ID
        return -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, Macro) or len(self.steps) != 1 or len(other.steps) != 1:
            return False
        mine, theirs = self.steps[0], other.steps[0]
        if not isinstance(mine, SetConfigCommand) or not mine.merge(theirs):
            return False
        self.setText(mine.text())
        if mine.new == mine.old:
            self.setObsolete(True)
        return True


def as_macro(cmd) -> QUndoCommand:
    """A step wrapped in a Macro; a ready QUndoCommand (a Macro, or a command with its own merging,
    like the training-settings edit) goes on the stack as it is."""
    return cmd if isinstance(cmd, QUndoCommand) else Macro(cmd.text(), [cmd])


class GraphCommand(Step):
    def __init__(self, graph: Graph, text: str, parent=None) -> None:
        super().__init__(text, parent)
        self.graph = graph


class AddNodeCommand(GraphCommand):
    def __init__(
        self,
        graph: Graph,
        type_id: str,
        config: dict | None = None,
        pos: tuple[float, float] = (0.0, 0.0),
        node_id: str | None = None,
        parent=None,
        check: bool = True,
        reserved: Iterable[str] = (),
    ) -> None:
        if not has_spec(type_id):
            raise GraphEditError(f"unknown layer type '{type_id}'")
        spec = get_spec(type_id)
        node_id = node_id or auto_id(graph, type_id, reserved)
        if not ID_RE.match(node_id):
            raise GraphEditError(f"'{node_id}' is not a valid node id; use letters, digits and _ and start with a letter")
        if check and node_id in graph.nodes:
            raise GraphEditError(f"a node with id '{node_id}' already exists")
        super().__init__(graph, f"Add {spec.title} '{node_id}'", parent)
        full = spec.defaults()
        full.update(copy.deepcopy(config or {}))
        self.type_id, self.config, self.pos, self.node_id = type_id, full, (float(pos[0]), float(pos[1])), node_id

    def redo(self) -> None:
        self.graph.add_node(self.type_id, self.config, self.pos, self.node_id)

    def undo(self) -> None:
        self.graph.remove_node(self.node_id)


class ConnectCommand(GraphCommand):
    def __init__(self, graph: Graph, src: str, dst: str, src_port: int = 0, dst_port: int = 0, parent=None, check: bool = True) -> None:
        if check:
            reason = graph.can_connect(src, dst, src_port, dst_port)
            if reason:
                raise GraphEditError(f"cannot connect '{src}' to '{dst}': {reason}")
        super().__init__(graph, f"Connect '{src}' to '{dst}'", parent)
        self.edge = Edge(src, src_port, dst, dst_port)

    def redo(self) -> None:
        e = self.edge
        self.graph.connect(e.src, e.dst, e.src_port, e.dst_port, allow_cycle=True)

    def undo(self) -> None:
        self.graph.disconnect(self.edge)


class DisconnectCommand(GraphCommand):
    def __init__(self, graph: Graph, edge: Edge, parent=None, check: bool = True) -> None:
        if check and edge not in graph.edges:
            raise GraphEditError(f"there is no edge from '{edge.src}' to '{edge.dst}'")
        super().__init__(graph, f"Disconnect '{edge.src}' from '{edge.dst}'", parent)
        self.edge = edge
        self._index: int | None = None

    def redo(self) -> None:
        self._index = self.graph.edge_index(self.edge)
        self.graph.disconnect(self.edge)

    def undo(self) -> None:
        e = self.edge
        self.graph.connect(e.src, e.dst, e.src_port, e.dst_port, allow_cycle=True, index=self._index)


class RemoveNodeCommand(GraphCommand):
    """Macro: children disconnect the node's links, then the node goes."""

    def __init__(self, graph: Graph, node_id: str, parent=None, skip_edges: Iterable[Edge] = ()) -> None:
        node = graph.node(node_id)
        super().__init__(graph, f"Delete {node.spec.title} '{node_id}'", parent)
        self.saved = node.to_config()
        skip = set(skip_edges)
        for e in graph.in_edges(node_id) + graph.out_edges(node_id):
            if e not in skip:
                skip.add(e)
                DisconnectCommand(graph, e, parent=self, check=False)
        self.removed_edges = skip
        self._index: int | None = None

    def redo(self) -> None:
        super().redo()  # children: drop the links
        self._index = self.graph.node_index(self.saved["id"])
        self.graph.remove_node(self.saved["id"])

    def undo(self) -> None:
        s = self.saved
        self.graph.add_node(s["type"], s["config"], s["pos"], s["id"], index=self._index, frozen=s.get("frozen", False), lr_mult=s.get("lr_mult", 1.0))
        super().undo()  # children, in reverse: restore the links


class MoveNodesCommand(GraphCommand):
    def __init__(self, graph: Graph, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]], text: str = "", parent=None) -> None:
        moves = {k: (tuple(map(float, o)), tuple(map(float, n))) for k, (o, n) in moves.items() if tuple(o) != tuple(n)}
        if not text:
            text = f"Move '{next(iter(moves))}'" if len(moves) == 1 else f"Move {len(moves)} layers"
        super().__init__(graph, text, parent)
        self.moves = moves

    def redo(self) -> None:
        for nid, (_, new) in self.moves.items():
            self.graph.move_node(nid, new)

    def undo(self) -> None:
        for nid, (old, _) in self.moves.items():
            self.graph.move_node(nid, old)


class SetConfigCommand(GraphCommand):
    """Replace a node's config. Undo restores the config and any input links the change cut
    (fewer inputs on a merge node). Mergeable with the next edit that carries the same merge key."""

    def __init__(self, graph: Graph, node_id: str, config: dict, merge_key=None, text: str = "", parent=None) -> None:
        node = graph.node(node_id)
        if not text:
            changed = [k for k in config if node.config.get(k) != config.get(k)] + [k for k in node.config if k not in config]
            title = node.spec.param(changed[0]).title.lower() if len(changed) == 1 and changed[0] in {p.name for p in node.spec.params} else "parameters"
            text = f"Change {title} of '{node_id}'"
        super().__init__(graph, text, parent)
        self.node_id = node_id
        self.old = copy.deepcopy(node.config)
        self.new = copy.deepcopy(config)
        self.old_edges = graph.edges  # order included, so undo puts cut links back where they were
        self.merge_key = merge_key

    def redo(self) -> None:
        self.graph.set_config(self.node_id, self.new)

    def undo(self) -> None:
        self.graph.set_config(self.node_id, self.old)
        present = set(self.graph.edges)
        for i, e in enumerate(self.old_edges):
            if e not in present:
                self.graph.connect(e.src, e.dst, e.src_port, e.dst_port, allow_cycle=True, index=i)

    def merge(self, other: "Step") -> bool:
        """Absorb the next edit of the same field in the same editing session."""
        if not isinstance(other, SetConfigCommand) or self.merge_key is None or other.node_id != self.node_id or other.merge_key != self.merge_key:
            return False
        self.new = copy.deepcopy(other.new)
        self.setText(other.text())
        return True


def set_param_command(graph: Graph, node_id: str, key: str, value, merge_key=None) -> SetConfigCommand:
    node = graph.node(node_id)
    cfg = copy.deepcopy(node.config)
    cfg[key] = copy.deepcopy(value)
    return SetConfigCommand(graph, node_id, cfg, merge_key)


class RenameNodeCommand(GraphCommand):
    def __init__(self, graph: Graph, old: str, new: str, parent=None) -> None:
        graph.node(old)
        if not ID_RE.match(new):
            raise GraphEditError(f"'{new}' is not a valid node id; use letters, digits and _ and start with a letter")
        if new in graph.nodes and new != old:
            raise GraphEditError(f"a node with id '{new}' already exists")
        super().__init__(graph, f"Rename '{old}' to '{new}'", parent)
        self.old, self.new = old, new

    def redo(self) -> None:
        self.graph.rename_node(self.old, self.new)

    def undo(self) -> None:
        self.graph.rename_node(self.new, self.old)


def delete_command(graph: Graph, node_ids: Iterable[str], edges: Iterable[Edge] = ()) -> Macro:
    """One undo step removing the given edges and nodes (with their links)."""
    node_ids = [n for n in node_ids if n in graph.nodes]
    edges = [e for e in edges if e in set(graph.edges) and e.src not in node_ids and e.dst not in node_ids]
    if not node_ids and not edges:
        raise GraphEditError("nothing is selected")
    n = len(node_ids) + len(edges)
    if len(node_ids) == 1 and not edges:
        text = f"Delete '{node_ids[0]}'"
    elif not node_ids and len(edges) == 1:
        text = f"Disconnect '{edges[0].src}' from '{edges[0].dst}'"
    else:
        text = f"Delete {n} items"
    macro = Macro(text)
    for e in edges:
        DisconnectCommand(graph, e, parent=macro, check=False)
    done: set[Edge] = set()
    for nid in node_ids:
        cmd = RemoveNodeCommand(graph, nid, parent=macro, skip_edges=done)
        done |= cmd.removed_edges
    return macro
