"""Speed of the live analysis: resnet18, a 200-node graph, and re-analysis after a one-node edit.

Goals: under 5 ms for resnet18 and under 20 ms for 200 nodes on one core, so the canvas can
re-analyse on every keystroke. Prints medians; --json adds a JSON line.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _util import median_ms, report  # noqa: E402

from cnn_studio.core import Graph, analyze, templates  # noqa: E402
from cnn_studio.core import analysis as analysis_mod  # noqa: E402


def big_graph(n_nodes: int = 200) -> Graph:
    g = Graph("big")
    last = g.add_node("input", {"channels": 3, "height": 64, "width": 64}).id
    kinds = [("conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}), ("batchnorm2d", {}), ("relu", {})]
    i = 0
    while len(g) < n_nodes - 4:
        t, cfg = kinds[i % 3]
        node = g.add_node(t, cfg).id
        g.connect(last, node)
        last = node
        i += 1
    for t, cfg in [("adaptive_avgpool2d", {}), ("flatten", {}), ("linear", {"out_features": 10}), ("cross_entropy", {})]:
        node = g.add_node(t, cfg).id
        g.connect(last, node)
        last = node
    return g


def cold(graph: Graph):
    analysis_mod._CACHE.clear()
    return analyze(graph)


def main() -> None:
    resnet = templates.build("resnet18", (3, 224, 224), 1000)
    big = big_graph()
    assert analyze(big).ok and len(big) == 200
    conv_ids = [n for n, node in big.nodes.items() if node.type == "conv2d"]
    k = [0]

    def edit_and_reanalyze():
        k[0] += 1
        big.set_param(conv_ids[len(conv_ids) // 2], "out_channels", 32 + k[0] % 2)
        return analyze(big)

    figures = {
        "resnet18 nodes": len(resnet),
        "resnet18 full analysis, cold cache (ms)": median_ms(lambda: cold(resnet)),
        "resnet18 analysis, warm cache (ms)": median_ms(lambda: analyze(resnet)),
        "200-node full analysis, cold cache (ms)": median_ms(lambda: cold(big)),
        "200-node re-analysis after one edit (ms)": median_ms(edit_and_reanalyze),
    }
    report("analysis", figures, {"resnet18 full analysis, cold cache (ms)": "< 5", "200-node full analysis, cold cache (ms)": "< 20", "200-node re-analysis after one edit (ms)": "< 20"})


if __name__ == "__main__":
    main()
