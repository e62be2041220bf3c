import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio import load_project, save_project, templates
from cnn_studio.core import Graph, ProjectFileError, analyze
from cnn_studio.core.project import VERSION, dumps, loads


@pytest.mark.parametrize("name", templates.names())
def test_round_trip_every_template(tmp_path, name):
    g = templates.build(name)
    g.set_training({"optimizer": "adam", "lr": 0.001})
    path = save_project(g, tmp_path / f"{name}.cnnstudio")
    h = load_project(path)
    assert h == g
    assert h.training == {"optimizer": "adam", "lr": 0.001}
    assert h.to_config() == g.to_config()


def test_document_layout(tmp_path):
    doc = json.loads(dumps(templates.build("lenet5", (1, 28, 28), 10)))
    assert doc["format"] == "cnn-studio" and doc["version"] == VERSION
    assert doc["input"] == {"node": "input", "shape": [1, 28, 28]}
    assert {"id", "type", "config", "pos"} <= set(doc["nodes"][0])
    assert doc["edges"][0] == {"src": ["input", 0], "dst": ["c1", 0]}


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "net.cnnstudio"
    save_project(templates.build("lenet5"), path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ProjectFileError, match="No space left"):
        save_project(templates.build("mlp"), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.cnnstudio"]


def test_version_1_files_migrate():
    old = {
        "format": "cnn-studio",
        "version": 1,
        "name": "old",
        "nodes": [{"id": "inp", "type": "input", "params": {"channels": 1, "height": 8, "width": 8}}, {"id": "f", "type": "flatten"}, {"id": "fc", "type": "linear", "params": {"out_features": 3}}, {"id": "loss", "type": "cross_entropy"}],
        "layout": {"inp": [0, 0], "fc": [5, 100]},
        "edges": [{"from": "inp:0", "to": "f:0"}, {"from": "f:0", "to": "fc:0"}, {"from": "fc:0", "to": "loss:0"}],
    }
    g = loads(json.dumps(old))
    assert g.nodes["fc"].pos == (5.0, 100.0)
    assert g.nodes["fc"].config["out_features"] == 3
    assert analyze(g).ok


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("", "empty"),
        ('{"format": "cnn-studio", "version": 2, "nodes": [', "truncated"),
        ("<html>", "not valid JSON"),
        ("[1, 2]", "not a CNN Studio project"),
        ('{"format": "cnn-studio", "version": 99, "nodes": []}', "newer CNN Studio"),
        ('{"format": "cnn-studio", "version": "2", "nodes": []}', "format version"),
        ('{"format": "cnn-studio", "version": 2}', '"nodes"'),
        ('{"format": "cnn-studio", "version": 2, "nodes": [{"id": "a"}]}', '"type"'),
        ('{"format": "cnn-studio", "version": 2, "nodes": [{"id": "a", "type": "warp"}]}', "unknown layer type"),
        ('{"format": "cnn-studio", "version": 2, "nodes": [{"id": "a", "type": "relu"}, {"id": "a", "type": "relu"}]}', "twice"),
        ('{"format": "cnn-studio", "version": 2, "nodes": [{"id": "a", "type": "relu"}], "edges": [{"src": ["a", 0], "dst": ["zz", 0]}]}', "'zz'"),
        ('{"format": "cnn-studio", "version": 2, "nodes": [{"id": "a", "type": "relu", "pos": "here"}]}', '"pos"'),
    ],
)
def test_bad_files_give_clear_messages(tmp_path, text, fragment):
    path = tmp_path / "bad.cnnstudio"
    path.write_text(text)
    with pytest.raises(ProjectFileError) as e:
        load_project(path)
    assert fragment in str(e.value)
    assert "bad.cnnstudio" in str(e.value)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "nope.cnnstudio")
    with pytest.raises(ProjectFileError, match="is a folder"):
        load_project(tmp_path)


def test_invalid_layer_values_still_load_and_show_on_the_node():
    doc = json.loads(dumps(templates.build("lenet5")))
    doc["nodes"][1]["config"]["out_channels"] = -4
    g = loads(json.dumps(doc))
    assert any(i.node_id == doc["nodes"][1]["id"] and i.field == "out_channels" for i in analyze(g).errors)


def _lenet_with(value_text: str, where: str = "config") -> str:
    """The LeNet-5 document with one value replaced by raw JSON text (a literal json.dumps cannot write)."""
    doc = json.loads(dumps(templates.build("lenet5")))
    if where == "config":
        doc["nodes"][1]["config"]["kernel_size"] = "@@"
    else:
        doc[where] = {"x": "@@"}
    return json.dumps(doc, indent=1).replace('"@@"', value_text)


@pytest.mark.parametrize("digits", [301, 4301, 5000, 100_000])
def test_huge_integer_literals_are_a_project_file_error(tmp_path, digits):
    # 5,000 digits used to escape as Python's ValueError (int max str digits); 301..4300 loaded and then
    # crashed the analysis with OverflowError when the error message formatted the value as a float
    path = tmp_path / "big.cnnstudio"
    path.write_text(_lenet_with("-" + "7" * digits))
    with pytest.raises(ProjectFileError) as e:
        load_project(path)
    assert f"{digits} digits" in str(e.value) and "big.cnnstudio" in str(e.value)
    assert "line " in str(e.value)


def test_integer_literals_up_to_the_limit_load_and_are_reported_on_the_node():
    g = loads(_lenet_with("9" * 300))
    errors = analyze(g).errors
    assert any(i.node_id == "c1" and i.field == "kernel_size" for i in errors)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "[NaN, 1]", "1e308"])
def test_non_finite_and_huge_floats_load_and_are_reported_on_the_node(literal):
    g = loads(_lenet_with(literal))
    errors = analyze(g).errors
    assert any(i.node_id == "c1" and i.field == "kernel_size" for i in errors), errors


@pytest.mark.parametrize("where", ["config", "meta", "training"])
@pytest.mark.parametrize("depth", [65, 500, 950, 5000, 200_000])
def test_deeply_nested_documents_are_a_project_file_error(where, depth):
    # ~950 levels parsed fine and then blew the stack in copy.deepcopy (RecursionError traceback)
    with pytest.raises(ProjectFileError, match="levels deep|nested too deeply"):
        loads(_lenet_with("[" * depth + "]" * depth, where))


def test_nesting_within_the_limit_loads():
    g = loads(_lenet_with("[" * 40 + "]" * 40, "meta"))
    assert isinstance(g, Graph)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["id", "type", "config", "pos", "src", "dst", "nodes", "edges", "x"]), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"format": st.just("cnn-studio"), "version": st.sampled_from([1, 2, 2, 3, 0, "2"])},
        optional={"nodes": json_values, "edges": json_values, "name": json_values, "training": json_values, "layout": json_values},
    )
)
def test_random_documents_load_or_fail_cleanly(doc):
    try:
        g = loads(json.dumps(doc))
    except ProjectFileError as e:
        assert str(e)
        return
    assert isinstance(g, Graph)
    analyze(g)  # and the analysis copes with whatever loaded


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_fail_cleanly(data):
    with pytest.raises(ProjectFileError):
        loads(data)
