"""Parameter counts that agree everywhere (QA defects 1, 2, 10): core/trainable's trainable/frozen
split uses the same rule as the analysis' totals (a block whose inside failed counts 0, as the analysis
says, never its inner layers), a block instance's counts name frozen inner layers, and the text every
place shows names its parts (trainable, frozen, buffers) so that they add up to the total."""
import re

from hypothesis import given
from hypothesis import strategies as st

from cnn_studio.core import block_edit
from cnn_studio.core.analysis import analyze
from cnn_studio.core.templates import build
from cnn_studio.core.trainable import ParamCounts, param_counts, parameter_counts, path_has_weights, path_param_counts


def resnet34():
    return build("resnet34", (3, 32, 32), 10)


def test_a_block_whose_inside_fails_counts_as_the_analysis_does():
    g = resnet34()
    block_edit.remove_inner_nodes(g, "Basic64", ["bn1"])  # conv1 -> (nothing) -> relu1: Layer1 fails
    a = analyze(g)
    assert not a.ok and a.nodes["layer1"].trainable == 0
    trainable, frozen = parameter_counts(g, a)
    assert trainable + frozen == a.trainable_params == 9_536  # was (46,400, 0): the failed block's inner layers
    c = param_counts(g, a)
    assert c.total == a.total_params == 9_664 and c.trainable <= c.total
    assert c.text() == "9,664 parameters: 9,536 trainable, 128 buffers (running statistics)"
    # frozen inside the failed block: still nothing counted for it, anywhere
    g.blocks["Basic64"].graph.set_node_training("conv1", frozen=True)
    g.nodes["layer1"].frozen = True
    assert param_counts(g) == ParamCounts(9_536, 0, 128)


def _resnet34_with_frozen_inner_conv():
    """QA defect 2: a Convolution (64 filters, padding 1, bias) inside Basic64 (3 uses), frozen."""
    g = resnet34()
    c = block_edit.add_inner_node(g, "Basic64", "conv2d", {"out_channels": 64, "padding": 1})
    block_edit.disconnect_inner(g, "Basic64", "relu1", "conv2")
    block_edit.connect_inner(g, "Basic64", "relu1", c)
    block_edit.connect_inner(g, "Basic64", c, "conv2")
    g.blocks["Basic64"].graph.set_node_training(c, frozen=True)
    return g, c


def test_a_block_instance_counts_its_frozen_inner_layers_apart():
    g, c = _resnet34_with_frozen_inner_conv()
    a = analyze(g)
    assert a.ok
    layer1 = path_param_counts(g, ["layer1"], a)
    assert layer1 == ParamCounts(221_952, 110_784, 768) and layer1.total == a.nodes["layer1"].params == 333_504
    assert layer1.text() == "333,504 parameters: 221,952 trainable, 110,784 frozen, 768 buffers (running statistics)"
    assert path_param_counts(g, [f"layer1/1/{c}"], a) == ParamCounts(0, 36_928, 0)
    assert path_param_counts(g, ["layer1/1/bn2"], a) == ParamCounts(128, 0, 128)
    # a path under another one counts once
    assert path_param_counts(g, ["layer1", "layer1/0", f"layer1/0/{c}"], a) == layer1
    whole = param_counts(g, a)
    assert whole == ParamCounts(21_289_802, 110_784, 17_024) and whole.total == a.total_params
    assert whole.text() == "21,417,610 parameters: 21,289,802 trainable, 110,784 frozen, 17,024 buffers (running statistics)"
    # the whole network, node by node, adds up to the same
    per_node = [path_param_counts(g, [nid], a) for nid in g.nodes]
    assert ParamCounts(*(sum(getattr(p, k) for p in per_node) for k in ("trainable", "frozen", "buffers"))) == whole
    # the instance's own option freezes everything inside it
    g.nodes["layer1"].frozen = True
    assert path_param_counts(g, ["layer1"]) == ParamCounts(0, 332_736, 768)
    assert path_param_counts(g, ["layer1/2/conv1"]) == ParamCounts(0, 36_864, 0)


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))
def test_the_text_names_parts_that_add_up(t, f, b):
    c = ParamCounts(t, f, b)
    text = c.text()
    total, _, rest = text.partition(" parameters")
    assert int(total.replace(",", "")) == t + f + b
    parts = {name: int(n.replace(",", "")) for n, name in re.findall(r"([\d,]+) (trainable|frozen|buffers)", rest)}
    if rest == ", all trainable" or (rest == "" and t + f + b == 0):
        assert f == b == 0
    else:
        assert sum(parts.values()) == t + f + b and parts["trainable"] == t
        assert parts.get("frozen", 0) == f and parts.get("buffers", 0) == b
        assert ("running statistics" in rest) == bool(b)


def test_which_paths_have_weights():
    g, c = _resnet34_with_frozen_inner_conv()
    assert path_has_weights(g, "conv1") and path_has_weights(g, "layer1") and path_has_weights(g, f"layer1/0/{c}")
    assert not path_has_weights(g, "relu") and not path_has_weights(g, "layer1/0/relu1")
    assert not path_has_weights(g, "nowhere")
    lenet = build("lenet5", (1, 28, 28), 10)
    assert [n for n in lenet.nodes if path_has_weights(lenet, n)] == [n for n in lenet.nodes if analyze(lenet).nodes[n].trainable]
