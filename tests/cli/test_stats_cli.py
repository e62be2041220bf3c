"""`cnn-studio stats RUN [--json]`: the last epoch's layer statistics and flags of a tiny run."""
import json
import os
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

from training_helpers import TINY, tiny_graph

from cnn_studio.cli import main


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from cnn_studio.data import DataConfig, load_dataset

    with mock.patch.dict(os.environ, {"CNN_STUDIO_HOME": str(tmp_path_factory.mktemp("stats_home"))}):
        return load_dataset(DataConfig(**TINY))


def train(bundle, run_dir, dead=False, **kw):
    from cnn_studio.training import TrainConfig, Trainer

    cfg = dict(epochs=2, batch_size=32, lr=0.01, schedule="constant", device="cpu", seed=0, layer_stats_every=3)
    cfg.update(kw)
    t = Trainer(tiny_graph(tuple(bundle.input_shape()), bundle.num_classes), bundle, TrainConfig(**cfg), run_dir=run_dir)
    if dead:
        with torch.no_grad():
            t.model.conv.bias[:3] = -100.0  # half the ReLU channels never fire
    t.fit()
    return t


@pytest.fixture(scope="module")
def dead_run(bundle, tmp_path_factory):
    return train(bundle, tmp_path_factory.mktemp("stats_runs") / "dead", dead=True).run_dir.path


def run_cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_lists_every_layer_of_the_last_epoch_with_flags(dead_run, capsys):
    rc, out, err = run_cli(capsys, "stats", dead_run, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["epoch"] == 2
    layers = {r["node"]: r for r in d["layers"]}
    assert list(layers) == ["conv", "relu", "pool", "flatten", "fc"]  # network order
    assert layers["relu"]["dead_fraction"] == pytest.approx(0.5)
    assert layers["conv"]["weight_norm"] > 0 and layers["fc"]["grad_norm"] > 0
    assert "weight_norm" not in layers["relu"]  # no parameters
    conv_weights = 6 * 3 * 3 * 3
    assert sum(layers["conv"]["weight_hist"]) == conv_weights and len(layers["conv"]["grad_hist"]) == 32
    lo, hi = layers["conv"]["weight_range"]
    assert lo < hi
    assert [f["kind"] for f in layers["relu"]["flags"]] == ["dead"]
    assert [(f["node"], f["badge"]) for f in d["flags"]] == [("relu", "50% dead")]


def test_text_shows_the_table_and_what_helps(dead_run, capsys):
    rc, out, err = run_cli(capsys, "stats", dead_run)
    assert rc == 0, err
    lines = out.splitlines()
    assert "epoch 2" in lines[0]
    relu = next(line for line in lines if line.startswith("relu "))
    assert "50% dead" in relu
    assert any(line.startswith("relu: 50% dead:") and "Leaky ReLU" in line for line in lines)


def test_a_healthy_run_says_no_problems(bundle, tmp_path, capsys):
    run = train(bundle, tmp_path / "ok").run_dir.path
    rc, out, err = run_cli(capsys, "stats", run)
    assert rc == 0, err
    assert "no problems found" in out


def test_a_run_without_stats_gets_one_line_and_exit_2(bundle, tmp_path, capsys):
    run = train(bundle, tmp_path / "off", epochs=1, layer_stats_every=0).run_dir.path
    rc, out, err = run_cli(capsys, "stats", run)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "no layer statistics" in err and "layer_stats_every" in err


@pytest.mark.parametrize("content", [b"garbage", None])
def test_bad_folders_and_files_exit_2_with_one_line(tmp_path, capsys, content):
    target = tmp_path / "missing"
    if content is not None:
        target = tmp_path / "run"
        target.mkdir()
        (target / "layer_stats.npz").write_bytes(content)
    rc, out, err = run_cli(capsys, "stats", target)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert ("does not exist" in err) if content is None else ("cannot be read" in err)
    assert "Traceback" not in err


def test_an_existing_file_is_not_a_run_folder(tmp_path, capsys):
    proj = tmp_path / "hand.cnnstudio"
    proj.write_text("{}")
    assert main(["stats", str(proj)]) == 2
    err = capsys.readouterr().err
    assert "is not a run folder" in err and "does not exist" not in err and len(err.strip().splitlines()) == 1
