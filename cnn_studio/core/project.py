"""Project files (``*.cnnstudio``): JSON with a format version.

``{"format": "cnn-studio", "version": N, "name", "input", "nodes": [{"id", "type", "config", "pos"}],
"edges": [{"src": [id, port], "dst": [id, port]}], "blocks": [...], "training": {...}, "meta": {...}}``

``blocks`` (version 3) holds each block definition once, however many instances use it:
``{"name", "nodes", "edges", "inputs": [[[id, port], ...], ...], "output": id}``, dependencies first
(see :mod:`cnn_studio.core.blocks`). Version 2 files have no blocks and migrate by gaining an empty
list. Definitions are checked on load like the network: names (they become Python class names),
unknown definitions, recursion and nesting deeper than ``blocks.MAX_NESTING`` are refused by name.

Saving is atomic (temporary file in the same folder, fsync, replace). Loading checks the whole
structure and raises :class:`ProjectFileError` with a message that names what is wrong; it migrates
older versions and refuses newer ones. Layer-level problems (bad parameter values, shapes) are not
load errors: the graph loads and the analysis shows them on their nodes.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from .atomic import atomic_write_bytes as _atomic_write_bytes
from .block_spec import is_known_type
from .blocks import validate_definitions
from .errors import GraphEditError, ProjectFileError
from .graph import ID_RE, Graph

FORMAT = "cnn-studio"
VERSION = 3  # 3: block definitions ("blocks")
SUFFIX = ".cnnstudio"


def graph_to_document(graph: Graph) -> dict:
    """The document of ``graph``; ProjectFileError if its blocks could not be loaded back (a
    recursion or a dangling definition made by editing inside blocks), so no unloadable file is written."""
    cfg = graph.to_config()
    if cfg.get("blocks") or any(n["type"] == "block" for n in cfg["nodes"]):
        try:
            validate_definitions(cfg.get("blocks", []), source="its blocks", top_nodes=cfg["nodes"])
        except GraphEditError as e:
            raise ProjectFileError(f"cannot save the network: {e}; fix the block first (the file on disk is unchanged)") from None
    inp = graph.input_node()
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "name": cfg["name"],
        "input": (
            {"node": inp.id, "shape": [inp.config.get("channels"), inp.config.get("height"), inp.config.get("width")]}
            if inp is not None
            else None
        ),
        "nodes": cfg["nodes"],
        "edges": cfg["edges"],
        "blocks": cfg.get("blocks", []),
        "training": cfg["training"],
        "meta": cfg["meta"],
    }
    return doc


def dumps(graph: Graph) -> str:
    return json.dumps(graph_to_document(graph), indent=2, sort_keys=False) + "\n"


def save_project(graph: Graph, path: str | os.PathLike) -> Path:
    """Write atomically: a crash mid-save leaves the previous file intact."""
    path = Path(path)
    atomic_write_text(path, dumps(graph))
    return path


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """core.atomic's write (temporary file, fsync, replace, folder fsync; stale temporary files of a
    killed save are removed) with the errors as ProjectFileError."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ProjectFileError(f"cannot save '{path}': the folder '{folder}' does not exist")
    try:
        _atomic_write_bytes(path, data)
    except OSError as e:
        raise ProjectFileError(f"cannot save '{path}': {e.strerror or e}; choose a folder you can write to") from None


