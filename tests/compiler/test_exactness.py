"""The analysis is exact: for every graph that validates, the predicted shape of every node and the
parameter counts equal what the compiled torch model really produces, in eval mode with a batch of
one (a single image, as predict and inspect run it) and in training mode with a batch of two.
Invalid graphs are rejected with the graph's own error type and never crash anything.

Graphs: chains with residual and concat branches; arbitrary DAGs (any node may feed any later one,
merges take any earlier nodes, the same node on several ports); and edge lists no editor would
make, loaded as a file would be (two edges into one port, ports that do not exist, cycles).
Sizes scale with CNN_STUDIO_FUZZ (tests/fuzz_settings.py)."""
import torch
from fuzz_settings import examples
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cnn_studio.compiler import compile_model

try:  # the shared campaign counter printed at the end of the run (tests/fuzz_counts.py)
    from fuzz_counts import record
except ImportError:  # pragma: no cover - counting is optional

    def record(campaign: str, outcome: str) -> None:
        pass
from cnn_studio.core import Graph, GraphError, analyze
from cnn_studio.core.graph import chain

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


def _conv_same():
    """'same' padding (stride 1) with every padding mode, on any kernel and dilation: the implied
    padding per side is (k_eff - 1) // 2 before and the rest after, which reflect and circular
    padding cannot take on maps that small."""
    return st.fixed_dictionaries(
        {
            "out_channels": st.integers(1, 6),
            "kernel_size": pairs,
            "stride": st.just(1),
            "padding": st.just("same"),
            "dilation": st.one_of(st.integers(1, 3), st.lists(st.integers(1, 2), min_size=2, max_size=2)),
            "padding_mode": st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
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


def _conv_transpose():
    """Transposed convolutions, including output padding that torch refuses (>= stride and >=
    dilation), groups that do not divide, and padding that crops the output away."""
    return st.fixed_dictionaries(
        {
            "out_channels": st.integers(1, 6),
            "kernel_size": st.one_of(st.integers(1, 4), st.lists(st.integers(1, 4), min_size=2, max_size=2)),
            "stride": st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2)),
            "padding": st.integers(0, 2),
            "output_padding": st.sampled_from([0, 0, 0, 1, 2]),
            "dilation": st.integers(1, 2),
            "groups": st.sampled_from([1, 1, 2]),
            "bias": st.booleans(),
        }
    )


def _separable():
    return st.fixed_dictionaries(
        {
            "out_channels": st.integers(1, 6),
            "kernel_size": pairs,
            "stride": st.integers(1, 2),
            "padding": st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])),
            "dilation": st.integers(1, 2),
            "bias": st.booleans(),
        }
    )


def _upsample():
    """Scale or size (sometimes both or neither: refused), nearest or bilinear, align_corners
    (refused with nearest)."""
    scale = st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2))
    size = st.one_of(st.integers(1, 12), st.lists(st.integers(1, 12), min_size=2, max_size=2))
    return st.fixed_dictionaries(
        {
            "mode": st.sampled_from(["nearest", "bilinear"]),
            "align_corners": st.sampled_from([False, False, True]),
        }
    ).flatmap(
        lambda d: st.one_of(
            st.fixed_dictionaries({**{k: st.just(v) for k, v in d.items()}, "scale_factor": scale}),  # size defaults to None
            st.fixed_dictionaries({**{k: st.just(v) for k, v in d.items()}, "scale_factor": st.none(), "size": size}),
            st.fixed_dictionaries({**{k: st.just(v) for k, v in d.items()}, "scale_factor": st.one_of(st.none(), scale), "size": st.one_of(st.none(), size)}),
        )
    )


def _reshape():
    """Targets with one inferred axis, two (refused), fixed sizes that rarely match (refused), a
    half-given map (refused) and the flat vector."""
    dim = st.one_of(st.just(-1), st.integers(1, 4), st.just(0))
    return st.one_of(
        st.fixed_dictionaries({"channels": dim, "height": dim, "width": dim}),
        st.fixed_dictionaries({"channels": st.just(-1), "height": st.integers(1, 2), "width": st.integers(1, 2)}),
        st.fixed_dictionaries({"channels": st.sampled_from([-1, -1, 4])}),
        st.fixed_dictionaries({"channels": st.just(-1), "height": st.just(2)}),
    )


