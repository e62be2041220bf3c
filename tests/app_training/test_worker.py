"""The Qt worker drives the real Trainer in a QThread: signals arrive, pause/resume/stop act within
a batch, errors become a signal (not a crash), and the thread is always joined."""
import os
import threading

import pytest

from cnn_studio.app.training.worker import TrainingController, TrainingWorker
from cnn_studio.core import templates
from cnn_studio.data import DataConfig, load_dataset
from cnn_studio.training import TrainConfig


@pytest.fixture(scope="module")
def tiny():
    cfg = DataConfig(source="shapes", shapes_train=512, shapes_test=128, height=16, width=16, channels=3)
    bundle = load_dataset(cfg)
    graph = templates.build("tinyvgg", (3, 16, 16), bundle.num_classes)
    return cfg, graph


def _collect(worker):
    got = {"batches": [], "epochs": [], "maps": [], "started": [], "finished": [], "failed": [], "paused": []}
    worker.batch_done.connect(got["batches"].append)
    worker.epoch_done.connect(got["epochs"].append)
    worker.feature_maps.connect(lambda e, m: got["maps"].append((e, m)))
    worker.started.connect(got["started"].append)
    worker.finished.connect(got["finished"].append)
    worker.failed.connect(lambda msg, det: got["failed"].append((msg, det)))
    worker.paused_changed.connect(got["paused"].append)
    return got


def test_run_to_the_end_with_live_signals(qtbot, tiny, tmp_path):
    cfg, graph = tiny
    ctl = TrainingController()
    worker = TrainingWorker(graph.to_config(), cfg, TrainConfig(epochs=2, batch_size=64, metrics_interval=0.0), str(tmp_path / "run"))
    got = _collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        ctl.start(worker)
    assert ctl.shutdown() and ctl.thread is None
    assert got["failed"] == []
    assert got["started"][0]["epochs"] == 2 and got["started"][0]["device"] == "cpu"
    assert [e["epoch"] for e in got["epochs"]] == [1, 2]
    assert all("val_accuracy" in e for e in got["epochs"])
    assert got["batches"] and all(isinstance(b["loss"], float) for b in got["batches"] if "loss" in b)
    snap_epochs = [e for e, _ in got["maps"]]
    assert snap_epochs[:3] == [0, 1, 2]  # a snapshot before training and after each epoch
    maps = got["maps"][-1][1]
    assert maps["conv_1_1"].shape == (10, 14, 14)
    assert got["finished"][0]["stop_reason"] == "finished"
    assert (tmp_path / "run" / "summary.json").exists()


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities are read through os.getpriority (POSIX)")
def test_the_training_thread_runs_at_the_normal_priority(qtbot, tiny, tmp_path):
    """Not niced: a lower-priority training thread loses to any other busy process (beside one
    CPU-bound process on 2 cores the app trained at 0.41x the command line's speed)."""
    from PySide6.QtCore import Qt

    cfg, graph = tiny
    ctl = TrainingController()
    worker = TrainingWorker(graph.to_config(), cfg, TrainConfig(epochs=1, batch_size=64, metrics_interval=0.0), str(tmp_path / "run"))
    seen = []  # (thread id, niceness) as the training thread sees them
    worker.runner.started.connect(
        lambda _info: seen.append((threading.get_ident(), os.getpriority(os.PRIO_PROCESS, 0))), Qt.ConnectionType.DirectConnection
    )
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        ctl.start(worker)
    assert ctl.shutdown()
    assert len(seen) == 1 and seen[0][0] != threading.get_ident()  # it ran in the training thread
    assert seen[0][1] == os.getpriority(os.PRIO_PROCESS, 0)


def test_pause_resume_and_stop_from_the_gui_thread(qtbot, tiny, tmp_path):
    cfg, graph = tiny
    ctl = TrainingController()
    worker = TrainingWorker(graph.to_config(), cfg, TrainConfig(epochs=50, batch_size=32, metrics_interval=0.0), str(tmp_path / "run"))
    got = _collect(worker)
    with qtbot.waitSignal(worker.batch_done, timeout=120_000):
        ctl.start(worker)
    with qtbot.waitSignal(worker.paused_changed, timeout=10_000):
        worker.request_pause()
    steps = worker.trainer.state.global_step
    qtbot.wait(300)
    assert worker.trainer.state.global_step <= steps + 1  # paused within one batch
    with qtbot.waitSignal(worker.paused_changed, timeout=10_000):
        worker.request_resume()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        ctl.stop()
    assert got["paused"] == [True, False]
    assert got["finished"][0]["stop_reason"] == "stopped_by_user"
    assert ctl.shutdown() and ctl.thread is None


