import csv
import json
import math
import subprocess
import sys
import threading
import time

import pytest
import torch

from cnn_studio.data import AugmentConfig, DataConfig
from cnn_studio.training import (
    METRIC_COLUMNS,
    Callback,
    CheckpointError,
    TrainConfig,
    Trainer,
    TrainingError,
    load_checkpoint,
)

from training_helpers import TINY, StopAt, tiny_graph


def cfg(**kw):
    # pinned to the settings these tests were written for (the defaults are the first run's: onecycle, best weights)
    base = dict(epochs=1, batch_size=32, lr=0.01, schedule="constant", restore_best_weights=False, device="cpu", seed=0)
    base.update(kw)
    return TrainConfig(**base)


class Recorder(Callback):
    def __init__(self):
        self.events = []
        self.batch_metrics = []
        self.epoch_metrics = []
        self.paths = []

    def on_fit_start(self, trainer):
        self.events.append("fit_start")

    def on_epoch_start(self, trainer):
        self.events.append("epoch_start")

    def on_batch_end(self, trainer, m):
        self.events.append("batch_end")
        self.batch_metrics.append(dict(m))

    def on_epoch_end(self, trainer, m):
        self.events.append("epoch_end")
        self.epoch_metrics.append(dict(m))

    def on_checkpoint(self, trainer, path):
        self.events.append("checkpoint")
        self.paths.append(path)

    def on_pause(self, trainer):
        self.events.append("pause")

    def on_resume(self, trainer):
        self.events.append("resume")

    def on_exception(self, trainer, exc):
        self.events.append("exception")

    def on_fit_end(self, trainer):
        self.events.append("fit_end")


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def all_finite(model):
    return all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())


# ---- hooks -----------------------------------------------------------------------------------------
def test_hooks_are_called_in_order_with_the_right_counts(graph, bundle, tmp_path):
    rec = Recorder()
    t = Trainer(graph, bundle, cfg(epochs=2, metrics_every=1, checkpoint_every=1), run_dir=tmp_path / "run", callbacks=[rec])
    summary = t.fit()
    nb = t.state.batches_per_epoch
    assert nb == math.ceil(len(bundle.train.y) / 32)
    ev = rec.events
    assert ev[0] == "fit_start" and ev[-1] == "fit_end"
    assert ev.count("epoch_start") == 2 and ev.count("epoch_end") == 2
    assert ev.count("batch_end") == 2 * nb
    assert "exception" not in ev and "pause" not in ev
    # per epoch: start, nb batch ends, end, then last.pt (and best.pt when it improved)
    first = ev.index("epoch_end")
    assert ev[1:first] == ["epoch_start"] + ["batch_end"] * nb
    assert ev[first + 1] == "checkpoint"
    assert rec.paths[0].name == "last.pt"
    assert all(m["synced"] for m in rec.batch_metrics)  # metrics_every=1
    assert [m["batch"] for m in rec.batch_metrics] == list(range(1, nb + 1)) * 2
    assert [m["global_step"] for m in rec.batch_metrics] == list(range(1, 2 * nb + 1))
    assert all(0 <= m["accuracy"] <= 1 and m["loss"] > 0 for m in rec.batch_metrics)
    assert all(isinstance(m["samples_per_sec"], float) for m in rec.batch_metrics)  # measured: present, not bounded
    assert rec.epoch_metrics[-1]["epoch"] == 2
    assert summary["stop_reason"] == "finished" and summary["epochs_completed"] == 2
    assert t.state.global_step == 2 * nb


def test_live_metrics_are_synced_sparsely_by_default(graph, bundle, tmp_path):
    rec = Recorder()
    t = Trainer(graph, bundle, cfg(epochs=1, metrics_interval=3600.0), run_dir=tmp_path / "run", callbacks=[rec])
    t.fit()
    synced = [m["batch"] for m in rec.batch_metrics if m["synced"]]
    assert synced == [1, t.state.batches_per_epoch]  # only the epoch's first and last batch read values back
    assert set(rec.batch_metrics[1]) == {"epoch", "batch", "global_step", "size", "synced"}


