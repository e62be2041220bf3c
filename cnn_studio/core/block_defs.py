"""Block definitions and the table of them that a graph holds (``graph.blocks``).

A :class:`BlockDef` is a named sub-network: an inner :class:`~cnn_studio.core.graph.Graph` (no
Input and no loss node; inner ids may also be plain numbers such as ``"0"``, as torchvision's
``nn.Sequential`` children are named), its ordered input ports (``inputs[i]`` lists every inner
``(node, port)`` that block input ``i`` feeds, so one input can feed a convolution *and* a residual
Add) and its output (one inner node). Inner graphs share their owner's table, so a definition can
use other definitions by name; the operations of :mod:`cnn_studio.core.blocks` refuse recursion.

The table forwards every change of an inner graph to the owner graph as the event
``block_changed(name)`` (and bumps the owner's revision), so whoever re-analyses on graph events
sees edits made inside a definition; it also emits ``block_added(name)`` and ``block_removed(name)``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from .block_spec import BLOCK_TYPE
from .errors import GraphEditError

if TYPE_CHECKING:  # pragma: no cover
    from .graph import Graph

Port = tuple[str, int]


class BlockDef:
    """One definition: ``name``, inner ``graph``, ``inputs`` (per block input, the inner ports it feeds) and ``output``."""

    def __init__(self, name: str, graph: "Graph", inputs: list[list[Port]], output: str):
        self.name = name
        self.graph = graph
        self.inputs: list[list[Port]] = [[(str(n), int(p)) for n, p in targets] for targets in inputs]
        self.output = output

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def uses(self) -> set[str]:
        """Names of the definitions its inner graph instantiates directly."""
        return {n.config.get("block") for n in self.graph.nodes.values() if n.type == BLOCK_TYPE and isinstance(n.config.get("block"), str)}

    def to_config(self) -> dict:
        cfg = self.graph.to_config()
        return {
            "name": self.name,
            "nodes": cfg["nodes"],
            "edges": cfg["edges"],
            "inputs": [[[n, p] for n, p in targets] for targets in self.inputs],
            "output": self.output,
        }

    def __repr__(self) -> str:
        return f"BlockDef({self.name!r}, {len(self.graph)} nodes, {self.num_inputs} inputs, output {self.output!r})"


class BlockTable:
    """The definitions of one graph by name, in insertion order. Mutate through its methods (or
    :mod:`cnn_studio.core.blocks`), which keep the owner's events and revision up to date."""

    def __init__(self, owner: "Graph"):
        self._owner = owner
        self._defs: dict[str, BlockDef] = {}
        self._forwarders: dict[str, Any] = {}

    # ---------------------------------------------------------------- queries
    def __contains__(self, name: object) -> bool:
        return name in self._defs

    def __getitem__(self, name: str) -> BlockDef:
        try:
            return self._defs[name]
        except KeyError:
            raise GraphEditError(f"there is no block definition '{name}'") from None

    def get(self, name: str) -> BlockDef | None:
        return self._defs.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._defs))

    def __len__(self) -> int:
        return len(self._defs)

    def __bool__(self) -> bool:
        return bool(self._defs)

    def names(self) -> list[str]:
        return list(self._defs)

    def definitions(self) -> list[BlockDef]:
        return list(self._defs.values())

    def dependency_order(self) -> list[str]:
        """Every name after the definitions it uses (depth first, insertion order otherwise); names on
        a recursion are listed once, where first met (the operations and the project loader refuse them)."""
        out: list[str] = []
        state: dict[str, int] = {}

        for root in self._defs:
            stack: list[tuple[str, list[str]]] = [(root, sorted(self._defs[root].uses()))] if root not in state else []
            if stack:
                state[root] = 1
            while stack:
                name, todo = stack[-1]
                if todo:
                    child = todo.pop(0)
                    if child in self._defs and child not in state:
                        state[child] = 1
                        stack.append((child, sorted(self._defs[child].uses())))
                    continue
                stack.pop()
                state[name] = 2
                out.append(name)
        return out

    def to_config(self) -> list[dict]:
        return [self._defs[n].to_config() for n in self.dependency_order()]

    # ---------------------------------------------------------------- edits
    def add(self, definition: BlockDef) -> BlockDef:
        if definition.name in self._defs:
            raise GraphEditError(f"a block named '{definition.name}' already exists; choose another name")
        definition.graph.blocks = self  # nested instances resolve in the same table
        self._defs[definition.name] = definition
        self._watch(definition)
        self._owner._touch()
        self._owner.events.emit("block_added", definition.name)
        return definition

    def remove(self, name: str) -> BlockDef:
        definition = self[name]
        self._unwatch(name)
        del self._defs[name]
        self._owner._touch()
        self._owner.events.emit("block_removed", name)
        return definition

    def rename(self, old: str, new: str) -> None:
        """Rename the key and the definition (references are rewritten by blocks.rename_definition)."""
        definition = self[old]
        if new in self._defs:
            raise GraphEditError(f"a block named '{new}' already exists; choose another name")
        self._unwatch(old)
        self._defs = {(new if k == old else k): v for k, v in self._defs.items()}
        definition.name = new
        self._watch(definition)
        self._owner._touch()
        self._owner.events.emit("block_removed", old)
        self._owner.events.emit("block_added", new)

    def changed(self, name: str) -> None:
        """Announce a change of a definition made outside its inner graph (its ports)."""
        self._owner._touch()
        self._owner.events.emit("block_changed", name)

    def clear(self) -> None:
        for name in list(self._defs):
            self._unwatch(name)
        self._defs.clear()

    def load(self, configs: list[dict]) -> None:
        """Replace every definition from ``to_config`` output (no events: the owner emits graph_reset)."""
        from .graph import Graph

        self.clear()
        for cfg in configs:
            name = cfg["name"]
            if name in self._defs:
                raise GraphEditError(f"block definition '{name}' appears twice")
            inner = Graph(name, inner=True, blocks=self)
            inner._load(cfg)
            output = cfg.get("output")
            definition = BlockDef(name, inner, [list(map(tuple, t)) for t in cfg.get("inputs", [])], output)
            self._defs[name] = definition
            self._watch(definition)

    # ---------------------------------------------------------------- event forwarding
    def _watch(self, definition: BlockDef) -> None:
        name = definition.name

        def forward(event: str, *args: Any) -> None:
            if event in ("node_moved",):  # positions inside a definition change no analysis
                self._owner.events.emit("block_moved", name)
                return
            self._owner._touch()
            self._owner.events.emit("block_changed", name)

        self._forwarders[name] = forward
        definition.graph.events.connect_all(forward)

    def _unwatch(self, name: str) -> None:
        fn = self._forwarders.pop(name, None)
        definition = self._defs.get(name)
        if fn is not None and definition is not None:
            definition.graph.events.disconnect_all(fn)
