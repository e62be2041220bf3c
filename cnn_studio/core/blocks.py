"""Blocks: named sub-networks used as one node. Pure graph operations, each with an exact inverse.

Model (see :mod:`.block_defs` and :mod:`.block_spec`):

* a **definition** (:class:`BlockDef`) is a named inner graph with ordered input ports (``inputs[i]``
  lists the inner ``(node, port)`` pairs block input ``i`` feeds) and one output node; a graph keeps
  its definitions by name in ``graph.blocks`` (stored once in a project file however often used);
* an **instance** is a node of type ``"block"`` with config ``{"block": NAME, "inputs": N}``.
  Definitions nest (an inner graph may hold instances of other definitions); recursion is refused.
  Inner ids may be plain numbers (``"0"``), so compiled state_dict keys can read ``layer1.0.conv1.weight``.

Operations (``where`` = None works on the top-level graph, else inside that definition):

* :func:`define` adds a definition built from an inner graph (or its config), :func:`instantiate`
  adds an instance node; :func:`new_inner_graph` gives an empty inner graph to build one with;
* :func:`group` replaces selected nodes by one instance of a new definition, :func:`ungroup`
  inlines an instance back (``ungroup(group(...))`` gives the original graph up to edge order);
* :func:`make_unique` copies an instance's definition under a new name; :func:`rename_definition`,
  :func:`remove_definition` (unused only), :func:`set_ports` (a definition's inputs/output);
  :func:`rename_inner_node` / :func:`remove_inner_node` keep the ports right (plain inner edits do not);
* editing inside a definition is plain graph editing on ``graph.blocks[name].graph`` (``set_param``,
  ``add_node``, ``connect``...): every instance changes and the owner emits ``block_changed``;
* :func:`flatten` returns a copy with every instance inlined (recursively); :func:`instances`
  lists where a definition is used; :func:`validate_definitions` checks definition configs (project
  files, the user library) and raises :class:`GraphEditError` with one clear message.

Undo: the structural operations build the new graph config first (nothing changes if they refuse)
and apply it with ``graph.replace_with`` (one ``graph_reset`` event); an app command undoes one by
``graph.replace_with(before)`` where ``before = graph.to_config()`` was taken before the operation
(:func:`snapshot` / :func:`restore`).
"""
from __future__ import annotations

import copy
from typing import Iterable

from .block_check import MAX_NESTING, validate_definitions
from .block_defs import BlockDef, BlockTable, Port
from .block_spec import BLOCK_TYPE, MAX_BLOCK_INPUTS, block_name_problem, is_known_type, spec_for
from .errors import GraphEditError
from .graph import Graph, is_valid_id, is_valid_inner_id

__all__ = [
    "BLOCK_TYPE", "BlockDef", "BlockTable", "MAX_NESTING", "define", "instantiate", "new_inner_graph", "group", "ungroup",
    "make_unique", "rename_definition", "remove_definition", "set_ports", "rename_inner_node", "remove_inner_node", "flatten", "instances", "is_used",
    "validate_definitions", "nesting_depth", "snapshot", "restore", "unique_name", "definition_closure",
]


_IN = "\x00in"  # pseudo node ids (never valid ids) for a definition's inputs and output while editing
_OUT = "\x00out"


# ------------------------------------------------------------------------------------ helpers
def snapshot(graph: Graph) -> dict:
    """Everything an undo needs (definitions included)."""
    return graph.to_config()


def restore(graph: Graph, snap: dict) -> None:
    graph.replace_with(snap)


def unique_name(graph: Graph, base: str) -> str:
    """``base`` if no definition has that name, else ``base2``, ``base3``..."""
    if base not in graph.blocks:
        return base
    stem = base.rstrip("0123456789") or base
    i = 2
    while f"{stem}{i}" in graph.blocks or block_name_problem(f"{stem}{i}"):
        i += 1
    return f"{stem}{i}"


def new_inner_graph(graph: Graph, name: str = "block") -> Graph:
    """An empty inner graph (numeric ids allowed) sharing ``graph``'s definitions, to build a definition in."""
    return Graph(name, inner=True, blocks=graph.blocks)


def _check_name(graph: Graph, name: str) -> None:
    problem = block_name_problem(name)
    if problem:
        raise GraphEditError(problem)
    if name in graph.blocks:
        raise GraphEditError(f"a block named '{name}' already exists; choose another name")


