"""core/trainable.param_counts (the app's and `cnn-studio summary`'s trainable / frozen / buffers)
equals what torch holds once the trainer applies the options (training/freeze.py): parameters with
requires_grad, parameters without, and running statistics, for random frozen flags on a nested,
shared ResNet-style network (on instances and inside definitions)."""
from __future__ import annotations

from block_graphs import tiny_resnet
from fuzz_settings import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.compiler.model import compile_model
from cnn_studio.core.trainable import ParamCounts, param_counts, path_param_counts
from cnn_studio.training.freeze import apply_node_options


def _all_nodes(g):
    return [(None, nid) for nid in g.nodes] + [(name, nid) for name in g.blocks for nid in g.blocks[name].graph.nodes]


def _torch_counts(g) -> ParamCounts:
    model = compile_model(g)
    apply_node_options(model, g)
    params = list(model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return ParamCounts(sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params if not p.requires_grad), buffers)


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_counts_match_torch_after_the_trainer_freezes(data):
    g = tiny_resnet()
    for block, nid in data.draw(st.lists(st.sampled_from(_all_nodes(g)), max_size=8, unique=True), label="frozen"):
        (g if block is None else g.blocks[block].graph).set_node_training(nid, frozen=True)
    counts = param_counts(g)
    assert counts == _torch_counts(g)
    # the top-level nodes' own counts add up to the network's
    per_node = [path_param_counts(g, [nid]) for nid in g.nodes]
    assert tuple(sum(getattr(p, k) for p in per_node) for k in ("trainable", "frozen", "buffers")) == (counts.trainable, counts.frozen, counts.buffers)
