"""A labelled feature-map figure for files (``cnn-studio featuremaps``): a title band (layer, shape,
sample, class), the input image, and every channel as a tile with its number above it, at a size
that can be read. numpy + Pillow (its default font); no Qt, no torch.

:func:`figure_layout` only computes where everything goes (tested on its own); :func:`featuremap_figure`
draws it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .render import colormap_lut, grid_shape, image_to_rgb, scale

BACKGROUND = (40, 40, 40)
TEXT = (235, 235, 235)
MUTED = (170, 170, 170)
MARGIN = 12
GAP = 6  # between tiles
TITLE_FONT_PX = 16
LABEL_FONT_PX = 12
MIN_TILE_PX = 64  # the shorter side of a tile is at least this (when the width allows)
MAX_WIDTH_PX = 2400
INPUT_PX = 128  # the input image's longer side


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)


@dataclass
class FigureLayout:
    width: int
    height: int
    title: Box
    input: Box
    input_caption: Box
    tiles: list[Box] = field(default_factory=list)
    labels: list[Box] = field(default_factory=list)
    upscale: int = 1
    cols: int = 1


def _font(px: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=px)  # FreeType (Pillow >= 10.1): readable at any size
    except TypeError:  # pragma: no cover - an old Pillow: the small bitmap font
        return ImageFont.load_default()


def figure_layout(map_shape: tuple, input_hw: tuple[int, int], title_lines: int = 2, min_width: int = 0) -> FigureLayout:
    """Where the title, the input image and each channel's tile and label go.

    map_shape: (C, h, w) maps, or (F,) for a flat vector (one tile of F cells). min_width: the
    title's width, so a layer with few channels does not cut its title off."""
    if len(map_shape) == 1:
        r, c = grid_shape(int(map_shape[0]))
        count, mh, mw = 1, r, c
    else:
        count, mh, mw = (int(v) for v in map_shape)
    rows, cols = grid_shape(count)
    ih, iw = (max(1, int(v)) for v in input_hw)
    in_up = max(1, INPUT_PX // max(ih, iw))
    in_w, in_h = iw * in_up, ih * in_up
    label_h = LABEL_FONT_PX + 4
    left = MARGIN + max(in_w, 96) + 2 * MARGIN  # the input column (its caption may be wider than it)
    up = max(1, math.ceil(MIN_TILE_PX / max(1, min(mh, mw))))
    while up > 1 and left + cols * (mw * up + GAP) + MARGIN > MAX_WIDTH_PX:
        up -= 1  # many channels: smaller tiles rather than an endless image
    tw, th = mw * up, mh * up
    cell_w, cell_h = max(tw, 4 * LABEL_FONT_PX) + GAP, label_h + th + GAP
    title_h = title_lines * (TITLE_FONT_PX + 6) + 6
    top = MARGIN + title_h + MARGIN
    tiles, labels = [], []
    for i in range(count):
        r, k = divmod(i, cols)
        x, y = left + k * cell_w, top + r * cell_h
        labels.append((x, y, x + cell_w - GAP, y + label_h))
        tiles.append((x, y + label_h, x + tw, y + label_h + th))
    width = max(left + cols * cell_w - GAP + MARGIN, 2 * MARGIN + int(min_width))
    caption = (MARGIN, top + in_h + 4, left - MARGIN, top + in_h + 4 + label_h)
    height = max(top + rows * cell_h - GAP, caption[3]) + MARGIN
    return FigureLayout(width=width, height=height, title=(MARGIN, MARGIN, width - MARGIN, MARGIN + title_h),
                        input=(MARGIN, top, MARGIN + in_w, top + in_h), input_caption=caption,
                        tiles=tiles, labels=labels, upscale=up, cols=cols)


def map_tiles(maps: np.ndarray, shared: bool = False, cmap: str = "viridis") -> np.ndarray:
    """(C, h, w) maps (or a flat (F,) vector, as one near-square tile) as (N, h, w, 3) uint8 colours."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 1:
        r, c = grid_shape(maps.shape[0])
        flat = np.full(r * c, float(maps.min()) if maps.size else 0.0, dtype=np.float32)
        flat[: maps.shape[0]] = maps
        maps = flat.reshape(1, r, c)
    idx = np.clip((scale(maps, shared) * 255).round().astype(np.int32), 0, 255)
    return colormap_lut(cmap)[idx]


def featuremap_figure(maps: np.ndarray, image: np.ndarray, title: list[str], *, shared: bool = False,
                      cmap: str = "viridis", input_caption: str = "input") -> tuple[np.ndarray, FigureLayout]:
    """The figure as (H, W, 3) uint8, and its layout.

    maps: (C, h, w) or (F,). image: the input as (C, H, W) uint8/[0,1] float or (H, W, 3) uint8.
    title: up to two lines (e.g. "conv1 · 16x16x16", "validation sample 3 · class circle")."""
    from PIL import Image, ImageDraw

    rgb_in = image_to_rgb(image) if not (np.asarray(image).ndim == 3 and np.asarray(image).shape[2] == 3) else np.asarray(image, np.uint8)
    tfont, lfont = _font(TITLE_FONT_PX), _font(LABEL_FONT_PX)
    title_w = max((math.ceil(tfont.getlength(t)) for t in title), default=0)
    lay = figure_layout(np.asarray(maps).shape, rgb_in.shape[:2], title_lines=max(1, len(title)), min_width=title_w)
    canvas = Image.new("RGB", (lay.width, lay.height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    x0, y0 = lay.title[0], lay.title[1] + 3
    for i, line in enumerate(title):
        draw.text((x0, y0 + i * (TITLE_FONT_PX + 6)), line, fill=TEXT if i == 0 else MUTED, font=tfont)
    ix0, iy0, ix1, iy1 = lay.input
    up_in = (ix1 - ix0) // rgb_in.shape[1]
    canvas.paste(Image.fromarray(np.ascontiguousarray(rgb_in.repeat(up_in, 0).repeat(up_in, 1))), (ix0, iy0))
    draw.text((lay.input_caption[0], lay.input_caption[1]), input_caption, fill=MUTED, font=lfont)
    tiles = map_tiles(maps, shared=shared, cmap=cmap)
    up = lay.upscale
    flat = np.asarray(maps).ndim == 1
    for i, (box, lbox) in enumerate(zip(lay.tiles, lay.labels)):
        tile = tiles[i].repeat(up, 0).repeat(up, 1)
        canvas.paste(Image.fromarray(np.ascontiguousarray(tile)), (box[0], box[1]))
        label = f"{np.asarray(maps).shape[0]} features" if flat else str(i)
        draw.text((lbox[0], lbox[1] + 1), label, fill=TEXT, font=lfont)
    return np.asarray(canvas), lay