def test_callback_error_stops_with_error_and_reaches_on_exception(graph, bundle, tmp_path):
    class Boom(Callback):
        def on_batch_end(self, trainer, m):
            if m["global_step"] == 2:
                raise RuntimeError("boom")

    rec = Recorder()
    t = Trainer(graph, bundle, cfg(), run_dir=tmp_path / "run", callbacks=[Boom(), rec])
    with pytest.raises(RuntimeError, match="boom"):
        t.fit()
    assert rec.events[-2:] == ["exception", "fit_end"]
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["stop_reason"] == "error" and "boom" in s["error"]


# ---- stop / pause from another thread -------------------------------------------------------------
class Gate(Callback):
    """Blocks the training thread at ``at_step`` until the test thread says go."""

    def __init__(self, at_step):
        self.at_step = at_step
        self.reached = threading.Event()
        self.go = threading.Event()
        self.steps = []

    def on_batch_end(self, trainer, m):
        self.steps.append(m["global_step"])
        if m["global_step"] == self.at_step:
            self.reached.set()
            assert self.go.wait(10)


def test_stop_from_another_thread_takes_effect_within_one_batch(graph, bundle, tmp_path):
    gate = Gate(at_step=3)
    t = Trainer(graph, bundle, cfg(epochs=5), run_dir=tmp_path / "run", callbacks=[gate])
    th = threading.Thread(target=t.fit)
    th.start()
    assert gate.reached.wait(30)
    step_at_request = t.state.global_step
    t.request_stop()
    gate.go.set()
    th.join(30)
    assert not th.is_alive()
    assert t.summary["stop_reason"] == "stopped_by_user"
    assert max(gate.steps) - step_at_request <= 1
    data = load_checkpoint(tmp_path / "run")
    assert data["progress"]["epoch"] == 0 and data["progress"]["batch"] == t.state.global_step


def _thread_state(tid: int) -> str | None:
    try:
        with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def test_pause_blocks_between_batches_without_burning_cpu_then_resumes(graph, bundle, tmp_path):
    rec = Recorder()
    gate = Gate(at_step=2)
    t = Trainer(graph, bundle, cfg(epochs=1), run_dir=tmp_path / "run", callbacks=[gate, rec])
    th = threading.Thread(target=t.fit)
    th.start()
    assert gate.reached.wait(30)
    t.request_pause()
    gate.go.set()
    deadline = time.time() + 10
    while not t.state.paused and time.time() < deadline:
        time.sleep(0.01)
    assert t.state.paused
    step = t.state.global_step
    states = []
    for _ in range(20):  # the paused thread blocks (state S), it does not spin (state R)
        states.append(_thread_state(th.native_id))
        time.sleep(0.02)
    assert t.state.global_step == step <= 3  # paused within one batch of the request, and stays put
    if states[0] is not None:  # Linux: /proc shows each thread's scheduler state
        assert set(states) <= {"S", "D"}, states
    t.request_resume()
    th.join(30)
    assert t.summary["stop_reason"] == "finished"
    assert t.state.global_step == t.state.batches_per_epoch
    assert rec.events.count("pause") == 1 and rec.events.count("resume") == 1
    assert rec.events.index("pause") < rec.events.index("resume") < rec.events.index("epoch_end")


def test_stop_while_paused_ends_the_run(graph, bundle, tmp_path):
    gate = Gate(at_step=1)
    t = Trainer(graph, bundle, cfg(epochs=3), run_dir=tmp_path / "run", callbacks=[gate])
    th = threading.Thread(target=t.fit)
    th.start()
    assert gate.reached.wait(30)
    t.request_pause()
    gate.go.set()
    time.sleep(0.2)
    t.request_stop()
    th.join(10)
    assert not th.is_alive()
    assert t.summary["stop_reason"] == "stopped_by_user" and t.state.global_step <= 2


# ---- NaN -------------------------------------------------------------------------------------------
def test_huge_learning_rate_stops_with_nan_loss_and_finite_weights(graph, bundle, tmp_path):
    t = Trainer(graph, bundle, cfg(epochs=3, optimizer="sgd", lr=1e30, momentum=0.0), run_dir=tmp_path / "run")
    s = t.fit()
    assert s["stop_reason"] == "nan_loss"
    assert all_finite(t.model)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    if last.exists():
        assert all(torch.isfinite(v).all() for v in load_checkpoint(last)["model"].values() if v.is_floating_point())
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["stop_reason"] == "nan_loss"


