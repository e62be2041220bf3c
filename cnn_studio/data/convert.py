"""Conversion of decoded images to the model's channels and size, and of PIL images to arrays.

Array sources (IDX, CIFAR, CSV, NPZ, shapes) are converted in chunks with torch: RGB to gray with the
ITU-R 601-2 luma weights (the same as Pillow's ``convert("L")``), gray to RGB by repeating the plane,
alpha dropped, and resizing with ``torch.nn.functional.interpolate`` (anti-aliased when shrinking).
Image files are converted one by one with Pillow while they are decoded (see ``decode_image``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from ._util import check_memory
from .errors import DataError

_PIL_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
}
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_LUMA = (0.299, 0.587, 0.114)
_CHUNK = 2048
# Largest image decoded (8192 x 8192; a 48-megapixel phone photo fits). A PNG of zeros that announces
# 10000 x 10000 pixels is ~100 KB on disk but 300 MB decoded, per decoding thread; Pillow itself only
# warns below 89 M pixels and refuses from 179 M.
MAX_IMAGE_PIXELS = 2**26


def pil_resample(method: str):
    return _PIL_RESAMPLE[method]


def convert_array(x: np.ndarray, channels: int | None, height: int | None, width: int | None,
                  resize: str = "bilinear", reporter=None, what: str = "images") -> torch.Tensor:
    """uint8 NHWC (C = 1..4) -> uint8 NCHW tensor with the requested channels and size (None = keep)."""
    if x.ndim != 4 or x.shape[3] not in (1, 2, 3, 4):
        raise DataError(f"{what} have shape {tuple(x.shape)}; expected images with 1 to 4 channels")
    if x.dtype != np.uint8:
        raise DataError(f"{what} are {x.dtype}, expected uint8 pixels")
    if not x.flags.writeable:  # e.g. np.frombuffer views: torch tensors must own writable memory
        x = x.copy()
    n, h, w, c = x.shape
    if c == 4:
        x, c = x[..., :3], 3
    elif c == 2:
        x, c = x[..., :1], 1
    tc = channels or c
    th, tw = height or h, width or w
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)  # NCHW view
    if tc == c and (th, tw) == (h, w):
        return t.contiguous()
    check_memory(n * tc * th * tw, f"converting {n} {what} to {tc}x{th}x{tw}")
    out = torch.empty((n, tc, th, tw), dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        if reporter is not None:
            reporter(start, n, f"Converting {what} to {tc}x{th}x{tw}")
        part = t[start:start + _CHUNK].float()
        if tc == 1 and c == 3:
            wts = torch.tensor(_LUMA).view(1, 3, 1, 1)
            part = (part * wts).sum(1, keepdim=True)
        if (th, tw) != (h, w):
            part = _interpolate(part, th, tw, resize)
        part = part.round().clamp_(0, 255).to(torch.uint8)
        out[start:start + _CHUNK] = part.expand(-1, tc, -1, -1) if part.shape[1] != tc else part
    if reporter is not None:
        reporter(n, n, f"Converting {what} to {tc}x{th}x{tw}")
    return out


def _interpolate(x: torch.Tensor, th: int, tw: int, method: str) -> torch.Tensor:
    h, w = x.shape[-2:]
    shrink = th < h or tw < w
    if method == "nearest":
        return F.interpolate(x, size=(th, tw), mode="nearest-exact")
    if method == "area":
        if shrink:
            return F.interpolate(x, size=(th, tw), mode="area")
        return F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False)
    return F.interpolate(x, size=(th, tw), mode=method, align_corners=False, antialias=shrink)


def image_channels(im: Image.Image) -> int:
    """1 for gray images (gray palettes included), 3 for colour."""
    if im.mode in _GRAY_MODES:
        return 1
    if im.mode == "P":
        pal = im.getpalette() or []
        rgb = np.asarray(pal[: len(pal) // 3 * 3], dtype=np.int32).reshape(-1, 3)
        return 1 if rgb.size and np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]) else 3
    return 3


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    a = np.asarray(im)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        hi = float(np.nanmax(a)) if a.size else 0.0
        a = np.nan_to_num(a) * (255.0 if hi <= 1.0 else 1.0)
    elif a.dtype.kind in "iu" and a.dtype.itemsize > 1:
        hi = int(a.max()) if a.size else 0
        a = a / 257.0 if hi > 255 else a
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")


def decode_image(path, channels: int, size: tuple[int, int] | None, resample) -> tuple[np.ndarray, bool]:
    """Decode one image file to uint8 HWC with ``channels`` channels at ``size`` = (width, height)
    (None = native). Returns (array, resized). Raises whatever Pillow raises for a bad file."""
    with Image.open(path) as im:
        if im.format == "JPEG" and size is not None:
            im.draft("L" if channels == 1 else "RGB", size)  # let libjpeg shrink by 2/4/8 while decoding
        w, h = im.size
        if w * h > MAX_IMAGE_PIXELS:  # checked on the header, before anything is decoded
            raise ValueError(f"the image is {w}x{h} pixels, more than the {MAX_IMAGE_PIXELS:,} an image may have")
        im.load()
        if im.format in ("JPEG", "MPO", "TIFF", "WEBP"):
            im = ImageOps.exif_transpose(im)
        if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
            im = _to_8bit_gray(im)
        if im.mode == "P":
            im = im.convert("RGBA")
        im = im.convert("L" if channels == 1 else "RGB")
        resized = size is not None and im.size != tuple(size)
        if resized:
            im = im.resize(size, resample)
        a = np.asarray(im)
    if a.ndim == 2:
        a = a[:, :, None]
    return a, resized


def probe_image(path) -> tuple[tuple[int, int], int]:
    """((width, height), channels) read from the file header (no full decode)."""
    with Image.open(path) as im:
        size = im.size
        if im.format in ("JPEG", "MPO", "TIFF", "WEBP"):
            try:
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientation with a 90-degree turn
                    size = (size[1], size[0])
            except Exception:
                pass
        return size, image_channels(im)
