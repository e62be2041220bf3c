import numpy as np
import pytest
import torch

from cnn_studio.data import (
    DataConfig,
    DataError,
    channel_stats,
    load_dataset,
    stratified_split,
)
from cnn_studio.data.convert import convert_array


def test_convert_channels_and_size():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 6, 8, 3), dtype=np.uint8)
    gray = convert_array(rgb, 1, None, None)
    from PIL import Image
    pil = np.asarray(Image.fromarray(rgb[0]).convert("L"))
    assert gray.shape == (3, 1, 6, 8)
    assert np.abs(gray[0, 0].numpy().astype(int) - pil.astype(int)).max() <= 1  # same luma weights as Pillow
    back = convert_array(gray.permute(0, 2, 3, 1).numpy(), 3, None, None)
    assert back.shape == (3, 3, 6, 8) and torch.equal(back[:, 0], back[:, 2])
    rgba = np.concatenate([rgb, np.zeros((3, 6, 8, 1), np.uint8)], axis=3)
    assert torch.equal(convert_array(rgba, None, None, None), torch.from_numpy(rgb).permute(0, 3, 1, 2))
    up = convert_array(np.full((2, 4, 4, 1), 77, np.uint8), None, 9, 7)
    assert up.shape == (2, 1, 9, 7) and (up == 77).all()
    down = convert_array(rgb, None, 3, 4, resize="area")
    assert down.shape == (3, 3, 3, 4)
    ref = rgb[0].reshape(3, 2, 4, 2, 3).mean(axis=(1, 3))
    assert np.abs(down[0].permute(1, 2, 0).numpy() - ref).max() <= 1


def test_convert_in_load_dataset(make):
    x = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    b = load_dataset(DataConfig(source=str(make.npz(x=x, y=np.arange(20) % 2)), channels=3, height=32, width=32))
    assert b.input_shape() == (3, 32, 32) and b.train.x.dtype == torch.uint8 and b.train.x.is_contiguous()


def test_stratified_split_proportions_and_determinism():
    y = np.repeat(np.arange(4), [100, 50, 20, 3])
    tr, va = stratified_split(y, 0.2, seed=5)
    counts = np.bincount(y[va], minlength=4)
    assert counts.tolist() == [20, 10, 4, 1]
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    tr2, va2 = stratified_split(y, 0.2, seed=5)
    assert np.array_equal(va, va2)
    _, va3 = stratified_split(y, 0.2, seed=6)
    assert not np.array_equal(va, va3)
    tr0, va0 = stratified_split(y, 0.0, seed=0)
    assert len(va0) == 0 and len(tr0) == len(y)
    # a class with one sample stays in training
    _, va1 = stratified_split(np.array([0, 0, 0, 1]), 0.5, seed=0)
    assert 3 not in va1


def test_bundle_split_and_stats_from_train_only(make):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 100, (60, 4, 4, 3), dtype=np.uint8)
    xt = np.full((10, 4, 4, 3), 250, np.uint8)  # a test split far brighter: must not move the stats
    y = np.arange(60) % 3
    b = load_dataset(DataConfig(source=str(make.npz(x_train=x, y_train=y, x_test=xt, y_test=np.arange(10) % 3)),
                                val_fraction=0.25, seed=1))
    assert (len(b.train), len(b.val), len(b.test)) == (45, 15, 10)
    assert b.class_counts("val") == [5, 5, 5] and b.class_counts("train") == [15, 15, 15]
    tr = b.train.x.double() / 255
    assert np.allclose(b.mean, tr.mean(dim=(0, 2, 3)).tolist(), atol=1e-9)
    assert np.allclose(b.std, tr.std(dim=(0, 2, 3), unbiased=False).tolist(), atol=1e-9)
    allx = torch.cat([b.train.x, b.val.x]).double() / 255
    assert not np.allclose(b.mean, allx.mean(dim=(0, 2, 3)).tolist(), atol=1e-9)  # val not included
    z = b.normalize(b.train.x)
    assert z.dtype == torch.float32
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    assert torch.allclose(b.denormalize(z), b.train.x.float(), atol=1e-3)
    img, label = b.sample("test", 2)
    assert img.shape == (3, 4, 4) and label == 2 and int(img.max()) == 250
    with pytest.raises(DataError, match="sample 10 does not exist"):
        b.sample("test", 10)
    with pytest.raises(DataError, match="unknown split"):
        b.class_counts("holdout")


def test_normalize_off_and_constant_channel(make):
    x = np.zeros((10, 3, 3), np.uint8)
    b = load_dataset(DataConfig(source=str(make.npz(x=x, y=np.arange(10) % 2)), normalize=False))
    assert b.mean == [0.0] and b.std == [1.0]
    assert torch.allclose(b.normalize(torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)), torch.ones(1, 1, 2, 2))
    b = load_dataset(DataConfig(source=str(make.npz(x=x, y=np.arange(10) % 2))))
    assert b.std == [1.0] and any("same value in every training image" in w for w in b.warnings)


def test_channel_stats_exact():
    x = torch.tensor([0, 255, 0, 255], dtype=torch.uint8).view(4, 1, 1, 1)
    m, s = channel_stats(x)
    assert m == [0.5] and abs(s[0] - 0.5) < 1e-12


def test_missing_classes_warned(make):
    b = load_dataset(DataConfig(source=str(make.npz(x=np.zeros((4, 2, 2), np.uint8), y=np.array([0, 3, 0, 3]))),
                                val_fraction=0))
    assert b.num_classes == 4
    assert any("2 of 4 classes have no training samples" in w for w in b.warnings)
