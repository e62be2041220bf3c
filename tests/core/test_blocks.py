"""Blocks, engine side: grouping and its refusals, ungroup, shared definitions, make_unique, nesting,
analysis of instances (shapes, totals, receptive field, errors naming block and inner node), the
block tree, rename/remove, events, and undo by snapshot."""
import pytest
from block_graphs import basic_block, residual_graph, tiny_resnet

from cnn_studio.core import blocks
from cnn_studio.core.analysis import analyze
from cnn_studio.core.block_report import block_totals, block_tree
from cnn_studio.core.errors import GraphEditError
from cnn_studio.core.graph import Graph


def _totals(a):
    return (a.total_params, a.trainable_params, a.non_trainable_params, a.total_macs, a.output_shape)


def test_group_replaces_the_selection_by_one_instance_with_the_same_analysis():
    g = residual_graph()
    flat = analyze(g)
    inst = blocks.group(g, ["r1", "c2", "bn2", "add", "r2"], "ResUnit")
    assert g.nodes[inst].type == "block" and g.nodes[inst].config == {"block": "ResUnit", "inputs": 1}
    assert not {"r1", "c2", "bn2", "add", "r2"} & set(g.nodes)
    assert g.predecessors(inst) == ["c1"] and g.successors(inst) == ["pool"]
    d = g.blocks["ResUnit"]
    # the single outside tensor c1 feeds both the branch and the skip input of the Add
    assert d.inputs == [[("r1", 0), ("add", 1)]] and d.output == "r2"
    grouped = analyze(g)
    assert grouped.ok, grouped.errors
    assert _totals(grouped) == _totals(flat)
    info = grouped.nodes[inst]
    assert info.output_shape == flat.nodes["r2"].output_shape
    assert info.params == sum(flat.nodes[n].params for n in ("c2", "bn2"))
    assert info.macs == sum(flat.nodes[n].macs for n in ("r1", "c2", "bn2", "add", "r2"))
    assert info.rf == flat.nodes["r2"].rf and grouped.nodes["fc"].rf == flat.nodes["fc"].rf


def test_ungroup_restores_the_graph_exactly_up_to_positions():
    g = residual_graph()
    before = g.structure()
    inst = blocks.group(g, ["c2", "bn2"], "Pair")
    assert g.structure() != before
    mapping = blocks.ungroup(g, inst)
    assert mapping == {"c2": "c2", "bn2": "bn2"}
    assert g.structure() == before
    assert "Pair" not in g.blocks  # the definition went with its last use


@pytest.mark.parametrize(
    "selection,message",
    [
        ([], "select the layers"),
        (["inp", "c1"], "Input layer"),
        (["fc", "loss"], "Cross-entropy"),
        (["c1", "r1"], "2 outgoing tensors"),  # c1 also feeds the Add outside
        (["r1", "add"], "lies between selected layers"),  # c2 and bn2 are between them
        (["nope"], "no node 'nope'"),
    ],
)
def test_group_refuses_with_one_clear_message_and_changes_nothing(selection, message):
    g = residual_graph()
    before = g.to_config()
    with pytest.raises(GraphEditError, match=message):
        blocks.group(g, selection, "B")
    assert g.to_config() == before


def test_group_refuses_bad_and_taken_names_and_unconnected_inputs():
    g = residual_graph()
    for bad in ("1abc", "class", "my block", "Sequential", "x" * 65, "ok\n", "super", "float", "print", "load_weights"):
        with pytest.raises(GraphEditError, match="name"):
            blocks.group(g, ["c2"], bad)
    blocks.group(g, ["c2"], "B")
    with pytest.raises(GraphEditError, match="already exists"):
        blocks.group(g, ["bn2"], "B")
    g2 = residual_graph()
    g2.disconnect(g2.edge_into("add", 1))
    with pytest.raises(GraphEditError, match="input 2 of 'add' is not connected"):
        blocks.group(g2, ["add", "r2"], "C")