def definition_closure(graph: Graph, name: str) -> list[str]:
    """``name`` and every definition it uses, directly or nested, dependencies first."""
    seen: list[str] = []
    stack = [name]
    found = set()
    while stack:
        n = stack.pop()
        if n in found or n not in graph.blocks:
            continue
        found.add(n)
        stack.extend(sorted(graph.blocks[n].uses()))
    for n in graph.blocks.dependency_order():
        if n in found:
            seen.append(n)
    return seen


def instances(graph: Graph, name: str) -> list[tuple[str | None, str]]:
    """Where ``name`` is used: (None, node id) at the top level, (definition, node id) inside one."""
    out: list[tuple[str | None, str]] = [(None, n.id) for n in graph.nodes.values() if n.type == BLOCK_TYPE and n.config.get("block") == name]
    for d in graph.blocks.definitions():
        out += [(d.name, n.id) for n in d.graph.nodes.values() if n.type == BLOCK_TYPE and n.config.get("block") == name]
    return out


def is_used(graph: Graph, name: str) -> bool:
    return bool(instances(graph, name))


def nesting_depth(graph: Graph, name: str) -> int:
    """1 for a definition without inner instances, 1 + the deepest inner one otherwise."""
    depth: dict[str, int] = {}
    for n in graph.blocks.dependency_order():
        d = graph.blocks[n]
        depth[n] = 1 + max((depth.get(u, 0) for u in d.uses()), default=0)
    return depth.get(name, 0)


# ------------------------------------------------------------------------ define / instantiate
def define(
    graph: Graph,
    name: str,
    inner: Graph | dict,
    inputs: Iterable[Iterable[Port]],
    output: str,
) -> BlockDef:
    """Add a definition. ``inner``: an inner graph (see :func:`new_inner_graph`) or its config
    (``{"nodes": [...], "edges": [...]}``); ``inputs``: per block input, the inner (node, port)
    pairs it feeds; ``output``: the inner node whose result the block returns."""
    _check_name(graph, name)
    cfg = inner.to_config() if isinstance(inner, Graph) else dict(inner)
    dcfg = {"name": name, "nodes": cfg.get("nodes", []), "edges": cfg.get("edges", []),
            "inputs": [[[n, p] for n, p in targets] for targets in inputs], "output": output}
    validate_definitions(graph.blocks.to_config() + [dcfg], source=f"block '{name}'")
    # only the table changes: load the new definition alone and add it (events: block_added)
    tmp = BlockTable(graph)
    tmp.load([dcfg])
    definition = tmp[name]
    tmp.clear()
    return graph.blocks.add(definition)


def instantiate(graph: Graph, name: str, node_id: str | None = None, pos: Iterable[float] = (0.0, 0.0), where: str | None = None) -> str:
    """Add an instance of definition ``name`` (to the top level, or inside definition ``where``); returns its id."""
    if name not in graph.blocks:
        raise GraphEditError(f"there is no block definition '{name}'")
    target = _target(graph, where)
    if where is not None and (where == name or where in definition_closure(graph, name)):
        raise GraphEditError(f"block '{name}' cannot be used inside '{where}': '{where}' would contain itself")
    if where is not None and nesting_depth(graph, name) + 1 > MAX_NESTING:
        raise GraphEditError(f"blocks may nest at most {MAX_NESTING} levels deep")
    node = target.add_node(BLOCK_TYPE, {"block": name, "inputs": graph.blocks[name].num_inputs}, pos, node_id)
    if where is not None:  # nesting limits over the whole table (where may itself sit deep)
        try:
            validate_definitions(graph.blocks.to_config(), source=f"block '{where}'")
        except GraphEditError:
            target.remove_node(node.id)
            raise
    return node.id


def _target(graph: Graph, where: str | None) -> Graph:
    if where is None:
        return graph
    return graph.blocks[where].graph


