"""Structural edits inside a block definition (issue 13): add, remove and move inner layers, wire
and unwire inner edges, and choose which inner ports the block's inputs feed and which inner layer
is its output. Standard library only.

Every operation checks everything first and raises :class:`GraphEditError` with one line naming
what is wrong (and changes nothing), then edits the live definition ``graph.blocks[name]``: every
instance of it changes at once and the owner graph emits ``block_changed(name)``. What they keep
true (``block_check.validate_definitions`` passes after each): a definition has at least one layer,
its output is one of its layers, each block input feeds at least one inner input port, no inner port
is fed twice (by an edge and a block input, or by two block inputs), the inner graph has no cycle.
A transient state the analysis reports as a problem is allowed: a newly added layer whose input is
not yet connected, a layer whose output is not yet used ("in block 'B', Dropout 'dropout1': its
input is not connected" on every instance).

The app runs them on a copy of the graph and keeps the configs before and after as one undo step.
"""
from __future__ import annotations

from typing import Iterable

from .block_defs import BlockDef
from .block_spec import BLOCK_TYPE, is_known_type, spec_for
from .blocks import definition_closure, nesting_depth
from .block_check import MAX_NESTING
from .errors import GraphEditError
from .graph import Edge, Graph

__all__ = [
    "add_inner_node", "remove_inner_nodes", "move_inner_nodes", "connect_inner", "disconnect_inner",
    "feed_block_input", "unfeed_block_input", "set_block_output", "port_feeder",
]


def _definition(graph: Graph, name: str) -> BlockDef:
    if name not in graph.blocks:
        raise GraphEditError(f"there is no block definition '{name}'")
    return graph.blocks[name]


def _node(d: BlockDef, node_id: str):
    if node_id not in d.graph.nodes:
        raise GraphEditError(f"block '{d.name}' holds no layer '{node_id}'")
    return d.graph.nodes[node_id]


def port_feeder(d: BlockDef, node_id: str, port: int) -> int | None:
    """The block input (0-based) that feeds inner input ``port`` of ``node_id``, or None."""
    for i, targets in enumerate(d.inputs):
        if (node_id, port) in targets:
            return i
    return None


def add_inner_node(graph: Graph, name: str, type_id: str, config: dict | None = None, pos: Iterable[float] = (0.0, 0.0),
                   node_id: str | None = None) -> str:
    """Add a layer (or a nested block instance, config ``{"block": N}``) inside definition ``name``;
    returns its id. Input, loss and recursive block uses are refused."""
    d = _definition(graph, name)
    if not is_known_type(type_id):
        raise GraphEditError(f"unknown layer type '{type_id}'")
    spec = spec_for(type_id)
    if spec.role != "layer":
        raise GraphEditError(f"a block cannot hold an {spec.title} layer; it takes its input from the block's input ports")
    if type_id == BLOCK_TYPE:
        inner = (config or {}).get("block")
        if inner not in graph.blocks:
            raise GraphEditError(f"there is no block definition {inner!r}")
        if inner == name or name in definition_closure(graph, inner):
            raise GraphEditError(f"block '{inner}' cannot be used inside '{name}': '{name}' would contain itself")
        if nesting_depth(graph, inner) + 1 > MAX_NESTING:
            raise GraphEditError(f"blocks may nest at most {MAX_NESTING} levels deep")
    node = d.graph.add_node(type_id, config, pos, node_id)
    return node.id


def remove_inner_nodes(graph: Graph, name: str, node_ids: Iterable[str]) -> None:
    """Remove layers (with their edges) from definition ``name``. Refused when that would remove the
    block's output, every layer a block input feeds, or every layer of the block."""
    d = _definition(graph, name)
    ids = list(dict.fromkeys(node_ids))
    if not ids:
        raise GraphEditError("select the layers to delete first")
    for nid in ids:
        _node(d, nid)
    gone = set(ids)
    if len(gone) >= len(d.graph.nodes):
        raise GraphEditError(f"a block needs at least one layer; to remove block '{name}' entirely, delete its cards in the network")
    if d.output in gone:
        raise GraphEditError(f"'{d.output}' is the output of block '{name}'; make another layer the output first (drag its output to 'block output')")
    for i, targets in enumerate(d.inputs):
        if all(n in gone for n, _ in targets):
            raise GraphEditError(f"block input {i + 1} of '{name}' would feed nothing; connect it to another layer first")
    for nid in ids:
        d.graph.remove_node(nid)
    d.inputs = [[(n, p) for n, p in targets if n not in gone] for targets in d.inputs]
    graph.blocks.changed(name)