_ZEROPAD = st.fixed_dictionaries({s: st.integers(0, 2) for s in ("left", "right", "top", "bottom")})
_GN = st.fixed_dictionaries({"num_groups": st.integers(1, 4), "affine": st.booleans()})
_LN = st.fixed_dictionaries({"affine": st.booleans()})
_IN = st.fixed_dictionaries({"affine": st.booleans(), "track_running_stats": st.booleans()})
# issue 13's layers on maps (shared by the chain and the DAG builders)
NEW_ON_MAPS = st.one_of(
    st.tuples(st.just("conv_transpose2d"), _conv_transpose()),
    st.tuples(st.just("separable_conv2d"), _separable()),
    st.tuples(st.just("upsample"), _upsample()),
    st.tuples(st.just("groupnorm"), _GN),
    st.tuples(st.just("layernorm"), _LN),
    st.tuples(st.just("instancenorm2d"), _IN),
    st.tuples(st.sampled_from(["relu6", "hardswish", "identity"]), st.just({})),
    st.tuples(st.just("zeropad2d"), _ZEROPAD),
    st.tuples(st.just("reshape"), _reshape()),
    st.tuples(st.just("mean_hw"), st.fixed_dictionaries({"keepdim": st.booleans()})),
)
NEW_ON_FLAT = st.one_of(
    st.tuples(st.sampled_from(["relu6", "hardswish", "identity"]), st.just({})),
    st.tuples(st.just("layernorm"), _LN),
    st.tuples(st.just("groupnorm"), _GN),
    st.tuples(st.just("reshape"), _reshape()),
)


SPATIAL = st.one_of(
    st.tuples(st.just("conv2d"), _conv()),
    st.tuples(st.just("conv2d"), _conv_same()),
    st.tuples(st.sampled_from(["maxpool2d", "avgpool2d"]), _pool()),
    st.tuples(st.sampled_from(["adaptive_avgpool2d", "adaptive_maxpool2d"]), st.fixed_dictionaries({"output_size": st.integers(1, 4)})),
    st.tuples(st.sampled_from(["relu", "tanh", "sigmoid", "silu", "gelu", "softmax", "dropout2d"]), st.just({})),
    st.tuples(st.just("leaky_relu"), st.fixed_dictionaries({"negative_slope": st.floats(0, 1)})),
    st.tuples(st.just("batchnorm2d"), st.fixed_dictionaries({"affine": st.booleans(), "track_running_stats": st.booleans()})),
    st.tuples(st.just("residual"), _conv()),  # a branch with a conv, merged by Add
    st.tuples(st.just("concat_branch"), _conv()),  # a conv branch concatenated with the trunk
    st.tuples(st.just("se_branch"), st.integers(1, 6)),  # squeeze-and-excitation gate multiplied onto the trunk
    NEW_ON_MAPS,
    NEW_ON_MAPS,
    # occasionally a layer that is wrong here (flat-only layers on maps)
    st.tuples(st.sampled_from(["linear", "batchnorm1d"]), st.just({})),
)
FLAT = st.one_of(
    st.tuples(st.just("linear"), st.fixed_dictionaries({"out_features": st.integers(1, 12), "bias": st.booleans()})),
    st.tuples(st.sampled_from(["relu", "elu", "dropout", "batchnorm1d", "tanh"]), st.just({})),
    st.tuples(st.just("conv2d"), st.just({})),  # invalid after flatten
    NEW_ON_FLAT,
)


@st.composite
def graphs(draw):
    g = Graph("random")
    c = draw(st.integers(1, 4))
    h = draw(st.one_of(st.integers(6, 20), st.integers(1, 5)))
    w = draw(st.one_of(st.integers(6, 20), st.integers(1, 5)))
    last = g.add_node("input", {"channels": c, "height": h, "width": w}).id
    for type_id, cfg in draw(st.lists(SPATIAL, max_size=6)):
        if type_id == "se_branch":  # Mean (keepdim) -> 1x1 conv -> sigmoid -> Multiply(trunk, gate)
            gate = chain(g, [("mean_hw", {"keepdim": True}), ("conv2d", {"out_channels": cfg, "kernel_size": 1}), ("sigmoid", {})], start=last)
            merge = g.add_node("multiply", {"inputs": 2}).id
            g.connect(last, merge, 0, 0)
            g.connect(gate, merge, 0, 1)
            last = merge
            continue
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


