"""Blocks in project files (format 3: definitions stored once, version 2 migrates, hostile input
refused by name) and the user block library (save, list, load, delete; damaged files)."""
import json

import pytest
from block_graphs import residual_graph, tiny_resnet

from cnn_studio.core import blocks
from cnn_studio.core import block_library as lib
from cnn_studio.core.analysis import analyze
from cnn_studio.core.errors import ProjectFileError
from cnn_studio.core.project import VERSION, dumps, loads


def _doc(g):
    return json.loads(dumps(g))


def test_project_round_trip_stores_each_definition_once():
    g = tiny_resnet()
    for i in range(3):  # more uses of Basic8 at the top level
        g.add_node("block", {"block": "Basic8"}, node_id=f"extra{i}")
    doc = _doc(g)
    assert doc["version"] == VERSION == 3
    names = [d["name"] for d in doc["blocks"]]
    assert sorted(names) == sorted(set(names)) == sorted(["Basic4", "Down8", "Basic8s2", "Basic8", "Layer1", "Layer2"])
    assert names.index("Down8") < names.index("Basic8s2") < names.index("Layer2")  # dependencies first
    text = dumps(g)
    assert text.count('"name": "Basic8"') == 1
    g2 = loads(text)
    assert g2 == g and dumps(g2) == text


def test_version_2_files_load_without_blocks():
    g = residual_graph()
    doc = _doc(g)
    doc["version"] = 2
    doc.pop("blocks")
    g2 = loads(json.dumps(doc))
    assert g2.structure() == g.structure() and not g2.blocks


def _with(doc, **changes):
    doc = json.loads(json.dumps(doc))
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d["nodes"].append({"id": "ghost", "type": "block", "config": {"block": "Nowhere", "inputs": 1}}), "block 'Nowhere', which has no definition"),
        (lambda d: d["blocks"][0].update(name="os.system"), "not a valid block name"),
        (lambda d: d["blocks"][0].update(name="import"), "cannot name a block"),
        (lambda d: d["blocks"].append(dict(d["blocks"][0])), "defined twice"),
        (lambda d: d["blocks"][0].update(output="nowhere"), "output 'nowhere' is not one of its layers"),
        (lambda d: d["blocks"][0].update(inputs=[]), "input ports"),
        (lambda d: d["blocks"][0]["nodes"].append({"id": "inp2", "type": "input"}), "a block cannot hold"),
        (lambda d: d["blocks"][0]["nodes"].append({"id": "w", "type": "warp"}), "unknown layer type 'warp'"),
        (lambda d: d["blocks"][0]["nodes"][0].update(id="x y"), "invalid id"),
        (lambda d: d.update(blocks="many"), "must be a list"),
        (lambda d: next(n for n in d["nodes"] if n["id"] == "layer1")["config"].update(inputs=3), "has 3 input ports but block 'Layer1' takes 1"),
    ],
)
def test_hostile_block_definitions_are_refused_by_name(mutate, message):
    doc = _doc(tiny_resnet())
    mutate(doc)
    with pytest.raises(ProjectFileError, match=message):
        loads(json.dumps(doc))


def test_recursion_and_absurd_nesting_are_refused():
    doc = _doc(tiny_resnet())
    basic4 = next(d for d in doc["blocks"] if d["name"] == "Basic4")
    basic4["nodes"].append({"id": "loop", "type": "block", "config": {"block": "Layer1", "inputs": 1}, "pos": [0, 0]})
    with pytest.raises(ProjectFileError, match=r"contains itself \((Layer1 -> Basic4 -> Layer1|Basic4 -> Layer1 -> Basic4)\)"):
        loads(json.dumps(doc))
    # a chain of 40 blocks, each holding the previous one (flat JSON, deep nesting by name)
    defs = [{"name": "B0", "nodes": [{"id": "r", "type": "relu"}], "edges": [], "inputs": [[["r", 0]]], "output": "r"}]
    for i in range(1, 40):
        defs.append({"name": f"B{i}", "nodes": [{"id": "b", "type": "block", "config": {"block": f"B{i - 1}", "inputs": 1}}], "edges": [], "inputs": [[["b", 0]]], "output": "b"})
    doc = _doc(residual_graph())
    doc["blocks"] = defs
    with pytest.raises(ProjectFileError, match=f"nests blocks {blocks.MAX_NESTING + 1} levels deep"):
        loads(json.dumps(doc))