def test_an_error_in_training_becomes_a_signal(qtbot, tiny, tmp_path):
    cfg, _ = tiny
    wrong = templates.build("tinyvgg", (3, 16, 16), 3)  # class count does not match the data
    ctl = TrainingController()
    worker = TrainingWorker(wrong.to_config(), cfg, TrainConfig(epochs=1), str(tmp_path / "run"))
    got = _collect(worker)
    with qtbot.waitSignal(worker.failed, timeout=120_000):
        ctl.start(worker)
    msg, details = got["failed"][0]
    assert "classes" in msg and "Traceback" in details
    assert ctl.shutdown() and ctl.thread is None


def test_training_thread_keeps_its_torch_threads_when_a_helper_goes_single_threaded(qtbot, tiny, tmp_path, monkeypatch):
    """torch sets a thread's OpenMP count lazily, from the count last set by *any* thread: a helper
    thread going single-threaded while the run loads its data must not leave the run with 1 thread."""
    import threading

    import torch
    from PySide6.QtCore import Qt

    from cnn_studio.app.training.worker import own_torch_threads, single_threaded_torch

    import cnn_studio.app.training.worker as worker_module

    worker_module.prepare_torch()
    monkeypatch.setattr(worker_module, "_TRAIN_THREADS", 2)  # as on a 2-core machine, whatever this one has
    import cnn_studio.data as data_module

    cfg, graph = tiny
    seen = {}
    real_load = data_module.load_dataset

    def load_while_a_helper_goes_single_threaded(*args, **kwargs):
        # in the training thread, before its first torch op: another thread goes single-threaded
        t = threading.Thread(target=lambda: seen.setdefault("helper", (single_threaded_torch(), torch.get_num_threads())[1]))
        t.start()
        t.join()
        return real_load(*args, **kwargs)

    monkeypatch.setattr(data_module, "load_dataset", load_while_a_helper_goes_single_threaded)
    ctl = TrainingController()
    worker = TrainingWorker(graph.to_config(), cfg, TrainConfig(epochs=1, batch_size=64, metrics_interval=0.0), str(tmp_path / "run"))  # threads: the app default
    worker.runner.started.connect(lambda *_: seen.setdefault("training", torch.get_num_threads()), Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        ctl.start(worker)
    assert ctl.shutdown()
    assert seen["helper"] == 1
    assert seen["training"] == 2

    # and the helper itself, directly: reading first makes the count final
    out = []
    go, done = threading.Event(), threading.Event()

    def run():
        own_torch_threads(2)
        go.set()
        done.wait(10)
        out.append(torch.get_num_threads())

    t = threading.Thread(target=run)
    t.start()
    go.wait(10)
    single_threaded_torch()
    torch.set_num_threads(1)
    done.set()
    t.join()
    assert out == [2]


def test_long_lived_objects_are_frozen_out_of_the_collector():
    """A full collection over everything the app loaded held the GIL ~130 ms mid-run; once frozen,
    those objects are skipped (and a collection still finds new cyclic garbage)."""
    import gc
    import weakref

    from cnn_studio.app.training.worker import freeze_long_lived_objects

    long_lived = [object()]  # a tracked container alive at the freeze
    freeze_long_lived_objects()
    frozen = gc.get_freeze_count()
    assert frozen > 1000

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after the freeze
    ref = weakref.ref(a)
    del a, b
    gc.collect()
    assert ref() is None
    # the collection left the frozen objects where they were: in no generation it walks. (The freeze
    # count itself is no witness: a frozen object that another thread of an earlier test drops by
    # refcount leaves the permanent generation; CI once saw 1,038,306 become 1,038,304.)
    assert not any(o is long_lived for o in gc.get_objects())
    assert gc.get_freeze_count() > 0.99 * frozen


def test_a_run_shortens_the_gil_switch_interval_and_restores_it(qtbot, tiny, tmp_path):
    import sys

    from cnn_studio.app.training.worker import RUN_SWITCH_INTERVAL_S

    cfg, graph = tiny
    before = sys.getswitchinterval()
    ctl = TrainingController()
    worker = TrainingWorker(graph.to_config(), cfg, TrainConfig(epochs=1, batch_size=64, metrics_interval=0.0), str(tmp_path / "run"))
    seen = []
    worker.started.connect(lambda *_: seen.append(sys.getswitchinterval()))
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        ctl.start(worker)
    assert seen == [pytest.approx(RUN_SWITCH_INTERVAL_S)]
    assert ctl.shutdown()
    assert sys.getswitchinterval() == pytest.approx(before)
