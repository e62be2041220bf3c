import pytest

from cnn_studio.core import Graph, GraphError, analyze, templates
from cnn_studio.core.graph import chain


def _stack(*steps, shape=(1, 28, 28)):
    g = Graph()
    c, h, w = shape
    chain(g, [("input", {"channels": c, "height": h, "width": w}, "inp")] + list(steps))
    return g


# torchvision's published parameter counts (trainable) for 1000 classes at 224x224
@pytest.mark.parametrize(
    "name,trainable,macs",
    [("alexnet", 61_100_840, 714_188_480), ("vgg11", 132_863_336, None), ("vgg16", 138_357_544, 15_470_264_320), ("resnet18", 11_689_512, 1_814_073_344)],
)
def test_templates_match_published_sizes(name, trainable, macs):
    a = analyze(templates.build(name, (3, 224, 224), 1000)).raise_for_errors()
    assert a.trainable_params == trainable
    if macs:
        assert a.total_macs == macs


def test_lenet5_numbers_and_receptive_fields():
    a = analyze(templates.build("lenet5", (1, 32, 32), 10)).raise_for_errors()
    assert a.trainable_params == 61_706
    assert a.nodes["c1"].output_shape == (6, 28, 28)
    assert a.nodes["s4"].output_shape == (16, 5, 5)
    assert a.nodes["c1"].rf.size == (5, 5)
    assert a.nodes["s2"].rf.size == (6, 6) and a.nodes["s2"].rf.jump == (2, 2)
    assert a.nodes["c3"].rf.size == (14, 14)
    assert a.nodes["s4"].rf.size == (16, 16) and a.nodes["s4"].rf.jump == (4, 4)
    assert a.nodes["c5"].rf.size == (32, 32)
    assert a.nodes["c1"].macs == 6 * 28 * 28 * 25
    assert a.activation_bytes == sum(n.activation_bytes for n in a.nodes.values()) > 0


def test_receptive_field_region_is_centred_on_the_unit():
    a = analyze(_stack(("conv2d", {"out_channels": 1, "kernel_size": 3, "padding": 1}, "c"), ("flatten", {}), ("linear", {"out_features": 2}), ("cross_entropy", {})))
    top, left, bottom, right = a.nodes["c"].rf.region(0, 0)
    assert (top, left, bottom, right) == (-1, -1, 1, 1)
    assert a.nodes["c"].rf.region(5, 7) == (4, 6, 6, 8)


def test_dilation_widens_the_receptive_field():
    a = analyze(_stack(("conv2d", {"kernel_size": 3, "dilation": 2}, "c"), ("flatten", {}), ("linear", {"out_features": 2}), ("cross_entropy", {})))
    assert a.nodes["c"].rf.size == (5, 5)
    assert a.nodes["c"].output_shape == (16, 24, 24)


def test_linear_on_a_feature_map_names_node_and_fix():
    g = _stack(("conv2d", {"out_channels": 16, "kernel_size": 5}, "conv"), ("linear", {"out_features": 10}, "fc1"), ("cross_entropy", {}, "loss"))
    a = analyze(g)
    [err] = a.issues_for("fc1")
    assert str(err) == "Fully connected 'fc1': expects a flat input, got 16x24x24; add a Flatten before it"
    with pytest.raises(GraphError) as e:
        a.raise_for_errors()
    assert "fc1" in str(e.value)


def test_all_errors_are_reported_at_once():
    g = Graph()
    inp = g.add_node("input", {"channels": 3, "height": 8, "width": 8}, node_id="inp").id
    big = g.add_node("conv2d", {"kernel_size": 11}, node_id="big").id
    bad = g.add_node("conv2d", {"out_channels": 0, "stride": -1}, node_id="bad").id
    g.add_node("relu", node_id="lonely")
    g.connect(inp, big)
    g.connect(big, bad)
    a = analyze(g)
    text = [str(i) for i in a.errors]
    assert any("big" in t and "larger than its padded input" in t for t in text)
    assert any("'bad' (out_channels)" in t for t in text)
    assert any("'bad' (stride)" in t for t in text)
    assert any("'lonely'" in t and "not connected" in t for t in text)
    assert any("no loss layer" in t for t in text)
    # the node downstream of an error is not blamed for it
    assert not any("'bad'" in t and "larger" in t for t in text)


