import numpy as np
import pytest
import torch

from cnn_studio.data import SHAPES_CLASS_NAMES, DataConfig, load_dataset
from cnn_studio.data.shapes import generate_shapes


def test_generation_is_deterministic_and_seed_dependent():
    x1, y1 = generate_shapes(300, seed=7)
    x2, y2 = generate_shapes(300, seed=7)
    x3, y3 = generate_shapes(300, seed=8)
    assert x1.dtype == np.uint8 and x1.shape == (300, 32, 32, 3)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert not np.array_equal(y1, y3)


def test_classes_are_balanced_and_at_least_ten():
    assert len(SHAPES_CLASS_NAMES) >= 10 and len(set(SHAPES_CLASS_NAMES)) == len(SHAPES_CLASS_NAMES)
    _, y = generate_shapes(1003, seed=0)
    counts = np.bincount(y, minlength=len(SHAPES_CLASS_NAMES))
    assert counts.max() - counts.min() <= 1 and counts.sum() == 1003


def test_images_vary_and_use_the_range():
    x, _ = generate_shapes(200, seed=1)
    # no two images identical, every image has contrast, the set covers most of the pixel range
    flat = x.reshape(len(x), -1)
    assert len({r.tobytes() for r in flat}) == len(x)
    assert (flat.std(axis=1) > 5).all()
    assert flat.min() < 20 and flat.max() > 235


def test_shape_is_brighter_than_background_and_moves_around():
    """The shape is the bright object: its centre of brightness wanders over the image (translation)."""
    x, _ = generate_shapes(400, seed=2)
    lum = x.astype(np.float32).mean(axis=3)
    bright = lum > np.percentile(lum.reshape(len(x), -1), 75, axis=1)[:, None, None]
    ys, xs = np.mgrid[0:32, 0:32]
    cx = (bright * xs).sum((1, 2)) / bright.sum((1, 2))
    cy = (bright * ys).sum((1, 2)) / bright.sum((1, 2))
    assert cx.std() > 3 and cy.std() > 3
    assert cx.min() < 13 and cx.max() > 19


def test_size_configurable_and_train_test_differ():
    x, _ = generate_shapes(20, seed=0, height=48, width=40)
    assert x.shape == (20, 48, 40, 3)
    a, _ = generate_shapes(50, seed=0, stream=0)
    b, _ = generate_shapes(50, seed=0, stream=1)
    assert not np.array_equal(a, b)


def test_load_dataset_shapes_bundle_and_cache(_studio_home):
    cfg = DataConfig(shapes_train=200, shapes_test=50, val_fraction=0.1)
    b = load_dataset(cfg)
    assert b.input_shape() == (3, 32, 32) and b.num_classes == len(SHAPES_CLASS_NAMES)
    assert len(b.train) == 180 and len(b.val) == 20 and len(b.test) == 50
    assert b.train.x.dtype == torch.uint8 and b.train.y.dtype == torch.int64
    assert sum(b.class_counts("val")) == 20 and min(b.class_counts("val")) == 2
    assert "generated" in b.source_description
    files = list((_studio_home / "cache").glob("shapes-*.npz"))
    assert len(files) == 1
    b2 = load_dataset(cfg)
    assert "from the cache" in b2.source_description
    assert torch.equal(b.train.x, b2.train.x) and torch.equal(b.test.y, b2.test.y)
    with np.load(files[0], allow_pickle=False) as f:
        assert f["x_train"].dtype == np.uint8


def test_shapes_gray_and_resized():
    b = load_dataset(DataConfig(shapes_train=100, shapes_test=10, channels=1, height=28, width=28))
    assert b.input_shape() == (1, 28, 28) and len(b.mean) == 1
    assert b.train.x.shape[1:] == (1, 28, 28)


def test_explicit_format_and_stream_request_on_memory_data(tmp_path):
    b = load_dataset(DataConfig(source=str(tmp_path), format="shapes", shapes_train=50, shapes_test=0, stream=True))
    assert b.test is None and len(b.train) + len(b.val) == 50 and not b.streaming
    assert any("streaming applies to image folders only" in w for w in b.warnings)


def test_cancel_while_drawing():
    from cnn_studio.data import DataCancelled

    with pytest.raises(DataCancelled):
        load_dataset(DataConfig(shapes_train=5000, shapes_test=0), cancel=lambda: True)


def _held_out_accuracy(features_train, y_train, features_test, y_test, steps=100):
    """Full-batch softmax regression (standardised features, Adam): the best a linear model does."""
    torch.manual_seed(0)
    mu, sd = features_train.mean(0), features_train.std(0) + 1e-6
    a, b = (features_train - mu) / sd, (features_test - mu) / sd
    lin = torch.nn.Linear(a.shape[1], 10)
    opt = torch.optim.Adam(lin.parameters(), lr=0.01, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin(a), y_train).backward()
        opt.step()
    with torch.no_grad():
        return (lin(b).argmax(1) == y_test).float().mean().item()


def test_shapes_are_not_linearly_separable_by_pixels_or_pixel_statistics():
    """The set must need convolutions: a linear model on raw pixels, or on colour and brightness
    statistics (mean, std, histogram per channel), stays far below the >90% the first-run CNN
    reaches (benchmarks/first_run.py), though 10 classes give 10% by chance."""
    x, y = generate_shapes(2000, seed=3)
    xt = torch.from_numpy(x).float() / 255.0
    yt = torch.from_numpy(y).long()
    pixels = xt.reshape(len(xt), -1)
    chans = xt.reshape(len(xt), -1, 3)
    bins = torch.clamp((chans * 8).long(), max=7)  # (N, pixels, 3) -> 8 brightness bins per channel
    n = len(xt)
    index = torch.arange(n)[:, None, None] * 24 + torch.arange(3)[None, None, :] * 8 + bins
    hist = torch.bincount(index.flatten(), minlength=n * 24).reshape(n, 24).float() / chans.shape[1]
    stats = torch.cat([chans.mean(1), chans.std(1), hist], dim=1)
    tr, te = slice(0, 1600), slice(1600, 2000)
    acc_pixels = _held_out_accuracy(pixels[tr], yt[tr], pixels[te], yt[te])
    acc_stats = _held_out_accuracy(stats[tr], yt[tr], stats[te], yt[te])
    assert acc_pixels < 0.4, acc_pixels
    assert acc_stats < 0.4, acc_stats