def test_nan_injected_into_weights_restores_the_last_good_weights(graph, bundle, tmp_path):
    class Poison(Callback):
        def on_epoch_end(self, trainer, m):
            if m["epoch"] == 1:
                self.good = weights(trainer.model)

        def on_batch_end(self, trainer, m):
            if m["epoch"] == 2 and m["batch"] == 2:
                with torch.no_grad():
                    trainer.model.conv.weight.fill_(float("nan"))

    poison = Poison()
    t = Trainer(graph, bundle, cfg(epochs=3), run_dir=tmp_path / "run", callbacks=[poison])
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    s = t.fit()
    assert s["stop_reason"] == "nan_loss" and s["epochs_completed"] == 1
    assert all_finite(t.model)
    now = weights(t.model)
    assert all(torch.equal(now[k], poison.good[k]) for k in now)  # back to the end of epoch 1
    saved = load_checkpoint(last)
    assert saved["progress"] == {"epoch": 1, "batch": 0, "global_step": t.state.batches_per_epoch, "epoch_complete": True}
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


# ---- early stopping, optimizers, schedules ------------------------------------------------------
def test_early_stopping_stops_after_patience_epochs(graph, bundle, tmp_path):
    # min_delta larger than any possible gain: only the first epoch counts as an improvement
    t = Trainer(graph, bundle, cfg(epochs=10, early_stopping=True, patience=2, monitor="val_accuracy", min_delta=2.0),
                run_dir=tmp_path / "run")
    s = t.fit()
    assert s["stop_reason"] == "early_stopping"
    assert s["epochs_completed"] == 3 and s["best_epoch"] == 1
    assert s["test_accuracy"] is not None  # a finished or early-stopped run is tested


def test_early_stopping_is_off_by_default(graph, bundle, tmp_path):
    s = Trainer(graph, bundle, cfg(epochs=3, monitor="val_accuracy", min_delta=2.0), run_dir=tmp_path / "run").fit()
    assert s["stop_reason"] == "finished" and s["epochs_completed"] == 3


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_each_optimizer_trains(graph, bundle, tmp_path, optimizer):
    lr = {"sgd": 0.05, "adam": 0.003, "adamw": 0.003, "rmsprop": 0.001}[optimizer]
    t = Trainer(graph, bundle, cfg(epochs=2, optimizer=optimizer, lr=lr, weight_decay=1e-4, save_checkpoints=False),
                run_dir=tmp_path / "run")
    before = weights(t.model)
    s = t.fit()
    assert s["stop_reason"] == "finished"
    assert any(not torch.equal(before[k], v) for k, v in weights(t.model).items())
    h = t.state.history
    assert h[1]["train_loss"] < h[0]["train_loss"]  # it learns
    assert type(t.optimizer).__name__.lower() == optimizer


def _lrs(rec):
    return [m["lr"] for m in rec.batch_metrics]


def test_step_schedule(graph, bundle, tmp_path):
    t = Trainer(graph, bundle, cfg(epochs=3, optimizer="sgd", lr=0.1, schedule="step", step_size=1, gamma=0.5), run_dir=tmp_path / "r")
    t.fit()
    assert [h["lr"] for h in t.state.history] == pytest.approx([0.1, 0.05, 0.025])


def test_cosine_schedule_falls_per_batch_to_min_lr(graph, bundle, tmp_path):
    rec = Recorder()
    t = Trainer(graph, bundle, cfg(epochs=2, optimizer="sgd", lr=0.1, schedule="cosine", min_lr=0.001, metrics_every=1),
                run_dir=tmp_path / "r", callbacks=[rec])
    t.fit()
    lrs = _lrs(rec)
    total = 2 * t.state.batches_per_epoch
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] == pytest.approx(0.001)
    k = total // 2  # after k steps: min + (max-min)(1+cos(pi k/T))/2
    assert lrs[k - 1] == pytest.approx(0.001 + 0.099 * (1 + math.cos(math.pi * k / total)) / 2)


