"""The user block library: block definitions saved in the studio home, to drop into any network.

One file per block, ``<studio home>/blocks/<Name>.cnnblock`` (JSON:
``{"format": "cnn-studio-block", "version": 1, "name": Name, "blocks": [definitions]}``, the
definitions it uses first and ``Name`` last), so a damaged file costs only its own entry: listing
reports it as a problem (one line naming the file) and shows every other entry; saving is atomic
(core.atomic), so a crash mid-save leaves the previous file. Loading parses JSON only (no code),
refuses files over ``MAX_FILE_BYTES``, numbers of absurd length, deep nesting, bad names (block
names become Python class names) and definitions that do not validate (recursion, unknown types...).

:func:`add_to_graph` brings a saved block (and what it uses) into a graph: a definition the graph
already has under the same name is reused when identical, else the incoming one is renamed
(``Name2``...) and the references to it rewritten, so nothing in the graph changes meaning.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_bytes
from .block_defs import BlockTable
from .block_spec import BLOCK_TYPE, block_name_problem
from .blocks import definition_closure, validate_definitions
from .errors import GraphEditError, StudioError
from .graph import Graph
from .paths import studio_home

FORMAT = "cnn-studio-block"
VERSION = 1
SUFFIX = ".cnnblock"
MAX_FILE_BYTES = 16 * 2**20
MAX_INT_DIGITS = 300
MAX_DEPTH = 64


class BlockLibraryError(StudioError):
    """A library entry cannot be read, written or used; the message names the file and the fix."""


@dataclass(frozen=True)
class LibraryEntry:
    name: str
    path: Path
    inputs: int
    layers: int  # inner layers of the block itself
    uses: tuple[str, ...]  # the other definitions stored with it


def library_dir(folder: str | os.PathLike | None = None, create: bool = False) -> Path:
    path = Path(folder) if folder is not None else studio_home() / "blocks"
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BlockLibraryError(f"cannot create the block library folder '{path}': {e.strerror or e}") from None
    return path


def _path_for(name: str, folder) -> Path:
    problem = block_name_problem(name)
    if problem:
        raise BlockLibraryError(problem)
    return library_dir(folder) / f"{name}{SUFFIX}"


def save_block(graph: Graph, name: str, folder: str | os.PathLike | None = None) -> Path:
    """Save definition ``name`` of ``graph`` with every definition it uses (replacing an entry of that name)."""
    if name not in graph.blocks:
        raise BlockLibraryError(f"the network has no block '{name}' to save")
    names = definition_closure(graph, name)
    defs = [graph.blocks[n].to_config() for n in names if n != name] + [graph.blocks[name].to_config()]
    validate_definitions(defs, source=f"block '{name}'")
    doc = {"format": FORMAT, "version": VERSION, "name": name, "blocks": defs}
    path = _path_for(name, folder)
    library_dir(folder, create=True)
    try:
        atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
    except OSError as e:
        raise BlockLibraryError(f"cannot save block '{name}' to '{path}': {e.strerror or e}") from None
    return path


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _depth(doc) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((c, d + 1) for c in v)
    return deepest


def read_block_file(path: str | os.PathLike) -> list[dict]:
    """The checked definitions of one library file (the named block last); BlockLibraryError otherwise."""
    path = Path(path)
    where = f"block library file '{path.name}'"
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BlockLibraryError(f"{where} is {size // 2**20} MiB; a block file is far smaller, so it is not one (delete it)")
        raw = path.read_bytes()
    except OSError as e:
        raise BlockLibraryError(f"cannot read {where}: {e.strerror or e}") from None
    try:
        doc = json.loads(raw.decode("utf-8"), parse_int=_parse_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BlockLibraryError(f"{where} is damaged ({str(e).splitlines()[0][:120]}); delete it or save the block again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BlockLibraryError(f'{where} is not a CNN Studio block (missing "format": "{FORMAT}")')
    if _depth(doc) > MAX_DEPTH:
        raise BlockLibraryError(f"{where} nests more than {MAX_DEPTH} levels deep; it is damaged")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BlockLibraryError(f"{where} has no valid format version")
    if version > VERSION:
        raise BlockLibraryError(f"{where} was saved by a newer CNN Studio (block format {version}); update CNN Studio to use it")
    name, defs = doc.get("name"), doc.get("blocks")
    problem = block_name_problem(name)
    if problem:
        raise BlockLibraryError(f"{where}: {problem}")
    if path.stem != name:
        raise BlockLibraryError(f"{where} holds block '{name}'; rename the file to '{name}{SUFFIX}'")
    try:
        validate_definitions(defs, source=where)
    except GraphEditError as e:
        raise BlockLibraryError(str(e)) from None
    if not defs or defs[-1].get("name") != name:
        raise BlockLibraryError(f"{where}: its last definition must be block '{name}' itself")
    return defs


def list_blocks(folder: str | os.PathLike | None = None) -> tuple[list[LibraryEntry], list[str]]:
    """(entries sorted by name, one message per unreadable file); never raises for a bad file."""
    entries: list[LibraryEntry] = []
    problems: list[str] = []
    root = library_dir(folder)
    try:
        files = sorted(p for p in root.iterdir() if p.suffix == SUFFIX)
    except FileNotFoundError:
        return [], []
    except OSError as e:
        return [], [f"cannot read the block library folder '{root}': {e.strerror or e}"]
    for p in files:
        try:
            defs = read_block_file(p)
        except BlockLibraryError as e:
            problems.append(str(e))
            continue
        last = defs[-1]
        entries.append(LibraryEntry(last["name"], p, len(last["inputs"]), len(last["nodes"]), tuple(d["name"] for d in defs[:-1])))
    return entries, problems


def load_block(name: str, folder: str | os.PathLike | None = None) -> list[dict]:
    path = _path_for(name, folder)
    if not path.exists():
        raise BlockLibraryError(f"the block library has no block '{name}'")
    return read_block_file(path)


def delete_block(name: str, folder: str | os.PathLike | None = None) -> None:
    path = _path_for(name, folder)
    try:
        path.unlink()
    except FileNotFoundError:
        raise BlockLibraryError(f"the block library has no block '{name}'") from None
    except OSError as e:
        raise BlockLibraryError(f"cannot delete '{path}': {e.strerror or e}") from None


def _same(a: dict, b: dict) -> bool:
    def strip(d: dict) -> dict:
        d = json.loads(json.dumps(d))
        for n in d["nodes"]:
            n.pop("pos", None)
        d.pop("name", None)
        return d

    return strip(a) == strip(b)


def add_to_graph(graph: Graph, name: str, folder: str | os.PathLike | None = None, defs: list[dict] | None = None) -> str:
    """Add saved block ``name`` (and what it uses) to the graph's definitions; returns the name it
    has there. Drop it on the canvas with ``blocks.instantiate(graph, returned_name, ...)``."""
    defs = json.loads(json.dumps(defs if defs is not None else load_block(name, folder)))
    renamed: dict[str, str] = {}
    new: list[dict] = []
    taken = set(graph.blocks.names())
    for d in defs:
        for n in d["nodes"]:  # references to definitions renamed earlier in this file
            if n["type"] == BLOCK_TYPE and n["config"].get("block") in renamed:
                n["config"]["block"] = renamed[n["config"]["block"]]
        old = d["name"]
        if old in graph.blocks and _same(graph.blocks[old].to_config(), d):
            continue  # the graph has this very definition: reuse it
        if old in taken:
            stem, i = old.rstrip("0123456789") or old, 2
            while f"{stem}{i}" in taken or block_name_problem(f"{stem}{i}"):
                i += 1
            fresh = f"{stem}{i}"
            renamed[old] = fresh
            d["name"] = fresh
        taken.add(d["name"])
        new.append(d)
    validate_definitions(graph.blocks.to_config() + new, source=f"block '{name}'")
    for d in new:
        tmp = BlockTable(graph)
        tmp.load([d])
        definition = tmp[d["name"]]
        tmp.clear()
        graph.blocks.add(definition)
    return renamed.get(name, name)
