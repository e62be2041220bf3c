"""The graph model: nodes with stable string ids, typed ports and edges. Knows nothing of Qt.

Observers subscribe to past-tense events on ``graph.events`` (``node_added``, ``node_removed``,
``node_changed``, ``node_moved``, ``edge_added``, ``edge_removed``, ``graph_reset``,
``meta_changed``). An event fires only when a value really changed.
"""
from __future__ import annotations

import copy
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .block_defs import BlockTable
from .block_spec import BLOCK_TYPE, is_known_type, spec_for
from .errors import GraphEditError

# A node id: letters, digits and _, not starting with a digit, at most 64 characters. ``\Z`` (not
# ``$``, which also matches before a trailing newline) so ``ID_RE.match`` is a full match: "c1\n" is
# refused everywhere the pattern is used (project files, edits, paste, import).
ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def is_valid_id(value: object) -> bool:
    """True if ``value`` is a string that is a whole valid node id."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


# Inside a block definition an id may also be a plain number ("0", "1", ...): torchvision names the
# children of an nn.Sequential so (layer1.0.downsample.0.weight), and its weights load 1:1 only if
# the compiled submodules carry the same names.
INNER_ID_RE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]{0,63}|[0-9]{1,9})\Z")


def is_valid_inner_id(value: object) -> bool:
    """True if ``value`` may be a node id inside a block definition (a node id, or a plain number)."""
    return isinstance(value, str) and INNER_ID_RE.fullmatch(value) is not None


def _copy_value(v: Any) -> Any:
    """A deep copy of a JSON-like value (dicts, lists, tuples of scalars), several times faster
    than copy.deepcopy, which dominated loading large graphs; anything else goes to deepcopy."""
    if isinstance(v, dict):
        return {k: _copy_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy_value(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, tuple):
        return tuple(_copy_value(x) for x in v)
    return copy.deepcopy(v)


class Events:
    """A minimal synchronous observer list: ``connect(name, fn)``, ``emit(name, *args)``."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Callable[..., Any]]] = {}

    def connect(self, name: str, fn: Callable[..., Any]) -> None:
        self._subs.setdefault(name, []).append(fn)

    def disconnect(self, name: str, fn: Callable[..., Any]) -> None:
        subs = self._subs.get(name, [])
        if fn in subs:
            subs.remove(fn)

    def emit(self, name: str, *args: Any) -> None:
        for fn in list(self._subs.get(name, ())):
            fn(*args)
        for fn in list(self._subs.get("*", ())):  # connect_all subscribers get the name first
            fn(name, *args)

    def connect_all(self, fn: Callable[..., Any]) -> None:
        """Subscribe to every event: ``fn(name, *args)`` (block definitions forward their inner edits)."""
        self._subs.setdefault("*", []).append(fn)

    def disconnect_all(self, fn: Callable[..., Any]) -> None:
        self.disconnect("*", fn)


@dataclass(frozen=True)
class Edge:
    src: str
    src_port: int
    dst: str
    dst_port: int

    def to_config(self) -> dict:
        return {"src": [self.src, self.src_port], "dst": [self.dst, self.dst_port]}


# Per-node training options (transfer learning): ``frozen`` keeps the layer's parameters fixed
# (not trained, not in the optimizer), ``lr_mult`` scales the learning rate of its parameters.
# Written to files only when not the default, so older files and their text stay the same.
LR_MULT_MAX = 1000.0


def check_node_training(frozen: Any = False, lr_mult: Any = 1.0, where: str = "") -> tuple[bool, float]:
    """The checked (frozen, lr_mult) pair; GraphEditError naming the field and the fix otherwise."""
    at = f"{where}: " if where else ""
    if not isinstance(frozen, bool):
        raise GraphEditError(f'{at}"frozen" must be true or false, got {frozen!r}')
    if (not isinstance(lr_mult, (int, float)) or isinstance(lr_mult, bool) or not (0 < lr_mult <= LR_MULT_MAX)):
        raise GraphEditError(f'{at}"lr_mult" must be a number greater than 0 and at most {LR_MULT_MAX:g} (1 trains the layer at '
                             f"the run's learning rate, 0.1 ten times slower; to stop training it, freeze it), got {lr_mult!r}")
    return frozen, float(lr_mult)


