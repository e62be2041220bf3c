"""cnn-studio train PROJECT --data FOLDER with another class count refits the classifier (the Fully
connected layer feeding the loss), at the top level (a ResNet-34 template project) and inside a
block (a hand-grouped net whose Dense block is shared by the hidden layer and the classifier: the
classifier's instance gets its own copy first, the hidden layer keeps its units), with the app's
words; with --init-from the classifier keys are reported mismatched and, with --init-partial, every
other tensor loads. summary/export --classes reach a classifier inside a block too (MobileNetV2)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnn_studio.cli import main, reshape_graph
from cnn_studio.core import blocks, templates
from cnn_studio.core.adapt import refit_classes
from cnn_studio.core.errors import GraphError
from cnn_studio.core.graph import Graph, chain
from cnn_studio.core.project import save_project

RUN = ["--epochs", "1", "--batch-size", "4", "--device", "cpu", "--threads", "1", "--layer-stats-every", "0", "--val-fraction", "0.25"]


def three_classes(root, size=16, per_class=4):
    rng = np.random.default_rng(0)
    for cls in ("ant", "bee", "cow"):
        d = root / cls
        d.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root


def hand_grouped(classes=10) -> Graph:
    """conv -> relu -> pool -> flatten -> dense1 -> relu -> dense2 -> loss, dense1 and dense2 two uses
    of one Dense definition (dropout, linear 'l1'), grouped by hand."""
    g = Graph("grouped")
    chain(g, [("input", {"channels": 3, "height": 16, "width": 16}, "input"), ("conv2d", {"out_channels": 4, "kernel_size": 3}, "c1"),
              ("relu", {}, "r1"), ("maxpool2d", {"kernel_size": 2}, "pool"), ("flatten", {}, "flat"),
              ("dropout", {"p": 0.1}, "d1"), ("linear", {"out_features": classes}, "l1"), ("relu", {}, "r2"),
              ("dropout", {"p": 0.1}, "d2"), ("linear", {"out_features": classes}, "l2"), ("cross_entropy", {}, "loss")])
    blocks.group(g, ["d1", "l1"], "Dense", instance_id="dense1")
    # the second use: replace d2 -> l2 by another instance of the same definition
    blocks.group(g, ["d2", "l2"], "Tmp", instance_id="dense2")
    g.nodes["dense2"].config["block"] = "Dense"
    blocks.remove_definition(g, "Tmp")
    return g


def test_a_resnet34_project_is_refitted_to_three_classes_and_its_classifier_keys_reported(tmp_path, capsys):
    project = save_project(templates.build("resnet34", (3, 32, 32), 10), tmp_path / "r34.cnnstudio")
    weights = tmp_path / "r34.pt"
    assert main(["export", str(project), "-f", "state_dict", "-o", str(weights)]) == 0
    data = three_classes(tmp_path / "imgs", size=32)
    capsys.readouterr()
    # strict (no --init-partial): the refit classifier no longer fits the 10-class weights; the report
    # names exactly its two tensors, every other one matches, and the start is refused without a folder
    assert main(["train", str(project), "--data", str(data), *RUN, "--out", str(tmp_path / "run"), "--init-from", str(weights)]) == 2
    out, err = capsys.readouterr()
    assert "the network now predicts 3 classes: 'fc' outputs: 10 -> 3 (the data's classes)" in err
    n = sum(not k.endswith("num_batches_tracked") for k in torch.load(weights, weights_only=True))  # the report leaves those counters out
    assert f"{n - 2} of {n} matched, 0 missing, 2 with another shape" in out, out
    assert "fc.weight: file 10x512, network 3x512" in out and "fc.bias: file 10, network 3" in out
    assert "--init-partial" in err and "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_classifier_inside_a_shared_block_gets_its_own_copy_and_the_new_class_count(tmp_path, capsys):
    g = hand_grouped()
    assert blocks.instances(g, "Dense") == [(None, "dense1"), (None, "dense2")]
    project = save_project(g, tmp_path / "net.cnnstudio")
    saved = project.read_text()
    weights = tmp_path / "ten.pt"
    assert main(["export", str(project), "-f", "state_dict", "-o", str(weights)]) == 0
    data = three_classes(tmp_path / "imgs")
    capsys.readouterr()
    # strict: the classifier's keys do not fit, the run is refused and says --init-partial
    assert main(["train", str(project), "--data", str(data), *RUN, "--out", str(tmp_path / "x"), "--init-from", str(weights)]) == 2
    out, err = capsys.readouterr()
    assert "dense2.l1.weight: file 10x10, network 3x10" in out and "--init-partial" in err and "Traceback" not in err
    run = tmp_path / "run"
    assert main(["train", str(project), "--data", str(data), *RUN, "--out", str(run), "--init-from", str(weights),
                 "--init-partial", "--freeze", "c1,dense1"]) == 0
    out, err = capsys.readouterr()
    assert "block 'Dense' is shared by 2 instances: 'dense2' now uses its own copy 'Dense2', so only its classifier changes" in err
    assert "the network now predicts 3 classes: 'dense2/l1' outputs: 10 -> 3 (the data's classes)" in err
    assert "4 of 6 matched" in out and "dense2.l1.bias: file 10, network 3" in out
    state = torch.load(weights, weights_only=True)
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert last["dense2.l1.weight"].shape == (3, 10)
    for key in ("c1.weight", "c1.bias", "dense1.l1.weight", "dense1.l1.bias"):  # loaded, frozen: bit for bit
        assert torch.equal(last[key], state[key]), key
    graph = json.loads((run / "config.json").read_text())["graph"]
    defs = {d["name"]: {n["id"]: n for n in d["nodes"]} for d in graph["blocks"]}
    assert defs["Dense"]["l1"]["config"]["out_features"] == 10 and defs["Dense2"]["l1"]["config"]["out_features"] == 3
    assert project.read_text() == saved  # the run's network changed, the project file did not


def test_summary_and_reshape_reach_a_classifier_inside_a_block(tmp_path, capsys):
    g = templates.build("mobilenet_v2", (3, 32, 32), 10)
    assert reshape_graph(g, None, 4) == ["the network now predicts 4 classes: 'classifier/1' outputs: 10 -> 4 (the data's classes)"]
    assert g.blocks["Classifier"].graph.nodes["1"].config["out_features"] == 4
    assert reshape_graph(g, None, 4) == []  # already right: nothing to do
    project = save_project(hand_grouped(), tmp_path / "net.cnnstudio")
    capsys.readouterr()
    assert main(["summary", str(project), "--classes", "5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    layers = {row["id"]: row for row in d["layers"]}
    assert d["output_shape"] == [5] and layers["dense2"]["block"] == "Dense2" and layers["dense1"]["output_shape"] == [10]
    # a loss fed by something else than a Fully connected layer: one clear line
    bad = Graph("conv head")
    chain(bad, [("input", {"channels": 1, "height": 8, "width": 8}, "input"), ("conv2d", {"out_channels": 10, "kernel_size": 8}, "c"),
                ("flatten", {}, "flat"), ("cross_entropy", {}, "loss")])
    with pytest.raises(GraphError, match="not fed by a Fully connected layer"):
        refit_classes(bad, 3)
    with pytest.raises(GraphError, match="at least 1"):
        refit_classes(hand_grouped(), 0)
