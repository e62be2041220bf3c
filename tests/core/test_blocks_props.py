"""Property tests: random groupings of random valid networks. A grouping either succeeds, and then
the analysis (shapes, parameters, buffers, MACs, activation memory, receptive fields of every node outside the block)
equals the flat network's and ungroup gives the original graph back; or it is refused with a
GraphEditError and the graph is unchanged. Nested groupings flatten back to the original too."""
from block_graphs import inner_ids, random_graphs
from fuzz_settings import examples
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cnn_studio.core import blocks
from cnn_studio.core.analysis import analyze
from cnn_studio.core.errors import GraphEditError
from cnn_studio.core.project import dumps, loads

_SETTINGS = settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _facts(a, ids):
    # activation memory too: a block instance holds its inner layers' activations, not only its output
    return (a.total_params, a.trainable_params, a.non_trainable_params, a.total_macs, a.activation_bytes, a.output_shape,
            {n: (a.nodes[n].output_shape, a.nodes[n].rf) for n in ids})


@st.composite
def grouped(draw):
    g = draw(random_graphs())
    ids = inner_ids(g)
    i, j = draw(st.sampled_from([(i, j) for i in range(len(ids)) for j in range(i + 1, len(ids) + 1)]))  # every window alike
    sel = ids[i:j]
    if draw(st.booleans()) and len(sel) > 1:  # sometimes a non-contiguous pick
        sel = draw(st.lists(st.sampled_from(sel), min_size=1, unique=True))
    return g, sel


@_SETTINGS
@given(grouped())
def test_group_keeps_the_analysis_and_ungroup_inverts_it(case):
    g, sel = case
    flat = analyze(g)
    assert flat.ok, flat.errors
    before, structure = g.to_config(), g.structure()
    try:
        inst = blocks.group(g, sel, "Blk")
    except GraphEditError as e:
        event("refused: " + str(e).split(";")[0].split("(")[0][:40])
        assert g.to_config() == before
        return
    event(f"grouped {len(sel)} nodes")
    a = analyze(g)
    assert a.ok, a.errors
    outside = [n for n in g.nodes if n != inst]
    assert _facts(a, outside) == _facts(flat, outside)
    d = g.blocks["Blk"]
    assert a.nodes[inst].output_shape == flat.nodes[d.output].output_shape
    assert a.nodes[inst].rf == flat.nodes[d.output].rf
    assert a.nodes[inst].params == sum(flat.nodes[n].params for n in sel)
    assert a.nodes[inst].macs == sum(flat.nodes[n].macs for n in sel)
    assert a.nodes[inst].activation_bytes == sum(flat.nodes[n].activation_bytes for n in sel)
    assert loads(dumps(g)) == g  # the project file round trip keeps the block
    blocks.ungroup(g, inst)
    assert g.structure() == structure


@_SETTINGS
@given(grouped(), st.data())
def test_nested_groupings_flatten_back_to_the_original(case, data):
    g, sel = case
    structure = g.structure()
    flat_facts = _facts(analyze(g), [])
    try:
        inst = blocks.group(g, sel, "Inner")
    except GraphEditError:
        return
    # group the instance with its neighbours (a block holding a block), when that is possible
    ids = inner_ids(g)
    k = ids.index(inst)
    lo = data.draw(st.integers(max(0, k - 2), k))
    hi = data.draw(st.integers(k + 1, min(len(ids), k + 3)))
    try:
        outer = blocks.group(g, ids[lo:hi], "Outer")
    except GraphEditError:
        outer = None
    event("nested" if outer else "single")
    a = analyze(g)
    assert a.ok, a.errors
    assert _facts(a, []) == flat_facts
    flat = blocks.flatten(g)
    assert _facts(analyze(flat), []) == flat_facts
    assert flat.structure() == structure  # every id was free again, so flatten restores them all
