"""Receptive fields measured on the compiled torch model: the gradient of one output unit with
respect to the input is non-zero exactly on the pixels that unit sees. The analysis' field size
(the widest unit's, per axis) must equal the widest measured field, for chains that upsample
(transposed convolutions, also ones whose taps leave holes; nearest and bilinear Upsample) as
well as ones that convolve, pool and pad. Weights and inputs are positive, so no gradient cancels to zero by chance."""
import torch
from fuzz_settings import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.compiler import compile_model
from cnn_studio.core import Graph, analyze
from cnn_studio.core.graph import chain

LAYERS = st.one_of(
    st.tuples(st.just("conv2d"), st.fixed_dictionaries({"out_channels": st.just(1), "kernel_size": st.integers(1, 4), "stride": st.integers(1, 2), "dilation": st.integers(1, 2)})),
    st.tuples(st.just("avgpool2d"), st.fixed_dictionaries({"kernel_size": st.integers(1, 3), "stride": st.integers(1, 2)})),
    st.tuples(
        st.just("conv_transpose2d"),
        st.fixed_dictionaries({"out_channels": st.just(1), "kernel_size": st.integers(1, 4), "stride": st.integers(1, 3), "dilation": st.integers(1, 3), "padding": st.integers(0, 1)}),
    ),
    st.tuples(st.just("upsample"), st.fixed_dictionaries({"mode": st.sampled_from(["nearest", "bilinear"]), "scale_factor": st.integers(1, 3)})),
    st.tuples(st.just("upsample"), st.fixed_dictionaries({"mode": st.just("bilinear"), "scale_factor": st.integers(2, 3), "align_corners": st.just(True)})),
    st.tuples(st.just("separable_conv2d"), st.fixed_dictionaries({"out_channels": st.just(1), "kernel_size": st.integers(1, 3), "padding": st.just(0), "dilation": st.integers(1, 2)})),
    st.tuples(st.just("zeropad2d"), st.fixed_dictionaries({"left": st.integers(0, 2), "top": st.integers(0, 2)})),
)


def measured_field(model, shape, node_id) -> int:
    """Widest run of input rows any unit of ``node_id``'s output depends on. Rows and columns are
    independent, so the units of one output row read the same input rows (or none: a dilated
    transposed conv leaves some columns untouched): one gradient per output row."""
    x = (torch.rand(1, *shape, dtype=torch.float64) + 0.5).requires_grad_(True)
    _, cap = model.forward_capture(x, [node_id])
    out = cap[node_id]
    widest = 0
    for y in range(out.shape[2]):
        (g,) = torch.autograd.grad(out[0, 0, y].sum(), x, retain_graph=True)
        rows = torch.nonzero(g[0].abs().sum(dim=(0, 2))).flatten()
        if len(rows):
            widest = max(widest, int(rows.max() - rows.min()) + 1)
    return widest


def positive_weights(model) -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.1)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.lists(LAYERS, min_size=1, max_size=3), st.integers(12, 20))
def test_receptive_field_equals_the_widest_measured_field(layers, size):
    g = Graph("rf")
    inp = g.add_node("input", {"channels": 1, "height": size, "width": size}).id
    last = chain(g, layers, start=inp)
    g.connect(last, g.add_node("mse").id)
    a = analyze(g)
    if not a.ok or a.nodes[last].output_shape[1] > 80:
        return
    rf = a.nodes[last].rf
    if rf is None:  # no unit reads the input (holes of a transposed conv sampled by a stride)
        model = compile_model(g, a).double().eval()
        positive_weights(model)
        assert measured_field(model, (1, size, size), last) == 0
        return
    if rf.size[0] + 2 * 4 > size:  # the widest unit must fit inside the image to be measured whole
        return
    model = compile_model(g, a).double().eval()
    positive_weights(model)
    assert measured_field(model, (1, size, size), last) == rf.size[0], [t for t, _ in layers]


def test_a_layer_that_reads_only_holes_has_no_receptive_field():
    """A 1x1 stride-2 transposed conv with padding 1 fills only the odd rows; a 1x1 stride-2 conv
    after it reads only the even ones: its output is the bias alone."""
    g = Graph("holes")
    last = chain(g, [("conv_transpose2d", {"out_channels": 1, "kernel_size": 1, "stride": 2, "padding": 1}),
                     ("conv2d", {"out_channels": 1, "kernel_size": 1, "stride": 2})],
                 start=g.add_node("input", {"channels": 1, "height": 12, "width": 12}).id)
    g.connect(last, g.add_node("mse").id)
    a = analyze(g)
    assert a.ok and a.nodes[last].rf is None and a.nodes[a.order[1]].rf.size == (1, 1)
    model = compile_model(g, a).double().eval()
    positive_weights(model)
    assert measured_field(model, (1, 12, 12), last) == 0


def test_known_upsampling_fields():
    """Worked by hand: a 3x3 stride-2 transposed conv output reads 1 or 2 inputs (2); nearest x2
    then a 3x3 conv sees 2 input pixels; bilinear x2 then a 3x3 conv sees 3."""
    cases = [
        ([("conv_transpose2d", {"out_channels": 1, "kernel_size": 3, "stride": 2})], 2),
        ([("conv_transpose2d", {"out_channels": 1, "kernel_size": 4, "stride": 2}), ("conv2d", {"out_channels": 1, "kernel_size": 3})], 3),
        ([("upsample", {"scale_factor": 2}), ("conv2d", {"out_channels": 1, "kernel_size": 3})], 2),
        ([("upsample", {"scale_factor": 2, "mode": "bilinear"}), ("conv2d", {"out_channels": 1, "kernel_size": 3})], 3),
        ([("upsample", {"scale_factor": 2}), ("conv2d", {"out_channels": 1, "kernel_size": 2}), ("conv2d", {"out_channels": 1, "kernel_size": 2})], 2),
    ]
    for layers, want in cases:
        g = Graph("rf")
        last = chain(g, layers, start=g.add_node("input", {"channels": 1, "height": 16, "width": 5}).id)
        g.connect(last, g.add_node("mse").id)
        a = analyze(g)
        assert a.nodes[last].rf.size[0] == want, layers
        model = compile_model(g, a).double().eval()
        positive_weights(model)
        assert measured_field(model, (1, 16, 5), last) == want, layers
