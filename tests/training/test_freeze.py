"""Transfer learning in the trainer: frozen nodes keep their weights (and, in eval mode, their batch
norm statistics) bit for bit through a real run, are not in the optimizer, learning-rate multipliers
become param groups, and resuming a run with frozen nodes is exact."""
import pytest
import torch

from cnn_studio.core.graph import Graph, chain
from cnn_studio.training import Callback, Trainer, TrainConfig
from cnn_studio.training.freeze import FreezeError, freeze_nodes
from cnn_studio.training.optim import current_lr
from training_helpers import TINY, StopAt


def cfg(**kw):
    base = dict(epochs=1, batch_size=32, lr=0.01, schedule="constant", device="cpu", seed=0, layer_stats_every=0, num_threads=1)
    base.update(kw)
    return TrainConfig(**base)


def bn_graph(shape, classes, name="bn"):
    """conv -> batch norm -> relu -> pool -> flatten -> fc1 -> fc -> loss (two conv-side nodes to freeze)."""
    c, h, w = shape
    g = Graph(name)
    chain(g, [
        ("input", {"channels": c, "height": h, "width": w}, "input"),
        ("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, "conv"),
        ("batchnorm2d", {}, "bn"),
        ("relu", {}, "relu"),
        ("maxpool2d", {"kernel_size": 4}, "pool"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": 12}, "fc1"),
        ("linear", {"out_features": classes}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


class StartWeights(Callback):
    def on_fit_start(self, trainer):
        self.weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        self.groups = [(g["lr"], g.get("lr_mult", 1.0), sum(p.numel() for p in g["params"])) for g in trainer.optimizer.param_groups]
        self.in_optimizer = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}


def _changed(before, after, prefix):
    return [k for k in before if k.startswith(prefix) and not torch.equal(before[k], after[k])]


def test_frozen_weights_and_bn_statistics_stay_bit_identical(bundle, tiny_config, tmp_path):
    g = bn_graph(tuple(bundle.input_shape()), bundle.num_classes)
    freeze_nodes(g, ["conv", "bn"])
    rec = StartWeights()
    t = Trainer(g, bundle, cfg(epochs=2), run_dir=tmp_path / "run", callbacks=[rec], data_config=tiny_config)
    s = t.fit()
    assert s["stop_reason"] == "finished"
    after = t.model.state_dict()
    # conv and bn: weights, bias, running mean/var and the batch counter untouched
    for prefix in ("conv.", "bn."):
        keys = [k for k in after if k.startswith(prefix)]
        assert keys and not _changed(rec.weights, after, prefix), prefix
    assert _changed(rec.weights, after, "fc1.") and _changed(rec.weights, after, "fc.")  # the rest trained
    frozen = [p for n, p in t.model.named_parameters() if n.startswith(("conv.", "bn."))]
    assert all(not p.requires_grad for p in frozen) and not ({id(p) for p in frozen} & rec.in_optimizer)
    assert any("frozen: conv, bn" in n and "1 batch norm(s) in eval mode" in n for n in s["notes"])
    # the checkpoint's network keeps the options, so evaluate/resume see the same network
    from cnn_studio.training.checkpoint import load_checkpoint

    nodes = {n["id"]: n for n in load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["graph"]["nodes"]}
    assert nodes["conv"]["frozen"] is True and "frozen" not in nodes["fc"]


def test_frozen_bn_follows_the_data_when_the_option_is_off(bundle, tiny_config, tmp_path):
    g = bn_graph(tuple(bundle.input_shape()), bundle.num_classes)
    freeze_nodes(g, ["conv", "bn"])
    rec = StartWeights()
    t = Trainer(g, bundle, cfg(frozen_bn_eval=False), run_dir=tmp_path / "run", callbacks=[rec], data_config=tiny_config)
    t.fit()
    after = t.model.state_dict()
    assert torch.equal(rec.weights["bn.weight"], after["bn.weight"]) and torch.equal(rec.weights["conv.weight"], after["conv.weight"])
    assert not torch.equal(rec.weights["bn.running_mean"], after["bn.running_mean"])  # statistics updated in train mode


def test_lr_multiplier_is_a_param_group_with_that_fraction_of_the_rate(bundle, tiny_config, tmp_path):
    g = bn_graph(tuple(bundle.input_shape()), bundle.num_classes)
    g.set_node_training("conv", lr_mult=0.1)
    rec = StartWeights()
    t = Trainer(g, bundle, cfg(lr=0.02), run_dir=tmp_path / "run", callbacks=[rec], data_config=tiny_config)
    t.fit()
    conv = sum(p.numel() for p in t.model.conv.parameters())
    by_mult = {m: (lr, n) for lr, m, n in rec.groups}
    assert set(by_mult) == {0.1, 1.0}
    assert by_mult[0.1] == (pytest.approx(0.002, rel=1e-12), conv)
    assert by_mult[1.0][0] == 0.02
    assert current_lr(t.optimizer) == pytest.approx(0.02)  # the run's rate, whichever group comes first
    assert t.summary["epochs_completed"] == 1


def test_onecycle_keeps_the_multiplier_at_every_step(bundle, tiny_config, tmp_path):
    g = bn_graph(tuple(bundle.input_shape()), bundle.num_classes)
    g.set_node_training("fc", lr_mult=0.1)

    class Ratios(Callback):
        ratios = []

        def on_batch_end(self, trainer, m):
            lrs = {gr.get("lr_mult", 1.0): gr["lr"] for gr in trainer.optimizer.param_groups}
            self.ratios.append(lrs[0.1] / lrs[1.0])

    rec = Ratios()
    Trainer(g, bundle, cfg(schedule="onecycle", lr=0.01), run_dir=tmp_path / "run", callbacks=[rec], data_config=tiny_config).fit()
    assert len(rec.ratios) > 3 and all(r == pytest.approx(0.1, rel=1e-9) for r in rec.ratios)


def test_resume_with_frozen_nodes_and_multipliers_is_exact(bundle, tmp_path):
    from cnn_studio.data import DataConfig

    data = DataConfig(**TINY)
    config = TrainConfig(epochs=3, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, schedule="step", step_size=1,
                         gamma=0.7, device="cpu", seed=3, num_threads=1, layer_stats_every=0)

    def network():
        g = bn_graph(tuple(bundle.input_shape()), bundle.num_classes)
        freeze_nodes(g, ["conv", "bn"])
        g.set_node_training("fc1", lr_mult=0.5)
        return g

    straight = Trainer(network(), data, config, run_dir=tmp_path / "straight")
    straight.fit()

    first = Trainer(network(), data, config, run_dir=tmp_path / "run", callbacks=[StopAt(2, 2)])
    assert first.fit()["stop_reason"] == "stopped_by_user"
    second = Trainer.from_run(tmp_path / "run")
    assert second.graph.nodes["conv"].frozen and second.graph.nodes["fc1"].lr_mult == 0.5
    assert second.fit()["stop_reason"] == "finished"
    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [g.get("lr_mult", 1.0) for g in second.optimizer.param_groups] == [g.get("lr_mult", 1.0) for g in straight.optimizer.param_groups]


def test_freezing_everything_and_unknown_names_are_refused_by_name(bundle, tiny_config):
    g = bn_graph(tuple(bundle.input_shape()), bundle.num_classes)
    with pytest.raises(FreezeError, match=r"'nope'.*'conv2'.*its layers are: input, conv"):
        freeze_nodes(g, ["conv", "nope", "conv2"])
    assert not g.nodes["conv"].frozen  # nothing half-applied
    freeze_nodes(g, ["conv", "bn", "fc1", "fc"])
    with pytest.raises(FreezeError, match="nothing to train"):
        Trainer(g, bundle, cfg(), data_config=tiny_config)
