"""Gestures as undo macros: drop a layer on a node or an edge, paste, duplicate, auto layout.

Pure functions of the graph that return one ``Macro`` (often a macro) or raise
:class:`GraphEditError` with the reason; the canvas pushes what they return.

Positions are node centres; the layout puts ranks ``DY`` apart, so appending or inserting a layer
pushes the layers below it down by one rank when there is no room, keeping a stacked CNN tidy.
"""
from __future__ import annotations

import copy
import json
from typing import Iterable

from ..core.errors import GraphEditError
from ..core.graph import ID_RE, Edge, Graph, check_node_training
# the block spec too: block instances are copied, pasted, deleted and undone like layers
from ..core.block_spec import is_known_type as has_spec, spec_for as get_spec
from ..core.layout import DX, DY, NODE_W, layered_positions
from .commands import AddNodeCommand, ConnectCommand, DisconnectCommand, Macro, MoveNodesCommand, as_macro, auto_id, unique_id

NODES_MIME = "application/x-cnnstudio-nodes"
LAYER_MIME = "application/x-cnnstudio-layer"
CLIP_FORMAT = "cnn-studio-nodes"


def _has_output(type_id: str) -> bool:
    return get_spec(type_id).role != "output"


def _takes_input(type_id: str) -> bool:
    spec = get_spec(type_id)
    return spec.num_inputs(spec.defaults()) > 0


def _downstream(graph: Graph, start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.successors(start))
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(graph.successors(n))
    return seen


def _shift(graph: Graph, ids: Iterable[str], dy: float, parent: Macro) -> None:
    moves = {n: (graph.nodes[n].pos, (graph.nodes[n].pos[0], graph.nodes[n].pos[1] + dy)) for n in ids}
    if moves:
        MoveNodesCommand(graph, moves, "Make room", parent=parent)


def _make_room(graph: Graph, pos: tuple[float, float], keep: set[str], parent: Macro) -> None:
    """Push the cards that would sit under a new card at ``pos`` (and what follows them) one rank
    down."""
    hit = {
        n.id
        for n in graph.nodes.values()
        if n.id not in keep and abs(n.pos[0] - pos[0]) < NODE_W and abs(n.pos[1] - pos[1]) < DY * 0.75
    }
    if hit:
        for n in list(hit):
            hit |= _downstream(graph, n)
        _shift(graph, hit - keep, DY, parent)


def add_node(graph: Graph, type_id: str, pos: tuple[float, float]) -> tuple[Macro, str]:
    cmd = AddNodeCommand(graph, type_id, None, pos)
    return as_macro(cmd), cmd.node_id


def append_after(graph: Graph, type_id: str, target: str) -> tuple[Macro, str]:
    """Drop ``type_id`` on node ``target``: the new layer follows it and takes over its outgoing
    links (so it lands between the target and the next layer)."""
    if not has_spec(type_id):
        raise GraphEditError(f"unknown layer type '{type_id}'")
    spec = get_spec(type_id)
    tnode = graph.node(target)
    if not _takes_input(type_id):
        raise GraphEditError(f"{spec.title} takes no input, so it cannot follow '{target}'")
    if not _has_output(tnode.type):
        # the loss ends the network: put the new layer in front of it instead
        e = graph.edge_into(target, 0)
        if e is not None:
            return insert_on_edge(graph, type_id, e)
        return prepend_before(graph, type_id, target, 0)
    x, y = tnode.pos
    outs = graph.out_edges(target)
    new_id = auto_id(graph, type_id)
    macro = Macro(f"Append {spec.title} '{new_id}' after '{target}'")
    if not _has_output(type_id) and outs:
        # a loss on a node that already feeds something: a side branch
        AddNodeCommand(graph, type_id, None, (x + DX, y + DY), new_id, parent=macro)
        ConnectCommand(graph, target, new_id, 0, 0, parent=macro, check=False)
        return macro, new_id
    below = [graph.nodes[e.dst].pos[1] for e in outs]
    if outs and min(below) < y + 2 * DY - 1:
        _shift(graph, _downstream(graph, target), DY, macro)
    elif not outs:
        _make_room(graph, (x, y + DY), {target}, macro)
    AddNodeCommand(graph, type_id, None, (x, y + DY), new_id, parent=macro)
    for e in outs:
        DisconnectCommand(graph, e, parent=macro, check=False)
    ConnectCommand(graph, target, new_id, 0, 0, parent=macro, check=False)
    for e in outs:
        ConnectCommand(graph, new_id, e.dst, 0, e.dst_port, parent=macro, check=False)
    return macro, new_id