class Node:
    __slots__ = ("id", "type", "config", "pos", "frozen", "lr_mult")

    def __init__(self, node_id: str, type_id: str, config: dict, pos: tuple[float, float], frozen: bool = False, lr_mult: float = 1.0):
        self.id = node_id
        self.type = type_id
        self.config = config
        self.pos = pos
        self.frozen = frozen
        self.lr_mult = lr_mult

    @property
    def spec(self):
        return spec_for(self.type)  # the catalogue's, or the block spec for "block" nodes

    def num_inputs(self) -> int:
        return self.spec.num_inputs(self.config) if is_known_type(self.type) else 1

    def to_config(self) -> dict:
        d = {"id": self.id, "type": self.type, "config": _copy_value(self.config), "pos": [float(self.pos[0]), float(self.pos[1])]}
        if self.frozen:
            d["frozen"] = True
        if self.lr_mult != 1.0:
            d["lr_mult"] = self.lr_mult
        return d

    def __repr__(self) -> str:
        return f"Node({self.id!r}, {self.type!r}, {self.config!r})"


class Graph:
    """Nodes in insertion order and edges in a list (the order to_config writes and undo restores),
    plus an index of each node's incoming and outgoing edges (each in edge-list order) so that
    in_edges/out_edges cost O(degree), and load and analysis stay linear in the graph size."""

    def __init__(self, name: str = "untitled", inner: bool = False, blocks: BlockTable | None = None) -> None:
        self.name = name
        # ``inner``: the graph of a block definition (numeric ids allowed); ``blocks``: the table of
        # block definitions, shared by a graph and the inner graphs of its definitions.
        self.inner = inner
        self.blocks: BlockTable = blocks if blocks is not None else BlockTable(self)
        self._nodes: dict[str, Node] = {}
        self._edges: list[Edge] = []
        self._edge_set: set[Edge] = set()
        self._in: dict[str, list[Edge]] = {}
        self._out: dict[str, list[Edge]] = {}
        self.training: dict = {}
        self.meta: dict = {}
        self.events = Events()
        self.revision = 0

    # ---------------------------------------------------------------- queries
    @property
    def nodes(self) -> dict[str, Node]:
        return self._nodes

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphEditError(f"there is no node '{node_id}'") from None

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into the node, by input port (ties, which only a bad file can hold, in edge order)."""
        return sorted(self._in.get(node_id, ()), key=lambda e: e.dst_port)

    def out_edges(self, node_id: str) -> list[Edge]:
        return list(self._out.get(node_id, ()))

    def edge_into(self, node_id: str, port: int) -> Edge | None:
        for e in self._in.get(node_id, ()):
            if e.dst_port == port:
                return e
        return None

    def has_edge(self, edge: Edge) -> bool:
        return edge in self._edge_set

    # ------------------------------------------------------------ edge index upkeep
    def _index_edge(self, edge: Edge) -> None:
        self._edge_set.add(edge)
        self._out.setdefault(edge.src, []).append(edge)
        self._in.setdefault(edge.dst, []).append(edge)

    def _reindex(self) -> None:
        """Rebuild the per-node lists from the edge list (after an insert at a position)."""
        self._edge_set = set()
        self._in, self._out = {}, {}
        for e in self._edges:
            self._index_edge(e)

    def _clear_edges(self) -> None:
        self._edges.clear()
        self._edge_set.clear()
        self._in.clear()
        self._out.clear()

    def predecessors(self, node_id: str) -> list[str]:
        return [e.src for e in self.in_edges(node_id)]

    def successors(self, node_id: str) -> list[str]:
        return [e.dst for e in self.out_edges(node_id)]

    def nodes_of_role(self, role: str) -> list[Node]:
        return [n for n in self._nodes.values() if is_known_type(n.type) and n.spec.role == role]

    def input_node(self) -> Node | None:
        found = self.nodes_of_role("input")
        return found[0] if len(found) == 1 else None

    def output_node(self) -> Node | None:
        found = self.nodes_of_role("output")
        return found[0] if len(found) == 1 else None

    def reaches(self, start: str, target: str) -> bool:
        """True if target is reachable from start along edges."""
        seen = set()
        stack = [start]
        while stack:
            n = stack.pop()
            if n == target:
                return True
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self.successors(n))
        return False

    def topological_order(self) -> tuple[list[str], list[str]]:
        """Kahn's algorithm. Returns (order, nodes_on_or_after_cycles)."""
        indeg = {n: 0 for n in self._nodes}
        succ: dict[str, list[str]] = {n: [] for n in self._nodes}
        for e in self._edges:
            indeg[e.dst] += 1
            succ[e.src].append(e.dst)
        ready = deque(n for n in self._nodes if indeg[n] == 0)
        order = []
        while ready:
            n = ready.popleft()
            order.append(n)
            for m in succ[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
        placed = set(order)
        rest = [n for n in self._nodes if n not in placed]
        return order, rest

    def new_id(self, prefix: str) -> str:
        prefix = re.sub(r"[^A-Za-z0-9_]", "_", prefix) or "node"
        if not re.match(r"[A-Za-z_]", prefix):
            prefix = "n_" + prefix
        i = 1
        while f"{prefix}{i}" in self._nodes:
            i += 1
        return f"{prefix}{i}"

    # ---------------------------------------------------------------- edits
    def _touch(self) -> None:
        self.revision += 1

    def node_index(self, node_id: str) -> int:
        """Position of a node in the graph's order (as to_config lists them)."""
        return list(self._nodes).index(node_id)

    def edge_index(self, edge: Edge) -> int:
        return self._edges.index(edge)

    def add_node(
        self, type_id: str, config: dict | None = None, pos: Iterable[float] = (0.0, 0.0), node_id: str | None = None, index: int | None = None,
        frozen: bool = False, lr_mult: float = 1.0,
    ) -> Node:
        """Add a node (at the end of the order, or at ``index``, so undo can restore the exact order);
        ``frozen``/``lr_mult``: its training options (see :meth:`set_node_training`)."""
        frozen, lr_mult = check_node_training(frozen, lr_mult)
        if not is_known_type(type_id):
            raise GraphEditError(f"unknown layer type '{type_id}'")
        spec = spec_for(type_id)
        full = spec.defaults()
        full.update(copy.deepcopy(config or {}))
        if type_id == BLOCK_TYPE and full.get("block") in self.blocks:  # ports follow the definition
            full["inputs"] = self.blocks[full["block"]].num_inputs
        if node_id is None:
            prefix = str(full["block"]).lower() if type_id == BLOCK_TYPE and full.get("block") else spec.short.lower().replace(" ", "")
            node_id = self.new_id(prefix or type_id)
        if not self.id_ok(node_id):
            raise GraphEditError(f"{node_id!r} is not a valid node id; {self.id_rule()}")
        if node_id in self._nodes:
            raise GraphEditError(f"a node with id '{node_id}' already exists")
        node = Node(node_id, type_id, full, _pos(pos), frozen, lr_mult)
        if index is None or index >= len(self._nodes):
            self._nodes[node_id] = node
        else:
            items = list(self._nodes.items())
            items.insert(max(0, index), (node_id, node))
            self._nodes = dict(items)
        self._touch()
        self.events.emit("node_added", node)
        return node

    def remove_node(self, node_id: str) -> Node:
        node = self.node(node_id)
        touching = set(self._in.get(node_id, ())) | set(self._out.get(node_id, ()))
        for e in [e for e in self._edges if e in touching]:  # in edge-list order, as before
            self.disconnect(e)
        self._in.pop(node_id, None)
        self._out.pop(node_id, None)
        del self._nodes[node_id]
        self._touch()
        self.events.emit("node_removed", node)
        return node

    def set_param(self, node_id: str, key: str, value: Any) -> bool:
        node = self.node(node_id)
        if node.config.get(key, _MISSING) == value and type(node.config.get(key)) is type(value):
            return False
        old_inputs = node.num_inputs()
        node.config[key] = copy.deepcopy(value)
        self._after_config_change(node, old_inputs)
        return True

    def set_config(self, node_id: str, config: dict) -> bool:
        node = self.node(node_id)
        if node.config == config:
            return False
        old_inputs = node.num_inputs()
        node.config = copy.deepcopy(config)
        self._after_config_change(node, old_inputs)
        return True

    def _after_config_change(self, node: Node, old_inputs: int) -> None:
        self._touch()
        self.events.emit("node_changed", node)
        new_inputs = node.num_inputs()
        if new_inputs < old_inputs:
            for e in self.in_edges(node.id):
                if e.dst_port >= new_inputs:
                    self.disconnect(e)

    def set_node_training(self, node_id: str, frozen: bool | None = None, lr_mult: float | None = None) -> bool:
        """Set whether a node's parameters train (``frozen``) and their learning-rate multiplier; None
        leaves one as it is. Fires node_changed when something changed; bad values raise GraphEditError."""
        node = self.node(node_id)
        frozen, lr_mult = check_node_training(node.frozen if frozen is None else frozen, node.lr_mult if lr_mult is None else lr_mult)
        if (frozen, lr_mult) == (node.frozen, node.lr_mult):
            return False
        node.frozen, node.lr_mult = frozen, lr_mult
        self._touch()
        self.events.emit("node_changed", node)
        return True

    def move_node(self, node_id: str, pos: Iterable[float]) -> bool:
        node = self.node(node_id)
        pos = _pos(pos)
        if pos == node.pos:
            return False
        node.pos = pos
        self.events.emit("node_moved", node)
        return True

    def rename_node(self, old: str, new: str) -> None:
        if old == new:
            return
        node = self.node(old)
        if not self.id_ok(new):
            raise GraphEditError(f"{new!r} is not a valid node id; {self.id_rule()}")
        if new in self._nodes:
            raise GraphEditError(f"a node with id '{new}' already exists")
        positions = [(i, e) for i, e in enumerate(self._edges) if e.src == old or e.dst == old]
        index = self.node_index(old)
        for _, e in positions:
            self.disconnect(e)
        self.remove_node(old)
        self.add_node(node.type, node.config, node.pos, new, index=index, frozen=node.frozen, lr_mult=node.lr_mult)
        for i, e in positions:  # same places in the edge list as before
            self.connect(new if e.src == old else e.src, new if e.dst == old else e.dst, e.src_port, e.dst_port, allow_cycle=True, index=i)

    def can_connect(self, src: str, dst: str, src_port: int = 0, dst_port: int = 0) -> str | None:
        """None if the edge may be added, else the reason it may not."""
        if src not in self._nodes or dst not in self._nodes:
            return "both ends must be existing nodes"
        if src == dst:
            return "a node cannot feed itself"
        # Ports are numbered from 1 in messages (input 1 is port 0), as the analysis numbers them.
        if src_port != 0:
            return f"layers have a single output; '{src}' has no output {src_port + 1}"
        n_in = self._nodes[dst].num_inputs()
        if not 0 <= dst_port < n_in:
            if not n_in:
                return f"'{dst}' takes no input"
            return f"'{dst}' has no input port {dst_port + 1} (it has {n_in} input{'s' if n_in > 1 else ''})"
        if self.edge_into(dst, dst_port) is not None:
            return f"input {dst_port + 1} of '{dst}' is already connected; disconnect it first"
        if self.reaches(dst, src):
            return "that connection would create a cycle"
        return None

    def connect(self, src: str, dst: str, src_port: int = 0, dst_port: int = 0, allow_cycle: bool = False, index: int | None = None) -> Edge:
        reason = self.can_connect(src, dst, src_port, dst_port)
        if reason and not (allow_cycle and reason == "that connection would create a cycle"):
            raise GraphEditError(f"cannot connect '{src}' to '{dst}': {reason}")
        edge = Edge(src, src_port, dst, dst_port)
        if index is None or index >= len(self._edges):
            self._edges.append(edge)
            self._index_edge(edge)
        else:  # keep every per-node list in edge-list order (undo restores the exact order)
            self._edges.insert(max(0, index), edge)
            self._reindex()
        self._touch()
        self.events.emit("edge_added", edge)
        return edge

    def disconnect(self, edge: Edge) -> None:
        if edge not in self._edge_set:
            raise GraphEditError(f"there is no edge from '{edge.src}' to '{edge.dst}'")
        self._edges.remove(edge)
        self._edge_set.discard(edge)
        self._out[edge.src].remove(edge)
        self._in[edge.dst].remove(edge)
        self._touch()
        self.events.emit("edge_removed", edge)

    def set_name(self, name: str) -> None:
        if name != self.name:
            self.name = name
            self.events.emit("meta_changed", "name")

    def set_training(self, training: dict) -> None:
        if training != self.training:
            self.training = copy.deepcopy(training)
            self.events.emit("meta_changed", "training")

    # ---------------------------------------------------------------- config
    def id_ok(self, node_id: object) -> bool:
        """Whether ``node_id`` may name a node here (inner graphs also take plain numbers)."""
        return is_valid_inner_id(node_id) if self.inner else is_valid_id(node_id)

    def id_rule(self) -> str:
        if self.inner:
            return "use letters, digits and _ and start with a letter, or a plain number such as 0"
        return "use letters, digits and _ and start with a letter"

    def to_config(self) -> dict:
        cfg = {
            "name": self.name,
            "nodes": [n.to_config() for n in self._nodes.values()],
            "edges": [e.to_config() for e in self._edges],
            "training": copy.deepcopy(self.training),
            "meta": copy.deepcopy(self.meta),
        }
        if self.blocks and not self.inner:  # only graphs with blocks carry the key
            cfg["blocks"] = self.blocks.to_config()
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> "Graph":
        """Build every node first, then wire the edges (cycles kept so validation can report them).

        Expects an already-validated structure (see core.project for the user-facing checks).
        """
        g = cls(config.get("name", "untitled"))
        g.training = copy.deepcopy(config.get("training") or {})
        g.meta = copy.deepcopy(config.get("meta") or {})
        g.blocks.load(config.get("blocks") or [])
        g._load(config)
        return g

    def _load(self, config: dict) -> None:
        for n in config.get("nodes", []):
            if not self.id_ok(n["id"]):  # ids become names in code and state_dict keys
                raise GraphEditError(f"node id {n['id']!r} is not valid; {self.id_rule()}")
            frozen, lr_mult = check_node_training(n.get("frozen", False), n.get("lr_mult", 1.0), f"node '{n['id']}'")
            node = Node(n["id"], n["type"], _copy_value(n.get("config") or {}), _pos(n.get("pos", (0, 0))), frozen, lr_mult)
            if node.id in self._nodes:
                raise GraphEditError(f"node id '{node.id}' appears twice")
            self._nodes[node.id] = node
        for e in config.get("edges", []):
            (s, sp), (d, dp) = e["src"], e["dst"]
            edge = Edge(s, int(sp), d, int(dp))
            if s not in self._nodes or d not in self._nodes:
                missing = s if s not in self._nodes else d
                raise GraphEditError(f"an edge refers to node '{missing}', which does not exist")
            if edge in self._edge_set:
                raise GraphEditError(f"the edge from '{s}' to '{d}' appears twice")
            self._edges.append(edge)
            self._index_edge(edge)

    def replace_with(self, config: dict) -> None:
        """Replace the whole graph (undo of bulk edits, revert). Emits graph_reset."""
        self._nodes.clear()
        self._clear_edges()
        self.name = config.get("name", self.name)
        self.training = copy.deepcopy(config.get("training") or {})
        self.meta = copy.deepcopy(config.get("meta") or {})
        if not self.inner:
            self.blocks.load(config.get("blocks") or [])
        self._load(config)
        self._touch()
        self.events.emit("graph_reset")

    def copy(self) -> "Graph":
        if self.inner:  # a definition's graph: numeric ids allowed, the same definitions table
            g = Graph(self.name, inner=True, blocks=self.blocks)
            g._load(self.to_config())
            return g
        return Graph.from_config(self.to_config())

    def structure(self) -> dict:
        """Everything but positions: what determines the network."""
        cfg = self.to_config()
        for n in cfg["nodes"]:
            n.pop("pos")
        cfg["nodes"].sort(key=lambda n: n["id"])
        cfg["edges"].sort(key=lambda e: (e["dst"], e["src"]))
        cfg.pop("meta")
        for d in cfg.get("blocks", []):  # definitions: everything but the inner positions
            for n in d["nodes"]:
                n.pop("pos")
            d["nodes"].sort(key=lambda n: n["id"])
            d["edges"].sort(key=lambda e: (e["dst"], e["src"]))
        return cfg

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        a, b = self.to_config(), other.to_config()
        a["edges"].sort(key=lambda e: (e["dst"], e["src"]))
        b["edges"].sort(key=lambda e: (e["dst"], e["src"]))
        return a == b

    __hash__ = None  # type: ignore[assignment]


_MISSING = object()


def _pos(pos: Iterable[float]) -> tuple[float, float]:
    x, y = pos
    return float(x), float(y)


def chain(graph: Graph, steps: list[tuple[str, dict] | tuple[str, dict, str]], start: str | None = None) -> str:
    """Append a linear sequence of layers after ``start`` (or as a new chain); returns the last id."""
    prev = start
    for step in steps:
        type_id, cfg = step[0], step[1]
        node_id = step[2] if len(step) > 2 else None
        node = graph.add_node(type_id, cfg, node_id=node_id)
        if prev is not None:
            graph.connect(prev, node.id)
        prev = node.id
    assert prev is not None
    return prev
