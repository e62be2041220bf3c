import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cnn_studio import save_project, templates
from cnn_studio.cli import main
from cnn_studio.cli_train import parse_data_spec

DATA = "shapes:train=240,test=60,size=16"


def _classes():
    from cnn_studio.data import DataConfig, load_dataset

    b = load_dataset(DataConfig(source="shapes", shapes_train=240, shapes_test=60, height=16, width=16))
    return b.num_classes, b.channels


def test_train_a_template_on_tiny_shapes(tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["train", "lenet5", "--data", DATA, "--epochs", "2", "--batch-size", "32", "--lr", "0.003",
               "--out", str(run), "--device", "cpu", "--seed", "1"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == "finished" and summary["epochs_completed"] == 2
    assert 0 <= summary["test_accuracy"] <= 1 and 0 <= summary["best_val_accuracy"] <= 1
    assert summary["final_val_accuracy"] is not None
    config = json.loads((run / "config.json").read_text())
    classes, channels = _classes()
    assert config["input_shape"] == [channels, 16, 16]  # the template took the data's shape...
    fc = next(n for n in config["graph"]["nodes"] if n["id"] == "output")
    assert fc["config"]["out_features"] == classes  # ...and its class count
    assert config["train"]["lr"] == 0.003 and config["train"]["seed"] == 1 and config["data"]["shapes_train"] == 240
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "checkpoints" / "best.pt").is_file()
    assert "finished after 2 of 2 epochs" in out and f"run folder:         {run}" in out and "test accuracy" in out
    epoch_lines = [l for l in err.splitlines() if l.startswith("epoch ") and "val_loss" in l]
    assert [l.split()[1] for l in epoch_lines] == ["1/2", "2/2"]  # not a TTY: one plain line per epoch
    assert "\r" not in err


def test_project_file_data_is_converted_to_its_input_shape(tmp_path, capsys):
    classes, _ = _classes()
    proj = save_project(templates.build("tinyvgg", (1, 20, 20), classes), tmp_path / "net.cnnstudio")
    run = tmp_path / "run"
    rc = main(["train", str(proj), "--data", "shapes:train=120,test=0,size=16", "--epochs", "1", "--out", str(run),
               "--optimizer", "sgd", "--lr", "0.05", "--schedule", "cosine", "--augment", "hflip"])
    assert rc == 0, capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    assert config["input_shape"] == [1, 20, 20]
    assert config["data"]["augment"]["hflip"] is True
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_accuracy"] is None  # no test split


def test_resume_refuses_changed_settings_and_missing_folder(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--lr", "0.1"]) == 2
    assert "--lr cannot change when resuming" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["train", "missing.cnnstudio"], "neither a template"),
        (["train", "lenet5", "--data", "/no/such/data/folder"], "/no/such/data/folder"),
        (["train", "lenet5", "--lr", "abc"], "--lr must be a number"),
        (["train", "lenet5", "--lr", "-1"], "--lr must be a positive number"),
        (["train", "lenet5", "--epochs", "0"], "--epochs must be at least 1"),
        (["train", "lenet5", "--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
        (["train", "lenet5", "--data", "shapes:trian=5"], "unknown data option 'trian=5'"),
        (["train", "lenet5", "--data", DATA, "--augment", "wobble"], "unknown augmentation 'wobble'"),
        (["train", "lenet5", "--data", DATA, "--device", "tpu"], "unknown device"),
        (["train", "lenet5", "--resume", "somewhere"], "not both"),
        (["train"], "MODEL"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert fragment in err[0] and "Traceback" not in err[0]


def test_project_whose_class_count_cannot_be_refitted_is_a_clear_error(tmp_path, capsys):
    # another class count is refitted (tests/cli/test_cli_refit_block.py) when a Fully connected layer
    # feeds the loss; a convolution there cannot be: one line, exit 2, no run folder
    from cnn_studio.core.graph import Graph, chain

    classes, channels = _classes()
    g = Graph("conv head")
    chain(g, [("input", {"channels": channels, "height": 16, "width": 16}, "input"),
              ("conv2d", {"out_channels": classes + 2, "kernel_size": 16}, "c"), ("flatten", {}, "flat"), ("cross_entropy", {}, "loss")])
    proj = save_project(g, tmp_path / "net.cnnstudio")
    assert main(["train", str(proj), "--data", DATA, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot be fitted to the data's {classes} classes" in err[0] and "not fed by a Fully connected layer" in err[0]
    assert not (tmp_path / "run").exists()


def test_data_spec_parsing(tmp_path):
    assert parse_data_spec("shapes") == ("shapes", {})
    assert parse_data_spec("shapes:train=512,test=128,size=16") == ("shapes", {"shapes_train": 512, "shapes_test": 128, "height": 16, "width": 16})
    assert parse_data_spec("digits.npz:channels=1,height=28,width=30") == ("digits.npz", {"channels": 1, "height": 28, "width": 30})
    weird = tmp_path / "a:b=1"
    weird.mkdir()
    assert parse_data_spec(str(weird)) == (str(weird), {})  # an existing path wins
    assert parse_data_spec("C:\\data") == ("C:\\data", {})


def test_ctrl_c_stops_cleanly_then_resume_continues(tmp_path, capsys):
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "cnn_studio", "train", "lenet5", "--data", "shapes:train=400,test=40,size=16", "--epochs", "40",
           "--batch-size", "16", "--out", str(run), "--device", "cpu"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    deadline = time.time() + 90
    try:
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("epoch 1/40"):
                proc.send_signal(signal.SIGINT)
                break
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(lines) + rest
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"cnn-studio train --resume {run}" in err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == "stopped_by_user"
    done = summary["epochs_completed"]
    assert 1 <= done < 40
    assert (run / "checkpoints" / "last.pt").is_file()
    # continue the same run up to one more epoch in total
    assert main(["train", "--resume", str(run), "--epochs", str(done + 1)]) == 0, capsys.readouterr().err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == "finished" and summary["epochs_completed"] == done + 1
    with open(run / "metrics.csv") as f:
        assert len(f.read().strip().splitlines()) == 1 + done + 1


def test_progress_line_refreshes_in_place_on_a_terminal():
    import io
    from types import SimpleNamespace

    from cnn_studio.cli_train import _progress_callback

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    cb = _progress_callback(stream)
    trainer = SimpleNamespace(state=SimpleNamespace(epochs=3, batches_per_epoch=10, notes=[], eta_s=12.0, epoch=0))
    m = {"epoch": 1, "batch": 10, "synced": True, "loss": 0.5, "accuracy": 0.25, "samples_per_sec": 1234.0, "eta_s": 75.0}
    cb.on_batch_end(trainer, m)
    cb.on_batch_end(trainer, {"epoch": 1, "batch": 4, "synced": False})
    text = stream.getvalue()
    assert text.startswith("\r") and "\n" not in text
    assert "epoch 1/3" in text and "batch 10/10" in text and "loss 0.5000" in text and "acc 25.00%" in text
    assert "1234 samples/s" in text and "ETA 1:15" in text
    cb.on_epoch_end(trainer, {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.25, "val_loss": 0.4, "val_accuracy": 0.5,
                              "lr": 0.001, "seconds": 2.0, "samples_per_sec": 1000.0})
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("epoch 1/3  loss 0.5000") and last.endswith("\n") and "val_acc 50.00%" in last


def test_progress_lines_every_few_seconds_when_not_a_terminal():
    """Logs and CI: a plain progress line once ``every_s`` has passed since the last line (at a
    metrics read-back), none in between, and the epoch line at the epoch's end."""
    import io
    from types import SimpleNamespace

    from cnn_studio.cli_train import _progress_callback

    t = [100.0]
    stream = io.StringIO()  # isatty() is False
    cb = _progress_callback(stream, every_s=5.0, clock=lambda: t[0])
    trainer = SimpleNamespace(state=SimpleNamespace(epochs=2, batches_per_epoch=1000, notes=[], eta_s=50.0, epoch=0))

    def batch(k, synced=True):
        m = {"epoch": 1, "batch": k, "synced": synced}
        if synced:
            m.update(loss=0.7, accuracy=0.5, samples_per_sec=321.0, eta_s=99.0)
        cb.on_batch_end(trainer, m)

    for k in range(1, 40):  # 0.125 s a batch: 4.875 s, no line yet
        t[0] += 0.125
        batch(k)
    assert stream.getvalue() == ""
    t[0] += 1.5
    batch(40, synced=False)  # not read back: nothing to show
    assert stream.getvalue() == ""
    batch(41)
    lines = stream.getvalue().splitlines()
    assert lines == ["epoch 1/2  batch 41/1000  loss 0.7000  acc 50.00%  321 samples/s  ETA 1:39"]
    for k in range(42, 100):  # 7.25 s more: one more line, 5 s after the first
        t[0] += 0.125
        batch(k)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "batch 81/1000" in lines[1] and "\r" not in stream.getvalue()
    cb.on_epoch_end(trainer, {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.25, "val_loss": 0.4, "val_accuracy": 0.5,
                              "lr": 0.001, "seconds": 2.0, "samples_per_sec": 1000.0})
    assert stream.getvalue().splitlines()[-1].startswith("epoch 1/2  loss 0.5000")


def test_train_prints_progress_within_an_epoch_to_a_pipe(tmp_path, capsys, monkeypatch):
    """The real command with stderr captured (not a terminal): batch lines come before the epoch's line."""
    from cnn_studio import cli_train

    monkeypatch.setattr(cli_train, "PLAIN_PROGRESS_EVERY_S", 0.0)  # a line at every read-back
    rc = main(["train", "lenet5", "--data", DATA, "--epochs", "1", "--batch-size", "32", "--out", str(tmp_path / "run"),
               "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 0, err
    lines = err.splitlines()
    batch_lines = [i for i, l in enumerate(lines) if l.startswith("epoch 1/1  batch ")]
    end = next(i for i, l in enumerate(lines) if l.startswith("epoch 1/1  loss "))
    assert batch_lines and max(batch_lines) < end and "\r" not in err


def _image_folder(root, sizes):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, cls in enumerate(("cat", "dog")):
        d = root / cls
        d.mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(d / f"{i}.png")
    return root


def test_template_takes_a_fixed_size_folder_shape_and_class_count(tmp_path, capsys):
    data = _image_folder(tmp_path / "imgs", [(18, 18)] * 6)
    run = tmp_path / "run"
    assert main(["train", "tinyvgg", "--data", str(data), "--epochs", "1", "--val-fraction", "0.25", "--out", str(run)]) == 0, \
        capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    assert config["input_shape"] == [1, 18, 18] and config["class_names"] == ["cat", "dog"]


def test_template_keeps_its_default_size_for_images_of_mixed_sizes(tmp_path, capsys):
    data = _image_folder(tmp_path / "imgs", [(10, 10), (10, 10), (14, 14), (14, 14), (12, 12), (10, 10)])
    run = tmp_path / "run"
    assert main(["train", "lenet5", "--data", str(data), "--epochs", "1", "--val-fraction", "0.25", "--out", str(run)]) == 0, \
        capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    assert config["input_shape"] == [1, 32, 32]  # lenet5's own 32x32, not the folder's most common 10x10


def test_the_console_says_what_the_speed_probe_does():
    """issue 14: the probe is shown in the progress text: once when it starts, each compile on its own
    line (it takes seconds to minutes), the timing rounds only on a terminal's refreshing line."""
    import io
    from types import SimpleNamespace

    from cnn_studio.cli_train import _progress_callback

    class Tty(io.StringIO):
        def isatty(self):
            return True

    trainer = SimpleNamespace(state=SimpleNamespace(notes=[]))
    timing = {"stage": "timing", "mode": "channels_last fp32", "round": 1, "rounds": 5, "modes": 2, "fraction": 0.3}
    compiling = {"stage": "compiling", "mode": "channels_last fp32 compiled", "expected_s": 40.2}
    for stream in (io.StringIO(), Tty()):
        cb = _progress_callback(stream)
        cb.on_speed_probe(trainer)
        cb.on_speed_progress(trainer, timing)
        cb.on_speed_probe(trainer)  # the compile warm-up announces itself again: said once
        cb.on_speed_progress(trainer, compiling)
        text = stream.getvalue()
        assert text.count("choosing the fastest way to run this network") == 1
        assert "Compiling the network for channels_last fp32 compiled (about 40 s expected)\n" in text
        assert ("timing channels_last fp32 (round 2 of 5, 2 modes left)" in text) == stream.isatty()
