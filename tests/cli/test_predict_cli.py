"""`cnn-studio predict` and `cnn-studio explain` on a run folder whose network is set by hand (class
"bright" = the amount of bright pixels, so the answer is known: the evidence is the bright square)
and on a briefly trained run; bad runs, images, classes and layers give one line and exit 2."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app_inspect"))

from inspect_helpers import TINY_DATA, make_run

from cnn_studio import compile_model
from cnn_studio.cli import main
from cnn_studio.cli_predict import PANEL_PX
from cnn_studio.core import Graph
from cnn_studio.core.graph import chain
from cnn_studio.inspection.model import InspectModel
from cnn_studio.inspection.render import colormap_lut


def region_run(path: Path) -> Path:
    """conv (centre taps) -> ReLU -> global average -> linear: class 1 'bright' counts bright pixels."""
    g = Graph("region")
    chain(g, [("input", {"channels": 1, "height": 16, "width": 16}, "inp"),
              ("conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}, "conv"),
              ("relu", {}, "act"), ("adaptive_avgpool2d", {}, "gap"), ("flatten", {}, "flat"),
              ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")])
    m = compile_model(g)
    with torch.no_grad():
        m.conv.weight.zero_()
        m.conv.weight[0, 0, 1, 1] = 1.0  # channel 0: bright pixels
        m.conv.weight[1, 0, 1, 1] = -1.0
        m.conv.bias.zero_()
        m.conv.bias[1] = 1.0  # channel 1: dark pixels
        m.fc.weight.copy_(torch.tensor([[0.0, 4.0], [100.0, 0.0]]))
        m.fc.bias.zero_()
    (path / "checkpoints").mkdir(parents=True)
    config = {"name": "region", "graph": g.to_config(), "data": {"source": "shapes"}, "training": {"epochs": 1},
              "class_names": ["dark", "bright"], "mean": [0.0], "std": [1.0], "input_shape": [1, 16, 16]}
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.save({"model": m.state_dict(), "graph": g.to_config()}, path / "checkpoints" / "best.pt")
    return path


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    run = region_run(root / "region-run")
    a = np.zeros((32, 32), np.uint8)
    a[4:12, 18:26] = 255  # a bright square, top right: rows 2..5, cols 9..12 at 16x16
    Image.fromarray(a).save(root / "square.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "black.png")
    (root / "notes.png").write_text("not an image")
    return run, root


def run_cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_predict_lists_the_top_classes_of_each_image(region, capsys):
    run, root = region
    rc, out, err = run_cli(capsys, "predict", run, root / "square.png", root / "black.png", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["weights"] == "best" and d["class_names"] == ["dark", "bright"]
    square, black = d["predictions"]
    assert square["image"].endswith("square.png") and square["top"][0]["class"] == "bright"
    assert black["top"][0]["class"] == "dark" and len(black["top"]) == 2  # --top 5 capped at the 2 classes
    m = InspectModel.from_run(run, load_data=False)
    idx, p = m.predict(m.load_image(root / "square.png"), 2)
    assert [t["index"] for t in square["top"]] == idx.tolist()
    np.testing.assert_allclose([t["probability"] for t in square["top"]], p, rtol=1e-6)
    rc, out, err = run_cli(capsys, "predict", run, root / "square.png", "--top", "1")
    assert rc == 0 and "1. bright" in out and "dark" not in out.split("square.png")[1]
    assert "weights best" in out and "1x16x16" in out


def test_predict_on_a_trained_run(tmp_path, capsys, monkeypatch):
    from cnn_studio.data import DataConfig, load_dataset

    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))
    bundle = load_dataset(DataConfig(**TINY_DATA))
    run = make_run(tmp_path / "tiny", bundle, dict(TINY_DATA), steps=10)
    files = []
    for i in range(3):
        f = tmp_path / f"val{i}.png"
        Image.fromarray(bundle.val.x[i].permute(1, 2, 0).numpy()).save(f)
        files.append(f)
    rc, out, err = run_cli(capsys, "predict", run, *files, "--json", "--top", "3")
    assert rc == 0, err
    preds = json.loads(out)["predictions"]
    m = InspectModel.from_run(run, load_data=False)
    for f, pr in zip(files, preds):
        probs = [t["probability"] for t in pr["top"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert pr["top"][0]["index"] == int(m.predict(bundle.val.x[files.index(f)], 1)[0][0])  # a PNG round trip is lossless


def test_bad_runs_and_images_give_one_line(region, tmp_path, capsys):
    run, root = region
    rc, out, err = run_cli(capsys, "predict", tmp_path / "nothing", root / "square.png")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "run folder" in err and "does not exist" in err
    rc, out, err = run_cli(capsys, "predict", run, root / "square.png", root / "notes.png")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "notes.png" in err and "not an image" in err
    rc, out, err = run_cli(capsys, "predict", run, root / "missing.png")
    assert rc == 2 and "missing.png" in err and "does not exist" in err
    rc, out, err = run_cli(capsys, "predict", run, root / "square.png", "--top", "0")
    assert rc == 2 and "--top must be at least 1" in err
    (tmp_path / "empty").mkdir()
    rc, out, err = run_cli(capsys, "predict", tmp_path / "empty", root / "square.png")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    jpg = tmp_path / "x.jpg"  # QA item 11: explain wrote PNG data into a .jpg file
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--method", "saliency", "-o", jpg)
    assert rc == 2 and "name the output file with .png" in err and not jpg.exists()


def _middle_panel(png: Path, h: int = 16) -> np.ndarray:
    """The map panel of the explain figure, back at the input's size."""
    img = np.asarray(Image.open(png).convert("RGB"))
    up = PANEL_PX // h
    y0, x0 = 12 + 2 * 22 + 6 + 18, 12 + h * up + 12
    return img[y0 : y0 + h * up : up, x0 : x0 + h * up : up]


