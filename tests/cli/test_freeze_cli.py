"""cnn-studio train --init-from WEIGHTS --freeze NODE[,NODE...]: the key report is printed before the
run, frozen layers keep the loaded weights bit for bit, --init-partial leaves a classifier of another
shape at its initial values, and unknown node names are refused by name (exit 2, no run folder)."""
import json

import torch

from cnn_studio.cli import main

DATA = "shapes:train=120,test=30,size=16"
BASE = ["--data", DATA, "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--threads", "1", "--layer-stats-every", "0"]


def _weights(run, which="last"):
    return torch.load(run / "checkpoints" / f"{which}.pt", weights_only=True)["model"]


def test_freeze_with_init_from_keeps_the_frozen_weights_and_prints_the_report(tmp_path, capsys):
    src, new = tmp_path / "src", tmp_path / "new"
    assert main(["train", "lenet5", *BASE, "--out", str(src)]) == 0
    capsys.readouterr()
    assert main(["train", "lenet5", *BASE, "--out", str(new), "--init-from", str(src), "--freeze", "c1, c3"]) == 0
    out = capsys.readouterr().out
    assert "10 of 10 matched, 0 missing, 0 with another shape, 0 unused from the file" in out
    before, after = _weights(src, "best"), _weights(new)
    for key in ("c1.weight", "c1.bias", "c3.weight", "c3.bias"):
        assert torch.equal(before[key], after[key]), key
    assert not torch.equal(before["f6.weight"], after["f6.weight"])  # the rest trained
    nodes = {n["id"]: n for n in json.loads((new / "config.json").read_text())["graph"]["nodes"]}
    assert nodes["c1"].get("frozen") and nodes["c3"].get("frozen") and "frozen" not in nodes["c5"]


def test_init_partial_replaces_the_classifier_and_refusals(tmp_path, capsys):
    src = tmp_path / "src"
    assert main(["train", "lenet5", *BASE, "--out", str(src)]) == 0
    capsys.readouterr()
    state = _weights(src, "best")
    state["output.weight"], state["output.bias"] = state["output.weight"][:4].clone(), state["output.bias"][:4].clone()
    four = tmp_path / "four_classes.pt"
    torch.save(state, four)
    # strict: the report is printed, then the run is refused with the hint, and no folder is made
    assert main(["train", "lenet5", *BASE, "--out", str(tmp_path / "x"), "--init-from", str(four)]) == 2
    cap = capsys.readouterr()
    assert "output.weight: file 4x84, network 10x84" in cap.out and "--init-partial" in cap.err and "Traceback" not in cap.err
    assert not (tmp_path / "x").exists()
    new = tmp_path / "new"
    assert main(["train", "lenet5", *BASE, "--out", str(new), "--init-from", str(four), "--init-partial", "--freeze", "c1",
                 "--frozen-bn-train"]) == 0
    capsys.readouterr()
    train = json.loads((new / "config.json").read_text())["train"]
    assert train["init_partial"] is True and train["frozen_bn_eval"] is False
    assert torch.equal(_weights(new)["c1.weight"], state["c1.weight"])
    notes = json.loads((new / "summary.json").read_text())["notes"]
    assert any("left at their initial values: output.weight, output.bias" in n for n in notes)
    # unknown node names: all named at once, exit 2, nothing written
    assert main(["train", "lenet5", *BASE, "--out", str(tmp_path / "y"), "--freeze", "c1,conv9,zz"]) == 2
    err = capsys.readouterr().err
    assert "'conv9', 'zz'" in err and "its layers are: input, c1" in err and not (tmp_path / "y").exists()
    assert main(["train", "lenet5", *BASE, "--out", str(tmp_path / "z"), "--init-partial"]) == 2
    assert "--init-partial needs --init-from" in capsys.readouterr().err
    assert main(["train", "--resume", str(new), "--epochs", "2", "--freeze", "c3"]) == 2
    assert "--freeze cannot change when resuming" in capsys.readouterr().err
