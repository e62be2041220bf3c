"""Round trip: every template exported by CNN Studio's own ONNX export imports as the same graph
(node ids, types, canonical configs and edges) with outputs within 1e-5. ONNX is an inference
format, so Dropout (the identity at evaluation time) is not in the file: the template's Dropout
nodes are bypassed before the comparison, and only they. AlexNet and VGG are checked with their exact
structure at the 224x224 input they were designed for but narrow layers (onnx_helpers.narrow): their
100M-weight classifiers made each case cost 15-35 s and change nothing the test checks (so are
ResNet-34/50 and MobileNetV2, whose width only adds weights); at small
inputs (the opset-18 fallback) they round-trip in test_onnx_fallback.py. BatchNormalization stays a
node with either exporter (the dynamo one's rewrite would fold it into the convolution)."""
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

from onnx_helpers import imported_run, narrow, ort_run, without_dropout  # noqa: E402


BIG = ("alexnet", "vgg11", "vgg16")  # exported narrow (onnx_helpers.narrow) at 224x224
NARROW = ("resnet34", "resnet50", "mobilenet_v2")  # narrow too (block definitions included), at their smallest input


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


@pytest.mark.parametrize("name", templates.names())
def test_template_round_trip_gives_the_same_graph_and_outputs(tmp_path, name):
    """Blocks (ONNX has none) come back expanded, under their module paths."""
    t = templates.get(name)
    if name in BIG:
        size = 224
        graph = narrow(name, (3, size, size), 5)
    else:
        size = max(t.min_size, 16)  # the smallest input each template takes
        graph = narrow(name, (3, size, size), 5) if name in NARROW else templates.build(name, (3, size, size), 5)
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
    imp = import_onnx(path, design=False)  # from the operators alone (the stored design: test_onnx_design.py)
    assert {"stage1_c1", "stage1_c1_act", "stage2_s4"} <= set(imp.graph.nodes)
    assert canonical_structure(imp.graph) == canonical_structure(flat(graph))
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_allclose(imported_run(imp, x), source.model().eval()(x).numpy(), atol=1e-5, rtol=0)


def test_dynamo_export_keeps_batch_norm_and_round_trips(tmp_path):
    """Opset 18 (the dynamo exporter): the BatchNormalization nodes stay in the file (its default
    rewrite would fold them into the convolutions, and the file would come back as biased convs), the
    file runs in onnxruntime, and it imports as the same graph, BN and adaptive pooling included."""
    import onnx

    graph = Graph("residual")  # a ResNet basic block in small: conv-BN-ReLU-conv-BN + skip, global pooling
    graph.add_node("input", {"channels": 3, "height": 8, "width": 8}, node_id="input")
    chain = [("stem", "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False}), ("stem_bn", "batchnorm2d", {}),
             ("stem_act", "relu", {}), ("conv", "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False}),
             ("bn", "batchnorm2d", {}), ("add", "add", {}), ("pool", "adaptive_avgpool2d", {"output_size": 1}),
             ("flatten", "flatten", {}), ("fc", "linear", {"out_features": 3}), ("loss", "cross_entropy", {})]
    prev = "input"
    for nid, type_id, cfg in chain:
        graph.add_node(type_id, cfg, node_id=nid)
        graph.connect(prev, nid)
        prev = nid
    graph.connect("stem_act", "add", 0, 1)
    source = source_from_graph(graph, seed=0)
    for key, t in source.state_dict.items():  # running statistics that are not the identity: a lost BN would show
        if key.endswith(("running_mean", "running_var")):
            t.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(len(key)))
    path = tmp_path / "residual.onnx"
    res = export(source, "onnx", path, opset=18)
    assert "dynamo exporter" in res.notes[1]
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("BatchNormalization") == 2
    imp = import_onnx(path, design=False)  # checked against onnxruntime too
    assert canonical_structure(imp.graph) == canonical_structure(graph)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        want = source.model().eval()(x).numpy()
    np.testing.assert_allclose(ort_run(path, x), want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(imported_run(imp, x), want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("hint, want", [
    ('{"features_2": 56}', "maxpool2d"),  # 2x2 pooling of 224 gives 112, not 56: the hint is wrong, not taken
    ('{"features_2": 112}', "adaptive_maxpool2d"),  # exactly what it computes: taken
    ('{"features_2": [112, "x"]}', "maxpool2d"),
    ("not json", "maxpool2d"),
])
def test_the_adaptive_pooling_hint_is_taken_only_where_the_pooling_computes_it(tmp_path, hint, want):
    """Our export names its adaptive pooling layers in the file's metadata (the TorchScript exporter
    writes VGG's 7x7 -> 7x7 as a 1x1 AveragePool); the importer takes such a hint only for a pooling
    whose kernel and stride give exactly the named output, and ignores a malformed one."""
    import onnx

    source = source_from_graph(narrow("vgg11", (3, 224, 224), 5), seed=0)
    path = tmp_path / "v.onnx"
    export(source, "onnx", path)
    m = onnx.load(str(path))
    prop = next(p for p in m.metadata_props if p.key == "cnn_studio.adaptive_pools")
    assert prop.value == '{"avgpool": 7}'
    prop.value = hint
    onnx.save(m, str(path))
    imp = import_onnx(path, design=False)  # checked against onnxruntime too
    assert imp.graph.nodes["features_2"].type == want
    assert imp.graph.nodes["avgpool"].type == ("adaptive_avgpool2d" if hint == '{"avgpool": 7}' else "avgpool2d")
