"""Trainable and frozen parameter counts of a graph (standard library only: the app's Summary and
status bar count them without torch). A node's parameters are frozen when ``Node.frozen`` is set, on
it or (for a layer inside a block definition) on an instance around it, as training/freeze.py does."""
from __future__ import annotations

from .graph import Graph


def parameter_counts(graph: Graph, analysis=None) -> tuple[int, int]:
    """(trainable, frozen) parameter counts from the analysis' trainable parameters per node (batch
    norm running statistics are never trained and are in neither); nodes without a shape count 0."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    counts = [0, 0]

    def walk(g: Graph, infos: dict, frozen_above: bool) -> None:
        # inside a block instance, the definition's layers count by their own option or the instance's
        for nid, info in infos.items():
            node = g.nodes.get(nid)
            frozen = frozen_above or (node is not None and node.frozen)
            block = getattr(info, "block", None)
            if node is not None and block is not None and node.config.get("block") in graph.blocks:
                walk(graph.blocks[node.config["block"]].graph, block.nodes, frozen)
            else:
                counts[1 if frozen else 0] += int(info.trainable or 0)

    walk(graph, a.nodes, False)
    return counts[0], counts[1]


def frozen_ids(graph: Graph) -> list[str]:
    return [nid for nid, n in graph.nodes.items() if n.frozen]


def frozen_layer_counts(graph: Graph, node_ids, analysis=None) -> tuple[int, int]:
    """(frozen, with weights): how many of the layers with trainable weights among ``node_ids``
    (top level; a block instance counts the layers inside its definition, nested ones included)
    are frozen, by their own option or a block instance around them, as training/freeze.py does.
    Layers without weights (activations, pooling) count in neither."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    return _layer_counts(graph, graph, a.nodes, list(node_ids), False)


def block_frozen_counts(graph: Graph, node_info, frozen: bool = False) -> tuple[int, int]:
    """(frozen, with weights) of the layers inside one block instance (its analysis ``node_info``);
    ``frozen``: the instance's own option. (0, 0) when the instance has no inner analysis."""
    block = getattr(node_info, "block", None)
    if block is None or block.name not in graph.blocks:
        return 0, 0
    return _layer_counts(graph, graph.blocks[block.name].graph, block.nodes, block.order, frozen)


def _layer_counts(graph: Graph, g: Graph, infos: dict, ids, frozen_above: bool) -> tuple[int, int]:
    counts = [0, 0]

    def visit(g: Graph, infos: dict, ids, frozen_above: bool) -> None:
        for nid in ids:
            node, info = g.nodes.get(nid), infos.get(nid)
            if node is None or info is None:
                continue
            frozen = frozen_above or node.frozen
            block = getattr(info, "block", None)
            if block is not None and node.config.get("block") in graph.blocks:
                visit(graph.blocks[node.config["block"]].graph, block.nodes, block.order, frozen)
            elif info.trainable:
                counts[0] += frozen
                counts[1] += 1

    visit(g, infos, ids, frozen_above)
    return counts[0], counts[1]
