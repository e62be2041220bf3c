"""Round trip: every template exported by CNN Studio's own ONNX export imports as the same graph
(node ids, types, canonical configs and edges) with outputs within 1e-5. ONNX is an inference
format, so Dropout (the identity at evaluation time) is not in the file: the template's Dropout
nodes are bypassed before the comparison, and only they."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from cnn_studio.compiler.export import export, source_from_graph  # noqa: E402
from cnn_studio.compiler.importer import canonical_structure  # noqa: E402
from cnn_studio.compiler.onnx_import import import_onnx  # noqa: E402
from cnn_studio.compiler.weights import torchvision_key  # noqa: E402
from cnn_studio.core import templates  # noqa: E402
from cnn_studio.core.graph import Graph  # noqa: E402

from onnx_helpers import imported_run, ort_run  # noqa: E402


BIG = ("alexnet", "vgg11", "vgg16")


def flat(graph: Graph) -> Graph:
    """The network with every block instance expanded in place, inner ids prefixed by the instance's
    (``stage1`` + ``c1`` -> ``stage1_c1``): the ids its compiled module paths give (``stage1.c1``),
    which is what an ONNX file (no blocks) brings back."""
    out = Graph(graph.name)
    edges: list[tuple[str, str, int]] = []

    def expand(g: Graph, prefix: str):
        outs: dict[str, str] = {}
        ins: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for nid, node in g.nodes.items():
            fid = prefix + nid
            if node.type == "block":
                d = g.blocks[node.config["block"]]
                o, i = expand(d.graph, fid + "_")
                outs[nid] = o[d.output]
                for k, targets in enumerate(d.inputs):
                    ins[(nid, k)] = [t for tn, tp in targets for t in i[(tn, tp)]]
            else:
                out.add_node(node.type, node.config, node_id=fid)
                outs[nid] = fid
                for port in range(node.num_inputs()):
                    ins[(nid, port)] = [(fid, port)]
        for e in g.edges:
            for dst, port in ins[(e.dst, e.dst_port)]:
                edges.append((outs[e.src], dst, port))
        return outs, ins

    expand(graph, "")
    for src, dst, port in edges:
        out.connect(src, dst, 0, port)
    return out


def without_dropout(graph: Graph) -> Graph:
    g = graph.copy()
    for nid in [n for n, node in g.nodes.items() if node.type in ("dropout", "dropout2d")]:
        src = g.in_edges(nid)[0]
        outs = list(g.out_edges(nid))
        g.remove_node(nid)
        for e in outs:
            g.connect(src.src, e.dst, src.src_port, e.dst_port)
    return g


@pytest.mark.parametrize("name", templates.names())
def test_template_round_trip_gives_the_same_graph_and_outputs(tmp_path, name):
    """Blocks (ONNX has none) come back expanded, under their module paths."""
    t = templates.get(name)
    size = max(t.min_size, 16)  # the smallest input each template takes: the big ones stay fast
    graph = templates.build(name, (3, size, size), 5)
    source = source_from_graph(graph, seed=0)
    path = tmp_path / f"{name}.onnx"
    export(source, "onnx", path)
    imp = import_onnx(path, verify=False)  # compared with onnxruntime below
    assert canonical_structure(imp.graph) == canonical_structure(without_dropout(flat(graph)))
    assert imp.graph.name == graph.name  # from the export's metadata
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))
    ours = imported_run(imp, x)
    with torch.no_grad():
        want = source.model().eval()(x).numpy()
    np.testing.assert_allclose(ours, want, atol=1e-5, rtol=0)
    if name not in BIG:  # their 100M-weight classifiers make another onnxruntime session slow; the above holds
        np.testing.assert_allclose(ours, ort_run(path, x), atol=1e-5, rtol=0)
    # the weights are the exported ones, under the template's own keys (a block's layer1.0.conv1 as layer1_0_conv1)
    assert set(imp.state) == {torchvision_key(k) for k in source.state_dict}


def test_block_instances_come_back_expanded_under_their_module_paths(tmp_path):
    from cnn_studio.core.blocks import group

    graph = templates.build("lenet5_relu", (1, 28, 28), 10)
    group(graph, ["c1", "c1_act", "s2"], "Stage", instance_id="stage1")
    group(graph, ["c3", "c3_act", "s4"], "Stage2", instance_id="stage2")
    source = source_from_graph(graph, seed=0)
    path = tmp_path / "blocks.onnx"
    export(source, "onnx", path)
    imp = import_onnx(path)
    assert {"stage1_c1", "stage1_c1_act", "stage2_s4"} <= set(imp.graph.nodes)
    assert canonical_structure(imp.graph) == canonical_structure(flat(graph))
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_allclose(imported_run(imp, x), source.model().eval()(x).numpy(), atol=1e-5, rtol=0)