# ------------------------------------------------------------------- editable config form
class _Form:
    """A graph (or a definition's inner graph) as plain lists, with its inputs and output as pseudo
    nodes, so group/ungroup treat both alike. ``defs`` is the whole definition table config."""

    def __init__(self, graph: Graph, where: str | None):
        self.top = graph.to_config()
        self.defs: list[dict] = self.top.get("blocks", [])
        self.where = where
        if where is None:
            self.cfg = self.top
            self.nodes = self.cfg["nodes"]
            self.edges = [(e["src"][0], e["src"][1], e["dst"][0], e["dst"][1]) for e in self.cfg["edges"]]
            self.id_ok = is_valid_id
        else:
            self.cfg = next(d for d in self.defs if d["name"] == where)
            self.nodes = self.cfg["nodes"]
            self.edges = [(e["src"][0], e["src"][1], e["dst"][0], e["dst"][1]) for e in self.cfg["edges"]]
            for i, targets in enumerate(self.cfg["inputs"]):
                self.edges += [(f"{_IN}{i}", 0, n, p) for n, p in targets]
            self.edges.append((self.cfg["output"], 0, _OUT, 0))
            self.id_ok = is_valid_inner_id

    def node(self, nid: str) -> dict:
        for n in self.nodes:
            if n["id"] == nid:
                return n
        raise GraphEditError(f"there is no node '{nid}'")

    def ids(self) -> set[str]:
        return {n["id"] for n in self.nodes}

    def finish(self, graph: Graph) -> None:
        real = [e for e in self.edges if not e[0].startswith(_IN) and e[2] != _OUT]
        self.cfg["edges"] = [{"src": [s, sp], "dst": [d, dp]} for s, sp, d, dp in real]
        if self.where is not None:
            inputs: list[list[list]] = [[] for _ in self.cfg["inputs"]]  # the ports stay; their targets move
            for s, _, d, dp in self.edges:
                if s.startswith(_IN):
                    inputs[int(s[len(_IN):])].append([d, dp])
            self.cfg["inputs"] = inputs
            outs = [e[0] for e in self.edges if e[2] == _OUT]
            self.cfg["output"] = outs[0]
        self.top["blocks"] = self.defs
        validate_definitions(self.defs, source="the edited blocks", top_nodes=self.top["nodes"])
        graph.replace_with(self.top)


def _num_inputs(defs: list[dict], n: dict) -> int:
    if n["type"] == BLOCK_TYPE:
        name = n.get("config", {}).get("block")
        for d in defs:
            if d["name"] == name:
                return len(d["inputs"])
    spec = spec_for(n["type"])
    return spec.num_inputs({**spec.defaults(), **(n.get("config") or {})})


