"""Blocks in the compiler: nested modules named by inner ids (torchvision's state_dict layout, loaded
1:1 for ResNet-18), counts equal to the analysis, outputs equal to the flat network's for random
groupings, feature maps inside blocks, Python export as nn.Module classes (strict load, same
outputs), TorchScript and ONNX export."""
import json
import warnings

import pytest
import torch
from block_graphs import basic_block, downsample_block, inner_ids, random_graphs, sequence_block, tiny_resnet
from fuzz_settings import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_graphs import randomise_bn

from cnn_studio.compiler import compile_model
from cnn_studio.compiler.codegen import generate_python
from cnn_studio.compiler.export import export_onnx, export_torchscript
from cnn_studio.core import blocks
from cnn_studio.core.analysis import analyze
from cnn_studio.core.errors import GraphEditError
from cnn_studio.core.graph import Graph, chain


def _count(model):
    trainable = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return trainable, buffers


def _eval(g, seed=0):
    torch.manual_seed(seed)
    m = compile_model(g)
    randomise_bn(m)
    return m.eval()


def test_nested_instances_compile_to_modules_named_by_inner_ids():
    g = tiny_resnet()
    m = _eval(g)
    keys = list(m.state_dict())
    for k in ("layer1.0.conv1.weight", "layer1.1.bn2.running_var", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.num_batches_tracked", "fc.bias"):
        assert k in keys, k
    a = analyze(g)
    assert _count(m) == (a.trainable_params, a.non_trainable_params)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert m(x).shape == (2, 5)
        out, cap = m.forward_capture(x, ["layer1", "layer2/0/downsample", "layer2/0/downsample/1", "layer1/1/relu"])
    assert torch.equal(out, m(x))
    assert cap["layer1"].shape == (2, 4, 8, 8) and cap["layer2/0/downsample"].shape == (2, 8, 4, 4)
    assert torch.equal(cap["layer2/0/downsample"], cap["layer2/0/downsample/1"])
    assert torch.equal(cap["layer1/1/relu"], cap["layer1"])  # the block's output is its last node's
    with pytest.raises(KeyError, match="nope"):
        m.forward_capture(x, ["layer1/nope"])
    with pytest.raises(KeyError, match="fc"):
        m.forward_capture(x, ["fc/0"])


def _resnet18(classes=10) -> Graph:
    g = Graph("resnet18 blocks")
    g.add_node("input", {"channels": 3, "height": 32, "width": 32}, node_id="input")
    stages = []
    for i, w in enumerate((64, 128, 256, 512)):
        basic_block(g, f"Basic{w}", w)
        if i:
            downsample_block(g, f"Down{w}", w)
            basic_block(g, f"Basic{w}s2", w, stride=2, downsample=f"Down{w}")
        sequence_block(g, f"Layer{i + 1}", [f"Basic{w}s2" if i else f"Basic{w}", f"Basic{w}"])
        stages.append(f"Layer{i + 1}")
    prev = chain(g, [("conv2d", {"out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3, "bias": False}, "conv1"), ("batchnorm2d", {}, "bn1"),
                     ("relu", {}, "relu"), ("maxpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, "maxpool")], "input")
    for i, name in enumerate(stages):
        nid = blocks.instantiate(g, name, f"layer{i + 1}")
        g.connect(prev, nid)
        prev = nid
    chain(g, [("adaptive_avgpool2d", {"output_size": 1}, "avgpool"), ("flatten", {}, "flatten"), ("linear", {"out_features": classes}, "fc"), ("cross_entropy", {}, "loss")], prev)
    return g


def test_resnet18_from_blocks_loads_torchvision_weights_one_to_one():
    tv = pytest.importorskip("torchvision")
    g = _resnet18()
    a = analyze(g)
    assert a.ok, a.errors
    assert a.trainable_params == 11_181_642  # torchvision resnet18 at 10 classes
    ours = compile_model(g).eval()
    ref = tv.models.resnet18(num_classes=10).eval()
    randomise_bn(ref)
    want = ref.state_dict()
    assert list(ours.state_dict()) == list(want)  # same keys, same order
    ours.load_state_dict(want, strict=True)
    from cnn_studio.compiler.weights import adapt_state_dict

    assert list(adapt_state_dict(g, want)) == list(want)  # "initialise from weights" takes the keys as they are
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


@st.composite
def _grouped(draw):
    g = draw(random_graphs())
    ids = inner_ids(g)
    i, j = draw(st.sampled_from([(i, j) for i in range(len(ids)) for j in range(i + 1, len(ids) + 1)]))
    return g, ids[i:j]


@settings(max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_grouped(), st.data())
def test_grouped_model_equals_the_flat_model(case, data):
    g, sel = case
    flat = _eval(g)
    try:
        inst = blocks.group(g, sel, "Blk")
    except GraphEditError:
        return
    if data.draw(st.booleans()):  # sometimes a block holding the block
        ids = inner_ids(g)
        k = ids.index(inst)
        try:
            blocks.group(g, ids[max(0, k - 1):k + 2], "Outer")
        except GraphEditError:
            pass
    grouped = compile_model(g).eval()
    a = analyze(g)
    assert _count(grouped) == (a.trainable_params, a.non_trainable_params) == _count(flat)
    # inner ids were unique in the flat graph: <...>.<node id>.<tensor> holds the flat <node id>.<tensor>
    flat_state = flat.state_dict()
    mapped = {k: ".".join(k.split(".")[-2:]) for k in grouped.state_dict()}
    assert sorted(mapped.values()) == sorted(flat_state)
    grouped.load_state_dict({k: flat_state[v] for k, v in mapped.items()}, strict=True)
    x = torch.randn(2, *a.input_shape)
    with torch.no_grad():
        assert torch.allclose(grouped(x), flat(x), atol=1e-5)
        ids = [n for n in g.nodes if g.nodes[n].type not in ("input", "cross_entropy")]
        got = grouped.forward_capture(x, ids)[1]
        assert {n: tuple(got[n].shape[1:]) for n in ids} == {n: a.nodes[n].output_shape for n in ids}


def _exec(src):
    ns: dict = {}
    exec(compile(src, "exported.py", "exec"), ns)  # noqa: S102 - the test runs the code it generated
    return ns


def test_python_export_keeps_blocks_as_classes_and_reproduces_the_model():
    g = tiny_resnet()
    m = _eval(g)
    src = generate_python(g)
    for line in ("class Basic4(nn.Module):", "class Down8(nn.Sequential):", "class Layer1(nn.Sequential):", "class TinyResnet(nn.Module):",
                 "        self.layer1 = Layer1()", "            Basic4(),  # 0: -> 4x8x8", "        self.downsample = Down8()",
                 "        add = bn2 + downsample  # -> 8x4x4"):
        assert line in src, line
    assert src.count("class Basic4(") == 1  # a definition used twice is one class
    ns = _exec(src)
    exported = ns["TinyResnet"]()
    assert list(exported.state_dict()) == list(m.state_dict())
    exported.load_state_dict(m.state_dict(), strict=True)
    exported.eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(exported(x), m(x), atol=1e-6)
    assert f"Parameters: {analyze(g).total_params:,}" in src


def test_python_export_of_a_block_used_at_two_shapes_writes_two_classes():
    g = Graph("two shapes")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, node_id="inp")
    inner = blocks.new_inner_graph(g)
    chain(inner, [("conv2d", {"out_channels": 5, "kernel_size": 3, "padding": 1}, "0"), ("relu", {}, "1")])
    blocks.define(g, "ConvRelu", inner, [[("0", 0)]], "1")
    a_id = blocks.instantiate(g, "ConvRelu", "a")
    b_id = blocks.instantiate(g, "ConvRelu", "b")  # fed 5 channels instead of 3
    g.connect("inp", a_id)
    g.connect(a_id, b_id)
    chain(g, [("flatten", {}, "f"), ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")], b_id)
    m = _eval(g)
    src = generate_python(g)
    assert "class ConvRelu(nn.Sequential):" in src and "class ConvRelu_2(nn.Sequential):" in src
    assert "nn.Conv2d(3, 5" in src and "nn.Conv2d(5, 5" in src
    exported = _exec(src)["TwoShapes"]()
    exported.load_state_dict(m.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(exported.eval()(x), m(x), atol=1e-6)


def test_a_block_named_like_the_network_does_not_clash():
    g = tiny_resnet()
    blocks.rename_definition(g, "Layer1", "TinyResnet")
    src = generate_python(g)
    assert "class TinyResnet(nn.Sequential):" in src and "class TinyResnetNet(nn.Module):" in src
    m = _eval(g)
    exported = _exec(src)["TinyResnetNet"]()
    exported.load_state_dict(m.state_dict(), strict=True)


def test_torchscript_and_onnx_export_of_a_graph_with_blocks(tmp_path):
    g = tiny_resnet()
    m = _eval(g)
    x = torch.randn(3, 3, 16, 16)
    path = export_torchscript(m, tmp_path / "m.pt", (3, 16, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated (2.13+) but works
        loaded = torch.jit.load(str(path))
    with torch.no_grad():
        assert torch.allclose(loaded(x), m(x), atol=1e-5)
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    info = export_onnx(m, tmp_path / "m.onnx", (3, 16, 16), metadata={"note": json.dumps("blocks")})
    onnx.checker.check_model(onnx.load(str(info.path)), full_check=True)
    sess = ort.InferenceSession(str(info.path), providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input": x.numpy()})[0]
    with torch.no_grad():
        assert abs(got - m(x).numpy()).max() < 1e-4


def test_python_export_of_numeric_and_keyword_inner_ids():
    g = Graph("num")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, node_id="inp")
    inner = blocks.new_inner_graph(g)
    inner.add_node("conv2d", {"out_channels": 3, "padding": 1}, node_id="0")
    inner.add_node("add", {}, node_id="1")
    inner.connect("0", "1", 0, 0)
    inner.add_node("relu", {}, node_id="class")
    inner.connect("1", "class")
    blocks.define(g, "Res", inner, [[("0", 0), ("1", 1)]], "class")
    blocks.instantiate(g, "Res", "r")
    g.connect("inp", "r")
    chain(g, [("flatten", {}, "f"), ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")], "r")
    m = _eval(g)
    assert list(m.state_dict())[:2] == ["r.0.weight", "r.0.bias"]
    src = generate_python(g)
    assert "self.add_module('0', nn.Conv2d(3, 3" in src and "v_1 = v_0 + x" in src and "self.class_ = nn.ReLU()" in src
    exported = _exec(src)["Num"]()
    exported.load_state_dict(m.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(exported.eval()(x), m(x), atol=1e-6)