# Layers that take one input, for the DAG builder (branches and merges are its own business):
# mostly ones that fit what they read (a map or a flat vector), sometimes one that does not.
_BN = st.fixed_dictionaries({"affine": st.booleans(), "track_running_stats": st.booleans()})
ON_MAPS = st.one_of(
    st.tuples(st.just("conv2d"), _conv()),
    st.tuples(st.just("conv2d"), _conv_same()),
    st.tuples(st.sampled_from(["maxpool2d", "avgpool2d"]), _pool()),
    st.tuples(st.sampled_from(["adaptive_avgpool2d", "adaptive_maxpool2d"]), st.fixed_dictionaries({"output_size": st.integers(1, 3)})),
    st.tuples(st.sampled_from(["relu", "tanh", "gelu", "dropout2d"]), st.just({})),
    st.tuples(st.just("batchnorm2d"), _BN),
    st.tuples(st.just("flatten"), st.just({})),
    NEW_ON_MAPS,
)
ON_FLAT = st.one_of(
    st.tuples(st.just("linear"), st.fixed_dictionaries({"out_features": st.integers(1, 6)})),
    st.tuples(st.sampled_from(["relu", "dropout"]), st.just({})),
    st.tuples(st.just("batchnorm1d"), _BN),
    NEW_ON_FLAT,
)
FLAT_TYPES = {"flatten", "linear", "batchnorm1d"}  # (mean_hw and reshape may or may not flatten: see _gives_flat)


def _gives_flat(type_id: str, cfg: dict, src_flat: bool) -> bool:
    if type_id == "mean_hw":
        return not cfg.get("keepdim", True)
    if type_id == "reshape":
        return cfg.get("height") is None and cfg.get("width") is None
    return type_id in FLAT_TYPES or src_flat


@st.composite
def dags(draw):
    """An arbitrary DAG: each new node reads the newest node, or any earlier one (a branch); a merge
    (Add or Concat, 2-3 inputs) reads any earlier nodes, the same one on several ports allowed; the
    loose ends are merged or left dangling. Then, sometimes, edges no editor makes are added to the
    file (any source port, any target port, backwards edges): the graph is loaded from that file."""
    g = Graph("dag")
    c = draw(st.integers(1, 3))
    h = draw(st.one_of(st.integers(1, 4), st.integers(5, 12)))
    w = draw(st.one_of(st.integers(1, 4), st.integers(5, 12)))
    ids = [g.add_node("input", {"channels": c, "height": h, "width": w}).id]
    flat = {ids[0]: False}  # what each node gives, as far as the builder can tell
    loose = {ids[0]}
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["layer", "layer", "layer", "add", "concat", "multiply"]))
        if kind == "layer":
            src = ids[-1] if draw(st.integers(0, 3)) else draw(st.sampled_from(ids))
            fits = ON_FLAT if flat[src] else ON_MAPS
            type_id, cfg = draw(fits if draw(st.integers(0, 9)) else st.one_of(ON_MAPS, ON_FLAT))
            node = g.add_node(type_id, cfg).id
            g.connect(src, node)
            loose.discard(src)
            flat[node] = _gives_flat(type_id, cfg, flat[src])
        else:
            k = draw(st.integers(2, 3))
            srcs = [ids[-1]] + draw(st.lists(st.sampled_from(ids), min_size=k - 1, max_size=k - 1))
            node = g.add_node(kind, {"inputs": k}).id
            for port, src in enumerate(srcs):
                g.connect(src, node, 0, port)
                loose.discard(src)
            flat[node] = flat[srcs[0]]
        ids.append(node)
        loose.add(node)
    last = ids[-1]
    others = sorted(loose - {last})
    if others and draw(st.integers(0, 3)):
        merge = g.add_node(draw(st.sampled_from(["add", "concat", "multiply"])), {"inputs": len(others) + 1}).id
        for port, src in enumerate([last] + others):
            g.connect(src, merge, 0, port)
        last = merge
    if not flat[ids[-1]] or draw(st.booleans()):
        last = chain(g, [("flatten", {}), ("linear", {"out_features": draw(st.integers(2, 5))})], start=last)
    loss = g.add_node(draw(st.sampled_from(["cross_entropy", "mse"]))).id
    g.connect(last, loss)
    cfg = g.to_config()
    names = [n["id"] for n in cfg["nodes"]]  # creation order: a topological order
    if draw(st.integers(0, 2)) == 0:
        kind = draw(st.sampled_from(["second_edge", "second_edge", "src_port", "any"]))
        j = draw(st.integers(1, len(names) - 1))
        d, s = names[j], draw(st.sampled_from(names[:j]))  # s before d: no cycle unless "any"
        used = sorted({e["dst"][1] for e in cfg["edges"] if e["dst"][0] == d}) or [0]
        if kind == "second_edge":  # one more edge into a port that already has one
            extra = {"src": [s, 0], "dst": [d, draw(st.sampled_from(used))]}
        elif kind == "src_port":  # an edge out of an output port layers do not have
            extra = {"src": [s, draw(st.integers(1, 3))], "dst": [d, draw(st.integers(0, 3))]}
        else:
            extra = {"src": [draw(st.sampled_from(names)), draw(st.sampled_from([0, 1]))], "dst": [draw(st.sampled_from(names)), draw(st.integers(0, 3))]}
        if extra not in cfg["edges"]:  # an exact duplicate is a load error, not a graph
            cfg["edges"].append(extra)
    return Graph.from_config(cfg)



