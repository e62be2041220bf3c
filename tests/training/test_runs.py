"""Runs as first-class objects (issue 12): listing real and broken run folders, run meta, delete,
compare. The listing is standard library only (core.runs) and never raises."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from training_helpers import tiny_graph

from cnn_studio.core import runs
from cnn_studio.core.runs_compare import compare_runs, network_diff, network_diff_lines
from cnn_studio.training import Callback, TrainConfig, Trainer
from cnn_studio.training.rundir import METRIC_COLUMNS, RunDir


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """Two real tiny runs made with the Trainer: a finished one, and one with another lr, one more
    conv channel count and a dropout layer, stopped after its first epoch."""
    from cnn_studio.data import DataConfig, load_dataset
    from training_helpers import TINY

    root = tmp_path_factory.mktemp("real_runs")
    home = tmp_path_factory.mktemp("real_runs_home")
    old = os.environ.get("CNN_STUDIO_HOME")
    os.environ["CNN_STUDIO_HOME"] = str(home)
    try:
        cfg = DataConfig(**TINY)
        b = load_dataset(cfg)
        shape = tuple(b.input_shape())
        a = Trainer(tiny_graph(shape, b.num_classes), cfg, TrainConfig(epochs=2, batch_size=32, device="cpu", lr=3e-3),
                    run_dir=root / "a").fit()
        g2 = tiny_graph(shape, b.num_classes, dropout=0.25, name="tiny_drop")
        g2.set_param("conv", "out_channels", 8)

        class StopAfterOne(Callback):
            def on_epoch_end(self, trainer, epoch_metrics):
                trainer.request_stop()

        t2 = Trainer(g2, cfg, TrainConfig(epochs=3, batch_size=32, device="cpu", lr=1e-3), run_dir=root / "b",
                     callbacks=[StopAfterOne()])
        t2.fit()
    finally:
        if old is None:
            os.environ.pop("CNN_STUDIO_HOME", None)
        else:
            os.environ["CNN_STUDIO_HOME"] = old
    return root, a, t2.summary


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_lists_real_runs_newest_first_with_their_facts(real_runs):
    root, a_summary, b_summary = real_runs
    runs.clear_cache()
    listed = runs.scan_runs([root])
    by = {r.folder: r for r in listed}
    assert set(by) == {"a", "b"}
    a, b = by["a"], by["b"]
    assert a.status == "finished" and a.stop_reason == "finished"
    assert a.epochs_done == 2 and a.epochs == 2 and a.optimizer == "adam" and a.lr == 3e-3 and a.batch_size == 32
    assert a.network == "tiny" and a.dataset == "shapes"
    assert a.params == 3 * 6 * 9 + 6 + 6 * 4 * 4 * 10 + 10  # conv + fc of tiny_graph on 3x16x16 (pool 4)
    assert a.best_val_accuracy == a_summary["best_val_accuracy"]
    assert a.test_accuracy == a_summary["test_accuracy"] and a.test_weights in ("best", "last")
    assert a.checkpoints == ["last", "best"] and a.can_resume
    assert b.status == "stopped" and b.epochs_done == 1 and b.network == "tiny_drop"
    assert [r.started for r in listed] == sorted([r.started for r in listed], reverse=True)
    json.dumps([r.to_dict() for r in listed])  # the CLI's --json


def test_listing_does_not_import_torch(tmp_path):
    code = ("import sys; from cnn_studio.core import runs, runs_compare; runs.scan_runs([sys.argv[1]]); "
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    (tmp_path / "r" / "checkpoints").mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_metric_columns_match_the_trainer_writer():
    assert runs.METRIC_COLUMNS == METRIC_COLUMNS


def _config(tmp_path, name="r", **extra):
    p = tmp_path / name
    p.mkdir()
    cfg = {"name": "n", "graph": tiny_graph((1, 8, 8), 3).to_config(), "train": {"optimizer": "sgd", "lr": 0.1, "batch_size": 8, "epochs": 3},
           "data": {"source": "/data/mnist"}, "created": "2026-01-02T03:04:05", **extra}
    (p / "config.json").write_text(json.dumps(cfg))
    return p


def test_broken_folders_get_a_status_never_an_exception(tmp_path):
    good = _config(tmp_path, "half")  # config only: half-written (no metrics, no summary)
    bad_json = tmp_path / "badjson"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{\"name\": ")
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_bytes(os.urandom(300) + b"\xff\xfe")
    not_obj = tmp_path / "list"
    not_obj.mkdir()
    (not_obj / "config.json").write_text("[1, 2]")
    future = _config(tmp_path, "future", run_format=99, cnn_studio_version="9.0")
    no_config = tmp_path / "noconfig"
    (no_config / "checkpoints").mkdir(parents=True)
    (no_config / "checkpoints" / "last.pt").write_bytes(b"x")
    bad_summary = _config(tmp_path, "badsummary")
    (bad_summary / "summary.json").write_text("")
    (bad_summary / "metrics.csv").write_bytes(b"epoch,val_accuracy\n1,0.5\n2,0.7\n3,0.")  # torn last row
    (tmp_path / "not_a_run").mkdir()
    (tmp_path / "a_file.txt").write_text("x")

    by = {r.folder: r for r in runs.scan_runs([tmp_path])}
    assert "not_a_run" not in by and "a_file.txt" not in by
    assert by["half"].status == "incomplete" and "summary" in by["half"].message and by["half"].epochs_done is None
    assert by["half"].optimizer == "sgd" and by["half"].dataset == "mnist"
    assert by["badjson"].status.startswith("corrupt: config.json is not valid JSON")
    assert by["garbage"].status.startswith("corrupt: config.json")
    assert by["list"].status == "corrupt: config.json does not hold a JSON object"
    assert by["future"].status == "newer version: update CNN Studio" and "9.0" in by["future"].message
    assert by["noconfig"].status == "incomplete" and by["noconfig"].message == "config.json is missing"
    assert by["noconfig"].checkpoints == ["last"]
    assert by["badsummary"].status.startswith("corrupt: summary.json is empty")
    assert by["badsummary"].best_val_accuracy == 0.7 and by["badsummary"].epochs_done == 2


def test_a_summary_of_an_error_is_failed_with_its_message(tmp_path):
    p = _config(tmp_path)
    (p / "summary.json").write_text(json.dumps({"stop_reason": "error", "error": "out of memory", "epochs_completed": 1}))
    r = runs.read_run(p)
    assert r.status == "failed" and r.message == "out of memory" and r.epochs_done == 1


def test_a_held_lock_shows_running_and_the_cache_sees_changes(tmp_path):
    p = _config(tmp_path)
    (p / "summary.json").write_text(json.dumps({"stop_reason": "finished"}))
    assert runs.read_run(p).status == "finished"
    rd = RunDir(p)
    assert rd.try_lock()
    try:
        assert runs.read_run(p).status == "running"
        assert runs.is_locked(p)
    finally:
        rd.unlock()
    assert runs.read_run(p).status == "finished"
    (p / "summary.json").write_text(json.dumps({"stop_reason": "stopped_by_user", "epochs_completed": 2}))
    os.utime(p / "summary.json", ns=(1, 1))  # another mtime even on a coarse clock
    r = runs.read_run(p)
    assert r.status == "stopped" and r.epochs_done == 2


def test_not_a_run_folder(tmp_path):
    assert runs.read_run(tmp_path / "missing").status == "corrupt: the folder does not exist"
    assert runs.read_run(tmp_path).status.startswith("corrupt: not a run folder")
    assert runs.scan_runs([tmp_path / "missing"]) == []


def test_default_folders_are_the_home_runs_and_the_project_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))
    assert runs.default_folders() == [tmp_path / "home" / "runs"]
    assert runs.default_folders(tmp_path / "proj" / "net.cnnstudio") == [tmp_path / "proj" / "net_runs", tmp_path / "home" / "runs"]
    (tmp_path / "home" / "runs").mkdir(parents=True)
    _config(tmp_path / "home" / "runs", "x")
    assert [r.folder for r in runs.scan_runs()] == ["x"]


_mutated = st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=20).map(
        lambda v: json.dumps(v).encode()),
)
_keys = ("name", "graph", "train", "data", "created", "run_format", "stop_reason", "epochs_completed", "best_val_accuracy",
         "test_accuracy", "train_seconds", "test_weights", "error", "star", "note")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=_mutated, summary=_mutated, metrics=st.binary(max_size=300), meta=_mutated,
       fields=st.dictionaries(st.sampled_from(_keys), st.recursive(
           st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=10), max_size=6))
def test_mutated_run_files_never_raise(tmp_path_factory, config, summary, metrics, meta, fields):
    p = tmp_path_factory.mktemp("mut")
    (p / "config.json").write_bytes(config)
    (p / "metrics.csv").write_bytes(metrics)
    (p / runs.META_FILE).write_bytes(meta)
    (p / "summary.json").write_bytes(json.dumps(fields).encode() if fields else summary)
    r = runs.read_run(p)
    assert r.state in runs.STATUSES
    json.dumps(r.to_dict())
    (p / "config.json").write_bytes(json.dumps({**fields, "graph": fields.get("graph", {"nodes": [{"id": 1}]})}).encode())
    r = runs.read_run(p)
    assert r.state in runs.STATUSES and isinstance(r.name, str) and isinstance(r.star, bool)
    compare_runs([r, r])


def test_read_metrics_skips_bad_rows(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,val_accuracy\n1,0.5,0.25\nx,1,2\n2,nan,\n3,1\n")
    rows = runs.read_metrics(tmp_path)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[0]["train_loss"] == 0.5 and rows[1]["train_loss"] is None and rows[1]["val_accuracy"] is None
    assert runs.read_metrics(tmp_path / "nothing") == []


def test_meta_round_trip_rename_note_star(tmp_path):
    p = _config(tmp_path, "run-1")
    assert runs.read_run(p).name == "run-1"
    runs.set_run_meta(p, name="  Best so far <b> ", note="lr 0.1 \"works\"\nsecond line", star=True)
    r = runs.read_run(p)
    assert (r.name, r.note, r.star) == ("Best so far <b>", "lr 0.1 \"works\"\nsecond line", True)
    runs.set_run_meta(p, star=False)  # the other fields are kept
    r = runs.read_run(p)
    assert (r.name, r.star) == ("Best so far <b>", False)
    runs.set_run_meta(p, name="")
    assert runs.read_run(p).name == "run-1"
    assert not [f for f in os.listdir(p) if ".tmp" in f]
    for bad in (dict(name=3), dict(name="a\nb"), dict(name="x" * 300), dict(star="yes"), dict(note=5)):
        with pytest.raises(runs.RunsError):
            runs.set_run_meta(p, **bad)
    with pytest.raises(runs.RunsError, match="not a run folder"):
        runs.set_run_meta(tmp_path, name="x")


def test_meta_of_a_corrupt_run_still_shows(tmp_path):
    p = tmp_path / "c"
    p.mkdir()
    (p / "config.json").write_text("{")
    runs.set_run_meta(p, name="broken one", star=True)
    r = runs.read_run(p)
    assert r.state == "corrupt" and r.name == "broken one" and r.star


def test_delete_only_a_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))
    p = _config(tmp_path, "gone")
    (p / "checkpoints").mkdir()
    (p / "checkpoints" / "last.pt").write_bytes(b"x")
    (p / "metrics.csv").write_text("epoch\n")
    (p / ".lock").touch()
    runs.delete_run(p)
    assert not p.exists()

    keep = _config(tmp_path, "keep")
    (keep / "my_notes.docx").write_text("precious")
    with pytest.raises(runs.RunsError, match="my_notes.docx"):
        runs.delete_run(keep)
    assert (keep / "my_notes.docx").exists()
    (keep / "sub").mkdir()
    (keep / "my_notes.docx").unlink()
    with pytest.raises(runs.RunsError, match="sub"):
        runs.delete_run(keep, allow_other_files=True)
    (keep / "sub").rmdir()
    (keep / "report.html").write_text("x")
    runs.delete_run(keep, allow_other_files=True)
    assert not keep.exists()

    with pytest.raises(runs.RunsError, match="not a run folder"):
        runs.delete_run(tmp_path)
    busy = _config(tmp_path, "busy")
    rd = RunDir(busy)
    assert rd.try_lock()
    try:
        with pytest.raises(runs.RunsError, match="being trained"):
            runs.delete_run(busy)
    finally:
        rd.unlock()
    assert busy.exists()
    link = tmp_path / "link"
    link.symlink_to(busy)
    with pytest.raises(runs.RunsError, match="link"):
        runs.delete_run(link)
    assert (busy / "config.json").exists()


def test_compare_marks_settings_results_and_network_differences(real_runs):
    root, _, _ = real_runs
    c = compare_runs([root / "a", root / "b"])
    rows = {r["key"]: r for r in c["settings"]}
    assert rows["train.lr"]["values"] == [3e-3, 1e-3] and rows["train.lr"]["differs"]
    assert rows["train.batch_size"]["values"] == [32, 32] and not rows["train.batch_size"]["differs"]
    assert rows["network"]["differs"] and rows["params"]["differs"]
    res = {r["key"]: r for r in c["results"]}
    assert res["status"]["values"] == ["finished", "stopped"] and res["status"]["differs"]
    assert c["networks"][0]["same"] and not c["networks"][1]["same"] and c["networks_differ"]
    diff = c["networks"][1]
    assert diff["added"] == [{"id": "drop", "type": "dropout"}] and diff["removed"] == []
    assert {"id": "conv", "type": "conv2d", "param": "out_channels", "a": 6, "b": 8} in diff["changed"]
    assert "pool:0 -> drop:0" in diff["edges_added"] and "pool:0 -> flatten:0" in diff["edges_removed"]
    assert "+ drop (dropout)" in network_diff_lines(diff)
    json.dumps(c)
    with pytest.raises(runs.RunsError, match="at least two"):
        compare_runs([root / "a"])
    with pytest.raises(runs.RunsError, match="not a run folder"):
        compare_runs([root / "a", root])


def test_network_diff_of_equal_networks_with_defaults_left_out():
    g = tiny_graph((3, 16, 16), 10).to_config()
    g2 = json.loads(json.dumps(g))
    for n in g2["nodes"]:
        if n["id"] == "conv":
            n["config"]["stride"] = 1  # the default, written out
    assert network_diff(g, g2)["same"]
    g2["nodes"][1]["type"] = "conv2d" if g2["nodes"][1]["type"] != "conv2d" else "relu"
    assert not network_diff(g, g2)["same"]


def test_metrics_growing_without_a_summary_or_lock_shows_running(tmp_path):
    p = _config(tmp_path)
    (p / "metrics.csv").write_text("epoch,val_accuracy\n1,0.5\n")
    assert runs.read_run(p).status == "incomplete"
    with open(p / "metrics.csv", "a") as f:
        f.write("2,0.6\n")
    r = runs.read_run(p)
    assert r.status == "running" and r.epochs_done == 2
    assert runs.read_run(p).status == "running"  # a warm re-list keeps it (no flicker between epochs)
    (p / "summary.json").write_text(json.dumps({"stop_reason": "finished"}))
    assert runs.read_run(p).status == "finished"