@pytest.mark.parametrize("method", ["gradcam", "saliency", "ig", "occlusion"])
def test_explain_points_at_the_bright_square(region, tmp_path, capsys, method):
    if method in ("ig", "occlusion"):
        pytest.importorskip("captum")
    run, root = region
    out_png = tmp_path / f"{method}.png"
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--method", method, "-o", out_png)
    assert rc == 0, err
    assert f"wrote {out_png}" in out and "for class bright" in out
    m = InspectModel.from_run(run, load_data=False)
    x = m.load_image(root / "square.png")
    heat = m.explain(x, method, 1, "act" if method == "gradcam" else None)
    lut = colormap_lut("inferno")
    expect = lut[np.clip(np.rint(heat * 255), 0, 255).astype(np.int32)]
    np.testing.assert_array_equal(_middle_panel(out_png), expect)  # the PNG shows that very map
    inside = heat[2:6, 9:13].mean()
    outside = np.concatenate([heat[9:, :].ravel(), heat[:, :6].ravel()]).mean()
    assert inside > 0.5 and outside < 0.05, (method, inside, outside)


def test_explain_target_and_layer_choices(region, tmp_path, capsys):
    run, root = region
    png = tmp_path / "e.png"
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--target", "0", "-o", png)
    assert rc == 0 and "Grad-CAM at act for class dark" in out
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--target", "Bright", "--layer", "conv", "-o", png)
    assert rc == 0 and "Grad-CAM at conv for class bright" in out
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--target", "cat", "-o", png)
    assert rc == 2 and "no class 'cat'" in err and "dark, bright" in err
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--layer", "fc", "-o", png)
    assert rc == 2 and "cannot use layer 'fc'" in err and "conv, act" in err
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--layer", "zz", "-o", png)
    assert rc == 2 and "has no layer 'zz'" in err
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--method", "saliency", "--layer", "conv", "-o", png)
    assert rc == 2 and "--layer is for Grad-CAM" in err
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--method", "lime", "-o", png)
    assert rc == 2 and "unknown method 'lime'" in err
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "-o", tmp_path / "no" / "e.png")
    assert rc == 2 and "does not exist" in err


def test_explain_without_captum_says_how_to_install_it(region, tmp_path, capsys, monkeypatch):
    run, root = region
    for name in [k for k in sys.modules if k == "captum" or k.startswith("captum.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "captum", None)
    rc, out, err = run_cli(capsys, "explain", run, root / "square.png", "--method", "ig", "-o", tmp_path / "ig.png")
    assert rc == 2 and not (tmp_path / "ig.png").exists()
    assert err.strip() == ("cnn-studio: error: Integrated Gradients and occlusion need the Captum package; "
                           "install Captum: pip install 'cnn-studio[explain]' (or pip install captum)")