# ------------------------------------------------------------------------------- group
def group(graph: Graph, node_ids: Iterable[str], name: str, instance_id: str | None = None, where: str | None = None) -> str:
    """Replace the selected nodes by one instance of a new definition ``name``; returns the instance id.

    Refused (GraphEditError, nothing changed) when the selection is empty, holds the Input or a loss
    node, has an unconnected input, has more than one outgoing tensor (or none), or when a path leaves
    the selection and comes back into it. Block inputs are the distinct outside tensors the selection
    reads, in the order the selected layers first read them."""
    sel_list = list(dict.fromkeys(node_ids))
    if not sel_list:
        raise GraphEditError("select the layers to group into a block first")
    _check_name(graph, name)
    form = _Form(graph, where)
    sel = set(sel_list)
    order = [n["id"] for n in form.nodes]
    for nid in sel_list:
        node = form.node(nid)
        if is_known_type(node["type"]) and spec_for(node["type"]).role != "layer":
            raise GraphEditError(f"'{nid}' is the network's {spec_for(node['type']).title} layer; a block holds only inner layers, so leave it out of the selection")
    # every input of a selected node must be connected
    fed = {(d, dp) for s, _, d, dp in form.edges if d in sel}
    for nid in sel_list:
        n_in = _num_inputs(form.defs, form.node(nid))
        for p in range(n_in):
            if (nid, p) not in fed:
                raise GraphEditError(f"input {p + 1} of '{nid}' is not connected; connect it before grouping")
    leaving = [e for e in form.edges if e[0] in sel and e[2] not in sel]
    # no path may leave the selection and come back
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for s, _, d, _ in form.edges:
        succ.setdefault(s, []).append(d)
        pred.setdefault(d, []).append(s)
    outside_reached: set[str] = set()
    stack = [d for e in leaving for d in [e[2]]]
    while stack:
        n = stack.pop()
        if n in outside_reached or n in sel:
            continue
        outside_reached.add(n)
        stack.extend(succ.get(n, ()))
    for n in outside_reached:
        back = [d for d in succ.get(n, ()) if d in sel]
        if back:
            raise GraphEditError(
                f"'{n}' lies between selected layers (a path leaves the selection and comes back into '{back[0]}'); include it in the selection or select less"
            )
    # exactly one outgoing tensor
    out_srcs = list(dict.fromkeys(e[0] for e in leaving))
    if not out_srcs:
        raise GraphEditError("the selection's result is not used by any layer outside it; a block needs one output that feeds the rest of the network")
    if len(out_srcs) > 1:
        raise GraphEditError(
            f"the selection has {len(out_srcs)} outgoing tensors (from {', '.join(repr(s) for s in out_srcs)}); "
            "a block has one output: select the layers so that only one of them feeds layers outside"
        )
    out_node = out_srcs[0]
    # every selected node must feed the output (else its result would be dropped)
    reach = {out_node}
    stack = [out_node]
    while stack:
        n = stack.pop()
        for p in pred.get(n, ()):
            if p in sel and p not in reach:
                reach.add(p)
                stack.append(p)
    dropped = [n for n in sel_list if n not in reach]
    if dropped:
        raise GraphEditError(f"the result of '{dropped[0]}' would not reach the block's output '{out_node}'; leave it out or connect it")

    # block inputs: distinct outside sources, in the order selected layers (graph order) read them
    incoming = sorted((e for e in form.edges if e[2] in sel and e[0] not in sel), key=lambda e: (order.index(e[2]), e[3]))
    sources = list(dict.fromkeys((e[0], e[1]) for e in incoming))
    if len(sources) > MAX_BLOCK_INPUTS:
        raise GraphEditError(f"the selection reads {len(sources)} outside tensors; a block takes at most {MAX_BLOCK_INPUTS}")
    inputs = [[[e[2], e[3]] for e in incoming if (e[0], e[1]) == src] for src in sources]

    inner_nodes = [copy.deepcopy(n) for n in form.nodes if n["id"] in sel]
    inner_edges = [{"src": [s, sp], "dst": [d, dp]} for s, sp, d, dp in form.edges if s in sel and d in sel]
    dcfg = {"name": name, "nodes": inner_nodes, "edges": inner_edges, "inputs": inputs, "output": out_node}
    if where is not None and 1 + max((_depth_of(form.defs, n["config"].get("block")) for n in inner_nodes if n["type"] == BLOCK_TYPE), default=0) + _depth_of(form.defs, where) > MAX_NESTING:
        raise GraphEditError(f"blocks may nest at most {MAX_NESTING} levels deep")

    # the instance: where the first selected node was, at the centre of the selection
    taken = form.ids() - sel
    inst = instance_id or _fresh(name.lower(), taken, form.id_ok)
    if inst in taken or not form.id_ok(inst):
        raise GraphEditError(f"cannot name the block instance {inst!r}: that id is taken or not valid")
    xs = [float(n.get("pos", [0, 0])[0]) for n in inner_nodes]
    ys = [float(n.get("pos", [0, 0])[1]) for n in inner_nodes]
    inst_node = {"id": inst, "type": BLOCK_TYPE, "config": {"block": name, "inputs": len(inputs)}, "pos": [sum(xs) / len(xs), sum(ys) / len(ys)]}
    first = min(order.index(n) for n in sel)
    kept = [n for n in form.nodes if n["id"] not in sel]
    kept.insert(sum(1 for n in form.nodes[:first] if n["id"] not in sel), inst_node)
    form.nodes[:] = kept
    new_edges = []
    for e in form.edges:
        s, sp, d, dp = e
        if s in sel and d in sel:
            continue
        if d in sel:  # into the selection: one edge per outside source, into that source's port
            edge = (s, sp, inst, sources.index((s, sp)))
            if edge not in new_edges:
                new_edges.append(edge)
            continue
        if s in sel:
            new_edges.append((inst, 0, d, dp))
            continue
        new_edges.append(e)
    form.edges = new_edges
    # the new definition goes before the definition it is grouped in (dependencies first)
    if where is None:
        form.defs.append(dcfg)
    else:
        form.defs.insert(next(i for i, d in enumerate(form.defs) if d["name"] == where), dcfg)
    form.finish(graph)
    return inst


def _depth_of(defs: list[dict], name: str | None) -> int:
    by_name = {d["name"]: d for d in defs}
    memo: dict[str, int] = {}

    def depth(n: str, seen: frozenset) -> int:
        if n not in by_name or n in seen:
            return 0
        if n not in memo:
            inner = [m["config"].get("block") for m in by_name[n]["nodes"] if m["type"] == BLOCK_TYPE]
            memo[n] = 1 + max((depth(u, seen | {n}) for u in inner if isinstance(u, str)), default=0)
        return memo[n]

    return depth(name, frozenset()) if isinstance(name, str) else 0


def _fresh(prefix: str, taken: set[str], id_ok) -> str:
    prefix = "".join(c if c.isalnum() or c == "_" else "_" for c in prefix) or "node"
    if not (prefix[0].isalpha() or prefix[0] == "_"):
        prefix = "n_" + prefix
    prefix = prefix[:56]
    i = 1
    while f"{prefix}{i}" in taken or not id_ok(f"{prefix}{i}"):
        i += 1
    return f"{prefix}{i}"