def load_project(path: str | os.PathLike) -> Graph:
    path = Path(path)
    if not path.exists():
        raise ProjectFileError(f"'{path}' does not exist; check the path")
    if path.is_dir():
        raise ProjectFileError(f"'{path}' is a folder, not a project file; pick a {SUFFIX} file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ProjectFileError(f"cannot read '{path}': {e.strerror or e}") from None
    return loads(raw, source=str(path))


# Integer literals longer than this are refused while parsing: no layer parameter can use them, a
# larger value would overflow float conversions in the analysis, and Python itself refuses to convert
# more than 4300 digits (a ValueError, not a JSON error). NaN/Infinity and 1e999 are parsed and then
# reported by the analysis on the node that holds them ("expects a whole number, got nan").
MAX_INT_DIGITS = 300
# Documents nest 4 levels (document, nodes, node, config, list value); 64 leaves ample room.
MAX_DEPTH = 64


class _NumberTooLong(ValueError):
    def __init__(self, literal: str):
        super().__init__(literal)
        self.literal = literal


def _parse_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise _NumberTooLong(text)
    return int(text)


def loads(raw: bytes | str, source: str = "project") -> Graph:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProjectFileError(f"'{source}' is not a CNN Studio project (not UTF-8 text)") from None
    if not raw.strip():
        raise ProjectFileError(f"'{source}' is empty; it may have been truncated while saving. Open an autosave or backup instead")
    try:
        doc = json.loads(raw, parse_int=_parse_int)
    except _NumberTooLong as e:
        line = raw.count("\n", 0, max(0, raw.find(e.literal))) + 1
        raise ProjectFileError(
            f"'{source}' cannot be read: line {line} holds an integer of {len(e.literal.lstrip('-'))} digits "
            f"({e.literal[:12]}...); numbers in a project file have at most {MAX_INT_DIGITS} digits"
        ) from None
    except json.JSONDecodeError as e:
        hint = "it looks truncated" if e.pos >= len(raw.rstrip()) - 1 else "it is not valid JSON"
        raise ProjectFileError(f"'{source}' cannot be read: {hint} (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise ProjectFileError(f"'{source}' cannot be read: it is nested too deeply") from None
    except ValueError as e:  # any other conversion the decoder refuses: one line, never a traceback
        raise ProjectFileError(f"'{source}' cannot be read: {e}") from None
    return document_to_graph(doc, source)


def _depth(doc: Any) -> int:
    """Nesting depth of lists/objects (stops counting past MAX_DEPTH), measured without recursion: the
    decoder accepts ~1000 levels, which copy.deepcopy and the analysis would overflow the stack on."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((c, d + 1) for c in v)
    return deepest


def document_to_graph(doc: Any, source: str = "project") -> Graph:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProjectFileError(f"'{source}' is not a CNN Studio project (missing \"format\": \"{FORMAT}\")")
    if _depth(doc) > MAX_DEPTH:
        raise ProjectFileError(
            f"'{source}' nests lists and objects more than {MAX_DEPTH} levels deep; a project file is much flatter, "
            "so this one is damaged or not a project"
        )
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProjectFileError(f"'{source}' has no valid format version")
    if version > VERSION:
        raise ProjectFileError(
            f"'{source}' was saved by a newer CNN Studio (file format {version}, this version reads up to {VERSION}); update CNN Studio to open it"
        )
    if version < 1:
        raise ProjectFileError(f"'{source}' has an unknown format version {version}")
    while version < VERSION:
        doc = MIGRATIONS[version](doc)
        version += 1
    _check_structure(doc, source)
    try:
        return Graph.from_config(doc)
    except GraphEditError as e:
        raise ProjectFileError(f"'{source}': {e}") from None


def _check_structure(doc: dict, source: str) -> None:
    def fail(msg: str) -> None:
        raise ProjectFileError(f"'{source}': {msg}")

    if not isinstance(doc.get("name", ""), str):
        fail('"name" must be text')
    nodes = doc.get("nodes")
    if not isinstance(nodes, list):
        fail('the "nodes" list is missing')
    edges = doc.get("edges", [])
    if not isinstance(edges, list):
        fail('"edges" must be a list')
    for key in ("training", "meta"):
        if doc.get(key) is not None and not isinstance(doc.get(key), dict):
            fail(f'"{key}" must be an object')
    ids = set()
    for i, n in enumerate(nodes):
        if not isinstance(n, dict):
            fail(f"node {i + 1} is not an object")
        for key in ("id", "type"):
            if key not in n:
                fail(f'node {i + 1} has no "{key}"')
        nid, typ = n["id"], n["type"]
        if not isinstance(nid, str) or not ID_RE.match(nid):
            fail(f"node {i + 1} has an invalid id {nid!r}")
        if nid in ids:
            fail(f"node id '{nid}' appears twice")
        ids.add(nid)
        if not isinstance(typ, str) or not is_known_type(typ):
            fail(f"node '{nid}' has an unknown layer type {typ!r}; it may come from a newer CNN Studio or a plug-in")
        if not isinstance(n.get("config", {}), dict):
            fail(f"node '{nid}': \"config\" must be an object")
        pos = n.get("pos", [0, 0])
        if (
            not isinstance(pos, list)
            or len(pos) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e9 for v in pos)
        ):
            fail(f"node '{nid}': \"pos\" must be two numbers [x, y]")
    for i, e in enumerate(edges):
        ok = (
            isinstance(e, dict)
            and all(
                isinstance(e.get(k), list)
                and len(e[k]) == 2
                and isinstance(e[k][0], str)
                and isinstance(e[k][1], int)
                and not isinstance(e[k][1], bool)
                and 0 <= e[k][1] < 64
                for k in ("src", "dst")
            )
        )
        if not ok:
            fail(f'edge {i + 1} must look like {{"src": [id, port], "dst": [id, port]}}')
        for k in ("src", "dst"):
            if e[k][0] not in ids:
                fail(f"edge {i + 1} refers to node '{e[k][0]}', which does not exist")
    try:  # block definitions, and the block instances of the network
        validate_definitions(doc.get("blocks") or [], source="its blocks", top_nodes=nodes)
    except GraphEditError as e:
        fail(str(e))


def _migrate_1_to_2(doc: dict) -> dict:
    """Version 1 kept positions in a separate "layout" map and edges as "a:0" -> "b:0" strings."""
    doc = dict(doc)
    layout = doc.pop("layout", {})
    if not isinstance(layout, dict):
        layout = {}
    if isinstance(doc.get("nodes"), list):
        nodes = []
        for n in doc["nodes"]:
            if isinstance(n, dict):
                n = dict(n)
                nid = n.get("id")
                pos = layout.get(nid, [0, 0]) if isinstance(nid, str) else [0, 0]
                n.setdefault("pos", list(pos) if isinstance(pos, (list, tuple)) else pos)
                n.setdefault("config", n.pop("params", {}))
            nodes.append(n)
        doc["nodes"] = nodes
    if not isinstance(doc.get("edges", []), list):
        return doc
    edges = []
    for e in doc.get("edges", []) or []:
        if isinstance(e, dict) and isinstance(e.get("from"), str) and isinstance(e.get("to"), str):
            try:
                s, sp = e["from"].rsplit(":", 1)
                d, dp = e["to"].rsplit(":", 1)
                e = {"src": [s, int(sp)], "dst": [d, int(dp)]}
            except ValueError:
                raise ProjectFileError(f"edge {e['from']!r} -> {e['to']!r} must look like 'node:port'") from None
        edges.append(e)
    doc["edges"] = edges
    doc["version"] = 2
    return doc


def _migrate_2_to_3(doc: dict) -> dict:
    """Version 2 had no blocks."""
    doc = dict(doc)
    doc.setdefault("blocks", [])
    doc["version"] = 3
    return doc


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}
