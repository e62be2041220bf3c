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
