"""cnn-studio train --freeze with paths into blocks (INSTANCE/LAYER, as forward_capture names inner
nodes): the layer stays fixed in every instance of its shared definition (and the command says so),
the rest trains; an unknown inner path is refused by name, exit 2, no run folder."""
import torch

from block_graphs import tiny_resnet
from cnn_studio.cli import main
from cnn_studio.core.project import save_project

BASE = ["--data", "shapes:train=120,test=30,size=16", "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--threads", "1",
        "--layer-stats-every", "0"]


def test_freeze_an_inner_path_from_the_command_line(tmp_path, capsys):
    project = save_project(tiny_resnet(size=16, classes=10), tmp_path / "net.cnnstudio")
    init, run = tmp_path / "init", tmp_path / "run"
    assert main(["train", str(project), *BASE, "--out", str(init)]) == 0
    capsys.readouterr()
    assert main(["train", str(project), *BASE, "--out", str(run), "--init-from", str(init), "--freeze", "layer1/1/conv2"]) == 0
    err = capsys.readouterr().err
    assert "layer 'conv2' of block 'Basic4' is frozen in every instance of it: layer1/0/conv2, layer1/1/conv2" in err
    before = torch.load(init / "checkpoints" / "best.pt", weights_only=True)["model"]
    after = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert torch.equal(before["layer1.0.conv2.weight"], after["layer1.0.conv2.weight"])
    assert torch.equal(before["layer1.1.conv2.weight"], after["layer1.1.conv2.weight"])
    assert not torch.equal(before["layer1.1.conv1.weight"], after["layer1.1.conv1.weight"])
    assert main(["train", str(project), *BASE, "--out", str(tmp_path / "bad"), "--freeze", "layer1/1/conv7"]) == 2
    err = capsys.readouterr().err
    assert "'layer1/1/conv7' (block 'Basic4' at layer1/1 has no layer 'conv7'" in err and not (tmp_path / "bad").exists()
