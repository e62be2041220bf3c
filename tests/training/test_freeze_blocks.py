"""Freezing and learning-rate multipliers on layers INSIDE block definitions: the trainer honours them
for every instance of the definition (instance X's inner node Y is the submodule X.Y), frozen inner
weights and their batch norm statistics stay bit-identical through a real run while their neighbours
train, multipliers multiply down the nesting, and --freeze paths (layer1/0/conv1) are resolved or
refused by name."""
import pytest
import torch

from block_graphs import tiny_resnet
from cnn_studio.compiler.model import compile_model
from cnn_studio.training import Callback, Trainer, TrainConfig
from cnn_studio.training.freeze import FreezeError, apply_node_options, freeze_nodes, instance_paths
from cnn_studio.training.optim import param_groups


def cfg(**kw):
    base = dict(epochs=1, batch_size=32, lr=0.05, schedule="constant", device="cpu", seed=0, layer_stats_every=0, num_threads=1)
    base.update(kw)
    return TrainConfig(**base)


def resnet_for(bundle):
    c, h, _ = tuple(bundle.input_shape())
    g = tiny_resnet(size=h, classes=bundle.num_classes)
    g.set_param("input", "channels", c)
    return g


class StartWeights(Callback):
    def on_fit_start(self, trainer):
        self.weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        self.in_optimizer = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}


def test_frozen_inner_conv_stays_bit_identical_in_every_instance_while_its_neighbours_train(bundle, tiny_config, tmp_path):
    g = resnet_for(bundle)
    notes = freeze_nodes(g, ["layer1/0/conv1", "layer1/0/bn1"])
    # Basic4 is shared by layer1/0 and layer1/1: freezing its conv1 freezes it in both, and we are told
    assert instance_paths(g, "Basic4") == ["layer1/0", "layer1/1"]
    assert any("layer1/0/conv1, layer1/1/conv1" in n and "'Basic4'" in n for n in notes)
    assert g.blocks["Basic4"].graph.nodes["conv1"].frozen and not g.blocks["Basic4"].graph.nodes["conv2"].frozen
    rec = StartWeights()
    t = Trainer(g, bundle, cfg(), run_dir=tmp_path / "run", callbacks=[rec], data_config=tiny_config)
    s = t.fit()
    assert s["stop_reason"] == "finished"
    after = t.model.state_dict()
    for i in ("0", "1"):
        for key in (f"layer1.{i}.conv1.weight", f"layer1.{i}.bn1.weight", f"layer1.{i}.bn1.bias",
                    f"layer1.{i}.bn1.running_mean", f"layer1.{i}.bn1.running_var", f"layer1.{i}.bn1.num_batches_tracked"):
            assert torch.equal(rec.weights[key], after[key]), key
        # the neighbours in the same block trained (weights and the batch norm statistics)
        assert not torch.equal(rec.weights[f"layer1.{i}.conv2.weight"], after[f"layer1.{i}.conv2.weight"])
        assert not torch.equal(rec.weights[f"layer1.{i}.bn2.running_mean"], after[f"layer1.{i}.bn2.running_mean"])
    # a different definition (Basic8s2 has its own conv1) is untouched by the option
    assert not torch.equal(rec.weights["layer2.0.conv1.weight"], after["layer2.0.conv1.weight"])
    frozen = [p for n, p in t.model.named_parameters() if ".conv1." in n and n.startswith("layer1.") or ".bn1." in n and n.startswith("layer1.")]
    assert len(frozen) == 6 and all(not p.requires_grad for p in frozen) and not ({id(p) for p in frozen} & rec.in_optimizer)
    assert any(n.startswith("frozen: layer1/0/conv1, layer1/0/bn1, layer1/1/conv1, layer1/1/bn1") and "2 batch norm(s) in eval mode" in n
               for n in s["notes"])


def test_multipliers_inside_blocks_multiply_down_the_nesting():
    g = tiny_resnet(size=16, classes=3)
    g.set_node_training("layer2", lr_mult=0.2)                       # the instance
    g.blocks["Basic8"].graph.set_node_training("conv2", lr_mult=0.5)  # a layer of the definition inside it
    g.blocks["Down8"].graph.set_node_training("0", frozen=True)      # nested two deep: layer2/0/downsample/0
    model = compile_model(g)
    notes = apply_node_options(model, g)
    groups = {grp["lr_mult"]: grp["params"] for grp in param_groups([p for p in model.parameters() if p.requires_grad], 1.0)}
    ids = lambda mod: {id(p) for p in mod.parameters()}  # noqa: E731
    assert sorted(groups) == pytest.approx([0.1, 0.2, 1.0])
    assert {id(p) for p in groups[0.2 * 0.5]} == ids(model.layer2.get_submodule("1.conv2"))
    inside_l2 = ids(model.layer2) - ids(model.layer2.get_submodule("1.conv2")) - ids(model.layer2.get_submodule("0.downsample.0"))
    assert {id(p) for p in groups[0.2]} == inside_l2
    assert not any(p.requires_grad for p in model.layer2.get_submodule("0.downsample.0").parameters())
    assert all(p.requires_grad for p in model.layer2.get_submodule("0.downsample.1").parameters())
    assert {id(p) for p in groups[1.0]} == ids(model) - ids(model.layer2)
    assert "frozen: layer2/0/downsample/0 (" in notes[0]
    assert "layer2/1/conv2 x0.1" in notes[1] and "layer2 x0.2" in notes[1]


def test_freeze_paths_into_blocks_are_refused_by_name_all_at_once():
    g = tiny_resnet(size=16, classes=3)
    with pytest.raises(FreezeError) as e:
        freeze_nodes(g, ["layer1/0/conv1", "layer1/0/conv9", "fc/weight", "nope/conv1", "layer1/7"])
    msg = str(e.value)
    assert "'layer1/0/conv9' (block 'Basic4' at layer1/0 has no layer 'conv9'; its layers are: conv1, bn1" in msg
    assert "'fc/weight' ('fc' is not a block" in msg
    assert "'nope/conv1' (no layer 'nope' at the top level)" in msg
    assert "'layer1/7' (block 'Layer1' at layer1 has no layer '7'" in msg
    assert "layer1/0/conv1" not in msg.split("its layers are")[0].replace("e.g. layer1/0/conv1", "")
    assert not g.blocks["Basic4"].graph.nodes["conv1"].frozen  # nothing half-applied
    # a whole nested instance by path; a definition used once gives no sharing note
    assert freeze_nodes(g, ["layer2/0/downsample"]) == []
    assert g.blocks["Basic8s2"].graph.nodes["downsample"].frozen


def test_the_apps_frozen_parameter_count_agrees_with_what_training_freezes():
    from cnn_studio.core.trainable import parameter_counts

    g = tiny_resnet(size=16, classes=3)
    freeze_nodes(g, ["layer1/0/conv1", "layer2/0/downsample"])
    g.set_node_training("conv1", frozen=True)
    model = compile_model(g)
    apply_node_options(model, g)
    fixed = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    free = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert parameter_counts(g) == (free, fixed) and fixed == 2 * 4 * 4 * 9 + 4 * 3 * 9 + 8 * 4 + 2 * 8
