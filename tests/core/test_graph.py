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


def test_ids_must_match_whole_string_no_trailing_newline():
    from cnn_studio.core.graph import ID_RE, is_valid_id

    g = Graph()
    for bad in ("c1\n", "c1\r\n", "\nc1", "c 1", "c1\x00", "", "1c", "c" * 65):
        assert not is_valid_id(bad), bad
        assert ID_RE.match(bad) is None, bad  # .match is a full match too: callers elsewhere use it
        with pytest.raises(GraphEditError, match="not a valid node id"):
            g.add_node("relu", node_id=bad)
    ok = g.add_node("relu", node_id="c1").id
    with pytest.raises(GraphEditError, match="not a valid node id"):
        g.rename_node(ok, "c2\n")
    assert is_valid_id("_a9") and is_valid_id("c" * 64)


def test_port_messages_count_from_one_and_name_source_ports():
    g = Graph()
    a, b = g.add_node("relu").id, g.add_node("relu").id
    m = g.add_node("add", {"inputs": 2}).id
    assert g.can_connect(a, b, dst_port=1) == f"'{b}' has no input port 2 (it has 1 input)"
    assert "no input port 3 (it has 2 inputs)" in g.can_connect(a, m, dst_port=2)
    assert "no output 2" in g.can_connect(a, b, src_port=1)
    g.connect(a, m, 0, 1)
    assert g.can_connect(b, m, 0, 1) == f"input 2 of '{m}' is already connected; disconnect it first"


def _edge_lists(g):
    """The edge list and, rebuilt by scanning it, each node's in/out edges (the old definition)."""
    edges = g.edges
    ins = {n: sorted((e for e in edges if e.dst == n), key=lambda e: e.dst_port) for n in g.nodes}
    outs = {n: [e for e in edges if e.src == n] for n in g.nodes}
    return edges, ins, outs


def test_edge_index_stays_equal_to_a_scan_of_the_edge_list_through_edits_and_undo():
    """in_edges/out_edges come from a per-node index; after connect (appended or at an index),
    disconnect, remove_node, rename and replace_with they equal a scan of the edge list, in order."""
    g = templates.build("resnet18", (3, 32, 32), 10)

    def check():
        edges, ins, outs = _edge_lists(g)
        for n in g.nodes:
            assert g.in_edges(n) == ins[n], n
            assert g.out_edges(n) == outs[n], n
            for p in range(4):
                assert g.edge_into(n, p) == next((e for e in ins[n] if e.dst_port == p), None)
        assert all(g.has_edge(e) for e in edges)

    check()
    before = g.to_config()
    victim = next(n for n in g.nodes if len(g.out_edges(n)) == 2)  # a block input: feeds main path and shortcut
    position = g.node_index(victim)
    removed = [(g.edge_index(e), e) for e in sorted(set(g.in_edges(victim) + g.out_edges(victim)), key=g.edge_index)]
    node = g.remove_node(victim)
    check()
    # undo: node back at its place, edges back at their places (ascending positions)
    g.add_node(node.type, node.config, node.pos, node.id, index=position)
    for i, e in removed:
        g.connect(e.src, e.dst, e.src_port, e.dst_port, index=i)
    check()
    assert g.to_config() == before  # the exact order, nodes and edges
    g.rename_node(victim, "renamed")
    check()
    assert [e.to_config() for e in g.edges] == [
        {k: [("renamed" if v[0] == victim else v[0]), v[1]] for k, v in e.items()} for e in before["edges"]
    ]
    g.replace_with(before)
    check()
    assert g.to_config() == before


def test_loading_a_long_chain_builds_the_index():
    cfg = {"name": "c", "nodes": [{"id": f"n{i}", "type": "relu", "config": {}, "pos": [0, 0]} for i in range(300)]}
    cfg["edges"] = [{"src": [f"n{i}", 0], "dst": [f"n{i + 1}", 0]} for i in range(299)]
    g = Graph.from_config(cfg)
    assert g.predecessors("n150") == ["n149"] and g.successors("n150") == ["n151"]
    assert g.topological_order() == ([f"n{i}" for i in range(300)], [])
    with pytest.raises(GraphEditError, match="appears twice"):
        Graph.from_config({**cfg, "edges": cfg["edges"] + cfg["edges"][:1]})


from fuzz_settings import examples  # noqa: E402

try:  # the shared campaign counter printed at the end of the run (tests/fuzz_counts.py)
    from fuzz_counts import record  # noqa: E402
except ImportError:  # pragma: no cover - counting is optional

    def record(campaign: str, outcome: str) -> None:
        pass
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(st.text(max_size=70), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,63}\s?", fullmatch=True)))
def test_any_text_is_a_node_id_exactly_when_it_is_a_whole_identifier(text):
    """Every entry point agrees: add_node, rename_node, a project file and a checkpoint's graph
    accept exactly the whole identifiers (ASCII letters, digits, _; no leading digit; <= 64)."""
    import json
    import re

    from cnn_studio.core.errors import ProjectFileError
    from cnn_studio.core.project import dumps, loads

    valid = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", text) is not None and text.isascii()
    g = Graph()
    try:
        g.add_node("relu", node_id=text)
        added = True
    except GraphEditError:
        added = False
    assert added is valid
    h = Graph()
    old = h.add_node("relu", node_id="zz_placeholder").id
    try:
        h.rename_node(old, text)
        renamed = True
    except GraphEditError:
        renamed = False
    assert renamed is (valid or text == old)
    doc = json.loads(dumps(Graph()))
    doc["nodes"] = [{"id": text, "type": "relu", "config": {}, "pos": [0, 0]}]
    try:
        loaded = text in loads(json.dumps(doc))
    except ProjectFileError:
        loaded = False
    assert loaded is valid
    try:
        from_cfg = text in Graph.from_config({"name": "x", "nodes": doc["nodes"], "edges": []})
    except GraphEditError:
        from_cfg = False
    assert from_cfg is valid
    record("node ids: arbitrary text", "valid id" if valid else "refused")


class _CountingList(list):
    """A list that counts how often it is walked from the start."""

    walks = 0

    def __iter__(self):
        type(self).walks += 1
        return super().__iter__()


def test_analysis_walks_the_edge_list_a_fixed_number_of_times_not_once_per_node():
    """Linear analysis: per-node edge queries use the index, so the whole edge list is walked a
    few times in all (topological order, copies), not once per node as the old in_edges did
    (a 10,000-node chain took 12 s; benchmarks/graph_scale.py has the timings)."""
    from cnn_studio.core import analyze

    for n in (50, 500):
        cfg = {"name": "c", "nodes": [{"id": "inp", "type": "input", "config": {"channels": 1, "height": 4, "width": 4}}]}
        cfg["nodes"] += [{"id": f"r{i}", "type": "relu", "config": {}} for i in range(n)]
        cfg["nodes"] += [{"id": "f", "type": "flatten", "config": {}}, {"id": "loss", "type": "mse", "config": {}}]
        ids = [x["id"] for x in cfg["nodes"]]
        cfg["edges"] = [{"src": [a, 0], "dst": [b, 0]} for a, b in zip(ids, ids[1:])]
        g = Graph.from_config(cfg)
        g._edges = _CountingList(g._edges)
        _CountingList.walks = 0
        assert analyze(g).ok
        assert _CountingList.walks <= 3, (n, _CountingList.walks)
