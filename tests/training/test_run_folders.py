"""Run folders: never lose a run. Each new run gets a folder of its own (created exclusively), a
folder holding a run is only written again by resuming it or on --overwrite, and a folder a trainer
is writing is locked."""
import threading

import pytest

from cnn_studio.training import Callback, TrainConfig, Trainer, TrainingError
from cnn_studio.training import rundir
from cnn_studio.training.rundir import RunDir, new_run_path

from training_helpers import tiny_graph


def cfg(**kw):
    # pinned to the settings these tests were written for (the defaults are the first run's: onecycle, best weights)
    base = dict(epochs=1, batch_size=32, lr=0.01, schedule="constant", restore_best_weights=False, device="cpu", seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_runs_started_in_the_same_second_get_distinct_new_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir.time, "strftime", lambda fmt: "20261202-010203")
    paths = [new_run_path("net", tmp_path) for _ in range(3)]
    assert [p.name for p in paths] == ["net-20261202-010203", "net-20261202-010203-2", "net-20261202-010203-3"]
    assert all(p.is_dir() and not any(p.iterdir()) for p in paths)  # created, empty


def test_a_folder_created_concurrently_is_not_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir.time, "strftime", lambda fmt: "20261202-010203")
    (tmp_path / "net-20261202-010203").mkdir()  # another process made it a moment ago
    start = threading.Barrier(8)
    got = []

    def worker():
        start.wait()
        got.append(new_run_path("net", tmp_path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 8 and tmp_path / "net-20261202-010203" not in got


def test_a_new_run_refuses_a_folder_that_holds_a_run(graph, bundle, tmp_path):
    run = tmp_path / "run"
    Trainer(graph, bundle, cfg(), run_dir=run).fit()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(TrainingError, match="holds a run already .*--resume.*--overwrite"):
        Trainer(graph, bundle, cfg(epochs=2), run_dir=run).fit()
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # nothing touched


def test_overwrite_replaces_only_the_old_runs_files(graph, bundle, tmp_path):
    run = tmp_path / "run"
    Trainer(graph, bundle, cfg(epochs=2), run_dir=run).fit()
    (run / "notes.txt").write_text("mine")
    s = Trainer(graph, bundle, cfg(epochs=1, lr=0.02), run_dir=run, overwrite=True).fit()
    assert s["epochs_completed"] == 1
    assert (run / "notes.txt").read_text() == "mine"
    assert len((run / "metrics.csv").read_text().split()) == 2  # header + the new run's one epoch


def test_an_empty_existing_folder_is_fine(graph, bundle, tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    assert Trainer(graph, bundle, cfg(), run_dir=run).fit()["stop_reason"] == "finished"


def test_a_folder_being_trained_is_locked(graph, bundle, tmp_path):
    run = tmp_path / "run"
    seen = {}

    class TryMeanwhile(Callback):
        def on_epoch_start(self, trainer):
            if seen:
                return
            assert RunDir(run).is_locked()
            for what, make in (("new", lambda: Trainer(graph, bundle, cfg(), run_dir=run, overwrite=True)),
                               ("resume", lambda: Trainer.from_run(run, epochs=5))):
                try:
                    make().fit()
                    seen[what] = "ran"
                except TrainingError as e:
                    seen[what] = str(e)

    Trainer(graph, bundle, cfg(epochs=2), run_dir=run, callbacks=[TryMeanwhile()]).fit()
    assert "being written by another training run" in seen["new"]
    assert "being trained now" in seen["resume"]
    assert not RunDir(run).is_locked()  # released when fit() ends
    assert Trainer.from_run(run, epochs=3, data=bundle).fit()["epochs_completed"] == 3

