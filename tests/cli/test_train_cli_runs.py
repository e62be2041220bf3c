"""`cnn-studio train` and run folders: --out never trains over a run, --overwrite replaces it, a full
disk is one line, and the banner names the network actually trained."""
import json

import pytest

from cnn_studio.cli import main

DATA = "shapes:train=120,test=30,size=16"
COMMON = ["--data", DATA, "--batch-size", "32", "--device", "cpu", "--seed", "1"]


@pytest.fixture
def finished_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "tinyvgg", *COMMON, "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    return run


def _files(run):
    return {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_out_naming_a_finished_run_is_refused_and_the_run_is_kept(finished_run, capsys):
    before = _files(finished_run)
    assert main(["train", "lenet5", *COMMON, "--epochs", "2", "--out", str(finished_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds a run already" in err
    assert f"--resume {finished_run}" in err and "--overwrite" in err
    assert _files(finished_run) == before


def test_overwrite_replaces_the_run(finished_run, capsys):
    assert main(["train", "lenet5", *COMMON, "--epochs", "2", "--out", str(finished_run), "--overwrite"]) == 0
    capsys.readouterr()
    summary = json.loads((finished_run / "summary.json").read_text())
    assert summary["epochs_completed"] == 2 and summary["name"] == "lenet5"


@pytest.mark.parametrize("argv, fragment", [
    (["train", "lenet5", "--overwrite"], "--overwrite needs --out"),
    (["train", "--resume", "x", "--overwrite"], "--overwrite applies to a new run"),
])
def test_overwrite_misuse_is_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1


def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_the_last_checkpoint(finished_run, capsys, monkeypatch):
    import torch

    from cnn_studio.training import checkpoint

    last = finished_run / "checkpoints" / "last.pt"
    before = last.read_bytes()

    def full_disk(obj, f, *a, **k):  # what torch raises when the disk fills mid-write
        f.write(b"PK\x03\x04partial")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file "
                           "data/3: file write failed")

    monkeypatch.setattr(torch, "save", full_disk)
    assert main(["train", "--resume", str(finished_run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cnn-studio: error: cannot write checkpoint") and "free disk space" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert last.read_bytes() == before
    assert not [p for p in last.parent.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert checkpoint.load_checkpoint(last)["progress"]["epoch"] == 1


def test_resume_banner_names_the_checkpoints_network_when_config_json_disagrees(finished_run, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "lenet5", *COMMON, "--epochs", "1", "--out", str(other)]) == 0
    capsys.readouterr()
    (finished_run / "config.json").write_bytes((other / "config.json").read_bytes())  # copied over by hand
    assert main(["train", "--resume", str(finished_run), "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    banner = next(line for line in err.splitlines() if line.startswith("training '"))
    assert banner.startswith("training 'tinyvgg'"), banner
    assert "config.json describes another network" in err
    config = json.loads((finished_run / "config.json").read_text())
    assert config["name"] == "tinyvgg" and config["graph"]["name"] == "tinyvgg"  # rewritten to match the weights


def test_evaluate_takes_class_names_from_the_checkpoint_when_config_json_disagrees(finished_run, capsys):
    config = json.loads((finished_run / "config.json").read_text())
    real = list(config["class_names"])
    config["class_names"] = [f"wrong{i}" for i in range(len(real))]
    (finished_run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(finished_run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["class_names"] == real
