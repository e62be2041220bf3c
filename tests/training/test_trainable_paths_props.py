"""core/trainable's path rules (the Inspector's Trainable box) agree with what the trainer applies
(training/freeze.py) on a nested, shared ResNet-style network with random frozen flags on the
network's nodes and inside the definitions: each layer's frozen count at its path equals the engine's,
and unfreeze_targets of any selection of paths makes every layer under them train in the engine,
except those frozen by an instance around the path (which the box locks and names)."""
from __future__ import annotations

from block_graphs import tiny_resnet
from fuzz_settings import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.compiler.model import compile_model
from cnn_studio.core.trainable import locate, path_layer_counts, unfreeze_targets
from cnn_studio.training.freeze import _leaves


def _all_nodes(g):
    return [(None, nid) for nid in g.nodes] + [(name, nid) for name in g.blocks for nid in g.blocks[name].graph.nodes]


def _set(g, target, frozen):
    block, nid = target
    (g if block is None else g.blocks[block].graph).set_node_training(nid, frozen=frozen)


def _engine(g):
    return {leaf.path: leaf.frozen for leaf in _leaves(compile_model(g), g) if any(True for _ in leaf.module.parameters())}


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_path_counts_and_unfreeze_targets_match_the_engine(data):
    g = tiny_resnet()
    nodes = _all_nodes(g)
    for t in data.draw(st.lists(st.sampled_from(nodes), max_size=8, unique=True), label="frozen"):
        _set(g, t, True)
    engine = _engine(g)
    for path, frozen in engine.items():
        assert path_layer_counts(g, [path]) == (int(frozen), 1), path
    # a selection: any instance or layer paths, at any depth
    paths = sorted({"/".join(p.split("/")[:k]) for p in engine for k in range(1, p.count("/") + 2)})
    chosen = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True), label="selection")
    held = {p: locate(g, p).frozen_by for p in chosen}
    under = [leaf for leaf in engine if any(leaf == p or leaf.startswith(p + "/") for p in chosen)]
    f, w = path_layer_counts(g, chosen)
    assert w == len(under) and f == sum(engine[leaf] for leaf in under)
    for t in unfreeze_targets(g, chosen):
        _set(g, t, False)
    after = _engine(g)
    for leaf in under:
        around = [p for p in chosen if (leaf == p or leaf.startswith(p + "/")) and held[p] is None]
        if around:
            assert not after[leaf], (leaf, chosen)
