"""Trainable and frozen parameter counts of a graph (standard library only: the app's Summary and
status bar count them without torch). A node's parameters are frozen when ``Node.frozen`` is set."""
from __future__ import annotations

from .graph import Graph


def parameter_counts(graph: Graph, analysis=None) -> tuple[int, int]:
    """(trainable, frozen) parameter counts from the analysis' trainable parameters per node (batch
    norm running statistics are never trained and are in neither); nodes without a shape count 0."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    trainable = frozen = 0
    for nid, info in a.nodes.items():
        node = graph.nodes.get(nid)
        if node is not None and node.frozen:
            frozen += int(info.trainable or 0)
        else:
            trainable += int(info.trainable or 0)
    return trainable, frozen


def frozen_ids(graph: Graph) -> list[str]:
    return [nid for nid, n in graph.nodes.items() if n.frozen]
