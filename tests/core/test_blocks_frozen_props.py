"""Property: grouping random selections of random networks whose layers carry random training options
(frozen, lr_mult) keeps every option in the definition's inner nodes, keeps the trainable/frozen
parameter split and the frozen-layer count, and ungroup gives every option back (QA item 2)."""
from block_graphs import inner_ids, random_graphs
from fuzz_settings import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.core import blocks
from cnn_studio.core.analysis import analyze
from cnn_studio.core.errors import GraphEditError
from cnn_studio.core.trainable import frozen_layer_counts, parameter_counts


def _options(g):
    return {nid: (n.frozen, n.lr_mult) for nid, n in g.nodes.items()}


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(), st.data())
def test_group_and_ungroup_keep_training_options_and_counts(g, data):
    ids = inner_ids(g)
    for nid in ids:
        g.set_node_training(nid, data.draw(st.booleans()), data.draw(st.sampled_from([1.0, 0.1, 2.5])))
    i = data.draw(st.integers(0, len(ids) - 1))
    j = data.draw(st.integers(i + 1, len(ids)))
    sel = ids[i:j]
    flat = analyze(g)
    counts = parameter_counts(g, flat)
    layers = frozen_layer_counts(g, list(g.nodes), flat)
    options = _options(g)
    try:
        inst = blocks.group(g, sel, "Blk")
    except GraphEditError:
        return
    inner = g.blocks["Blk"].graph.nodes
    assert {nid: (inner[nid].frozen, inner[nid].lr_mult) for nid in sel} == {nid: options[nid] for nid in sel}
    a = analyze(g)
    assert parameter_counts(g, a) == counts
    assert frozen_layer_counts(g, list(g.nodes), a) == layers
    blocks.ungroup(g, inst)
    assert _options(g) == options