def test_shared_definition_edit_changes_every_instance_and_fires_events():
    g = tiny_resnet()
    a0 = analyze(g)
    events = []
    g.events.connect("block_changed", events.append)
    rev = g.revision
    # Basic4 is used twice inside Layer1: widen its first convolution
    g.blocks["Basic4"].graph.set_param("conv1", "out_channels", 6)
    assert events == ["Basic4"] and g.revision > rev
    a1 = analyze(g)
    assert a1.ok, a1.errors
    per_use = 6 * 4 * 9 - 4 * 4 * 9 + 2 * (6 - 4) * 2 + 4 * (6 - 4) * 9  # conv1 +, bn1 (weights, running stats) +, conv2 in channels +
    assert a1.total_params - a0.total_params == 2 * per_use
    layer1 = a1.nodes["layer1"].block
    assert layer1.nodes["0"].block.nodes["conv1"].output_shape == (6, 8, 8)
    assert layer1.nodes["1"].block.nodes["conv1"].output_shape == (6, 8, 8)


def test_make_unique_isolates_one_use():
    g = tiny_resnet()
    new = blocks.make_unique(g, "1", where="Layer1")
    assert new == "Basic5" or new.startswith("Basic")
    assert g.blocks["Layer1"].graph.nodes["1"].config["block"] == new
    a0 = analyze(g)
    g.blocks[new].graph.set_param("conv1", "out_channels", 6)
    a1 = analyze(g)
    assert a1.ok
    layer1 = a1.nodes["layer1"].block
    assert layer1.nodes["0"].block.nodes["conv1"].output_shape == (4, 8, 8)  # the other use is unchanged
    assert layer1.nodes["1"].block.nodes["conv1"].output_shape == (6, 8, 8)
    assert a1.total_params > a0.total_params


def test_nested_blocks_analyse_like_the_flattened_network():
    g = tiny_resnet()
    a = analyze(g)
    assert a.ok, a.errors
    flat = blocks.flatten(g)
    assert not flat.blocks and all(n.type != "block" for n in flat.nodes.values())
    fa = analyze(flat)
    assert fa.ok, fa.errors
    assert _totals(a) == _totals(fa)
    assert a.nodes["fc"].rf == fa.nodes["fc"].rf
    assert blocks.nesting_depth(g, "Layer2") == 3  # Layer2 > Basic8s2 > Down8


