"""Guards at the start and in the files of a run: batch size 1 with a batch norm that sees one value
per channel is refused by name before any step (torch raised mid-epoch), run folders carry their
format so a newer one is recognised, and --layer-stats-every sets (or switches off) the recorder."""
import json

import pytest

from cnn_studio.cli import main
from cnn_studio.core.graph import Graph, chain
from cnn_studio.core.runs import RUN_FORMAT, read_run
from cnn_studio.training import TrainConfig, Trainer, TrainingError

from training_helpers import TINY, tiny_graph


def _bn_on_one_value(shape, classes):
    c, h, w = shape
    g = Graph("bn1")
    chain(g, [
        ("input", {"channels": c, "height": h, "width": w}, "input"),
        ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv"),
        ("adaptive_avgpool2d", {"output_size": 1}, "gap"),
        ("batchnorm2d", {}, "bn"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": classes}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


def test_batch_size_one_with_a_single_value_batchnorm_is_refused_by_name(bundle, tmp_path):
    g = _bn_on_one_value(bundle.input_shape(), bundle.num_classes)
    cfg = TrainConfig(epochs=1, batch_size=1, device="cpu", num_threads=1, schedule="constant")
    with pytest.raises(TrainingError, match="batch size 1 cannot train 'bn'.*batch size of 2 or more"):
        Trainer(g, bundle, cfg, run_dir=tmp_path / "run").fit()
    # the same network trains at batch size 2
    cfg2 = TrainConfig(epochs=1, batch_size=8, device="cpu", num_threads=1, schedule="constant")
    assert Trainer(g, bundle, cfg2, run_dir=tmp_path / "run2").fit()["stop_reason"] == "finished"


def test_run_files_carry_their_format_and_a_newer_one_is_recognised(bundle, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle,
            TrainConfig(epochs=1, batch_size=32, device="cpu", num_threads=1, schedule="constant"), run_dir=run).fit()
    for name in ("config.json", "summary.json"):
        assert json.loads((run / name).read_text())["run_format"] == RUN_FORMAT
    assert read_run(run).status == "finished"
    cfg = json.loads((run / "config.json").read_text())
    cfg["run_format"] = RUN_FORMAT + 1
    (run / "config.json").write_text(json.dumps(cfg))
    assert read_run(run).status.startswith("newer version")


@pytest.mark.parametrize("every", [0, 5])
def test_layer_stats_every_flag(tmp_path, every, capsys):
    out = tmp_path / "run"
    assert main(["train", "lenet5", "--data", "shapes:train=120,test=0,size=16", "--epochs", "1", "--threads", "1",
                 "--out", str(out), "--layer-stats-every", str(every)]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["layer_stats_every"] == every
    assert (out / "layer_stats.npz").exists() == (every > 0)
    capsys.readouterr()
    assert main(["train", "lenet5", "--layer-stats-every", "-1"]) == 2
    assert "--layer-stats-every" in capsys.readouterr().err
