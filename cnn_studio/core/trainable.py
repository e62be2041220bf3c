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