# ------------------------------------------------------------------------------ ungroup
def ungroup(graph: Graph, instance_id: str, where: str | None = None, remove_unused: bool = True) -> dict[str, str]:
    """Inline an instance: its definition's inner nodes take its place (ids kept when free and valid
    here, else renamed). Returns inner id -> new id. With ``remove_unused`` the definition is removed
    when no other instance uses it (so ungroup undoes group exactly)."""
    form = _Form(graph, where)
    inst = form.node(instance_id)
    if inst["type"] != BLOCK_TYPE:
        raise GraphEditError(f"'{instance_id}' is not a block; only a block can be ungrouped")
    name = inst["config"].get("block")
    dcfg = next((d for d in form.defs if d["name"] == name), None)
    if dcfg is None:
        raise GraphEditError(f"'{instance_id}' uses block '{name}', which has no definition")
    taken = form.ids() - {instance_id}
    mapping: dict[str, str] = {}
    for n in dcfg["nodes"]:
        nid = n["id"]
        if nid in taken or not form.id_ok(nid) or nid in mapping.values():
            base = nid if is_valid_id(nid) else f"{instance_id}_{nid}"
            new = _fresh(base + "_", taken | set(mapping.values()), form.id_ok)
        else:
            new = nid
        mapping[nid] = new
    # inner positions keep their layout, centred where the instance stands
    pos = inst.get("pos", [0, 0])
    xs = [float(n.get("pos", [0, 0])[0]) for n in dcfg["nodes"]] or [0.0]
    ys = [float(n.get("pos", [0, 0])[1]) for n in dcfg["nodes"]] or [0.0]
    dx, dy = float(pos[0]) - sum(xs) / len(xs), float(pos[1]) - sum(ys) / len(ys)
    inlined = []
    for n in dcfg["nodes"]:
        m = copy.deepcopy(n)
        m["id"] = mapping[n["id"]]
        p = n.get("pos", [0, 0])
        m["pos"] = [float(p[0]) + dx, float(p[1]) + dy]
        inlined.append(m)
    at = next(i for i, n in enumerate(form.nodes) if n["id"] == instance_id)
    form.nodes[at : at + 1] = inlined
    new_edges = []
    for s, sp, d, dp in form.edges:
        if d == instance_id:
            port = dp
            for tn, tp in dcfg["inputs"][port] if port < len(dcfg["inputs"]) else ():
                new_edges.append((s, sp, mapping[tn], tp))
        elif s == instance_id:
            new_edges.append((mapping[dcfg["output"]], 0, d, dp))
        else:
            new_edges.append((s, sp, d, dp))
    # inner edges go where the instance's input edges were, so group -> ungroup keeps the edge order close
    inner_edges = [(mapping[e["src"][0]], e["src"][1], mapping[e["dst"][0]], e["dst"][1]) for e in dcfg["edges"]]
    first_out = next((i for i, e in enumerate(new_edges) if e[0] == mapping[dcfg["output"]] and e[2] not in mapping.values()), len(new_edges))
    new_edges[first_out:first_out] = inner_edges
    form.edges = new_edges
    if remove_unused:  # form.nodes is the holder's own list, so this sees the inlined state
        holders = [form.top["nodes"]] + [d["nodes"] for d in form.defs if d["name"] != name]
        if not any(n["type"] == BLOCK_TYPE and n["config"].get("block") == name for h in holders for n in h):
            form.defs[:] = [d for d in form.defs if d["name"] != name]
    form.finish(graph)
    return mapping


# ------------------------------------------------------------------ definition-level edits
def make_unique(graph: Graph, instance_id: str, new_name: str | None = None, where: str | None = None) -> str:
    """Give one instance its own copy of its definition (named ``new_name``, default ``Name2``...),
    so edits of the copy change no other use. Nested definitions stay shared. Returns the new name."""
    target = _target(graph, where)
    node = target.node(instance_id)
    if node.type != BLOCK_TYPE:
        raise GraphEditError(f"'{instance_id}' is not a block")
    old = node.config.get("block")
    source = graph.blocks[old]
    name = new_name or unique_name(graph, old)
    _check_name(graph, name)
    top = graph.to_config()
    dcfg = copy.deepcopy(source.to_config())
    dcfg["name"] = name
    defs = top["blocks"]
    defs.insert(next(i for i, d in enumerate(defs) if d["name"] == old) + 1, dcfg)
    holder = top["nodes"] if where is None else next(d for d in defs if d["name"] == where)["nodes"]
    next(n for n in holder if n["id"] == instance_id)["config"]["block"] = name
    validate_definitions(defs, source="the blocks", top_nodes=top["nodes"])
    graph.replace_with(top)
    return name


