"""Structural edits inside a block definition (core/block_edit.py): each op either raises
GraphEditError and changes nothing, or leaves a definition table that block_check accepts."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from block_graphs import tiny_resnet
from fuzz_settings import examples

from cnn_studio.core import block_edit as be
from cnn_studio.core import project
from cnn_studio.core.analysis import analyze
from cnn_studio.core.block_check import validate_definitions
from cnn_studio.core.errors import GraphEditError


def _consistent(g) -> None:
    cfg = g.to_config()
    validate_definitions(cfg["blocks"], top_nodes=cfg["nodes"])
    for d in g.blocks.definitions():
        assert not d.graph.topological_order()[1], f"cycle inside {d.name}"
        assert d.output in d.graph.nodes
        fed = {(e.dst, e.dst_port) for e in d.graph.edges}
        for targets in d.inputs:
            assert targets
            for t in targets:
                assert t not in fed
                fed.add(t)


def test_add_wire_and_remove_a_dropout_between_two_inner_layers():
    g = tiny_resnet()
    before = g.to_config()
    nid = be.add_inner_node(g, "Basic4", "dropout", {"p": 0.3}, (10, 20))
    # relu1 -> conv2 becomes relu1 -> dropout -> conv2
    be.disconnect_inner(g, "Basic4", "relu1", "conv2")
    be.connect_inner(g, "Basic4", "relu1", nid)
    be.connect_inner(g, "Basic4", nid, "conv2")
    _consistent(g)
    a = analyze(g)
    inner = a.nodes["layer1"].block.nodes["0"].block
    assert nid in inner.nodes and inner.nodes[nid].output_shape == inner.nodes["relu1"].output_shape
    assert a.ok
    be.remove_inner_nodes(g, "Basic4", [nid])
    be.connect_inner(g, "Basic4", "relu1", "conv2")
    _consistent(g)
    after = g.to_config()
    b4 = next(d for d in after["blocks"] if d["name"] == "Basic4")
    b4_before = next(d for d in before["blocks"] if d["name"] == "Basic4")
    assert sorted(map(str, b4["edges"])) == sorted(map(str, b4_before["edges"]))


def test_refusals_name_the_problem_and_change_nothing():
    g = tiny_resnet()
    snap = g.to_config()
    cases = [
        (lambda: be.remove_inner_nodes(g, "Basic4", ["relu"]), "output of block"),
        (lambda: be.remove_inner_nodes(g, "Basic4", ["conv1", "add"]), "would feed nothing"),
        (lambda: be.unfeed_block_input(g, "Basic4", 0, "conv1", 0), "does not feed"),  # conv1 and add(1) are fed
        (lambda: be.connect_inner(g, "Basic4", "relu", "conv1"), "fed by block input 1"),
        (lambda: be.connect_inner(g, "Basic4", "conv2", "conv1"), "block input"),
        (lambda: be.connect_inner(g, "Basic4", "bn2", "bn1"), "already connected"),
        (lambda: be.feed_block_input(g, "Basic4", 0, "bn1", 0), "already connected"),
        (lambda: be.feed_block_input(g, "Basic4", 1, "bn1", 0), "no input 2"),
        (lambda: be.add_inner_node(g, "Basic4", "input"), "cannot hold"),
        (lambda: be.add_inner_node(g, "Layer1", "block", {"block": "Layer1"}), "contain itself"),
        (lambda: be.set_block_output(g, "Basic4", "relu"), "already is the output"),
        (lambda: be.move_inner_nodes(g, "Basic4", {"nope": (0, 0)}), "holds no layer"),
    ]
    for fn, words in cases[:2] + cases[3:]:
        with pytest.raises(GraphEditError, match=words):
            fn()
        assert g.to_config() == snap
    # unfeeding one of two targets works; the last one is refused
    be.unfeed_block_input(g, "Basic4", 0, "add", 1)
    with pytest.raises(GraphEditError, match="would feed nothing"):
        be.unfeed_block_input(g, "Basic4", 0, "conv1", 0)
    _consistent(g)


def test_a_cycle_inside_is_refused():
    g = tiny_resnet()
    be.disconnect_inner(g, "Basic4", "relu1", "conv2")
    d = be.add_inner_node(g, "Basic4", "dropout")
    be.connect_inner(g, "Basic4", d, "conv2")
    snap = g.to_config()
    with pytest.raises(GraphEditError, match="cycle"):
        be.connect_inner(g, "Basic4", "bn2", d)
    assert g.to_config() == snap


def test_edited_definition_round_trips_through_a_project_file(tmp_path):
    g = tiny_resnet()
    nid = be.add_inner_node(g, "Basic8", "dropout", {}, (5, 5))
    be.disconnect_inner(g, "Basic8", "bn1", "relu1")
    be.connect_inner(g, "Basic8", "bn1", nid)
    be.connect_inner(g, "Basic8", nid, "relu1")
    be.move_inner_nodes(g, "Basic8", {"conv1": (-40.0, 12.5)})
    be.set_block_output(g, "Basic8", "add")  # relu at the end now dangles: a problem, not a crash
    assert any("in block 'Basic8'" in i.message for i in analyze(g).issues)
    be.set_block_output(g, "Basic8", "relu")
    path = tmp_path / "net.cnnstudio"
    project.save_project(g, path)
    back = project.load_project(path)
    assert back.to_config() == g.to_config()
    assert back.blocks["Basic8"].graph.nodes["conv1"].pos == (-40.0, 12.5)


_NAMES = ["Basic4", "Basic8", "Basic8s2", "Down8", "Layer1", "Layer2"]
_TYPES = ["relu", "dropout", "batchnorm2d", "identity", "conv2d", "add"]


@st.composite
def _op(draw, g):
    name = draw(st.sampled_from(_NAMES))
    d = g.blocks[name]
    ids = list(d.graph.nodes) or ["x"]
    pick = lambda: draw(st.sampled_from(ids))  # noqa: E731
    port = draw(st.integers(0, 2))
    kind = draw(st.sampled_from(["add", "remove", "move", "connect", "disconnect", "feed", "unfeed", "output"]))
    if kind == "add":
        return kind, lambda: be.add_inner_node(g, name, draw(st.sampled_from(_TYPES)), {}, (draw(st.integers(-99, 99)), 0))
    if kind == "remove":
        return kind, lambda: be.remove_inner_nodes(g, name, draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3)))
    if kind == "move":
        return kind, lambda: be.move_inner_nodes(g, name, {pick(): (draw(st.integers(-500, 500)), draw(st.integers(-500, 500)))})
    if kind == "connect":
        return kind, lambda: be.connect_inner(g, name, pick(), pick(), 0, port)
    if kind == "disconnect":
        edges = list(d.graph.edges)
        e = draw(st.sampled_from(edges)) if edges else None
        return kind, lambda: be.disconnect_inner(g, name, *(e.src, e.dst, e.src_port, e.dst_port) if e else ("a", "b"))
    if kind == "feed":
        return kind, lambda: be.feed_block_input(g, name, draw(st.integers(0, 1)), pick(), port)
    if kind == "unfeed":
        return kind, lambda: be.unfeed_block_input(g, name, 0, pick(), port)
    return kind, lambda: be.set_block_output(g, name, pick())


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_inner_edit_sequences_keep_the_table_consistent(data):
    g = tiny_resnet()
    done = 0
    for _ in range(data.draw(st.integers(1, 14))):
        kind, fn = data.draw(_op(g))
        snap = g.to_config()
        try:
            fn()
        except GraphEditError as e:
            assert str(e) and "\n" not in str(e)
            assert g.to_config() == snap, f"{kind} refused but changed the graph"
            continue
        done += 1
        _consistent(g)
    analyze(g)  # never raises, whatever the transient state