def move_inner_nodes(graph: Graph, name: str, moves: dict[str, Iterable[float]]) -> None:
    """Store new positions of layers inside definition ``name`` (no analysis changes)."""
    d = _definition(graph, name)
    checked = {}
    for nid, pos in moves.items():
        _node(d, nid)
        p = tuple(float(v) for v in pos)
        if len(p) != 2 or not all(abs(v) < 1e9 for v in p):
            raise GraphEditError(f"a position must be two numbers [x, y], got {list(pos)!r}")
        checked[nid] = p
    for nid, p in checked.items():
        d.graph.move_node(nid, p)


def connect_inner(graph: Graph, name: str, src: str, dst: str, src_port: int = 0, dst_port: int = 0) -> Edge:
    """Connect two layers inside definition ``name`` (refused for a port a block input feeds, a
    taken port, a cycle)."""
    d = _definition(graph, name)
    _node(d, src)
    _node(d, dst)
    fed = port_feeder(d, dst, dst_port)
    if fed is not None:
        raise GraphEditError(f"input {dst_port + 1} of '{dst}' is fed by block input {fed + 1}; disconnect that first")
    return d.graph.connect(src, dst, src_port, dst_port)


def disconnect_inner(graph: Graph, name: str, src: str, dst: str, src_port: int = 0, dst_port: int = 0) -> None:
    """Remove the edge ``src -> dst`` inside definition ``name``."""
    d = _definition(graph, name)
    edge = Edge(src, src_port, dst, dst_port)
    if not d.graph.has_edge(edge):
        raise GraphEditError(f"block '{name}' has no link from '{src}' to input {dst_port + 1} of '{dst}'")
    d.graph.disconnect(edge)


def feed_block_input(graph: Graph, name: str, index: int, node_id: str, port: int = 0) -> None:
    """Make block input ``index`` (0-based) also feed input ``port`` of inner layer ``node_id``."""
    d = _definition(graph, name)
    if not 0 <= index < d.num_inputs:
        raise GraphEditError(f"block '{name}' has no input {index + 1} (it has {d.num_inputs})")
    node = _node(d, node_id)
    n_in = node.num_inputs()
    if not 0 <= port < n_in:
        raise GraphEditError(f"'{node_id}' has no input port {port + 1}" if n_in else f"'{node_id}' takes no input")
    if d.graph.edge_into(node_id, port) is not None:
        raise GraphEditError(f"input {port + 1} of '{node_id}' is already connected; disconnect it first")
    fed = port_feeder(d, node_id, port)
    if fed is not None:
        raise GraphEditError(f"input {port + 1} of '{node_id}' is already fed by block input {fed + 1}")
    d.inputs[index] = d.inputs[index] + [(node_id, port)]
    graph.blocks.changed(name)


def unfeed_block_input(graph: Graph, name: str, index: int, node_id: str, port: int = 0) -> None:
    """Stop block input ``index`` feeding input ``port`` of ``node_id``; refused for its last target
    (a block input must feed something)."""
    d = _definition(graph, name)
    if not 0 <= index < d.num_inputs:
        raise GraphEditError(f"block '{name}' has no input {index + 1} (it has {d.num_inputs})")
    if (node_id, port) not in d.inputs[index]:
        raise GraphEditError(f"block input {index + 1} of '{name}' does not feed input {port + 1} of '{node_id}'")
    if len(d.inputs[index]) == 1:
        raise GraphEditError(f"block input {index + 1} of '{name}' would feed nothing; connect it to another layer first")
    d.inputs[index] = [t for t in d.inputs[index] if t != (node_id, port)]
    graph.blocks.changed(name)


def set_block_output(graph: Graph, name: str, node_id: str) -> None:
    """Make inner layer ``node_id`` the output of definition ``name``."""
    d = _definition(graph, name)
    _node(d, node_id)
    if d.output == node_id:
        raise GraphEditError(f"'{node_id}' already is the output of block '{name}'")
    d.output = node_id
    graph.blocks.changed(name)
