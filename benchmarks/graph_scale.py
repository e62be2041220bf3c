"""Load and analysis time against graph size: 1,000- and 10,000-node chains.

A project document for a chain Input -> (Conv 3x3 / ReLU)* -> Flatten -> Linear -> Cross-entropy
is written as JSON text, then timed through ``core.project.loads`` (parse, structure check, graph
build) and ``core.analysis.analyze`` (analysis cache cleared first, so every node is inferred).
Goal: both under 0.5 s for 10,000 nodes, and linear growth (the 10k/1k ratio near 10, not 100).
Prints medians; --json adds a JSON line.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _util import median_ms, report  # noqa: E402

from cnn_studio.core import analysis as analysis_mod  # noqa: E402
from cnn_studio.core.analysis import analyze  # noqa: E402
from cnn_studio.core.project import loads  # noqa: E402


def chain_document(n_nodes: int) -> str:
    nodes = [{"id": "inp", "type": "input", "config": {"channels": 3, "height": 8, "width": 8}, "pos": [0, 0]}]
    body = n_nodes - 4
    for i in range(body):
        if i % 2 == 0:
            nodes.append({"id": f"c{i}", "type": "conv2d", "config": {"out_channels": 4 + i % 7, "kernel_size": 3, "padding": 1}, "pos": [0, i]})
        else:
            nodes.append({"id": f"r{i}", "type": "relu", "config": {}, "pos": [0, i]})
    nodes += [
        {"id": "flat", "type": "flatten", "config": {}, "pos": [0, 0]},
        {"id": "fc", "type": "linear", "config": {"out_features": 10}, "pos": [0, 0]},
        {"id": "loss", "type": "cross_entropy", "config": {}, "pos": [0, 0]},
    ]
    edges = [{"src": [a["id"], 0], "dst": [b["id"], 0]} for a, b in zip(nodes, nodes[1:])]
    doc = {"format": "cnn-studio", "version": 2, "name": f"chain{n_nodes}", "nodes": nodes, "edges": edges, "training": {}, "meta": {}}
    return json.dumps(doc)


def main() -> None:
    figures: dict = {}
    repeat = 3 if "--quick" in sys.argv else 5
    for n in (1000, 10000):
        text = chain_document(n)
        graph = loads(text)
        assert len(graph) == n

        def analyse_cold(g=graph):
            analysis_mod._CACHE.clear()
            a = analyze(g)
            assert a.ok, a.errors[:3]

        figures[f"load {n:,} nodes (ms)"] = median_ms(lambda t=text: loads(t), repeat=repeat, warmup=1)
        figures[f"analyse {n:,} nodes, cold cache (ms)"] = median_ms(analyse_cold, repeat=repeat, warmup=1)
    figures["load ratio 10k/1k (linear = 10)"] = figures["load 10,000 nodes (ms)"] / figures["load 1,000 nodes (ms)"]
    figures["analyse ratio 10k/1k (linear = 10)"] = figures["analyse 10,000 nodes, cold cache (ms)"] / figures["analyse 1,000 nodes, cold cache (ms)"]
    report(
        "graph scale",
        figures,
        {"load 10,000 nodes (ms)": "< 500", "analyse 10,000 nodes, cold cache (ms)": "< 500"},
    )


if __name__ == "__main__":
    main()
