"""cnn-studio train refuses, before any run folder is made, flags that would silently do nothing (QA items
8 and 9): --freeze with an empty list or a layer without weights, and --tensorboard pointing at a file."""
from cnn_studio.cli import main

BASE = ["--data", "shapes:train=60,test=20,size=16", "--epochs", "1", "--batch-size", "32", "--device", "cpu",
        "--threads", "1", "--layer-stats-every", "0"]


def test_freeze_of_a_weightless_layer_or_of_nothing_is_refused_by_name(tmp_path, capsys):
    for freeze, said in (("loss", "loss has no weights"), ("c1,flatten", "flatten has no weights"), ("", "no layer names"),
                         (" , ", "no layer names")):
        out = tmp_path / f"run_{len(said)}_{len(freeze)}"
        assert main(["train", "lenet5_relu", *BASE, "--out", str(out), "--freeze", freeze]) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (freeze, err)
        assert not out.exists()


def test_tensorboard_into_a_file_is_refused_before_training(tmp_path, capsys):
    a_file = tmp_path / "picture.png"
    a_file.write_bytes(b"not a folder")
    out = tmp_path / "run"
    assert main(["train", "lenet5_relu", *BASE, "--out", str(out), "--tensorboard", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert not out.exists()
