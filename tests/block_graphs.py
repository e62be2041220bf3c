"""Graphs and strategies shared by the block tests (tests/core/test_blocks*.py, tests/compiler/test_blocks*.py)."""
from __future__ import annotations

from hypothesis import strategies as st

from cnn_studio.core import blocks
from cnn_studio.core.graph import Graph, chain


def residual_graph(channels: int = 4, size: int = 8) -> Graph:
    """input -> conv c1 -> [r1 -> c2 -> bn2] + c1 -> add -> r2 -> pool -> flatten -> fc -> loss."""
    g = Graph("residual")
    g.add_node("input", {"channels": 3, "height": size, "width": size}, node_id="inp", pos=(0, 0))
    chain(g, [("conv2d", {"out_channels": channels, "padding": 1}, "c1"), ("relu", {}, "r1"),
              ("conv2d", {"out_channels": channels, "padding": 1, "bias": False}, "c2"), ("batchnorm2d", {}, "bn2")], "inp")
    g.add_node("add", {}, node_id="add")
    g.connect("bn2", "add", 0, 0)
    g.connect("c1", "add", 0, 1)
    chain(g, [("relu", {}, "r2"), ("maxpool2d", {"kernel_size": 2}, "pool"), ("flatten", {}, "flat"),
              ("linear", {"out_features": 3}, "fc"), ("cross_entropy", {}, "loss")], "add")
    for i, nid in enumerate(g.nodes):
        g.move_node(nid, (100.0 * i, 10.0 * (i % 3)))
    return g


def basic_block(g: Graph, name: str, channels: int, stride: int = 1, downsample: str | None = None) -> None:
    """A torchvision-style BasicBlock definition (conv1 bn1 relu conv2 bn2 [+ downsample] relu)."""
    inner = blocks.new_inner_graph(g)
    chain(inner, [("conv2d", {"out_channels": channels, "padding": 1, "stride": stride, "bias": False}, "conv1"), ("batchnorm2d", {}, "bn1"),
                  ("relu", {}, "relu1"), ("conv2d", {"out_channels": channels, "padding": 1, "bias": False}, "conv2"), ("batchnorm2d", {}, "bn2")])
    inner.add_node("add", {}, node_id="add")
    inner.connect("bn2", "add", 0, 0)
    chain(inner, [("relu", {}, "relu")], "add")
    targets = [("conv1", 0)]
    if downsample:
        inner.add_node("block", {"block": downsample}, node_id="downsample")
        inner.connect("downsample", "add", 0, 1)
        targets.append(("downsample", 0))
    else:
        targets.append(("add", 1))
    blocks.define(g, name, inner, [targets], "relu")


def downsample_block(g: Graph, name: str, channels: int, stride: int = 2) -> None:
    inner = blocks.new_inner_graph(g)
    chain(inner, [("conv2d", {"out_channels": channels, "kernel_size": 1, "stride": stride, "bias": False}, "0"), ("batchnorm2d", {}, "1")])
    blocks.define(g, name, inner, [[("0", 0)]], "1")


def sequence_block(g: Graph, name: str, parts: list[str]) -> None:
    """A chain of instances named 0, 1, ... (an nn.Sequential of blocks, as torchvision's layerN)."""
    inner = blocks.new_inner_graph(g)
    prev = None
    for i, part in enumerate(parts):
        inner.add_node("block", {"block": part}, node_id=str(i))
        if prev is not None:
            inner.connect(prev, str(i))
        prev = str(i)
    blocks.define(g, name, inner, [[("0", 0)]], prev)


def tiny_resnet(size: int = 16, classes: int = 5) -> Graph:
    """conv1 bn1 relu maxpool layer1 (2 x BasicBlock 4) layer2 (BasicBlock 8 stride 2 with downsample,
    BasicBlock 8) avgpool fc: torchvision's ResNet layout, small."""
    g = Graph("tiny resnet")
    g.add_node("input", {"channels": 3, "height": size, "width": size}, node_id="input")
    basic_block(g, "Basic4", 4)
    downsample_block(g, "Down8", 8)
    basic_block(g, "Basic8s2", 8, stride=2, downsample="Down8")
    basic_block(g, "Basic8", 8)
    sequence_block(g, "Layer1", ["Basic4", "Basic4"])
    sequence_block(g, "Layer2", ["Basic8s2", "Basic8"])
    last = chain(g, [("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False}, "conv1"), ("batchnorm2d", {}, "bn1"),
                     ("relu", {}, "relu"), ("maxpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, "maxpool")], "input")
    blocks.instantiate(g, "Layer1", "layer1")
    blocks.instantiate(g, "Layer2", "layer2")
    g.connect(last, "layer1")
    g.connect("layer1", "layer2")
    chain(g, [("adaptive_avgpool2d", {"output_size": 1}, "avgpool"), ("flatten", {}, "flatten"), ("linear", {"out_features": classes}, "fc"),
              ("cross_entropy", {}, "loss")], "layer2")
    return g


# ------------------------------------------------------------------ random valid graphs
_layer = st.one_of(
    st.tuples(st.just("conv2d"), st.fixed_dictionaries({"out_channels": st.integers(1, 6), "kernel_size": st.sampled_from([1, 3]), "padding": st.just("same")})),
    st.tuples(st.just("relu"), st.just({})),
    st.tuples(st.just("batchnorm2d"), st.just({})),
    st.tuples(st.just("conv2d"), st.fixed_dictionaries({"out_channels": st.integers(1, 6), "kernel_size": st.just(3), "stride": st.just(2), "padding": st.just(1)})),
)


@st.composite
def random_graphs(draw) -> Graph:
    """Valid networks: a trunk of random layers with residual (Add) and Concat side branches."""
    g = Graph("random")
    g.add_node("input", {"channels": draw(st.integers(1, 3)), "height": 8, "width": 8}, node_id="inp")
    prev, channels, n = "inp", None, 0
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["layer", "layer", "residual", "concat"]))
        n += 1
        if kind == "layer":
            t, cfg = draw(_layer)
            node = g.add_node(t, cfg, node_id=f"n{n}")
            g.connect(prev, node.id)
            prev = node.id
        else:
            width = draw(st.integers(1, 4))
            a = g.add_node("conv2d", {"out_channels": width, "kernel_size": 3, "padding": 1}, node_id=f"n{n}a")
            g.connect(prev, a.id)
            b = g.add_node("relu", {}, node_id=f"n{n}b")
            g.connect(a.id, b.id)
            if kind == "residual":  # make the shortcut match: a 1x1 conv to the same width
                s = g.add_node("conv2d", {"out_channels": width, "kernel_size": 1}, node_id=f"n{n}s")
                g.connect(prev, s.id)
                m = g.add_node("add", {}, node_id=f"n{n}m")
            else:
                s = None
                m = g.add_node("concat", {}, node_id=f"n{n}m")
            g.connect(b.id, m.id, 0, 0)
            g.connect(s.id if s else prev, m.id, 0, 1)
            prev = m.id
    chain(g, [("flatten", {}, "flat"), ("linear", {"out_features": 3}, "fc"), ("cross_entropy", {}, "loss")], prev)
    return g


def inner_ids(g: Graph) -> list[str]:
    """The ids a grouping may select (every node but the input and the loss), in graph order."""
    return [n for n in g.nodes if g.nodes[n].type not in ("input", "cross_entropy")]
