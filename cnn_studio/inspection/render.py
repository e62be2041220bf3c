"""Turn arrays into pictures: colour maps, channel grids, overlays, PNG files. numpy + Pillow only,
so the command line and the app render the same pixels."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..core.errors import StudioError

# Anchor colours of perceptually uniform maps (sampled at 0, 0.25, 0.5, 0.75, 1), interpolated.
_ANCHORS = {
    "viridis": [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
    "inferno": [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)],
    "gray": [(0, 0, 0), (255, 255, 255)],
    "coolwarm": [(59, 76, 192), (141, 176, 254), (221, 221, 221), (244, 154, 123), (180, 4, 38)],
}


def colormap_lut(name: str = "viridis", n: int = 256) -> np.ndarray:
    """(n, 3) uint8 lookup table."""
    try:
        anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    except KeyError:
        raise StudioError(f"unknown colour map '{name}'; use one of {', '.join(_ANCHORS)}") from None
    pos = np.linspace(0, 1, len(anchors))
    t = np.linspace(0, 1, n)
    lut = np.stack([np.interp(t, pos, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


def scale(maps: np.ndarray, shared: bool = False) -> np.ndarray:
    """Scale to [0, 1] per channel (axis 0), or with one range shared by all channels."""
    maps = np.asarray(maps, dtype=np.float32)
    if shared:
        lo, hi = float(maps.min()), float(maps.max())
        return np.clip((maps - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(maps)
    lo = maps.reshape(maps.shape[0], -1).min(axis=1)[:, None, None]
    hi = maps.reshape(maps.shape[0], -1).max(axis=1)[:, None, None]
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.where(hi > lo, (maps - lo) / span, 0.0).astype(np.float32)


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    cols = max(1, math.ceil(math.sqrt(n * aspect)))
    rows = math.ceil(n / cols)
    return rows, cols


def channel_grid(maps: np.ndarray, shared: bool = False, cmap: str = "viridis", pad: int = 1, upscale: int | None = None) -> np.ndarray:
    """All channels of a (C, h, w) map as one RGB uint8 image, tiles in row-major channel order.

    A flat (F,) vector is shown as one tile of F cells (a near-square grid)."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 1:
        f = maps.shape[0]
        r, c = grid_shape(f)
        flat = np.full(r * c, np.nan, dtype=np.float32)
        flat[:f] = maps
        maps = np.nan_to_num(flat, nan=float(np.nanmin(flat))).reshape(1, r, c)
    if maps.ndim != 3:
        raise StudioError(f"expected maps shaped (C, h, w), got {maps.shape}")
    c, h, w = maps.shape
    if upscale is None:
        upscale = max(1, 48 // max(h, w))
    scaled = scale(maps, shared)
    lut = colormap_lut(cmap)
    idx = np.clip((scaled * 255).round().astype(np.int32), 0, 255)
    tiles = lut[idx]  # (C, h, w, 3)
    if upscale > 1:
        tiles = tiles.repeat(upscale, axis=1).repeat(upscale, axis=2)
    th, tw = h * upscale, w * upscale
    rows, cols = grid_shape(c)
    out = np.full((rows * (th + pad) + pad, cols * (tw + pad) + pad, 3), 40, dtype=np.uint8)
    for i in range(c):
        r, k = divmod(i, cols)
        y, x = pad + r * (th + pad), pad + k * (tw + pad)
        out[y : y + th, x : x + tw] = tiles[i]
    return out


def image_to_rgb(img: np.ndarray) -> np.ndarray:
    """A (C, H, W) uint8 or float [0,1] image as (H, W, 3) uint8."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(img * 255, 0, 255).round().astype(np.uint8)
    if img.ndim == 3 and img.shape[0] in (1, 3, 4):
        img = np.transpose(img, (1, 2, 0))
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def overlay(image_rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5, cmap: str = "inferno") -> np.ndarray:
    """Blend a [0, 1] heat map (H, W) over an (H, W, 3) uint8 image."""
    lut = colormap_lut(cmap)
    colour = lut[np.clip((np.asarray(heat) * 255).round().astype(np.int32), 0, 255)].astype(np.float32)
    a = alpha * np.asarray(heat, dtype=np.float32)[:, :, None] ** 0.5
    out = image_rgb.astype(np.float32) * (1 - a) + colour * a
    return np.clip(out, 0, 255).round().astype(np.uint8)


def save_png(rgb: np.ndarray, path: str | Path) -> Path:
    from PIL import Image

    path = Path(path)
    if not path.parent.is_dir():
        raise StudioError(f"cannot write '{path}': the folder '{path.parent}' does not exist")
    try:
        Image.fromarray(np.ascontiguousarray(rgb)).save(path, format="PNG")
    except OSError as e:
        raise StudioError(f"cannot write '{path}': {e}") from None
    return path