@st.composite
def new_layer_graphs(draw):
    """Short chains of issue 13's layers (with SE gates multiplied onto the trunk) on inputs they
    mostly fit (even channel counts, maps of 4..12), so that most graphs validate; the random
    graphs above mix them with everything else, where most graphs are refused somewhere."""
    g = Graph("new layers")
    c = draw(st.sampled_from([2, 4]))
    last = g.add_node("input", {"channels": c, "height": draw(st.integers(4, 12)), "width": draw(st.integers(4, 12))}).id
    flat = False
    for _ in range(draw(st.integers(1, 4))):
        if not flat and draw(st.integers(0, 4)) == 0:
            gate = chain(g, [("mean_hw", {"keepdim": True}), ("conv2d", {"out_channels": draw(st.sampled_from([1, 2, 4, 4])), "kernel_size": 1}), ("hardswish", {})], start=last)
            merge = g.add_node("multiply", {"inputs": 2}).id
            g.connect(last, merge, 0, 0)
            g.connect(gate, merge, 0, 1)
            last = merge
            continue
        type_id, cfg = draw(NEW_ON_FLAT if flat else NEW_ON_MAPS)
        node = g.add_node(type_id, cfg).id
        g.connect(last, node)
        last = node
        flat = _gives_flat(type_id, cfg, flat)
    if not flat:
        last = chain(g, [("flatten", {})], start=last)
    last = chain(g, [("linear", {"out_features": draw(st.integers(2, 4))})], start=last)
    g.connect(last, g.add_node(draw(st.sampled_from(["cross_entropy", "mse"]))).id)
    return g


def check_against_torch(graph, campaign: str):
    """Valid per the analysis -> torch builds and runs it with exactly the predicted shapes and
    sizes (eval, batch 1; train, batch 2); invalid -> compile_model refuses with GraphError."""
    analysis = analyze(graph)  # never raises
    if not analysis.ok:
        event("invalid")
        record(campaign, "invalid")
        try:
            compile_model(graph, analysis)
        except GraphError as e:
            assert e.issues and all(i.message for i in e.issues)
        else:
            raise AssertionError("an invalid graph compiled")
        return
    event("valid")
    record(campaign, "valid")
    model = compile_model(graph, analysis)
    wanted = [n for n in analysis.order if graph.nodes[n].spec.role != "output"]
    for mode, batch in (("eval", 1), ("train", 2)):
        model.train(mode == "train")
        x = torch.randn(batch, *analysis.input_shape)
        with torch.no_grad():
            out, captured = model.forward_capture(x, wanted)
        for nid in wanted:
            assert tuple(captured[nid].shape) == (batch, *analysis.nodes[nid].output_shape), (mode, nid)
        assert tuple(out.shape) == (batch, *analysis.output_shape)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for k, b in model.named_buffers() if not k.endswith("num_batches_tracked"))
    assert trainable == analysis.trainable_params
    assert buffers == analysis.non_trainable_params


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_analysis_matches_torch_for_every_valid_graph(graph):
    check_against_torch(graph, "exactness: chains and branches")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(dags())
def test_analysis_matches_torch_for_arbitrary_dags_and_edge_lists(graph):
    check_against_torch(graph, "exactness: DAGs and edge lists")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(new_layer_graphs())
def test_analysis_matches_torch_for_the_new_layer_types(graph):
    check_against_torch(graph, "exactness: issue 13 layers")


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sampled_from(["conv2d", "maxpool2d", "avgpool2d", "linear", "batchnorm2d", "dropout", "leaky_relu", "add", "concat", "input",
                     "conv_transpose2d", "separable_conv2d", "upsample", "groupnorm", "layernorm", "instancenorm2d", "zeropad2d",
                     "reshape", "multiply", "mean_hw"]),
    st.dictionaries(
        st.sampled_from(["out_channels", "kernel_size", "stride", "padding", "p", "negative_slope", "inputs", "bogus", "out_features", "channels",
                         "output_padding", "scale_factor", "size", "mode", "align_corners", "num_groups", "left", "top", "height", "width", "keepdim"]),
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
