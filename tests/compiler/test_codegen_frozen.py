"""Exported PyTorch code carries the network's training options (QA defect 11): a frozen layer (top
level, or inside a block definition: every instance) gets requires_grad False in the exported
class, exactly the parameters our Trainer freezes (training/freeze.py); param_groups(model, lr)
gives the Trainer's optimizer groups (frozen left out, lr multipliers multiplied down the nesting);
frozen batch norm stays in eval mode under model.train(); the training script builds its optimizer
from param_groups. A network without options exports as before, with empty FROZEN / LR_MULT."""
from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from block_graphs import tiny_resnet
from cnn_studio.compiler.codegen import generate_python, generate_training_script
from cnn_studio.compiler.model import compile_model
from cnn_studio.core.templates import build
from cnn_studio.training.freeze import apply_node_options
from cnn_studio.training.optim import param_groups as trainer_groups


def _load(code: str, tmp_path, stem: str):
    path = tmp_path / f"{stem}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[stem] = mod  # the training script imports it by name
    spec.loader.exec_module(mod)
    return mod


def _exported(graph, tmp_path, stem):
    mod = _load(generate_python(graph, class_name="Net"), tmp_path, stem)
    return mod, mod.Net()


def _trainer_model(graph):
    model = compile_model(graph)
    apply_node_options(model, graph)  # what the Trainer does right after compiling
    return model


def _flags(model) -> dict[str, bool]:
    return {n: p.requires_grad for n, p in model.named_parameters()}


def _groups_by_name(model, groups) -> dict[float, set[str]]:
    name = {id(p): n for n, p in model.named_parameters()}
    return {round(g["lr"], 9): {name[id(p)] for p in g["params"]} for g in groups}


def test_top_level_frozen_layer_and_multiplier(tmp_path):
    g = build("lenet5")
    g.set_node_training("c1", frozen=True)
    g.set_node_training("f6", lr_mult=0.1)
    mod, net = _exported(g, tmp_path, "lenet_frozen")
    ours = _trainer_model(g)
    assert _flags(net) == _flags(ours)  # the same parameter names, the same requires_grad
    assert not net.c1.weight.requires_grad and net.c3.weight.requires_grad
    assert mod.FROZEN == ["c1"] and mod.LR_MULT == {"f6": 0.1}
    net.load_state_dict(ours.state_dict(), strict=True)  # the weights still load strictly
    lr = 0.05
    want = _groups_by_name(ours, trainer_groups([p for p in ours.parameters() if p.requires_grad], lr))
    got = _groups_by_name(net, mod.param_groups(net, lr))
    assert got == want and set(got) == {round(lr, 9), round(lr * 0.1, 9)}
    assert "c1.weight" not in set().union(*got.values())
    text = generate_python(g, class_name="Net")
    assert "requires_grad_(False)" in text and "Training options: 1 frozen layer (FROZEN) and 1 learning-rate multiplier" in text


def test_frozen_layers_inside_blocks_match_the_trainer(tmp_path):
    g = tiny_resnet(size=16, classes=3)
    g.blocks["Basic4"].graph.set_node_training("conv1", frozen=True)  # inner: every instance of Basic4
    g.blocks["Basic4"].graph.set_node_training("bn1", frozen=True)
    g.set_node_training("layer2", lr_mult=0.2)                          # an instance
    g.blocks["Basic8"].graph.set_node_training("conv2", lr_mult=0.5)    # inside it: 0.1
    g.blocks["Down8"].graph.set_node_training("0", frozen=True)         # two deep: layer2/0/downsample/0
    mod, net = _exported(g, tmp_path, "resnet_frozen")
    ours = _trainer_model(g)
    flags = _flags(net)
    assert flags == _flags(ours)
    frozen = {n for n, f in flags.items() if not f}
    assert {"layer1.0.conv1.weight", "layer1.1.conv1.weight", "layer1.0.bn1.weight", "layer2.0.downsample.0.weight"} <= frozen
    assert not any(".conv2." in n for n in frozen)
    want = _groups_by_name(ours, trainer_groups([p for p in ours.parameters() if p.requires_grad], 1.0))
    assert _groups_by_name(net, mod.param_groups(net, 1.0)) == want
    assert sorted(want) == pytest.approx([0.1, 0.2, 1.0])
    # frozen batch norm stays in eval mode while the rest trains, as the Trainer keeps it
    net.train()
    assert not net.layer1.get_submodule("0.bn1").training and not net.layer1.get_submodule("1.bn1").training
    assert net.layer1.get_submodule("0.bn2").training and net.training
    net.load_state_dict(ours.state_dict(), strict=True)
    ours.eval(), net.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x), net(x), atol=1e-5)
    # a frozen batch norm's running statistics do not move in a training-mode forward pass
    net.train()
    before = net.layer1.get_submodule("0.bn1").running_mean.clone()
    net(torch.randn(4, 3, 16, 16) * 3 + 1)
    assert torch.equal(before, net.layer1.get_submodule("0.bn1").running_mean)
    assert not torch.equal(net.layer1.get_submodule("0.bn2").running_mean, torch.zeros_like(before))


def test_no_options_exports_plainly_and_the_training_script_uses_the_groups(tmp_path):
    g = build("lenet5")
    text = generate_python(g, class_name="Net")
    assert "requires_grad_(False)" not in text and "def train(" not in text and "Training options" not in text
    mod = _load(text, tmp_path, "lenet_plain")
    net = mod.Net()
    assert mod.FROZEN == [] and mod.LR_MULT == {} and all(p.requires_grad for p in net.parameters())
    groups = mod.param_groups(net, 0.01)
    assert len(groups) == 1 and groups[0]["lr"] == 0.01 and len(groups[0]["params"]) == len(list(net.parameters()))
    script = generate_training_script("lenet_plain", "Net")
    assert "param_groups(bare, lr)" in script and "model.parameters(), lr" not in script
    compile(script, "train_lenet_plain.py", "exec")  # valid Python
    ns: dict = {"__name__": "train_lenet_plain"}
    exec(compile(script, "train_lenet_plain.py", "exec"), ns)  # imports the module, defines main()
    assert ns["param_groups"] is mod.param_groups
