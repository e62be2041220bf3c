"""Tiny data settings and networks shared by the training tests (kept tiny: two cores, < 2 minutes)."""
from cnn_studio.core.graph import Graph, chain
from cnn_studio.training import Callback

TINY = dict(source="shapes", shapes_train=240, shapes_test=60, height=16, width=16, val_fraction=0.25, seed=0)


def tiny_graph(shape, classes, dropout=0.0, name="tiny"):
    """conv(6, 3x3) -> relu -> maxpool -> [dropout] -> flatten -> linear -> cross entropy."""
    c, h, w = shape
    g = Graph(name)
    steps = [
        ("input", {"channels": c, "height": h, "width": w}, "input"),
        ("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, "conv"),
        ("relu", {}, "relu"),
        ("maxpool2d", {"kernel_size": 4}, "pool"),
    ]
    if dropout:
        steps.append(("dropout", {"p": dropout}, "drop"))
    steps += [("flatten", {}, "flatten"), ("linear", {"out_features": classes}, "fc"), ("cross_entropy", {}, "loss")]
    chain(g, steps)
    return g


class StopAt(Callback):
    """Asks the trainer to stop after batch ``batch`` (1-based) of epoch ``epoch`` (1-based): the
    interrupted run the exact-resume tests continue."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, trainer, m):
        if m["epoch"] == self.epoch and m["batch"] == self.batch:
            trainer.request_stop()
