"""Showing a run folder in the app repairs it first, as `cnn-studio evaluate` does: a run killed
after last.pt and before best.pt was copied at its best (last) epoch shows the best epoch's weights,
not the stale best.pt, and gets its summary.json."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from cnn_studio.core.graph import Graph, chain  # noqa: E402


class Crash(BaseException):
    """The process dies here (nothing catches a BaseException as an error)."""


def _graph() -> Graph:
    g = Graph("tiny")
    chain(g, [
        ("input", {"channels": 3, "height": 16, "width": 16}, "input"),
        ("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, "conv"),
        ("relu", {}, "relu"),
        ("maxpool2d", {"kernel_size": 4}, "pool"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": 10}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


def test_a_run_killed_before_best_pt_shows_its_best_epoch_after_repair(make_window, qtbot, tmp_path, monkeypatch):
    from cnn_studio.data import DataConfig
    from cnn_studio.training import TrainConfig, Trainer, load_checkpoint
    from cnn_studio.training import checkpoint as ckpt

    data = DataConfig(source="shapes", shapes_train=160, shapes_test=40, height=16, width=16, val_fraction=0.25, seed=0)
    config = TrainConfig(epochs=2, batch_size=32, optimizer="adam", lr=0.005, schedule="constant", device="cpu",
                         num_threads=1, seed=5, monitor="val_loss")
    run = tmp_path / "run"
    real_copy = ckpt.copy_checkpoint

    def copy(src, dst):
        if load_checkpoint(src)["progress"]["epoch"] == 2:
            raise Crash("killed before best.pt was copied")
        return real_copy(src, dst)

    monkeypatch.setattr(ckpt, "copy_checkpoint", copy)
    with pytest.raises(Crash):
        Trainer(_graph(), data, config, run_dir=run).fit()
    monkeypatch.setattr(ckpt, "copy_checkpoint", real_copy)
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (last.get("best") or {}).get("epoch") == 2, "epoch 2 must be the best for this case (val_loss falls each epoch)"
    assert load_checkpoint(run / "checkpoints" / "best.pt")["progress"]["epoch"] == 1  # stale

    w = make_window(_graph())
    w.state.show_run(str(run), "best")
    qtbot.waitUntil(lambda: w.state.source.status in ("ready", "failed"), timeout=60_000)
    src = w.state.source
    assert src.status == "ready", src.message
    assert load_checkpoint(run / "checkpoints" / "best.pt")["progress"]["epoch"] == 2  # repaired
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 2
    shown = src.imodel.model.state_dict()
    best = last["model"]
    assert all(torch.equal(shown[k].cpu(), best[k]) for k in best)
