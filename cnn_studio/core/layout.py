"""Automatic layered layout (a light Sugiyama): rank = longest path from the sources, order within a
rank by the mean position of the predecessors, flowing top to bottom."""
from __future__ import annotations

from .graph import Graph

NODE_W = 180.0
DX = 220.0
DY = 110.0


def layered_positions(graph: Graph, dx: float = DX, dy: float = DY) -> dict[str, tuple[float, float]]:
    order, rest = graph.topological_order()
    rank: dict[str, int] = {}
    for nid in order:
        preds = graph.predecessors(nid)
        rank[nid] = max((rank[p] + 1 for p in preds if p in rank), default=0)
    top = max(rank.values(), default=-1) + 1
    for i, nid in enumerate(rest):  # nodes on cycles: park them below
        rank[nid] = top + i
    layers: dict[int, list[str]] = {}
    for nid in list(order) + rest:
        layers.setdefault(rank[nid], []).append(nid)
    xs: dict[str, float] = {}
    for r in sorted(layers):
        ids = layers[r]

        def bary(n: str) -> float:
            ps = [xs[p] for p in graph.predecessors(n) if p in xs]
            return sum(ps) / len(ps) if ps else 0.0

        ids.sort(key=bary)
        width = (len(ids) - 1) * dx
        # centre the rank under its parents' mean where that keeps slots distinct
        centre = sum(bary(n) for n in ids) / len(ids) if r else 0.0
        for i, n in enumerate(ids):
            xs[n] = centre - width / 2 + i * dx
    return {n: (xs[n], rank[n] * dy) for n in xs}


def apply_layout(graph: Graph) -> None:
    for nid, pos in layered_positions(graph).items():
        graph.move_node(nid, pos)