# ------------------------------------------------------------------------------- library
def test_library_save_list_load_delete(tmp_path):
    g = tiny_resnet()
    path = lib.save_block(g, "Layer2", tmp_path)
    assert path == tmp_path / "Layer2.cnnblock"
    lib.save_block(g, "Basic4", tmp_path)
    entries, problems = lib.list_blocks(tmp_path)
    assert problems == []
    assert [(e.name, e.inputs) for e in entries] == [("Basic4", 1), ("Layer2", 1)]
    assert set(entries[1].uses) == {"Down8", "Basic8s2", "Basic8"}
    # into a network without blocks: the definitions it uses come along
    h = residual_graph()
    name = lib.add_to_graph(h, "Layer2", tmp_path)
    assert name == "Layer2" and set(h.blocks.names()) == {"Down8", "Basic8s2", "Basic8", "Layer2"}
    h.disconnect(h.edge_into("pool", 0))
    inst = blocks.instantiate(h, "Layer2")
    h.connect("r2", inst)
    h.connect(inst, "pool")
    a = analyze(h)
    assert a.ok, a.errors and a.nodes[inst].output_shape == (8, 4, 4)
    lib.delete_block("Basic4", tmp_path)
    assert [e.name for e in lib.list_blocks(tmp_path)[0]] == ["Layer2"]
    with pytest.raises(lib.BlockLibraryError, match="no block 'Basic4'"):
        lib.load_block("Basic4", tmp_path)


def test_library_reuses_identical_definitions_and_renames_different_ones(tmp_path):
    g = tiny_resnet()
    lib.save_block(g, "Layer1", tmp_path)
    assert lib.add_to_graph(g, "Layer1", tmp_path) == "Layer1"  # the same definitions: nothing added
    assert len(g.blocks) == 6
    g.blocks["Basic4"].graph.set_param("conv1", "out_channels", 6)  # now the graph's Basic4 differs
    name = lib.add_to_graph(g, "Layer1", tmp_path)
    assert name == "Layer3"  # Layer1 differs now (it uses the changed Basic4), Layer2 is taken
    inner_uses = {n.config["block"] for n in g.blocks[name].graph.nodes.values()}
    assert inner_uses == {"Basic2"} and g.blocks["Basic2"].graph.nodes["conv1"].config["out_channels"] == 4
    assert g.blocks["Basic4"].graph.nodes["conv1"].config["out_channels"] == 6


def test_damaged_and_hostile_library_files_give_a_message_and_keep_other_entries(tmp_path):
    g = tiny_resnet()
    lib.save_block(g, "Basic4", tmp_path)
    good = (tmp_path / "Basic4.cnnblock").read_text()
    (tmp_path / "Trunc.cnnblock").write_text(good[: len(good) // 2])
    (tmp_path / "Bin.cnnblock").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "Other.cnnblock").write_text(json.dumps({"format": "something-else"}))
    wrong = json.loads(good)
    (tmp_path / "Renamed.cnnblock").write_text(json.dumps(wrong))  # holds Basic4
    evil = json.loads(good)
    evil["name"] = "Evil"
    evil["blocks"][-1]["name"] = "Evil"
    evil["blocks"][-1]["nodes"][0]["type"] = "__import__('os').system('x')"
    (tmp_path / "Evil.cnnblock").write_text(json.dumps(evil))
    (tmp_path / "Huge.cnnblock").write_text('{"format": "cnn-studio-block", "version": 1, "n": ' + "9" * 5000 + "}")
    (tmp_path / "Deep.cnnblock").write_text("[" * 5000 + "]" * 5000)
    newer = json.loads(good)
    newer["version"] = 99
    newer["name"] = newer["blocks"][-1]["name"] = "Newer"
    (tmp_path / "Newer.cnnblock").write_text(json.dumps(newer))
    entries, problems = lib.list_blocks(tmp_path)
    assert [e.name for e in entries] == ["Basic4"]
    assert len(problems) == 8
    text = "\n".join(problems)
    for fragment in ("'Trunc.cnnblock' is damaged", "'Bin.cnnblock' is damaged", "'Other.cnnblock' is not a CNN Studio block",
                     "rename the file to 'Basic4.cnnblock'", "unknown layer type", "'Huge.cnnblock' is damaged",
                     "'Deep.cnnblock'", "newer CNN Studio"):
        assert fragment in text, fragment
    with pytest.raises(lib.BlockLibraryError):
        lib.load_block("Evil", tmp_path)
    with pytest.raises(lib.BlockLibraryError, match="not a valid block name"):
        lib.load_block("../etc/passwd", tmp_path)


def test_library_defaults_to_the_studio_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))
    assert lib.list_blocks() == ([], [])
    lib.save_block(tiny_resnet(), "Basic4")
    assert (tmp_path / "home" / "blocks" / "Basic4.cnnblock").is_file()
    assert [e.name for e in lib.list_blocks()[0]] == ["Basic4"]