def prepend_before(graph: Graph, type_id: str, target: str, port: int) -> tuple[Macro, str]:
    """Drop on a free input port: the new layer is placed above and feeds that port."""
    spec = get_spec(type_id)
    if not _has_output(type_id):
        raise GraphEditError(f"{spec.title} has no output, so it cannot feed '{target}'")
    e = graph.edge_into(target, port)
    if e is not None:
        return insert_on_edge(graph, type_id, e)
    tnode = graph.node(target)
    n_in = tnode.num_inputs()
    x = tnode.pos[0] + (port - (n_in - 1) / 2) * DX if n_in > 1 else tnode.pos[0]
    new_id = auto_id(graph, type_id)
    macro = Macro(f"Add {spec.title} '{new_id}' before '{target}'")
    AddNodeCommand(graph, type_id, None, (x, tnode.pos[1] - DY), new_id, parent=macro)
    ConnectCommand(graph, new_id, target, 0, port, parent=macro, check=False)
    return macro, new_id


def insert_on_edge(graph: Graph, type_id: str, edge: Edge) -> tuple[Macro, str]:
    """Drop ``type_id`` on a link A -> B: A -> new -> B."""
    if not has_spec(type_id):
        raise GraphEditError(f"unknown layer type '{type_id}'")
    spec = get_spec(type_id)
    if edge not in graph.edges:
        raise GraphEditError(f"there is no edge from '{edge.src}' to '{edge.dst}'")
    if not _takes_input(type_id) or not _has_output(type_id):
        what = "takes no input" if not _takes_input(type_id) else "has no output"
        raise GraphEditError(f"{spec.title} {what}, so it cannot go inside a link")
    a, b = graph.nodes[edge.src], graph.nodes[edge.dst]
    new_id = auto_id(graph, type_id)
    macro = Macro(f"Insert {spec.title} '{new_id}' between '{edge.src}' and '{edge.dst}'")
    if b.pos[1] - a.pos[1] >= 2 * DY - 1:
        pos = ((a.pos[0] + b.pos[0]) / 2, (a.pos[1] + b.pos[1]) / 2)
    else:
        pos = (b.pos[0], a.pos[1] + DY)
        _shift(graph, {edge.dst} | _downstream(graph, edge.dst), DY + max(0.0, a.pos[1] + DY - b.pos[1]), macro)
    AddNodeCommand(graph, type_id, None, pos, new_id, parent=macro)
    DisconnectCommand(graph, edge, parent=macro, check=False)
    ConnectCommand(graph, edge.src, new_id, edge.src_port, 0, parent=macro, check=False)
    ConnectCommand(graph, new_id, edge.dst, 0, edge.dst_port, parent=macro, check=False)
    return macro, new_id


def layout_command(graph: Graph) -> Macro:
    moves = {nid: (graph.nodes[nid].pos, pos) for nid, pos in layered_positions(graph).items()}
    cmd = MoveNodesCommand(graph, moves, "Auto layout")
    if not cmd.moves:
        raise GraphEditError("the layout is already tidy")
    return as_macro(cmd)


# ------------------------------------------------------------------------------------ clipboard
class _PasteNodeCommand(AddNodeCommand):
    """Add a pasted node with the training options its copy had (``frozen``, ``lr_mult``): a copy of
    a frozen layer is frozen too, so pasting does not silently make weights trainable again."""

    def __init__(self, graph: Graph, type_id: str, config: dict, pos, node_id: str, frozen: bool, lr_mult: float, parent=None) -> None:
        super().__init__(graph, type_id, config, pos, node_id, parent=parent, check=False)
        self.frozen, self.lr_mult = frozen, lr_mult

    def redo(self) -> None:
        self.graph.add_node(self.type_id, self.config, self.pos, self.node_id, frozen=self.frozen, lr_mult=self.lr_mult)


def copy_payload(graph: Graph, node_ids: Iterable[str]) -> dict:
    ids = [n for n in graph.nodes if n in set(node_ids)]  # graph order
    if not ids:
        raise GraphEditError("select the layers to copy first")
    keep = set(ids)
    return {
        "format": CLIP_FORMAT,
        "version": 1,
        "nodes": [graph.nodes[n].to_config() for n in ids],
        "edges": [e.to_config() for e in graph.edges if e.src in keep and e.dst in keep],
    }


