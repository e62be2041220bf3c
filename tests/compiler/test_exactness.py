"""The analysis is exact: for every graph that validates, the predicted shape of every node and the
parameter counts equal what the compiled torch model really produces. Invalid graphs are rejected
with the graph's own error type and never crash anything."""
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.compiler import compile_model
from cnn_studio.core import Graph, GraphError, analyze

pairs = st.one_of(st.integers(1, 5), st.lists(st.integers(1, 5), min_size=2, max_size=2))


def _conv():
    return st.fixed_dictionaries(
        {
            "out_channels": st.integers(1, 8),
            "kernel_size": pairs,
            "stride": st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2)),
            "padding": st.one_of(st.integers(0, 3), st.sampled_from(["same", "valid"]), st.lists(st.integers(0, 2), min_size=2, max_size=2)),
            "dilation": st.integers(1, 2),
            "groups": st.sampled_from([1, 1, 2]),
            "bias": st.booleans(),
            "padding_mode": st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]),
        }
    )


def _pool():
    return st.fixed_dictionaries(
        {
            "kernel_size": st.integers(1, 4),
            "stride": st.one_of(st.none(), st.integers(1, 3)),
            "padding": st.integers(0, 2),
            "ceil_mode": st.booleans(),
        }
    )


SPATIAL = st.one_of(
    st.tuples(st.just("conv2d"), _conv()),
    st.tuples(st.sampled_from(["maxpool2d", "avgpool2d"]), _pool()),
    st.tuples(st.sampled_from(["adaptive_avgpool2d", "adaptive_maxpool2d"]), st.fixed_dictionaries({"output_size": st.integers(1, 4)})),
    st.tuples(st.sampled_from(["relu", "tanh", "sigmoid", "silu", "gelu", "softmax", "dropout2d"]), st.just({})),
    st.tuples(st.just("leaky_relu"), st.fixed_dictionaries({"negative_slope": st.floats(0, 1)})),
    st.tuples(st.just("batchnorm2d"), st.fixed_dictionaries({"affine": st.booleans(), "track_running_stats": st.booleans()})),
    st.tuples(st.just("residual"), _conv()),  # a branch with a conv, merged by Add
    st.tuples(st.just("concat_branch"), _conv()),  # a conv branch concatenated with the trunk
    # occasionally a layer that is wrong here (flat-only layers on maps)
    st.tuples(st.sampled_from(["linear", "batchnorm1d"]), st.just({})),
)
FLAT = st.one_of(
    st.tuples(st.just("linear"), st.fixed_dictionaries({"out_features": st.integers(1, 12), "bias": st.booleans()})),
    st.tuples(st.sampled_from(["relu", "elu", "dropout", "batchnorm1d", "tanh"]), st.just({})),
    st.tuples(st.just("conv2d"), st.just({})),  # invalid after flatten
)


@st.composite
def graphs(draw):
    g = Graph("random")
    c = draw(st.integers(1, 4))
    h = draw(st.one_of(st.integers(6, 20), st.integers(1, 5)))
    w = draw(st.one_of(st.integers(6, 20), st.integers(1, 5)))
    last = g.add_node("input", {"channels": c, "height": h, "width": w}).id
    for type_id, cfg in draw(st.lists(SPATIAL, max_size=6)):
        if type_id in ("residual", "concat_branch"):
            branch = g.add_node("conv2d", cfg).id
            g.connect(last, branch)
            merge = g.add_node("add" if type_id == "residual" else "concat", {"inputs": 2}).id
            g.connect(last, merge, 0, 0)
            g.connect(branch, merge, 0, 1)
            last = merge
            continue
        node = g.add_node(type_id, cfg).id
        g.connect(last, node)
        last = node
    if draw(st.integers(0, 3)) > 0:
        node = g.add_node("flatten").id
        g.connect(last, node)
        last = node
        for type_id, cfg in draw(st.lists(FLAT, max_size=3)):
            node = g.add_node(type_id, cfg).id
            g.connect(last, node)
            last = node
        if draw(st.integers(0, 4)) > 0:
            node = g.add_node("linear", {"out_features": draw(st.integers(2, 10))}).id
            g.connect(last, node)
            last = node
    loss = g.add_node(draw(st.sampled_from(["cross_entropy", "mse"]))).id
    g.connect(last, loss)
    if draw(st.integers(0, 9)) == 0:  # structural damage: a dangling node
        g.add_node("relu")
    return g


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_analysis_matches_torch_for_every_valid_graph(graph):
    analysis = analyze(graph)  # never raises
    if not analysis.ok:
        try:
            compile_model(graph, analysis)
        except GraphError as e:
            assert e.issues and all(i.message for i in e.issues)
        else:
            raise AssertionError("an invalid graph compiled")
        return
    model = compile_model(graph, analysis).eval()
    x = torch.randn(2, *analysis.input_shape)
    wanted = [n for n in analysis.order if graph.nodes[n].spec.role != "output"]
    with torch.no_grad():
        out, captured = model.forward_capture(x, wanted)
    for nid in wanted:
        assert tuple(captured[nid].shape[1:]) == analysis.nodes[nid].output_shape, nid
    assert tuple(out.shape[1:]) == analysis.output_shape
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for k, b in model.named_buffers() if not k.endswith("num_batches_tracked"))
    assert trainable == analysis.trainable_params
    assert buffers == analysis.non_trainable_params


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["conv2d", "maxpool2d", "avgpool2d", "linear", "batchnorm2d", "dropout", "leaky_relu", "add", "concat", "input"]),
    st.dictionaries(
        st.sampled_from(["out_channels", "kernel_size", "stride", "padding", "p", "negative_slope", "inputs", "bogus", "out_features", "channels"]),
        st.one_of(st.integers(-5, 300), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.none(), st.booleans(), st.lists(st.integers(-2, 9), max_size=3)),
        max_size=4,
    ),
)
def test_arbitrary_parameter_values_never_crash(type_id, cfg):
    g = Graph()
    inp = g.add_node("input", {"channels": 2, "height": 12, "width": 12})
    node = g.add_node(type_id, cfg)
    if node.num_inputs() >= 1:
        g.connect(inp.id, node.id)
    a = analyze(g)
    assert not a.ok  # at least the missing loss layer
    for issue in a.issues:
        assert str(issue)