def test_onecycle_schedule_rises_to_lr_then_falls(graph, bundle, tmp_path):
    rec = Recorder()
    t = Trainer(graph, bundle, cfg(epochs=2, optimizer="sgd", lr=0.1, schedule="onecycle", warmup_fraction=0.3, metrics_every=1),
                run_dir=tmp_path / "r", callbacks=[rec])
    t.fit()
    lrs = _lrs(rec)
    peak = lrs.index(max(lrs))
    assert max(lrs) == pytest.approx(0.1, rel=0.05)
    assert 0 < peak < len(lrs) - 1
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lrs[-1] < 0.001


def test_plateau_schedule_cuts_lr_when_the_monitor_stalls(graph, bundle, tmp_path):
    # a learning rate too small to change predictions: val accuracy never improves after epoch 1
    t = Trainer(graph, bundle, cfg(epochs=3, optimizer="sgd", lr=1e-9, momentum=0.0, schedule="plateau", plateau_patience=0,
                                   gamma=0.5, monitor="val_accuracy"), run_dir=tmp_path / "r")
    t.fit()
    assert [h["lr"] for h in t.state.history] == pytest.approx([1e-9, 1e-9, 5e-10])
    assert t.state.lr == pytest.approx(2.5e-10)


def test_constant_schedule_keeps_lr(graph, bundle, tmp_path):
    t = Trainer(graph, bundle, cfg(epochs=2, lr=0.003), run_dir=tmp_path / "r")
    t.fit()
    assert [h["lr"] for h in t.state.history] == [0.003, 0.003]


# ---- run folder and checkpoints ---------------------------------------------------------------------
def test_run_folder_files(graph, bundle, tiny_config, tmp_path):
    run = tmp_path / "run"
    t = Trainer(graph, bundle, cfg(epochs=2), run_dir=run, data_config=tiny_config)
    s = t.fit()
    config = json.loads((run / "config.json").read_text())
    assert config["graph"]["nodes"] == graph.to_config()["nodes"]
    assert config["data"] == tiny_config.to_dict()
    assert config["train"] == t.config.to_dict()
    assert config["class_names"] == list(bundle.class_names)
    assert config["input_shape"] == list(bundle.input_shape())
    assert len(config["mean"]) == len(config["std"]) == bundle.channels
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(METRIC_COLUMNS)
    assert rows[0][:5] == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    assert float(rows[2][4]) == pytest.approx(t.state.history[1]["val_accuracy"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary == json.loads(json.dumps(s))
    for key in ("best_val_accuracy", "final_val_accuracy", "test_accuracy", "epochs_completed", "stop_reason"):
        assert key in summary
    assert summary["final_val_accuracy"] == t.state.history[-1]["val_accuracy"]
    assert summary["best_val_accuracy"] == max(h["val_accuracy"] for h in t.state.history)
    assert 0 <= summary["test_accuracy"] <= 1
    n = bundle.num_classes
    assert len(summary["test_confusion_matrix"]) == n and sum(map(sum, summary["test_confusion_matrix"])) == len(bundle.test.y)
    assert len(summary["test_per_class_accuracy"]) == n
    for name in ("last.pt", "best.pt"):
        data = torch.load(run / "checkpoints" / name, weights_only=True)
        assert set(data["model"]) == set(t.model.state_dict())
        assert {"optimizer", "scheduler", "scaler", "rng", "progress", "history", "graph", "data", "train"} <= set(data)
        assert {"torch", "numpy", "python", "shuffle", "augment"} <= set(data["rng"])
        assert data["data"] == tiny_config.to_dict()


def test_default_run_folder_is_under_studio_home(graph, bundle, _studio_home):
    t = Trainer(graph, bundle, cfg(save_checkpoints=False))
    t.fit()
    assert t.run_dir.path.parent == _studio_home / "runs"
    assert t.run_dir.path.name.startswith("tiny-")
    assert (t.run_dir.path / "summary.json").is_file()


def test_no_test_split_gives_null_test_accuracy(bundle, tmp_path):
    from cnn_studio.data import load_dataset

    b = load_dataset(DataConfig(**{**TINY, "shapes_test": 0}))
    assert b.test is None or len(b.test.y) == 0
    s = Trainer(tiny_graph(b.input_shape(), b.num_classes), b, cfg(), run_dir=tmp_path / "r").fit()
    assert s["test_accuracy"] is None and json.loads((tmp_path / "r" / "summary.json").read_text())["test_accuracy"] is None


def test_corrupt_checkpoint_gives_a_clear_error_naming_the_file(graph, bundle, tmp_path):
    run = tmp_path / "run"
    Trainer(graph, bundle, cfg(), run_dir=run, data_config=None).fit()
    last = run / "checkpoints" / "last.pt"
    raw = last.read_bytes()
    last.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="corrupt") as e:
        load_checkpoint(last)
    assert str(last) in str(e.value)
    last.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError) as e:
        Trainer.from_run(run, epochs=2)
    assert str(last) in str(e.value)


