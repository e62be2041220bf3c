"""`cnn-studio evaluate` and `cnn-studio featuremaps` on a tiny run folder."""
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app_inspect"))

from inspect_helpers import TINY_DATA, make_run

from cnn_studio.cli import main


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("cli_inspect_home")


@pytest.fixture(scope="module")
def bundle(home):
    from cnn_studio.data import DataConfig, load_dataset

    with mock.patch.dict(os.environ, {"CNN_STUDIO_HOME": str(home)}):
        return load_dataset(DataConfig(**TINY_DATA))


@pytest.fixture(scope="module")
def run(bundle, tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("cli_runs") / "tiny", bundle, dict(TINY_DATA))


@pytest.fixture(autouse=True)
def _same_home(home, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(home))  # the data cache is shared by the module's tests


def run_cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_evaluate_json(run, bundle, capsys):
    rc, out, err = run_cli(capsys, "evaluate", run, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert set(d) >= {"accuracy", "per_class", "confusion_matrix", "split", "samples"}
    assert d["split"] == "test"  # the data has a test split
    n = len(bundle.test.y)
    cm = np.asarray(d["confusion_matrix"])
    assert d["samples"] == n == cm.sum() and cm.shape == (10, 10)
    assert d["accuracy"] == pytest.approx(np.trace(cm) / n)
    support = [c["support"] for c in d["per_class"]]
    assert cm.sum(axis=1).tolist() == support == np.bincount(bundle.test.y.numpy(), minlength=10).tolist()
    assert [c["class"] for c in d["per_class"]] == list(bundle.class_names)
    for i, c in enumerate(d["per_class"]):
        assert set(c) == {"class", "precision", "recall", "accuracy", "f1", "support"}
        col = cm[:, i].sum()
        assert c["precision"] == pytest.approx(cm[i, i] / col if col else 0.0)
        assert c["recall"] == pytest.approx(cm[i, i] / cm[i].sum() if cm[i].sum() else 0.0)


def test_evaluate_val_split_and_text_report(run, bundle, capsys):
    rc, out, err = run_cli(capsys, "evaluate", run, "--split", "val", "--json")
    assert rc == 0 and json.loads(out)["samples"] == len(bundle.val.y) and json.loads(out)["split"] == "val"
    rc, out, err = run_cli(capsys, "evaluate", run)
    assert rc == 0
    assert "accuracy:" in out and "confusion matrix (rows: true class" in out
    assert "circle" in out and f"{len(bundle.test.y):,} samples" in out


def test_evaluate_on_other_data(run, capsys):
    rc, out, err = run_cli(capsys, "evaluate", run, "--data", "shapes:train=40,test=0,size=24", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["split"] == "all" and d["samples"] == 40  # no test split: all of it, resized to 16x16


def test_featuremaps_bare_png_size_matches_the_grid(run, tmp_path, capsys, bundle):
    from PIL import Image

    from cnn_studio.inspection.tiles import GridGeometry
    from cnn_studio.inspection import channel_grid

    out_png = tmp_path / "conv1.png"
    rc, out, err = run_cli(capsys, "featuremaps", run, "--layer", "conv1", "--sample", 3, "-o", out_png, "--bare")
    assert rc == 0, err
    g = GridGeometry.for_maps((16, 16, 16))
    im = Image.open(out_png)
    assert im.size == (g.width, g.height) == (197, 197)
    assert "conv1 (16x16x16)" in out and "16 tiles" in out
    # the pixels are the channel grid of the real maps of validation sample 3
    from cnn_studio.inspection.model import InspectModel

    m = InspectModel.from_run(run, load_data=False)
    maps = m.feature_maps(bundle.val.x[3], "conv1")
    np.testing.assert_array_equal(np.asarray(im.convert("RGB")), channel_grid(maps))
    rc, out, err = run_cli(capsys, "featuremaps", run, "--layer", "conv2", "--split", "test", "--sample", 0,
                           "-o", tmp_path / "c2.png", "--cmap", "gray", "--shared-scale", "--bare")
    assert rc == 0 and Image.open(tmp_path / "c2.png").size == (GridGeometry.for_maps((8, 6, 6)).width,) * 2


def test_featuremaps_figure_has_a_title_the_input_and_numbered_readable_tiles(run, tmp_path, capsys, bundle):
    """The default PNG: a title band with text, the input image, every channel's tile (the real
    maps, upscaled to a readable size) with its number above it."""
    from PIL import Image

    from cnn_studio.inspection.figure import BACKGROUND, MIN_TILE_PX, figure_layout, map_tiles
    from cnn_studio.inspection.model import InspectModel

    out_png = tmp_path / "fig.png"
    rc, out, err = run_cli(capsys, "featuremaps", run, "--layer", "conv1", "--sample", 3, "-o", out_png)
    assert rc == 0, err
    im = np.asarray(Image.open(out_png).convert("RGB"))
    m = InspectModel.from_run(run, load_data=False)
    x = bundle.val.x[3]
    maps = m.feature_maps(x, "conv1")  # 16 channels of 16x16
    # the layout the figure used (its width follows the title's text width; the rest does not)
    lay = figure_layout(maps.shape, (16, 16), title_lines=2, min_width=im.shape[1] - 24)
    assert (lay.width, lay.height) == (im.shape[1], im.shape[0])
    assert len(lay.tiles) == 16 and lay.upscale * 16 >= MIN_TILE_PX  # tiles of 64 px, not 16
    bg = np.array(BACKGROUND, np.uint8)

    def inked(box):  # share of pixels in a box that are not background
        x0, y0, x1, y1 = box
        return float((im[y0:y1, x0:x1] != bg).any(axis=2).mean())

    tx0, ty0, tx1, ty1 = lay.title
    assert inked((tx0, ty0, tx1, ty0 + (ty1 - ty0) // 2)) > 0.02 and inked((tx0, ty0 + (ty1 - ty0) // 2, tx1, ty1)) > 0.02
    assert all(inked(b) > 0.01 for b in lay.labels)  # every channel number is drawn
    (a0, b0, a1, b1), (c0, d0, c1, d1) = lay.labels[0], lay.labels[11]
    assert not np.array_equal(im[b0:b1, a0:a1], im[d0:d1, c0:c1])  # "0" and "11" are different text
    tiles = map_tiles(maps)
    for i in (0, 7, 15):  # the tiles are the layer's real maps, upscaled
        x0, y0, x1, y1 = lay.tiles[i]
        np.testing.assert_array_equal(im[y0:y1, x0:x1], tiles[i].repeat(lay.upscale, 0).repeat(lay.upscale, 1))
    x0, y0, x1, y1 = lay.input
    up = (x1 - x0) // 16
    np.testing.assert_array_equal(im[y0:y1, x0:x1], np.transpose(x.numpy(), (1, 2, 0)).repeat(up, 0).repeat(up, 1))
    assert "conv1 (16x16x16)" in out and f"{im.shape[1]}x{im.shape[0]} px" in out


def test_featuremaps_from_an_image_file(run, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(tmp_path / "in.jpg")
    rc, out, err = run_cli(capsys, "featuremaps", run, "--layer", "relu2", "--image", tmp_path / "in.jpg", "-o", tmp_path / "o.png")
    assert rc == 0, err
    assert "in.jpg" in out and Image.open(tmp_path / "o.png").size[0] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["featuremaps", "{run}", "--layer", "nope", "--sample", "0", "-o", "{tmp}/a.png"], "no layer 'nope'"),
        (["featuremaps", "{run}", "--layer", "conv1", "--sample", "999", "-o", "{tmp}/a.png"], "out of range"),
        (["featuremaps", "{tmp}/missing_run", "--layer", "conv1", "-o", "{tmp}/a.png"], "does not exist"),
        (["featuremaps", "{run}", "--layer", "conv1", "--image", "{tmp}/broken.png", "-o", "{tmp}/a.png"], "not an image"),
        (["featuremaps", "{run}", "--layer", "conv1", "--sample", "0", "-o", "{tmp}/no/dir/a.png"], "does not exist"),
        (["featuremaps", "{run}", "--layer", "conv1", "--cmap", "rainbow", "-o", "{tmp}/a.png"], "unknown colour map"),
        (["evaluate", "{tmp}/missing_run"], "does not exist"),
        (["evaluate", "{run}", "--split", "sideways"], "unknown split"),
        (["evaluate", "{run}", "--data", "{tmp}/no_such_data"], "no_such_data"),
    ],
)
def test_bad_input_exits_2_with_one_line(run, tmp_path, capsys, args, message):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    argv = [a.format(run=run, tmp=tmp_path) for a in args]
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnn-studio: error:") and message in lines[0], err
    assert "Traceback" not in err


def test_the_commands_do_not_load_qt():
    code = ("import sys; from cnn_studio.cli import build_parser; build_parser(); import cnn_studio.cli_inspect; "
            "import cnn_studio.inspection.model, cnn_studio.inspection.preprocess; print('PySide6' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---- numbers that agree: summary.json, evaluate and the weights they name --------------------------
def _trained(tmp_path, bundle, **cfg):
    from inspect_helpers import tiny_graph
    from cnn_studio.training import TrainConfig, Trainer

    run = tmp_path / "trained"
    config = TrainConfig(**{"epochs": 3, "batch_size": 32, "device": "cpu", "seed": 0, **cfg})
    summary = Trainer(tiny_graph(tuple(bundle.input_shape()), bundle.num_classes), bundle, config,
                      run_dir=run, data_config=__import__("cnn_studio.data", fromlist=["DataConfig"]).DataConfig(**TINY_DATA)).fit()
    return run, summary


def test_default_run_tests_the_best_weights_and_evaluate_agrees(bundle, tmp_path, capsys):
    # min_delta makes only epoch 1 count as an improvement: best (1) and last (3) differ
    run, s = _trained(tmp_path, bundle, monitor="val_accuracy", min_delta=2.0)
    assert s["best_epoch"] == 1 and s["epochs_completed"] == 3
    assert s["test_weights"] == "best" and s["test_epoch"] == 1
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk["test_weights"] == "best" and on_disk["test_accuracy"] == s["test_accuracy"]
    rc, out, err = run_cli(capsys, "evaluate", run, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["weights"] == "best" and d["weights_epoch"] == 1 and d["split"] == "test"
    assert d["accuracy"] == pytest.approx(s["test_accuracy"], abs=1e-9)
    rc, out, err = run_cli(capsys, "evaluate", run)
    assert "weights: best (epoch 1) (best.pt)" in out


def test_without_restoring_the_summary_says_last_and_evaluate_last_agrees(bundle, tmp_path, capsys):
    run, s = _trained(tmp_path, bundle, monitor="val_accuracy", min_delta=2.0, restore_best_weights=False)
    assert s["test_weights"] == "last" and s["test_epoch"] == 3
    rc, out, err = run_cli(capsys, "evaluate", run, "--json", "--weights", "last")
    assert rc == 0, err
    d = json.loads(out)
    assert d["weights"] == "last" and d["weights_epoch"] == 3
    assert d["accuracy"] == pytest.approx(s["test_accuracy"], abs=1e-9)
    rc, out, err = run_cli(capsys, "evaluate", run, "--weights", "middle")
    assert rc == 2 and "weights" in err and "Traceback" not in err