def rename_definition(graph: Graph, old: str, new: str) -> None:
    """Rename a definition and every use of it."""
    if old not in graph.blocks:
        raise GraphEditError(f"there is no block definition '{old}'")
    if old == new:
        return
    _check_name(graph, new)
    top = graph.to_config()
    for holder in [top["nodes"]] + [d["nodes"] for d in top["blocks"]]:
        for n in holder:
            if n["type"] == BLOCK_TYPE and n["config"].get("block") == old:
                n["config"]["block"] = new
    for d in top["blocks"]:
        if d["name"] == old:
            d["name"] = new
    graph.replace_with(top)


def remove_definition(graph: Graph, name: str) -> None:
    """Remove a definition no instance uses (refused, naming the uses, otherwise)."""
    if name not in graph.blocks:
        raise GraphEditError(f"there is no block definition '{name}'")
    uses = instances(graph, name)
    if uses:
        where = ", ".join(f"'{nid}'" + (f" in block '{w}'" if w else "") for w, nid in uses[:5])
        raise GraphEditError(f"block '{name}' is still used by {where}; ungroup or delete those first")
    graph.blocks.remove(name)


def set_ports(graph: Graph, name: str, inputs: Iterable[Iterable[Port]], output: str) -> None:
    """Set a definition's input ports and output; every instance gets the new port count (edges
    into ports that no longer exist are removed)."""
    if name not in graph.blocks:
        raise GraphEditError(f"there is no block definition '{name}'")
    top = graph.to_config()
    dcfg = next(d for d in top["blocks"] if d["name"] == name)
    dcfg["inputs"] = [[[n, int(p)] for n, p in targets] for targets in inputs]
    dcfg["output"] = output
    n_in = len(dcfg["inputs"])
    holders: list[tuple[list, list]] = [(top["nodes"], top["edges"])] + [(d["nodes"], d["edges"]) for d in top["blocks"]]
    for nodes, edges in holders:
        ids = {n["id"] for n in nodes if n["type"] == BLOCK_TYPE and n["config"].get("block") == name}
        for n in nodes:
            if n["id"] in ids:
                n["config"]["inputs"] = n_in
        edges[:] = [e for e in edges if not (e["dst"][0] in ids and e["dst"][1] >= n_in)]
    validate_definitions(top["blocks"], source="the blocks", top_nodes=top["nodes"])
    graph.replace_with(top)


def rename_inner_node(graph: Graph, name: str, old: str, new: str) -> None:
    """Rename a node inside definition ``name``, keeping the definition's ports on it."""
    d = graph.blocks[name]
    d.graph.rename_node(old, new)
    d.inputs = [[(new if n == old else n, p) for n, p in targets] for targets in d.inputs]
    if d.output == old:
        d.output = new
    graph.blocks.changed(name)


def remove_inner_node(graph: Graph, name: str, node_id: str) -> None:
    """Remove a node inside definition ``name``. Refused for its output node and for the only
    layer an input port feeds (choose another with set_ports first); other port targets on it go."""
    d = graph.blocks[name]
    d.graph.node(node_id)
    if d.output == node_id:
        raise GraphEditError(f"'{node_id}' is the output of block '{name}'; choose another output first")
    for i, targets in enumerate(d.inputs):
        if targets and all(n == node_id for n, _ in targets):
            raise GraphEditError(f"input {i + 1} of block '{name}' feeds only '{node_id}'; connect that input elsewhere first")
    d.graph.remove_node(node_id)
    d.inputs = [[(n, p) for n, p in targets if n != node_id] for targets in d.inputs]
    graph.blocks.changed(name)


# ------------------------------------------------------------------------------- flatten
def flatten(graph: Graph) -> Graph:
    """A copy of ``graph`` with every block instance inlined, recursively, and no definitions."""
    flat = graph.copy()
    while True:
        inst = next((n.id for n in flat.nodes.values() if n.type == BLOCK_TYPE), None)
        if inst is None:
            break
        ungroup(flat, inst, remove_unused=False)
    flat.replace_with({**flat.to_config(), "blocks": []})
    return flat