def test_missing_input_and_output_and_cycles():
    g = Graph()
    a, b = g.add_node("relu", node_id="a").id, g.add_node("relu", node_id="b").id
    g.connect(a, b)
    g.connect(b, a, allow_cycle=True)
    res = analyze(g)
    text = " | ".join(str(i) for i in res.errors)
    assert "no Input layer" in text and "no loss layer" in text and "cycle" in text


def test_merge_shape_mismatch_is_reported_on_the_merge():
    g = Graph()
    inp = g.add_node("input", {"channels": 4, "height": 8, "width": 8}, node_id="inp").id
    c1 = g.add_node("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, node_id="same").id
    c2 = g.add_node("conv2d", {"out_channels": 4, "kernel_size": 3}, node_id="shrinks").id
    add = g.add_node("add", node_id="merge").id
    cat = g.add_node("concat", node_id="cat").id
    for c in (c1, c2):
        g.connect(inp, c)
    g.connect(c1, add, 0, 0)
    g.connect(c2, add, 0, 1)
    g.connect(inp, cat, 0, 0)
    g.connect(c1, cat, 0, 1)
    a = analyze(g)
    [err] = [i for i in a.issues_for("merge") if i.severity == "error" and "shape" in i.message]
    assert "4x8x8" in err.message and "4x6x6" in err.message
    assert a.nodes["cat"].output_shape == (8, 8, 8)


def test_softmax_before_cross_entropy_is_a_warning_not_an_error():
    g = _stack(("flatten", {}), ("linear", {"out_features": 3}), ("softmax", {}, "sm"), ("cross_entropy", {}, "loss"))
    a = analyze(g)
    assert a.ok
    assert any(w.node_id == "loss" and "sm" in str(w) for w in a.warnings)


def test_group_and_same_padding_errors():
    g = _stack(("conv2d", {"groups": 2}, "c"), ("conv2d", {"padding": "same", "stride": 2}, "d"), shape=(3, 10, 10))
    a = analyze(g)
    assert any(i.field == "groups" for i in a.issues_for("c"))
    g = _stack(("conv2d", {"padding": "same", "stride": 2}, "d"), shape=(3, 10, 10))
    assert any(i.field == "padding" and "stride 1" in i.message for i in analyze(g).issues_for("d"))


def test_ceil_mode_pooling_shape():
    g = _stack(("maxpool2d", {"kernel_size": 2, "ceil_mode": True}, "p"), ("flatten", {}), ("linear", {"out_features": 2}), ("cross_entropy", {}), shape=(1, 7, 7))
    assert analyze(g).nodes["p"].output_shape == (1, 4, 4)


def test_to_dict_has_summary_fields():
    d = analyze(templates.build("tinyvgg")).to_dict()
    assert {"layers", "total_params", "trainable_params", "total_macs", "output_shape"} <= set(d)
    assert {"id", "type", "output_shape", "params", "macs", "receptive_field"} <= set(d["layers"][0])


def _doc_graph(nodes, edges):
    """A graph as a (possibly bad) project file holds it: edges are not checked by connect()."""
    return Graph.from_config(
        {"name": "t", "nodes": [{"id": i, "type": t, "config": c} for i, t, c in nodes], "edges": [{"src": list(s), "dst": list(d)} for s, d in edges]}
    )


_SMALL = [("inp", "input", {"channels": 1, "height": 8, "width": 8}), ("a", "relu", {}), ("b", "tanh", {}), ("f", "flatten", {}), ("loss", "mse", {})]


def test_two_edges_into_one_input_are_an_error_on_the_node():
    g = _doc_graph(_SMALL, [(("inp", 0), ("a", 0)), (("inp", 0), ("b", 0)), (("a", 0), ("f", 0)), (("b", 0), ("f", 0)), (("f", 0), ("loss", 0))])
    a = analyze(g)
    assert not a.ok
    (issue,) = a.issues_for("f")
    assert issue.message == "input 1 has two connections (from 'a' and from 'b'); an input takes one"
    assert "delete one" in issue.fix
    with pytest.raises(GraphError, match="two connections"):
        a.raise_for_errors()


def test_edges_from_or_into_ports_that_do_not_exist_are_reported_one_based():
    g = _doc_graph(_SMALL[:2] + _SMALL[3:], [(("inp", 1), ("a", 0)), (("a", 0), ("f", 0)), (("inp", 0), ("f", 1)), (("f", 0), ("loss", 0))])
    a = analyze(g)
    assert [i.message for i in a.issues_for("a")] == ["is fed from output 2 of 'inp', but layers have a single output"]
    assert [i.message for i in a.issues_for("f")] == ["has an edge from 'inp' into input 2, but takes only 1"]
    assert not a.ok


@pytest.mark.parametrize(
    "mode,kernel,size,ok",
    [
        ("reflect", 3, 1, False),  # 1 per side on a 1-pixel map
        ("reflect", 3, 2, True),
        ("reflect", 4, 2, False),  # even kernel: 1 before, 2 after
        ("reflect", 7, 3, False),
        ("reflect", 7, 4, True),
        ("circular", 3, 1, True),  # circular may wrap a whole input
        ("circular", 5, 1, False),
        ("circular", 4, 1, False),
        ("circular", 7, 3, True),
        ("replicate", 7, 1, True),
        ("zeros", 7, 1, True),
    ],
)
def test_same_padding_with_non_zero_modes_agrees_with_torch(mode, kernel, size, ok):
    g = _stack(("conv2d", {"out_channels": 2, "kernel_size": kernel, "padding": "same", "padding_mode": mode}, "c"), ("flatten", {}), ("mse", {}), shape=(1, size, size))
    a = analyze(g)
    assert a.ok is ok, a.issues
    if not ok:
        (issue,) = a.issues_for("c")
        assert mode in issue.message and issue.field == "padding_mode"


def test_numeric_padding_modes_agree_with_torch():
    def ok(mode, pad, size):
        g = _stack(("conv2d", {"out_channels": 1, "kernel_size": 1, "padding": pad, "padding_mode": mode}), ("flatten", {}), ("mse", {}), shape=(1, size, size))
        return analyze(g).ok

    assert not ok("reflect", 2, 2) and ok("reflect", 1, 2)
    assert ok("circular", 2, 2) and not ok("circular", 3, 2)
    assert ok("replicate", 5, 1)  # torch replicates any amount


def test_batchnorm_without_running_stats_needs_more_than_one_value_per_channel():
    def issues(type_id, shape, track):
        steps = [("adaptive_avgpool2d", {"output_size": 1})] if shape == "1x1" else []
        if type_id == "batchnorm1d":
            steps.append(("flatten", {}))
        steps += [(type_id, {"track_running_stats": track}, "bn"), ("flatten", {}), ("mse", {})]
        return analyze(_stack(*steps, shape=(2, 4, 4))).issues_for("bn")

    assert issues("batchnorm2d", "4x4", False) == []  # 16 values per channel per image
    assert issues("batchnorm2d", "1x1", True) == []  # eval uses the running statistics
    assert issues("batchnorm1d", "flat", True) == []
    for type_id, shape in (("batchnorm2d", "1x1"), ("batchnorm1d", "flat")):
        (issue,) = issues(type_id, shape, False)
        assert "single image cannot be evaluated" in issue.message and issue.field == "track_running_stats"


def test_single_value_batchnorm_names_the_layers_a_batch_of_one_cannot_train():
    g = _stack(("conv2d", {"out_channels": 2, "kernel_size": 3}), ("batchnorm2d", {}, "bn_map"), ("adaptive_avgpool2d", {"output_size": 1}),
               ("batchnorm2d", {}, "bn_1x1"), ("flatten", {}), ("batchnorm1d", {}, "bn_flat"), ("mse", {}), shape=(1, 6, 6))
    assert analyze(g).raise_for_errors().single_value_batchnorm() == ["bn_1x1", "bn_flat"]
