"""The Qt-free part: InspectModel (loading a run, normalising, running the network), image
preprocessing, evaluation with progress/cancel, and the tile geometry the views rely on."""
import threading

import numpy as np
import pytest
import torch

from cnn_studio.inspection.model import EvaluationCancelled, InspectModel, evaluate
from cnn_studio.inspection.tiles import GridGeometry, filter_tiles
from cnn_studio.core.errors import StudioError
from cnn_studio.inspection import channel_grid, colormap_lut


def test_from_run_restores_the_trained_weights_and_metadata(imodel, run_dir, bundle):
    ckpt = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)
    for k, v in ckpt["model"].items():
        assert torch.equal(imodel.model.state_dict()[k], v)
    assert imodel.class_names == list(bundle.class_names)
    assert imodel.input_shape == tuple(bundle.input_shape())
    assert imodel.num_classes == bundle.num_classes
    assert imodel.splits()[0] == "val" and "test" in imodel.splits()
    assert imodel.default_split(prefer_test=True) == "test"


def test_normalisation_is_the_training_one_with_and_without_the_bundle(imodel, bundle):
    x = bundle.val.x[:5]
    expected = bundle.normalize(x)
    torch.testing.assert_close(imodel.normalize(x), expected)
    # the run's mean/std alone (no data loaded) give the same input
    bare = InspectModel(imodel.model, imodel.graph, imodel.class_names, imodel.mean, imodel.std)
    torch.testing.assert_close(bare.normalize(x), expected, rtol=1e-5, atol=1e-5)


def test_feature_maps_equal_the_compiled_models_intermediate_tensor(imodel, bundle):
    x, _ = imodel.sample("val", 3)
    maps = imodel.feature_maps(x, "conv2")
    with torch.no_grad():
        _, cap = imodel.model.forward_capture(bundle.normalize(x.unsqueeze(0)), ["conv2"])
    np.testing.assert_array_equal(maps, cap["conv2"][0].numpy())
    assert imodel.capture(x, ["conv2"])["conv2"].shape == (8, 6, 6)


def test_sample_out_of_range_and_missing_split_are_clear_errors(imodel):
    n = len(imodel.labels("val"))
    with pytest.raises(StudioError, match=f"sample {n} is out of range.*{n} samples"):
        imodel.sample("val", n)
    empty = InspectModel(imodel.model, imodel.graph)
    with pytest.raises(StudioError, match="no validation split"):
        empty.sample("val", 0)


def test_receptive_field_box_is_the_analysis_one_clipped_to_the_image(imodel):
    rf = imodel.analysis.nodes["conv2"].rf
    size = imodel.rf_size("conv2")
    assert size == tuple(rf.size) == (8, 8)  # 3x3 conv, 2x2 pool, 3x3 conv
    t, l_, b, r = imodel.rf_box("conv2", 3, 2)
    assert (b - t + 1, r - l_ + 1) == size
    assert (t, l_, b, r) == tuple(int(round(v)) for v in rf.region(3, 2))
    # unit (0, 0) of conv1 (padding 1) reaches outside the image: clipped
    assert imodel.rf_box("conv1", 0, 0) == (0, 0, 1, 1)


def test_image_files_are_converted_to_the_models_input(imodel, tmp_path):
    from PIL import Image

    from cnn_studio.data.convert import decode_image, pil_resample

    a = np.zeros((40, 60, 3), np.uint8)
    a[5:20, 10:40] = (250, 20, 20)
    path = tmp_path / "red.png"
    Image.fromarray(a).save(path)
    x = imodel.load_image(path)
    assert x.dtype == torch.uint8 and tuple(x.shape) == imodel.input_shape
    ref, _ = decode_image(path, 3, (16, 16), pil_resample("bilinear"))
    assert torch.equal(x, torch.from_numpy(np.array(ref)).permute(2, 0, 1))
    gray = Image.fromarray(a).convert("L")
    gray.save(tmp_path / "gray.png")
    assert tuple(imodel.load_image(tmp_path / "gray.png").shape) == (3, 16, 16)  # gray -> 3 channels
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(StudioError, match="not an image"):
        imodel.load_image(tmp_path / "bad.png")
    with pytest.raises(StudioError, match="does not exist"):
        imodel.load_image(tmp_path / "missing.png")


