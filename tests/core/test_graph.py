import pytest

from cnn_studio.core import Graph, GraphEditError, templates


def _recorder(g):
    seen = []
    for name in ("node_added", "node_removed", "node_changed", "node_moved", "edge_added", "edge_removed", "graph_reset", "meta_changed"):
        g.events.connect(name, lambda *a, n=name: seen.append(n))
    return seen


def test_edits_fire_past_tense_events_only_on_real_change():
    g = Graph()
    seen = _recorder(g)
    a = g.add_node("input")
    b = g.add_node("conv2d", {"out_channels": 8})
    g.connect(a.id, b.id)
    assert seen == ["node_added", "node_added", "edge_added"]
    seen.clear()
    assert g.set_param(b.id, "out_channels", 8) is False
    assert g.move_node(b.id, b.pos) is False
    assert seen == []
    assert g.set_param(b.id, "out_channels", 9) is True
    assert g.move_node(b.id, (10, 20)) is True
    assert seen == ["node_changed", "node_moved"]
    seen.clear()
    g.remove_node(b.id)
    assert seen == ["edge_removed", "node_removed"]
    assert g.edges == []


def test_ids_are_stable_unique_strings():
    g = Graph()
    ids = [g.add_node("relu").id for _ in range(3)]
    assert len(set(ids)) == 3
    with pytest.raises(GraphEditError, match="already exists"):
        g.add_node("relu", node_id=ids[0])
    with pytest.raises(GraphEditError, match="not a valid node id"):
        g.add_node("relu", node_id="1 bad")
    with pytest.raises(GraphEditError, match="unknown layer type"):
        g.add_node("warp_drive")


def test_can_connect_refuses_cycles_taken_ports_and_bad_ports():
    g = Graph()
    a, b, c = (g.add_node("relu").id for _ in range(3))
    g.connect(a, b)
    g.connect(b, c)
    assert "cycle" in g.can_connect(c, a)
    assert "already connected" in g.can_connect(a, b)
    assert "no input port" in g.can_connect(a, c, dst_port=1)
    assert "itself" in g.can_connect(a, a)
    inp = g.add_node("input").id
    assert "takes no input" in g.can_connect(a, inp)
    with pytest.raises(GraphEditError):
        g.connect(c, a)


def test_shrinking_a_merge_drops_edges_into_removed_ports():
    g = Graph()
    a, b, c = (g.add_node("relu").id for _ in range(3))
    m = g.add_node("add", {"inputs": 3}).id
    for port, src in enumerate((a, b, c)):
        g.connect(src, m, 0, port)
    g.set_param(m, "inputs", 2)
    assert sorted(e.dst_port for e in g.in_edges(m)) == [0, 1]


def test_config_round_trip_and_equality():
    g = templates.build("resnet18", (3, 32, 32), 10)
    h = Graph.from_config(g.to_config())
    assert h == g
    assert h.to_config() == g.to_config()
    h.set_param("fc", "out_features", 11)
    assert h != g


def test_replace_with_restores_exact_graph():
    g = templates.build("lenet5")
    before = g.to_config()
    g.remove_node("c3")
    g.add_node("relu")
    g.replace_with(before)
    assert g.to_config() == before


def test_rename_keeps_edges():
    g = templates.build("lenet5")
    g.rename_node("c3", "conv_b")
    assert g.predecessors("conv_b") == ["s2"]
    assert g.successors("conv_b") == ["c3_act"]


def test_rename_and_reinsertion_keep_the_exact_order():
    g = templates.build("resnet18", (3, 32, 32), 10)
    before = g.to_config()
    g.rename_node("layer1_0_conv1", "first_conv")
    g.rename_node("first_conv", "layer1_0_conv1")
    assert g.to_config() == before
    idx = g.node_index("layer2_0_add")
    saved = g.nodes["layer2_0_add"].to_config()
    edges = [(g.edge_index(e), e) for e in g.edges if "layer2_0_add" in (e.src, e.dst)]
    g.remove_node("layer2_0_add")
    g.add_node(saved["type"], saved["config"], saved["pos"], saved["id"], index=idx)
    for i, e in sorted(edges, key=lambda t: t[0]):
        g.connect(e.src, e.dst, e.src_port, e.dst_port, index=i)
    assert g.to_config() == before