# ---------------------------------------------------------------------------------- fuzz
from fuzz_settings import examples  # noqa: E402
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SEED = json.loads(dumps(tiny_resnet()))
_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=5) | st.sampled_from(
    ["block", "relu", "Basic4", "Layer1", "0", "conv1", "inputs", "output", "nodes", "edges", "name"])
_value = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "type", "config", "block", "inputs", "name", "src", "dst"]), inner, max_size=3), max_leaves=6)


def _spots(v, path=()):
    out = [(path, v)]
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        if isinstance(x, (dict, list)):
            out.extend(_spots(x, path + (k,)))
    return out


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_block_definitions_load_or_are_refused_never_crash(data):
    doc = json.loads(json.dumps(_SEED))
    for _ in range(data.draw(st.integers(1, 3))):
        spots = _spots({"blocks": doc["blocks"], "nodes": doc["nodes"]})
        _, box = spots[data.draw(st.integers(0, len(spots) - 1))]
        keys = list(box) if isinstance(box, dict) else list(range(len(box)))
        if not keys:
            continue
        key = data.draw(st.sampled_from(keys))
        op = data.draw(st.sampled_from(["delete", "replace", "replace", "duplicate"]))
        if op == "delete":
            del box[key]
        elif op == "replace":
            box[key] = data.draw(_value)
        elif isinstance(box, list):
            box.append(json.loads(json.dumps(box[key])))
    try:
        g = loads(json.dumps(doc))
    except ProjectFileError as e:
        assert str(e) and "Traceback" not in str(e)
        event("refused")
        return
    event("loaded")
    a = analyze(g)  # never raises, whatever the definitions hold
    assert loads(dumps(g)) == g
    if a.ok:
        from cnn_studio.core.block_report import block_tree

        assert sum(r.params for r in block_tree(a) if r.depth == 0) == a.total_params


def test_a_network_whose_blocks_could_not_load_back_is_not_saved(tmp_path):
    from cnn_studio.core.project import save_project

    g = tiny_resnet()
    path = save_project(g, tmp_path / "n.cnnstudio")
    good = path.read_bytes()
    # an edit inside a block that makes it contain itself (plain graph edits do not check this)
    g.blocks["Basic4"].graph.set_param("relu1", "inplace", True)  # harmless unknown field: still saves
    save_project(g, path)
    g.blocks["Basic4"].graph.add_node("block", {"block": "Layer1"}, node_id="loop")
    with pytest.raises(ProjectFileError, match="cannot save the network: .*contains itself"):
        save_project(g, path)
    assert loads(path.read_bytes()).blocks["Basic4"].graph.nodes["relu1"].config == {"inplace": True}
    assert path.read_bytes() != good


def test_nesting_past_the_limit_is_refused_when_instantiating():
    g = residual_graph()
    inner = blocks.new_inner_graph(g)
    inner.add_node("relu", node_id="r")
    blocks.define(g, "B0", inner, [[("r", 0)]], "r")
    for i in range(1, blocks.MAX_NESTING + 1):
        inner = blocks.new_inner_graph(g)
        inner.add_node("relu", node_id="r")
        blocks.define(g, f"B{i}", inner, [[("r", 0)]], "r")
    for i in range(1, blocks.MAX_NESTING):
        blocks.instantiate(g, f"B{i - 1}", "b", where=f"B{i}")
    with pytest.raises(Exception, match="levels deep"):
        blocks.instantiate(g, f"B{blocks.MAX_NESTING - 1}", "b", where=f"B{blocks.MAX_NESTING}")
    assert "b" not in g.blocks[f"B{blocks.MAX_NESTING}"].graph.nodes
