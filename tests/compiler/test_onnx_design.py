"""CNN Studio's own ONNX export carries its design (metadata ``cnn_studio.design``), and import
restores it (blocks shared by several instances, a frozen layer inside a block, Dropout, the loss)
only where it provably computes what the file's operators do; a design that was tampered with, is
not valid, or names weights the file does not hold is not used (the operator graph is, with a note),
and a path of the exporting machine never comes along."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from cnn_studio.compiler.export import export, source_from_graph  # noqa: E402
from cnn_studio.compiler.onnx_import import import_onnx  # noqa: E402
from cnn_studio.core import blocks, templates  # noqa: E402
from cnn_studio.core.project import dumps  # noqa: E402
from cnn_studio.cli import main  # noqa: E402


def _design_net():
    """LeNet-5 (ReLU) with its two conv stages as two instances of one shared block, a frozen
    layer inside the block and an lr multiplier on the classifier; Dropout before it."""
    g = templates.build("lenet5_relu", (1, 28, 28), 10)
    blocks.group(g, ["c3", "c3_act"], "Stage", instance_id="stage2")
    g.blocks["Stage"].graph.nodes["c3"].frozen = True
    g.set_node_training("f6", lr_mult=0.5)
    prev = next(e for e in g.edges if e.dst == "output")
    g.disconnect(prev)
    g.add_node("dropout", {"p": 0.3}, node_id="drop")
    g.connect(prev.src, "drop")
    g.connect("drop", "output")
    g.meta["initial_weights"] = "/home/someone/secret.safetensors"
    return g


def _config(g):
    c = g.to_config()
    c.get("meta", {}).pop("initial_weights", None)
    return json.dumps(c, sort_keys=True)


def _set_design(path, text):
    m = onnx.load(str(path))
    prop = next(p for p in m.metadata_props if p.key == "cnn_studio.design")
    prop.value = text
    onnx.save(m, str(path))


def test_the_design_with_its_blocks_frozen_layer_and_dropout_comes_back(tmp_path):
    g = _design_net()
    source = source_from_graph(g, seed=0)
    path = tmp_path / "net.onnx"
    export(source, "onnx", path)
    imp = import_onnx(path)
    assert _config(imp.graph) == _config(g)  # the same design, definitions and options included
    assert imp.graph.blocks["Stage"].graph.nodes["c3"].frozen and "drop" in imp.graph.nodes
    assert "initial_weights" not in imp.graph.meta  # never a path of the exporting machine
    assert any("restored the CNN Studio design" in n for n in imp.notes)
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    from cnn_studio.compiler.model import compile_model

    net = compile_model(imp.graph)
    net.load_state_dict(imp.state, strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(net.eval()(x).numpy(), source.model().eval()(x).numpy(), atol=1e-5, rtol=0)
    # the operators alone give the flat graph, without the Dropout
    flat = import_onnx(path, design=False)
    assert not flat.graph.blocks and "drop" not in flat.graph.nodes


def test_a_tampered_design_is_not_used(tmp_path):
    g = _design_net()
    path = tmp_path / "net.onnx"
    export(source_from_graph(g, seed=0), "onnx", path)
    other = _design_net()
    other.blocks["Stage"].graph.nodes["c3_act"].type = "tanh"  # same weights, other function
    _set_design(path, dumps(other))
    imp = import_onnx(path)
    assert not imp.graph.blocks and any("design stored in the file was not used (its outputs differ" in n for n in imp.notes)
    wider = _design_net()
    wider.nodes["c1"].config["out_channels"] = 8  # weights the file does not hold
    _set_design(path, dumps(wider))
    imp = import_onnx(path)
    assert not imp.graph.blocks and any("not in the file under their names" in n for n in imp.notes)


@pytest.mark.parametrize("text, why", [
    ("{not json", "cannot be read"),
    (json.dumps({"format": "cnn-studio", "version": 3, "graph": {"nodes": "x"}}), "not used"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "not used"),
])
def test_a_hostile_design_is_refused_in_a_note_and_the_operators_are_imported(tmp_path, text, why):
    path = tmp_path / "net.onnx"
    export(source_from_graph(templates.build("lenet5_relu", (1, 28, 28), 10), seed=0), "onnx", path)
    _set_design(path, text)
    imp = import_onnx(path)
    notes = " ".join(imp.notes)
    assert "design stored in the file was not used" in notes and why in notes
    assert "c1" in imp.graph.nodes and imp.max_diff is not None


def test_cli_import_restores_the_design_unless_from_operators(tmp_path, capsys):
    from cnn_studio.core.project import load_project

    g = _design_net()
    path = tmp_path / "net.onnx"
    export(source_from_graph(g, seed=0), "onnx", path)
    assert main(["import", str(path), "-o", str(tmp_path / "a.cnnstudio")]) == 0
    assert "Stage" in load_project(tmp_path / "a.cnnstudio").blocks
    assert main(["import", str(path), "-o", str(tmp_path / "b.cnnstudio"), "--from-operators"]) == 0
    assert not load_project(tmp_path / "b.cnnstudio").blocks
