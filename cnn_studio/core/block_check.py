"""Checks of block definition configs, for project files, the user library and the block operations.

:func:`validate_definitions` raises :class:`GraphEditError` with one message naming the definition
and what is wrong: bad or duplicate names (they become Python class names), unknown layer types or
definitions, Input/loss layers inside a block, bad ports, recursion (found without recursing: a file
can nest anything) and nesting deeper than ``MAX_NESTING``. Standard library only.
"""
from __future__ import annotations

from typing import Any

from .block_spec import BLOCK_TYPE, MAX_BLOCK_INPUTS, block_name_problem, is_known_type, spec_for
from .errors import GraphEditError
from .graph import is_valid_inner_id

# Blocks inside blocks inside blocks...: deeper than this is refused (a ResNet needs 3 levels).
MAX_NESTING = 16
MAX_DEFINITIONS = 2000
MAX_INNER_NODES = 100000


def validate_definitions(defs: Any, source: str = "project", top_nodes: list | None = None) -> None:
    """Check definition configs (as ``BlockTable.to_config`` writes them) and the block instances
    of ``top_nodes``; raise GraphEditError with one message naming the definition and what is wrong:
    bad or duplicate names, unknown types or definitions, bad ports, recursion, nesting too deep."""

    def fail(msg: str) -> None:
        raise GraphEditError(f"{source}: {msg}")

    if not isinstance(defs, list):
        fail('"blocks" must be a list of block definitions')
    if len(defs) > MAX_DEFINITIONS:
        fail(f"holds {len(defs)} block definitions; at most {MAX_DEFINITIONS} are allowed")
    by_name: dict[str, dict] = {}
    total_nodes = 0
    for i, d in enumerate(defs):
        if not isinstance(d, dict):
            fail(f"block definition {i + 1} is not an object")
        name = d.get("name")
        problem = block_name_problem(name)
        if problem:
            fail(f"block definition {i + 1}: {problem}")
        if name in by_name:
            fail(f"block '{name}' is defined twice")
        by_name[name] = d
    for name, d in by_name.items():
        where = f"block '{name}'"
        nodes, edges = d.get("nodes"), d.get("edges", [])
        if not isinstance(nodes, list) or not nodes:
            fail(f"{where} has no layers (\"nodes\" must be a non-empty list)")
        if not isinstance(edges, list):
            fail(f'{where}: "edges" must be a list')
        total_nodes += len(nodes)
        if total_nodes > MAX_INNER_NODES:
            fail(f"the block definitions hold more than {MAX_INNER_NODES} layers")
        ids: dict[str, dict] = {}
        for j, n in enumerate(nodes):
            if not isinstance(n, dict) or not isinstance(n.get("id"), str) or not is_valid_inner_id(n["id"]):
                nid = n.get("id") if isinstance(n, dict) else None
                fail(f"{where}: layer {j + 1} has an invalid id {nid!r}; use letters, digits and _ or a plain number")
            nid = n["id"]
            if nid in ids:
                fail(f"{where}: layer id '{nid}' appears twice")
            typ = n.get("type")
            if not is_known_type(typ):
                fail(f"{where}: layer '{nid}' has an unknown layer type {typ!r}")
            if spec_for(typ).role != "layer":
                fail(f"{where}: layer '{nid}' is an {spec_for(typ).title} layer, which a block cannot hold")
            if not isinstance(n.get("config", {}), dict):
                fail(f"{where}: layer '{nid}': \"config\" must be an object")
            pos = n.get("pos", [0, 0])
            if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e9 for v in pos)):
                fail(f"{where}: layer '{nid}': \"pos\" must be two numbers [x, y]")
            ids[nid] = n
        for e in edges:
            ok = isinstance(e, dict) and all(
                isinstance(e.get(k), list) and len(e[k]) == 2 and isinstance(e[k][0], str) and isinstance(e[k][1], int)
                and not isinstance(e[k][1], bool) and 0 <= e[k][1] < 64 for k in ("src", "dst")
            )
            if not ok:
                fail(f'{where}: an edge must look like {{"src": [id, port], "dst": [id, port]}}')
            for k in ("src", "dst"):
                if e[k][0] not in ids:
                    fail(f"{where}: an edge refers to layer '{e[k][0]}', which the block does not hold")
        inputs = d.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= MAX_BLOCK_INPUTS:
            fail(f'{where}: "inputs" must list 1 to {MAX_BLOCK_INPUTS} input ports')
        fed = {(e["dst"][0], e["dst"][1]) for e in edges}
        for k, targets in enumerate(inputs):
            if not isinstance(targets, list) or not targets:
                fail(f"{where}: input {k + 1} must list the layers it feeds as [[id, port], ...]")
            for t in targets:
                if not (isinstance(t, list) and len(t) == 2 and isinstance(t[0], str) and isinstance(t[1], int) and not isinstance(t[1], bool)):
                    fail(f"{where}: input {k + 1} must list the layers it feeds as [[id, port], ...]")
                if t[0] not in ids:
                    fail(f"{where}: input {k + 1} feeds layer '{t[0]}', which the block does not hold")
                if not 0 <= t[1] < 64:
                    fail(f"{where}: input {k + 1} feeds port {t[1] + 1} of '{t[0]}', which it does not have")
                if (t[0], t[1]) in fed:
                    fail(f"{where}: input {t[1] + 1} of '{t[0]}' is fed twice (by a block input and an edge)")
                fed.add((t[0], t[1]))
        if not isinstance(d.get("output"), str) or d["output"] not in ids:
            fail(f"{where}: its output {d.get('output')!r} is not one of its layers")
        for n in nodes:
            if n["type"] == BLOCK_TYPE:
                _check_instance(fail, where, n, by_name)
    # recursion and depth, without recursion (a file can nest anything)
    depth: dict[str, int] = {}
    state: dict[str, int] = {}
    for root in by_name:
        if root in state:
            continue
        stack = [(root, _uses(by_name[root]))]
        state[root] = 1
        path = [root]
        while stack:
            name, todo = stack[-1]
            if todo:
                child = todo.pop()
                if state.get(child) == 1:
                    cycle = path[path.index(child):] + [child]
                    fail(f"block '{child}' contains itself ({' -> '.join(cycle)}); a block cannot be used inside itself")
                if child not in state:
                    state[child] = 1
                    stack.append((child, _uses(by_name[child])))
                    path.append(child)
                continue
            stack.pop()
            path.pop()
            state[name] = 2
            depth[name] = 1 + max((depth[u] for u in _uses(by_name[name])), default=0)
            if depth[name] > MAX_NESTING:
                fail(f"block '{name}' nests blocks {depth[name]} levels deep; at most {MAX_NESTING} are allowed")
    for n in top_nodes or []:
        if isinstance(n, dict) and n.get("type") == BLOCK_TYPE:
            _check_instance(fail, "the network", n, by_name)


def _uses(d: dict) -> list[str]:
    return sorted({n["config"].get("block") for n in d["nodes"] if n["type"] == BLOCK_TYPE and isinstance(n.get("config", {}).get("block"), str)})


def _check_instance(fail, where: str, n: dict, by_name: dict) -> None:
    cfg = n.get("config") or {}
    name = cfg.get("block")
    if not isinstance(name, str) or name not in by_name:
        fail(f"{where}: layer '{n.get('id')}' uses block {name!r}, which has no definition")
    want = len(by_name[name]["inputs"]) if isinstance(by_name[name].get("inputs"), list) else None
    if want is not None and cfg.get("inputs", 1) != want:
        fail(f"{where}: layer '{n.get('id')}' has {cfg.get('inputs')!r} input ports but block '{name}' takes {want}")
