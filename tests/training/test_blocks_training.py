"""A network with blocks trains end to end: the run's files carry the definitions (the run loads
back with its weights and exports), a frozen block instance keeps every inner weight bit-identical,
and resume continues it."""
import torch
from training_helpers import TINY  # noqa: F401  (the data fixture's settings)

from cnn_studio.compiler.export import load_run
from cnn_studio.core import blocks
from cnn_studio.core.graph import Graph, chain
from cnn_studio.training import TrainConfig, Trainer


def _block_net(shape, classes) -> Graph:
    c, h, w = shape
    g = Graph("blocky")
    g.add_node("input", {"channels": c, "height": h, "width": w}, node_id="input")
    inner = blocks.new_inner_graph(g)
    chain(inner, [("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1, "bias": False}, "0"), ("batchnorm2d", {}, "1"), ("relu", {}, "2")])
    blocks.define(g, "ConvBnRelu", inner, [[("0", 0)]], "2")
    res = blocks.new_inner_graph(g)
    res.add_node("block", {"block": "ConvBnRelu"}, node_id="body")
    res.add_node("add", {}, node_id="add")
    res.connect("body", "add", 0, 0)
    blocks.define(g, "Residual", res, [[("body", 0), ("add", 1)]], "add")
    stem = blocks.instantiate(g, "ConvBnRelu", "stem")
    r = blocks.instantiate(g, "Residual", "res")
    g.connect("input", stem)
    g.connect(stem, r)
    chain(g, [("maxpool2d", {"kernel_size": 4}, "pool"), ("flatten", {}, "flatten"), ("linear", {"out_features": classes}, "fc"), ("cross_entropy", {}, "loss")], r)
    return g


def test_a_network_with_blocks_trains_saves_and_loads_back(bundle, tmp_path):
    g = _block_net(bundle.input_shape(), bundle.num_classes)
    g.set_node_training("stem", frozen=True)
    run = tmp_path / "run"
    trainer = Trainer(g, bundle, TrainConfig(epochs=1, batch_size=32, device="cpu", num_threads=1, schedule="constant", seed=3), run_dir=run)
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    summary = trainer.fit()
    assert summary["stop_reason"] == "finished"
    graph, state, _ = load_run(run)
    assert set(graph.blocks.names()) == {"ConvBnRelu", "Residual"} and graph.nodes["res"].config["block"] == "Residual"
    assert "res.body.0.weight" in state and "stem.1.running_mean" in state
    assert torch.equal(state["stem.0.weight"], start["stem.0.weight"])  # the frozen block did not move
    assert not torch.equal(state["res.body.0.weight"], start["res.body.0.weight"])  # the other one trained
    cont = Trainer(graph, bundle, TrainConfig(epochs=2, batch_size=32, device="cpu", num_threads=1, schedule="constant", seed=3), run_dir=run, resume=run)
    assert cont.fit()["epochs_completed"] == 2