def test_drawing_becomes_a_centred_input(imodel):
    pad = np.zeros((112, 112), np.uint8)
    pad[5:30, 80:105] = 255  # a blob in the top-right corner
    x = imodel.drawing_to_input(pad)
    assert tuple(x.shape) == (3, 16, 16) and torch.equal(x[0], x[1])
    ys, xs = np.nonzero(x[0].numpy() > 64)
    assert abs(ys.mean() - 7.5) < 1.5 and abs(xs.mean() - 7.5) < 1.5  # centred like an MNIST digit


def test_evaluate_counts_every_sample_and_can_be_cancelled(imodel, bundle):
    seen = []
    r = evaluate(imodel, "val", batch_size=16, progress=lambda d, t, m: seen.append((d, t)))
    n = len(bundle.val.y)
    assert r.summary["samples"] == n == int(r.confusion.sum())
    assert seen[-1] == (n, n)
    np.testing.assert_array_equal(r.labels, bundle.val.y.numpy())
    assert r.summary["accuracy"] == pytest.approx(float((r.preds == r.labels).mean()))
    stop = threading.Event()
    calls = []
    with pytest.raises(EvaluationCancelled):  # cancelled after the first chunk (16 images)
        evaluate(imodel, "val", batch_size=4, progress=lambda d, t, m: (calls.append(d), stop.set()), cancel=stop)
    assert calls == [16]


@pytest.mark.parametrize("shape", [(16, 16, 16), (6, 28, 28), (7, 5, 5), (3, 1, 1), (84,), (10,)])
def test_grid_geometry_matches_channel_grid(shape):
    rng = np.random.default_rng(0)
    maps = rng.standard_normal(shape).astype(np.float32)
    g = GridGeometry.for_maps(shape)
    rgb = channel_grid(maps, pad=g.pad, upscale=g.upscale)
    default = channel_grid(maps)  # the engine's own default upscale: the same layout
    assert rgb.shape == default.shape == (g.height, g.width, 3)
    for i in range(g.count):
        top, left = g.origin(i)
        x, y = g.center(i)
        assert g.tile_at(x, y) == i
        assert g.unit_at(i, left + 0.5, top + 0.5) == (0, 0)
        assert rgb[top, left].tolist() != [40, 40, 40] or maps.ndim == 1  # a tile, not the gap
    assert g.tile_at(0, 0) is None  # the border gap


def test_filter_tiles_modes():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    div, gray = colormap_lut("coolwarm"), colormap_lut("gray")
    tiles, cols, shown = filter_tiles(w, "rgb", div, gray)
    assert tiles.shape == (8, 5, 5, 3) and shown == 8
    # the largest |w| of each filter maps to 0 or 255, zero to the middle
    f0 = tiles[0].astype(int)
    assert f0.max() == 255 or f0.min() == 0
    tiles, cols, _ = filter_tiles(w, "per_input", div, gray)
    assert tiles.shape == (24, 5, 5, 3) and cols == 3
    tiles, _, _ = filter_tiles(w, "mean", div, gray)
    assert tiles.shape == (8, 5, 5, 3)
    big = rng.standard_normal((512, 64, 3, 3)).astype(np.float32)
    tiles, cols, shown = filter_tiles(big, "per_input", div, gray, max_tiles=4096)
    assert shown == 64 and tiles.shape[0] == 64 * 64


def test_importing_the_views_does_not_load_torch():
    """The window paints before torch loads: the views import torch only when they first compute."""
    import subprocess
    import sys

    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'; "
            "import cnn_studio.app.inspect.featuremaps, cnn_studio.app.inspect.filters, "
            "cnn_studio.app.inspect.evaluation, cnn_studio.app.inspect.inference; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
