"""Qt-free pixel maths of the inspection views: where each channel's tile lies in a channel grid
(the same layout as ``inspection.render.channel_grid``), filter kernels as tiles, confusion-matrix
colours. numpy only."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GRID_PAD = 1
BACKGROUND = 40  # grey of the gaps between tiles (as channel_grid)


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid of n tiles (channel_grid's layout)."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def default_upscale(h: int, w: int, target: int = 48) -> int:
    return max(1, target // max(h, w, 1))


@dataclass(frozen=True)
class GridGeometry:
    """Layout of ``count`` tiles of ``map_h`` x ``map_w`` units, each unit ``upscale`` pixels."""

    count: int
    map_h: int
    map_w: int
    upscale: int = 1
    pad: int = GRID_PAD
    flat_features: int = 0  # > 0: one tile of a flat (F,) vector laid out as map_h x map_w cells

    @classmethod
    def for_maps(cls, shape: tuple, upscale: int | None = None, pad: int = GRID_PAD) -> GridGeometry:
        if len(shape) == 1:
            f = int(shape[0])
            r, c = grid_shape(f)
            up = default_upscale(r, c) if upscale is None else upscale
            return cls(1, r, c, up, pad, f)
        c, h, w = (int(v) for v in shape)
        up = default_upscale(h, w) if upscale is None else upscale
        return cls(c, h, w, up, pad)

    @property
    def rows(self) -> int:
        return grid_shape(self.count)[0]

    @property
    def cols(self) -> int:
        return grid_shape(self.count)[1]

    @property
    def tile_h(self) -> int:
        return self.map_h * self.upscale

    @property
    def tile_w(self) -> int:
        return self.map_w * self.upscale

    @property
    def height(self) -> int:
        return self.rows * (self.tile_h + self.pad) + self.pad

    @property
    def width(self) -> int:
        return self.cols * (self.tile_w + self.pad) + self.pad

    def origin(self, i: int) -> tuple[int, int]:
        """(top, left) pixel of tile i."""
        r, k = divmod(i, self.cols)
        return self.pad + r * (self.tile_h + self.pad), self.pad + k * (self.tile_w + self.pad)

    def center(self, i: int) -> tuple[float, float]:
        """(x, y) image coordinate of the middle of tile i."""
        top, left = self.origin(i)
        return left + self.tile_w / 2, top + self.tile_h / 2

    def tile_at(self, x: float, y: float) -> int | None:
        """Tile under image coordinate (x, y), None over a gap or outside."""
        if x < 0 or y < 0:
            return None
        k, rx = divmod(int(math.floor(x)) - self.pad, self.tile_w + self.pad)
        r, ry = divmod(int(math.floor(y)) - self.pad, self.tile_h + self.pad)
        if k < 0 or r < 0 or k >= self.cols or r >= self.rows or rx >= self.tile_w or ry >= self.tile_h:
            return None
        i = r * self.cols + k
        return i if i < self.count else None

    def unit_at(self, i: int, x: float, y: float) -> tuple[int, int] | None:
        """(row, col) of the map unit of tile i under image coordinate (x, y)."""
        top, left = self.origin(i)
        uy = int(math.floor((y - top) / self.upscale))
        ux = int(math.floor((x - left) / self.upscale))
        if 0 <= uy < self.map_h and 0 <= ux < self.map_w:
            return uy, ux
        return None


def assemble(tiles: np.ndarray, cols: int, pad: int = GRID_PAD, upscale: int = 1, background: int = BACKGROUND, row_pad: int | None = None) -> np.ndarray:
    """(N, h, w, 3) uint8 tiles into one RGB image, row-major, ``cols`` per row; ``pad`` pixels
    between columns and ``row_pad`` (default ``pad``) between rows."""
    n, h, w, _ = tiles.shape
    rp = pad if row_pad is None else row_pad
    if upscale > 1:
        tiles = tiles.repeat(upscale, axis=1).repeat(upscale, axis=2)
        h, w = h * upscale, w * upscale
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + rp) + rp, cols * (w + pad) + pad, 3), background, dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = rp + r * (h + rp), pad + k * (w + pad)
        out[y : y + h, x : x + w] = tiles[i]
    return out


def apply_lut(values01: np.ndarray, lut: np.ndarray) -> np.ndarray:
    idx = np.clip(np.rint(np.asarray(values01, dtype=np.float32) * (len(lut) - 1)), 0, len(lut) - 1).astype(np.int32)
    return lut[idx]


def symmetric01(w: np.ndarray, axes: tuple) -> np.ndarray:
    """Map weights to [0, 1] with 0 -> 0.5, scaled by the largest |w| over ``axes``."""
    m = np.abs(w).max(axis=axes, keepdims=True)
    m = np.where(m > 0, m, 1.0)
    return 0.5 + 0.5 * w / m


FILTER_MODES = ("rgb", "per_input", "mean")


def filter_tiles(weight: np.ndarray, mode: str, diverging_lut: np.ndarray, gray_lut: np.ndarray, max_tiles: int = 4096):
    """Kernels of a conv weight (O, I, kh, kw) as RGB tiles.

    rgb: one colour tile per filter (needs I == 3); per_input: O rows of I tiles (gray when I == 1,
    a diverging map otherwise); mean: one tile per filter, the mean over input channels. Each
    filter is scaled on its own, symmetrically (zero is mid-grey or white).
    Returns (tiles (N, kh, kw, 3) uint8, cols, shown_filters)."""
    w = np.asarray(weight, dtype=np.float32)
    o, i, kh, kw = w.shape
    if mode == "rgb":
        if i != 3:
            raise ValueError("RGB filter tiles need 3 input channels")
        v = symmetric01(w, (1, 2, 3))  # (O, 3, kh, kw)
        tiles = np.clip(np.rint(np.transpose(v, (0, 2, 3, 1)) * 255), 0, 255).astype(np.uint8)
        return tiles, grid_shape(o)[1], o
    if mode == "mean":
        m = w.mean(axis=1)  # (O, kh, kw)
        v = symmetric01(m, (1, 2))
        return apply_lut(v, diverging_lut), grid_shape(o)[1], o
    if mode != "per_input":
        raise ValueError(f"unknown filter mode {mode!r}")
    shown = max(1, min(o, max_tiles // max(i, 1)))
    ws = w[:shown]
    v = symmetric01(ws, (1, 2, 3))  # (shown, I, kh, kw), one scale per filter
    lut = gray_lut if i == 1 else diverging_lut
    tiles = apply_lut(v.reshape(shown * i, kh, kw), lut)
    if i == 1:
        return tiles, grid_shape(shown)[1], shown
    return tiles, i, shown


def blues_lut(n: int = 256) -> np.ndarray:
    anchors = np.array([(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)], dtype=np.float64)
    pos = np.linspace(0, 1, len(anchors))
    t = np.linspace(0, 1, n)
    return np.round(np.stack([np.interp(t, pos, anchors[:, c]) for c in range(3)], axis=1)).astype(np.uint8)


def confusion_rgb(cm: np.ndarray, lut: np.ndarray | None = None) -> np.ndarray:
    """Cells coloured by the share of their row (the true class): (n, n, 3) uint8."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    return apply_lut(frac, lut if lut is not None else blues_lut())


def row_fractions(cm: np.ndarray) -> np.ndarray:
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)


def histogram(values: np.ndarray, bins: int = 60):
    """(edges, counts) of finite values; a symmetric range when the values straddle zero."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.array([0.0, 1.0]), np.array([0.0])
    lo, hi = float(v.min()), float(v.max())
    if lo < 0 < hi:
        m = max(-lo, hi)
        lo, hi = -m, m
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return edges, counts.astype(np.float64)