def test_block_tree_and_totals():
    g = tiny_resnet()
    a = analyze(g)
    rows = block_tree(a)
    paths = [r.path for r in rows]
    assert paths[:5] == ["input", "conv1", "bn1", "relu", "maxpool"]
    i = paths.index("layer2")
    assert rows[i].title == "Block Layer2" and rows[i].depth == 0
    assert paths[i + 1] == "layer2/0" and rows[i + 1].depth == 1
    assert "layer2/0/downsample/0" in paths and rows[paths.index("layer2/0/downsample/0")].depth == 3
    assert rows[paths.index("layer2/0/downsample/0")].output_shape == (8, 4, 4)
    totals = block_totals(a)
    assert totals["Basic4"]["instances"] == 2 and totals["Layer1"]["instances"] == 1
    assert totals["Layer1"]["params"] == a.nodes["layer1"].params == 2 * (totals["Basic4"]["params"] // 2)
    assert sum(r.params for r in rows if r.depth == 0) == a.total_params


def test_errors_inside_a_block_name_the_block_and_the_inner_node():
    g = residual_graph()
    inst = blocks.group(g, ["r1", "c2", "bn2", "add", "r2"], "ResUnit")
    g.blocks["ResUnit"].graph.set_param("c2", "out_channels", 5)
    a = analyze(g)
    assert not a.ok
    (err,) = a.errors
    assert err.node_id == inst
    assert "in block 'ResUnit', Add" in err.message and "'add'" in err.message and "5x8x8" in err.message
    g.blocks["ResUnit"].graph.set_param("c2", "kernel_size", 99)
    text = str(analyze(g).errors[0])
    assert "in block 'ResUnit', Convolution 'c2' (kernel_size)" in text


def test_recursion_and_unknown_definitions_are_reported_not_crashing():
    g = tiny_resnet()
    with pytest.raises(GraphEditError, match="contain itself"):
        blocks.instantiate(g, "Layer1", where="Basic4")
    # a hand-made recursion (as a damaged file might hold, bypassing the checks) is an analysis error
    g.blocks["Basic4"].graph.add_node("block", {"block": "Layer1"}, node_id="loop")
    g.blocks["Basic4"].graph.connect("relu", "loop")
    a = analyze(g)
    assert any("contains itself" in str(e) for e in a.errors)
    g2 = residual_graph()
    g2.add_node("block", {"block": "Ghost"}, node_id="ghost")
    g2.connect("c1", "ghost")
    assert any("no definition" in str(e) for e in analyze(g2).errors)


def test_rename_and_remove_definitions():
    g = tiny_resnet()
    blocks.rename_definition(g, "Basic4", "Plain4")
    assert "Basic4" not in g.blocks and "Plain4" in g.blocks
    assert {g.blocks["Layer1"].graph.nodes[i].config["block"] for i in ("0", "1")} == {"Plain4"}
    assert analyze(g).ok
    with pytest.raises(GraphEditError, match="still used by '0' in block 'Layer1'"):
        blocks.remove_definition(g, "Plain4")
    basic_block(g, "Spare", 4)
    blocks.remove_definition(g, "Spare")
    assert "Spare" not in g.blocks
    with pytest.raises(GraphEditError, match="already exists"):
        blocks.rename_definition(g, "Plain4", "Layer2")


def test_set_ports_changes_every_instance_port_count():
    g = residual_graph()
    inst = blocks.group(g, ["add", "r2"], "Merge")
    assert g.nodes[inst].config["inputs"] == 2 and g.blocks["Merge"].inputs == [[("add", 0)], [("add", 1)]]
    assert [e.src for e in g.in_edges(inst)] == ["bn2", "c1"]
    blocks.set_ports(g, "Merge", [[("add", 0), ("add", 1)]], "r2")  # one input feeding both: x + x
    assert g.nodes[inst].config["inputs"] == 1 and g.nodes[inst].num_inputs() == 1
    assert [e.src for e in g.in_edges(inst)] == ["bn2"]  # the edge into the removed port went
    with pytest.raises(GraphEditError, match="fed twice"):
        blocks.set_ports(g, "Merge", [[("add", 0)], [("add", 0)]], "r2")


def test_undo_by_snapshot_restores_definitions_and_instances():
    g = tiny_resnet()
    snap = blocks.snapshot(g)
    blocks.ungroup(g, "layer1")
    blocks.rename_definition(g, "Basic8", "Other")
    assert g.to_config() != snap
    blocks.restore(g, snap)
    assert g.to_config() == snap and analyze(g).ok


def test_ungroup_renames_clashing_and_numeric_ids():
    g = tiny_resnet()
    mapping = blocks.ungroup(g, "layer1")  # its inner ids are "0" and "1": not valid at the top level
    assert set(mapping) == {"0", "1"} and all(v[0].isalpha() for v in mapping.values())
    a = analyze(g)
    assert a.ok, a.errors
    mapping = blocks.ungroup(g, mapping["0"])  # conv1, bn1, relu exist at the top level already
    assert mapping["conv1"] != "conv1" and mapping["conv2"] == "conv2"
    assert analyze(g).ok


def test_numeric_ids_only_inside_definitions():
    g = Graph()
    with pytest.raises(GraphEditError, match="not a valid node id"):
        g.add_node("relu", node_id="0")
    inner = blocks.new_inner_graph(g)
    assert inner.add_node("relu", node_id="0").id == "0"
    with pytest.raises(GraphEditError):
        inner.add_node("relu", node_id="0x")


def test_config_round_trip_keeps_definitions_and_copy_is_independent():
    g = tiny_resnet()
    g2 = Graph.from_config(g.to_config())
    assert g2 == g and g2.structure() == g.structure()
    c = g.copy()
    c.blocks["Basic4"].graph.set_param("conv1", "out_channels", 7)
    assert g.blocks["Basic4"].graph.nodes["conv1"].config["out_channels"] == 4
    plain = residual_graph()
    assert "blocks" not in plain.to_config()  # graphs without blocks keep their old config


def test_single_value_batchnorm_inside_blocks_is_named_by_path():
    g = residual_graph()
    g.disconnect(g.edge_into("flat", 0))
    inner = blocks.new_inner_graph(g)
    from cnn_studio.core.graph import chain

    chain(inner, [("adaptive_avgpool2d", {"output_size": 1}, "gap"), ("batchnorm2d", {}, "bn")])
    blocks.define(g, "Head", inner, [[("gap", 0)]], "bn")
    blocks.instantiate(g, "Head", "head")
    g.connect("pool", "head")
    g.connect("head", "flat")
    a = analyze(g)
    assert a.ok, a.errors
    assert a.single_value_batchnorm() == ["head/bn"]


def test_renaming_and_removing_inner_nodes_keeps_the_ports():
    g = tiny_resnet()
    blocks.rename_inner_node(g, "Basic4", "conv1", "first")
    blocks.rename_inner_node(g, "Basic4", "relu", "out")
    d = g.blocks["Basic4"]
    assert d.inputs == [[("first", 0), ("add", 1)]] and d.output == "out"
    assert analyze(g).ok
    with pytest.raises(GraphEditError, match="output of block 'Basic4'"):
        blocks.remove_inner_node(g, "Basic4", "out")
    with pytest.raises(GraphEditError, match="feeds only 'first'"):
        blocks.set_ports(g, "Basic4", [[("first", 0)]], "out") or blocks.remove_inner_node(g, "Basic4", "first")
    blocks.set_ports(g, "Basic4", [[("first", 0), ("add", 1)]], "out")
    blocks.remove_inner_node(g, "Basic4", "add")  # the skip target goes with it
    assert g.blocks["Basic4"].inputs == [[("first", 0)]]
    errors = [str(e) for e in analyze(g).errors]
    assert any("in block 'Basic4', ReLU 'out': its input is not connected" in e for e in errors), errors


def test_a_block_input_into_a_port_its_layer_lacks_is_an_error_on_the_instance():
    g = residual_graph()
    inst = blocks.group(g, ["c2", "bn2"], "Pair")
    blocks.set_ports(g, "Pair", [[("c2", 0), ("bn2", 3)]], "bn2")
    errors = [str(e) for e in analyze(g).errors]
    assert any(f"'{inst}'" in e and "feeds input 4 of 'bn2', which has 1" in e for e in errors), errors


def test_group_and_ungroup_inside_a_definition():
    g = tiny_resnet()
    a0 = analyze(g)
    before = g.structure()
    # the definition's input feeds conv1 and the add; its output is relu: group from its input to its output
    inst = blocks.group(g, ["conv1", "bn1", "relu1", "conv2", "bn2", "add", "relu"], "Core", where="Basic4")
    d = g.blocks["Basic4"]
    assert list(d.graph.nodes) == [inst] and d.inputs == [[(inst, 0)]] and d.output == inst
    assert g.blocks["Core"].inputs == [[("conv1", 0), ("add", 1)]]
    a1 = analyze(g)
    assert a1.ok, a1.errors
    assert _totals(a1) == _totals(a0) and a1.nodes["fc"].rf == a0.nodes["fc"].rf
    names = g.blocks.dependency_order()
    assert names.index("Core") < names.index("Basic4")
    # a part in the middle: one input from inside (relu1), the output feeds the add
    inner = blocks.group(g, ["conv2", "bn2"], "Branch", where="Core")
    assert g.blocks["Core"].graph.predecessors(inner) == ["relu1"]
    assert analyze(g).total_params == a0.total_params
    blocks.ungroup(g, inner, where="Core")
    blocks.ungroup(g, inst, where="Basic4")
    assert g.structure() == before and "Core" not in g.blocks and "Branch" not in g.blocks


def test_an_inner_graph_copies_as_an_inner_graph():
    g = tiny_resnet()
    c = g.blocks["Layer1"].graph.copy()
    assert c.inner and list(c.nodes) == ["0", "1"] and c.blocks is g.blocks
