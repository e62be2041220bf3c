"""Undo commands for blocks (issue 13): group, ungroup, make unique, rename, edit inside a block,
drop a block from the user library.

Every block operation of :mod:`cnn_studio.core.blocks` is run first on a *copy* of the graph, so a
refusal (``GraphEditError``, one line) changes nothing and builds no command. The command then holds
the graph config before and after and applies it with ``graph.replace_with`` (one ``graph_reset``),
which is what the engine documents as the inverse of its structural operations. Edits inside a
definition use the same snapshots: an inner graph object is rebuilt by every ``replace_with``, so a
command holding on to one would act on a stale graph after an undo/redo of an earlier grouping.
"""
from __future__ import annotations


from ..core import block_library, blocks
from ..core.block_spec import BLOCK_TYPE
from ..core.errors import GraphEditError, StudioError
from ..core.graph import Graph
from .commands import Macro, SetConfigCommand, Step

LIBRARY_PREFIX = "cnnblock:"  # palette type ids of user-library blocks: "cnnblock:Name"


class SnapshotStep(Step):
    """Replace the whole graph config (definitions included) by ``after``; undo puts ``before`` back."""

    def __init__(self, graph: Graph, before: dict, after: dict, text: str) -> None:
        super().__init__(text)
        self.graph, self.before, self.after = graph, before, after

    def redo(self) -> None:  # replace_with copies what it loads (Graph._load), so the snapshots stay intact
        self.graph.replace_with(self.after)

    def undo(self) -> None:
        self.graph.replace_with(self.before)


def _snapshot(graph: Graph, text: str, change) -> tuple[Macro, object]:
    """Run ``change(copy)`` on a copy of the graph; a Macro turning the graph into that copy, and what
    ``change`` returned. Refusals propagate as GraphEditError with nothing changed."""
    work = graph.copy()
    try:
        result = change(work)
    except block_library.BlockLibraryError as e:
        raise GraphEditError(str(e)) from None
    before, after = graph.to_config(), work.to_config()
    if before == after:
        raise GraphEditError("nothing to change")
    return Macro(text, [SnapshotStep(graph, before, after, text)]), result


def default_block_name(graph: Graph) -> str:
    """A free, valid definition name: Block, Block2, ..."""
    return blocks.unique_name(graph, "Block")


def group_command(graph: Graph, node_ids: list[str], name: str) -> tuple[Macro, str]:
    ids = list(node_ids)
    return _snapshot(graph, f"Group {len(ids)} layers into block '{name}'", lambda g: blocks.group(g, ids, name))


def _instance(graph: Graph, node_id: str):
    node = graph.nodes.get(node_id)
    if node is None or node.type != BLOCK_TYPE:
        raise GraphEditError(f"'{node_id}' is not a block; select one block card")
    return node


def ungroup_command(graph: Graph, node_id: str) -> tuple[Macro, dict]:
    _instance(graph, node_id)
    return _snapshot(graph, f"Ungroup block '{node_id}'", lambda g: blocks.ungroup(g, node_id))


def make_unique_command(graph: Graph, node_id: str, new_name: str | None = None) -> tuple[Macro, str]:
    node = _instance(graph, node_id)
    return _snapshot(graph, f"Make block '{node_id}' unique", lambda g: blocks.make_unique(g, node_id, new_name))


def rename_block_command(graph: Graph, old: str, new: str) -> Macro:
    if old == new:
        raise GraphEditError("the block already has that name")
    return _snapshot(graph, f"Rename block '{old}' to '{new}'", lambda g: blocks.rename_definition(g, old, new))[0]


class InnerSetConfigCommand(SetConfigCommand):
    """Set the config of layer ``node_id`` inside definition ``block`` (every instance changes).

    The inner graph is looked up by definition name at each redo/undo, never held: a structural
    undo rebuilds the definitions, and a held inner graph would be a stale copy. Merges with the
    next edit of the same field in one Inspector session, as a top-level parameter edit does."""

    def __init__(self, top: Graph, block: str, node_id: str, config: dict, merge_key=None) -> None:
        if block not in top.blocks:
            raise GraphEditError(f"there is no block definition '{block}'")
        self.top, self.block = top, block
        super().__init__(top.blocks[block].graph, node_id, config, merge_key, text=f"Change '{node_id}' inside block '{block}'")

    @property
    def graph(self) -> Graph:
        return self.top.blocks[self.block].graph

    @graph.setter
    def graph(self, _value) -> None:  # GraphCommand.__init__ assigns it; the lookup above wins
        pass


def library_drop_command(graph: Graph, name: str, pos: tuple[float, float], folder=None, after: str | None = None) -> tuple[Macro, str]:
    """Add saved block ``name`` (with the definitions it uses) and one instance of it at ``pos``;
    with ``after`` (a layer's id) the instance's first input is fed from that layer when it can be."""

    def change(g: Graph) -> str:
        try:
            local = block_library.add_to_graph(g, name, folder)
        except StudioError as e:
            raise GraphEditError(str(e)) from None
        inst = blocks.instantiate(g, local, pos=pos)
        if after is not None and g.can_connect(after, inst, 0, 0) is None:
            g.connect(after, inst, 0, 0)
        return inst

    return _snapshot(graph, f"Add block '{name}' from the library", change)


def shared_count(graph: Graph, name: str) -> int:
    """How many instances (top level and nested) use definition ``name``."""
    return len(blocks.instances(graph, name))
