import pytest
import torch

from cnn_studio.data import AugmentConfig, Augmenter


def batch(n=64, c=3, h=16, w=16, seed=0):
    return torch.rand((n, c, h, w), generator=torch.Generator().manual_seed(seed))


ALL = AugmentConfig(hflip=True, vflip=True, shift=0.1, zoom=0.2, rotate=20, brightness=0.3, contrast=0.3)


def test_disabled_is_identity():
    x = batch()
    assert Augmenter(AugmentConfig())(x, torch.Generator()) is x


def test_deterministic_given_generator_and_shape_preserved():
    x = batch()
    a = Augmenter(ALL, mean=[0.5] * 3, std=[0.25] * 3)
    y1 = a(x, torch.Generator().manual_seed(7))
    y2 = a(x, torch.Generator().manual_seed(7))
    y3 = a(x, torch.Generator().manual_seed(8))
    assert y1.shape == x.shape and y1.dtype == x.dtype
    assert torch.equal(y1, y2) and not torch.equal(y1, y3)
    assert not torch.equal(y1, x) and torch.isfinite(y1).all()
    assert torch.equal(x, batch())  # input untouched


@pytest.mark.parametrize("flag, dim", [("hflip", 3), ("vflip", 2)])
def test_flips_flip_about_half(flag, dim):
    x = batch(200)
    y = Augmenter(AugmentConfig(**{flag: True}))(x, torch.Generator().manual_seed(0))
    same = (y == x).flatten(1).all(1)
    flipped = (y == x.flip(dim)).flatten(1).all(1)
    assert (same | flipped).all()
    assert 60 < int(flipped.sum()) < 140


def test_flips_with_geometry_are_exact_when_strengths_are_tiny():
    x = batch(100)
    a = Augmenter(AugmentConfig(hflip=True, rotate=1e-9, shift=0.0))
    y = a(x, torch.Generator().manual_seed(1))
    same = (y - x).abs().flatten(1).amax(1) < 1e-4
    flipped = (y - x.flip(3)).abs().flatten(1).amax(1) < 1e-4
    assert (same | flipped).all() and flipped.any() and same.any()


def test_shift_translates_content():
    x = torch.zeros(1, 1, 20, 20)
    x[0, 0, 8:12, 8:12] = 1.0
    ys = [Augmenter(AugmentConfig(shift=0.2))(x, torch.Generator().manual_seed(s)) for s in range(10)]
    centres = []
    for y in ys:
        m = y[0, 0]
        total = m.sum()
        assert abs(float(total) - 16.0) < 0.5  # mass kept (no part left the image)
        cx = float((m.sum(0) * torch.arange(20)).sum() / total)
        centres.append(cx)
    assert max(centres) - min(centres) > 2.0


def test_rotation_keeps_centre_and_non_square_images():
    x = batch(8, h=12, w=20)
    y = Augmenter(AugmentConfig(rotate=90, zoom=0.1))(x, torch.Generator().manual_seed(0))
    assert y.shape == (8, 3, 12, 20)
    sq = torch.zeros(1, 1, 21, 21)
    sq[0, 0, 10, 10] = 1.0
    r = Augmenter(AugmentConfig(rotate=45))(sq, torch.Generator().manual_seed(0))
    assert r[0, 0].argmax() == 10 * 21 + 10


def test_brightness_contrast_in_pixel_space_and_clamped():
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
    raw = batch(50)
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    norm = (raw - m) / s
    a = Augmenter(AugmentConfig(brightness=0.5), mean, std)
    out_raw = a(norm, torch.Generator().manual_seed(0)) * s + m
    assert out_raw.min() >= -1e-5 and out_raw.max() <= 1 + 1e-5
    # brightness alone multiplies each raw image by one factor (where not clamped)
    ratio = out_raw / raw.clamp_min(1e-3)
    ok = (out_raw < 0.999) & (raw > 0.05)
    for i in range(5):
        r = ratio[i][ok[i]]
        assert r.max() - r.min() < 1e-3
    c = Augmenter(AugmentConfig(contrast=0.5))
    y = c(raw, torch.Generator().manual_seed(0))
    assert torch.allclose(y.mean(dim=(2, 3)), raw.mean(dim=(2, 3)), atol=1e-5)  # contrast keeps each mean
    assert not torch.allclose(y.std(dim=(2, 3)), raw.std(dim=(2, 3)))


def test_rejects_uint8():
    with pytest.raises(TypeError):
        Augmenter(AugmentConfig(hflip=True))(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.Generator())