def test_model_and_data_must_fit(bundle, tmp_path):
    wrong_classes = tiny_graph(bundle.input_shape(), bundle.num_classes + 1)
    with pytest.raises(TrainingError, match="classes"):
        Trainer(wrong_classes, bundle, cfg(), run_dir=tmp_path / "a").fit()
    c, h, w = bundle.input_shape()
    wrong_size = tiny_graph((c, h * 2, w * 2), bundle.num_classes)
    with pytest.raises(TrainingError, match="input"):
        Trainer(wrong_size, bundle, cfg(), run_dir=tmp_path / "b").fit()


def test_amp_on_cpu_is_ignored_with_a_note(graph, bundle, tmp_path):
    s = Trainer(graph, bundle, cfg(amp=True), run_dir=tmp_path / "r").fit()
    assert s["stop_reason"] == "finished"
    assert any("amp" in n for n in s["notes"])


# ---- exact resume ------------------------------------------------------------------------------------
def _resume_setup():
    data = DataConfig(**{**TINY, "augment": AugmentConfig(hflip=True, shift=0.1)})
    # a fixed thread count: Auto may change it between batches, which changes float rounding (threads.py)
    return data, TrainConfig(epochs=4, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, schedule="step", step_size=1,
                             gamma=0.7, device="cpu", seed=3, num_threads=1)


def _comparable(history):
    return [{k: v for k, v in h.items() if k not in ("seconds", "samples_per_sec")} for h in history]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, bundle):
    data, config = _resume_setup()
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.2)
    t = Trainer(g, data, config, run_dir=tmp_path_factory.mktemp("straight") / "run")
    t.fit()
    return t


def test_resume_after_full_epochs_is_exact(straight_run, bundle, tmp_path):
    data, config = _resume_setup()
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.2)
    first = Trainer(g, data, config.replace(epochs=2), run_dir=tmp_path / "run")
    assert first.fit()["stop_reason"] == "finished"
    second = Trainer.from_run(tmp_path / "run", epochs=4)
    s = second.fit()
    assert s["stop_reason"] == "finished" and s["epochs_completed"] == 4
    assert _comparable(second.state.history) == _comparable(straight_run.state.history)
    a, b = straight_run.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert s["test_accuracy"] == straight_run.summary["test_accuracy"]
    with open(tmp_path / "run" / "metrics.csv") as f:
        assert [r.split(",")[0] for r in f.read().split()[1:]] == ["1", "2", "3", "4"]


def test_resume_from_a_mid_epoch_stop_is_exact(straight_run, bundle, tmp_path):
    data, config = _resume_setup()
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.2)

    first = Trainer(g, data, config, run_dir=tmp_path / "run", callbacks=[StopAt(2, 3)])
    s1 = first.fit()
    assert s1["stop_reason"] == "stopped_by_user" and s1["epochs_completed"] == 1
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    nb = first.state.batches_per_epoch
    assert saved["progress"]["epoch"] == 1 and saved["progress"]["batch"] == 3 and saved["progress"]["global_step"] == nb + 3
    rec = Recorder()
    second = Trainer.from_run(tmp_path / "run", callbacks=[rec])
    s2 = second.fit()
    assert s2["stop_reason"] == "finished"
    assert rec.batch_metrics[0]["batch"] == 4 and rec.batch_metrics[0]["global_step"] == nb + 4
    assert _comparable(second.state.history) == _comparable(straight_run.state.history)
    a, b = straight_run.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_needs_more_epochs(graph, bundle, tiny_config, tmp_path):
    Trainer(graph, bundle, cfg(epochs=1), run_dir=tmp_path / "run", data_config=tiny_config).fit()
    with pytest.raises(TrainingError, match="already has 1 epoch"):
        Trainer.from_run(tmp_path / "run").fit()