def payload_to_json(payload: dict) -> str:
    return json.dumps(payload, indent=1)


def parse_payload(text: str | bytes) -> dict:
    """Check a clipboard payload; raises GraphEditError naming what is wrong."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise GraphEditError("the clipboard holds no CNN Studio layers") from None
    if not isinstance(doc, dict) or doc.get("format") != CLIP_FORMAT or not isinstance(doc.get("nodes"), list):
        raise GraphEditError("the clipboard holds no CNN Studio layers")
    ids = set()
    for n in doc["nodes"]:
        if not isinstance(n, dict) or not isinstance(n.get("id"), str) or not ID_RE.match(n["id"]) or n["id"] in ids:
            raise GraphEditError("the clipboard's layers are damaged (bad or repeated id)")
        if not isinstance(n.get("type"), str) or not has_spec(n["type"]):
            raise GraphEditError(f"the clipboard holds an unknown layer type {n.get('type')!r}")
        if not isinstance(n.get("config", {}), dict):
            raise GraphEditError(f"the clipboard's layer '{n['id']}' has a damaged config")
        # the training options the copy carries (Node.to_config writes them only when set)
        check_node_training(n.get("frozen", False), n.get("lr_mult", 1.0), f"the clipboard's layer '{n['id']}'")
        pos = n.get("pos", [0, 0])
        if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)):
            raise GraphEditError(f"the clipboard's layer '{n['id']}' has a damaged position")
        ids.add(n["id"])
    edges = doc.get("edges", [])
    if not isinstance(edges, list):
        raise GraphEditError("the clipboard's links are damaged")
    for e in edges:
        try:
            (s, sp), (d, dp) = e["src"], e["dst"]
            ok = s in ids and d in ids and isinstance(sp, int) and isinstance(dp, int)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise GraphEditError("the clipboard's links are damaged")
    return doc


def paste_command(graph: Graph, payload: dict, offset: tuple[float, float] | None = None) -> tuple[Macro, list[str]]:
    """Add the payload's nodes (ids renamed where they clash) and its internal links, as one step.

    With no offset the copies land 40 px right and below the originals, further while that spot is
    taken (so repeated pastes fan out instead of stacking)."""
    nodes = payload["nodes"]
    if not nodes:
        raise GraphEditError("the clipboard is empty")
    missing = sorted({str((n.get("config") or {}).get("block")) for n in nodes if n["type"] == "block" and (n.get("config") or {}).get("block") not in graph.blocks})
    if missing:  # a block instance needs its definition, which the clipboard does not carry
        raise GraphEditError(
            f"this network has no block definition {', '.join(repr(m) for m in missing)}; save the block to My blocks "
            "(Network > Blocks) in the other network and drop it from the palette here"
        )
    if offset is None:
        occupied = {(round(n.pos[0]), round(n.pos[1])) for n in graph.nodes.values()}
        step = 1
        first = nodes[0].get("pos", [0, 0])
        while (round(first[0] + 40 * step), round(first[1] + 40 * step)) in occupied and step < 200:
            step += 1
        offset = (40.0 * step, 40.0 * step)
    taken = set(graph.nodes)
    rename: dict[str, str] = {}
    for n in nodes:
        new = unique_id(n["id"], taken)
        rename[n["id"]] = new
        taken.add(new)
    macro = Macro(f"Paste {len(nodes)} layer{'s' if len(nodes) != 1 else ''}")
    for n in nodes:
        pos = n.get("pos", [0, 0])
        _PasteNodeCommand(graph, n["type"], copy.deepcopy(n.get("config") or {}), (pos[0] + offset[0], pos[1] + offset[1]), rename[n["id"]],
                          bool(n.get("frozen", False)), float(n.get("lr_mult", 1.0)), parent=macro)
    used: set[tuple[str, int]] = set()
    by_id = {n["id"]: n for n in nodes}
    for e in payload.get("edges", []):
        (s, sp), (d, dp) = e["src"], e["dst"]
        key = (rename[d], int(dp))
        spec = get_spec(by_id[d]["type"])
        n_in = spec.num_inputs({**spec.defaults(), **(by_id[d].get("config") or {})})
        if key in used or sp != 0 or not 0 <= dp < n_in or s == d:
            continue
        used.add(key)
        ConnectCommand(graph, rename[s], rename[d], int(sp), int(dp), parent=macro, check=False)
    return macro, [rename[n["id"]] for n in nodes]
