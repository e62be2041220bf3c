"""cnn-studio train --init-from: a new run from a run folder's weights, a misfit is one clear error
(exit 2, the key list), and --resume refuses it (a resumed run keeps its own weights)."""
import json

import torch

from cnn_studio.cli import main

DATA = "shapes:train=120,test=30,size=16"
BASE = ["--data", DATA, "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--threads", "1"]


def test_init_from_a_run_folder_and_refusals(tmp_path, capsys):
    src, new = tmp_path / "src", tmp_path / "new"
    assert main(["train", "lenet5", *BASE, "--out", str(src)]) == 0
    capsys.readouterr()
    assert main(["train", "lenet5", *BASE, "--out", str(new), "--init-from", str(src)]) == 0
    capsys.readouterr()
    config = json.loads((new / "config.json").read_text())
    assert config["train"]["init_from"] == str(src)
    summary = json.loads((new / "summary.json").read_text())
    assert any("initialised from" in n for n in summary["notes"])
    # a state_dict for another network: exit 2, the mismatches named, no run folder left behind
    bad = tmp_path / "bad.pt"
    state = torch.load(src / "checkpoints" / "best.pt", weights_only=True)["model"]
    state["extra.weight"] = torch.zeros(3)
    torch.save(state, bad)
    assert main(["train", "lenet5", *BASE, "--out", str(tmp_path / "x"), "--init-from", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "do not fit" in err and "1 unexpected (extra.weight)" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
    assert main(["train", "--resume", str(new), "--epochs", "2", "--init-from", str(src)]) == 2
    assert "--init-from cannot change when resuming" in capsys.readouterr().err