def test_training_does_not_import_qt():
    code = "import sys, cnn_studio.training, cnn_studio.cli_train; assert 'PySide6' not in sys.modules, 'Qt imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- the accelerator code path (device-side sums, NaN caught at the sync), exercised on the CPU -----
def test_device_side_sums_catch_nan_and_restore_finite_weights(graph, bundle, tmp_path):
    t = Trainer(graph, bundle, cfg(epochs=2, optimizer="sgd", lr=1e30, momentum=0.0, metrics_every=2), run_dir=tmp_path / "r")
    t.sync_loss_every_batch = False
    s = t.fit()
    assert s["stop_reason"] == "nan_loss"
    assert all_finite(t.model)


def test_device_side_sums_resume_mid_epoch_exactly(bundle, tmp_path):
    data, config = _resume_setup()
    config = config.replace(epochs=2)
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.2)
    straight = Trainer(g, data, config, run_dir=tmp_path / "a")
    straight.sync_loss_every_batch = False
    straight.fit()

    first = Trainer(g, data, config, run_dir=tmp_path / "b", callbacks=[StopAt(2, 2)])
    first.sync_loss_every_batch = False
    assert first.fit()["stop_reason"] == "stopped_by_user"
    second = Trainer.from_run(tmp_path / "b")
    second.sync_loss_every_batch = False
    second.fit()
    assert _comparable(second.state.history) == _comparable(straight.state.history)
    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_mse_loss_trains_on_one_hot_targets(bundle, tmp_path):
    from cnn_studio.core.graph import Graph, chain

    c, h, w = bundle.input_shape()
    g = Graph("mse")
    chain(g, [("input", {"channels": c, "height": h, "width": w}), ("flatten", {}), ("linear", {"out_features": bundle.num_classes}),
              ("mse", {})])
    t = Trainer(g, bundle, cfg(epochs=2, optimizer="sgd", lr=0.01), run_dir=tmp_path / "r")
    s = t.fit()
    assert s["stop_reason"] == "finished"
    assert t.state.history[1]["train_loss"] < t.state.history[0]["train_loss"]
    assert 0 <= s["test_accuracy"] <= 1 and s["test_loss"] > 0


def test_stop_while_the_data_loads_is_a_user_stop(graph, tiny_config, tmp_path):
    rec = Recorder()
    t = Trainer(graph, tiny_config, cfg(), run_dir=tmp_path / "r", callbacks=[rec])
    t.request_stop()
    s = t.fit()
    assert s["stop_reason"] == "stopped_by_user" and s["epochs_completed"] == 0
    assert rec.events == ["fit_end"]


def test_restore_best_weights_loads_the_best_epoch_before_testing(graph, bundle, tmp_path):
    class Keep(Callback):
        def on_epoch_end(self, trainer, m):
            if m["epoch"] == 1:
                self.first = weights(trainer.model)

    keep = Keep()
    t = Trainer(graph, bundle, cfg(epochs=3, monitor="val_accuracy", min_delta=2.0, restore_best_weights=True),
                run_dir=tmp_path / "r", callbacks=[keep])
    s = t.fit()
    assert s["best_epoch"] == 1
    now = weights(t.model)
    assert all(torch.equal(now[k], keep.first[k]) for k in now)
    assert any("best epoch (1)" in n for n in s["notes"])


def test_threads_and_deterministic_mode_are_put_back_after_the_run(graph, bundle, tmp_path):
    threads = torch.get_num_threads()
    seen = {}

    class Look(Callback):
        def on_fit_start(self, trainer):
            seen["threads"] = torch.get_num_threads()
            seen["det"] = torch.are_deterministic_algorithms_enabled()

    Trainer(graph, bundle, cfg(num_threads=1, deterministic=True), run_dir=tmp_path / "r", callbacks=[Look()]).fit()
    assert seen == {"threads": 1, "det": True}
    assert torch.get_num_threads() == threads and not torch.are_deterministic_algorithms_enabled()
