"""cnn-studio train --tensorboard: a tiny run writes event files that TensorBoard's own
EventAccumulator reads back with the expected scalar tags, step counts, histograms and graph; a
resumed run continues the same curves; DIR holds one folder per run; without the package one line."""
import json
import sys

import pytest

from cnn_studio.cli import main

pytest.importorskip("tensorboard", reason="the TensorBoard tests need the tensorboard package (pip install -e '.[test]')")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

DATA = "shapes:train=120,test=0,size=16"
ARGS = ["--data", DATA, "--batch-size", "32", "--device", "cpu", "--layer-stats-every", "0", "--threads", "1"]


def read_events(path):
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def steps(acc, tag):
    return [e.step for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    run = tmp_path_factory.mktemp("tb") / "run"
    rc = main(["train", "lenet5", *ARGS, "--epochs", "2", "--out", str(run), "--tensorboard"])
    assert rc == 0
    return run


def test_a_tiny_run_writes_scalars_histograms_and_the_graph(two_epochs):
    acc = read_events(two_epochs / "tensorboard")
    tags = acc.Tags()
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert steps(acc, f"epoch/{key}") == [1, 2], key
    import csv

    rows = list(csv.DictReader((two_epochs / "metrics.csv").open()))
    assert [e.value for e in acc.Scalars("epoch/train_loss")] == pytest.approx([float(r["train_loss"]) for r in rows], rel=1e-6)
    assert [e.value for e in acc.Scalars("epoch/val_accuracy")] == pytest.approx([float(r["val_accuracy"]) for r in rows], rel=1e-6)
    # per synced batch at the global step; an epoch's first and last batches are always synced
    total = json.loads((two_epochs / "summary.json").read_text())["global_step"]
    batch_steps = steps(acc, "batch/train_loss")
    assert batch_steps == sorted(set(batch_steps)) and batch_steps[0] == 1 and batch_steps[-1] == total
    assert total // 2 in batch_steps and total // 2 + 1 in batch_steps  # end of epoch 1, start of epoch 2
    assert steps(acc, "batch/lr") == steps(acc, "batch/batch_loss") == batch_steps
    # one weight and one gradient histogram per layer parameter and epoch, in node.param names
    layers = ["c1", "c3", "c5", "f6", "output"]
    for kind in ("weights", "gradients"):
        for nid in layers:
            for p in ("weight", "bias"):
                tag = f"{kind}/{nid}.{p}"
                assert tag in tags["histograms"], tag
                assert [e.step for e in acc.Histograms(tag)] == [1, 2]
    w = acc.Histograms("weights/c1.weight")[-1].histogram_value
    assert w.num == 6 * 3 * 5 * 5  # every weight of c1 (6 filters, 3 channels, 5x5) counted
    assert tags["graph"] is True


def test_resume_continues_the_same_curves(two_epochs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(two_epochs, run)
    rc = main(["train", "--resume", str(run), "--epochs", "3", "--tensorboard", "--device", "cpu"])
    assert rc == 0
    acc = read_events(run / "tensorboard")
    assert steps(acc, "epoch/train_loss") == [1, 2, 3]  # appended, no step written twice
    b = steps(acc, "batch/train_loss")
    assert b == sorted(set(b)) and [e.step for e in acc.Histograms("weights/c1.weight")] == [1, 2, 3]


def test_dir_holds_one_folder_per_run_and_overwrite_replaces_the_events(tmp_path):
    logs = tmp_path / "logs"
    run = tmp_path / "myrun"
    assert main(["train", "lenet5", *ARGS, "--epochs", "1", "--out", str(run), "--tensorboard", str(logs)]) == 0
    assert not (run / "tensorboard").exists()
    assert steps(read_events(logs / "myrun"), "epoch/train_loss") == [1]
    first = sorted(p.name for p in (logs / "myrun").iterdir())
    assert main(["train", "lenet5", *ARGS, "--epochs", "2", "--out", str(run), "--overwrite", "--tensorboard", str(logs)]) == 0
    files = sorted(p.name for p in (logs / "myrun").iterdir())
    assert len(files) == 1 and files != first  # the previous run's events are gone
    assert steps(read_events(logs / "myrun"), "epoch/train_loss") == [1, 2]


def test_without_tensorboard_one_line_and_no_run_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises ImportError
    run = tmp_path / "run"
    rc = main(["train", "lenet5", *ARGS, "--epochs", "1", "--out", str(run), "--tensorboard"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and not run.exists()
    assert err == "cnn-studio: error: --tensorboard needs the tensorboard package; install it: pip install 'cnn-studio[tensorboard]' (or pip install tensorboard)"


def test_tensorboard_before_the_model_is_said(tmp_path, capsys):
    rc = main(["train", "--tensorboard", "lenet5", *ARGS, "--epochs", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "--tensorboard took 'lenet5' as its folder" in err and "put --tensorboard after the model" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "lenet5").exists()


def test_a_network_that_does_not_trace_still_gets_its_curves(tmp_path, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    def refuse(self, *a, **k):
        raise RuntimeError("cannot trace")

    monkeypatch.setattr(SummaryWriter, "add_graph", refuse)
    run = tmp_path / "run"
    assert main(["train", "lenet5", *ARGS, "--epochs", "1", "--out", str(run), "--tensorboard"]) == 0
    acc = read_events(run / "tensorboard")
    assert steps(acc, "epoch/val_loss") == [1] and acc.Tags()["graph"] is False
    notes = json.loads((run / "summary.json").read_text()).get("notes") or []
    assert any("could not be traced" in n for n in notes)
