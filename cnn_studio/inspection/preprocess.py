"""Turn a user's picture (an image file or a drawing) into the uint8 (C, H, W) tensor a trained model
was fed, so the app and the command line preprocess one image exactly as the data loader does for a
whole data set: decode with Pillow, convert to the model's channels (gray ``L`` or ``RGB``), resize to
H x W with the run's resize method, keep uint8. Normalisation (mean/std) is done afterwards by the
caller, the same way as for a batch of the data set.

Qt-free (numpy, torch, Pillow), so the command line uses it too.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.errors import StudioError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageReadError(StudioError):
    """An image file cannot be read or converted."""


def _resample(method: str | None):
    from PIL import Image

    table = {
        "nearest": Image.Resampling.NEAREST,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
        "area": Image.Resampling.BOX,
    }
    return table.get((method or "bilinear").lower(), Image.Resampling.BILINEAR)


def _to_tensor(img, channels: int, height: int, width: int, resize: str | None):
    import torch
    from PIL import Image

    if img.mode in ("RGBA", "LA", "P", "PA"):
        # flatten transparency onto black, as a decoder without alpha support would
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(bg, rgba)
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        arr = arr / (65535.0 if hi > 255 else 255.0) * 255.0
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
    img = img.convert("L" if channels == 1 else "RGB")
    if img.size != (width, height):
        img = img.resize((width, height), resample=_resample(resize))
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = np.transpose(arr, (2, 0, 1))
    return torch.from_numpy(np.ascontiguousarray(arr))


def load_image(path: str | os.PathLike, input_shape, resize: str | None = "bilinear"):
    """The image file at ``path`` as a uint8 tensor shaped ``input_shape`` (C, H, W), decoded and
    converted by the data package's own ``decode_image`` (the image-folder loader), so a file is
    prepared exactly as the training images were.

    Raises ImageReadError (a StudioError) naming the file and the problem."""
    import torch
    from PIL import UnidentifiedImageError

    c, h, w = (int(v) for v in input_shape)
    if c not in (1, 3):
        raise ImageReadError(f"the model takes {c}-channel input; only 1 (gray) or 3 (RGB) channel models can read image files")
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"image file '{p}' does not exist; check the path")
    if p.is_dir():
        raise ImageReadError(f"'{p}' is a folder, not an image file")
    try:
        try:
            from ..data.convert import decode_image, pil_resample
        except ImportError:  # data package not available: same steps with Pillow directly
            from PIL import Image

            with Image.open(p) as img:
                img.load()
                return _to_tensor(img, c, h, w, resize)
        arr, _ = decode_image(p, c, (w, h), pil_resample(resize or "bilinear"))
    except UnidentifiedImageError:
        raise ImageReadError(f"'{p}' is not an image Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP)") from None
    except (OSError, ValueError, SyntaxError, KeyError) as e:
        raise ImageReadError(f"cannot read image '{p}': {e}") from None
    return torch.from_numpy(np.transpose(arr, (2, 0, 1)).copy())


def array_to_input(gray: np.ndarray, input_shape, resize: str | None = "bilinear", fit: bool = True):
    """A drawing (H', W') uint8 (white strokes on black) as a uint8 tensor shaped ``input_shape``,
    converted like an array data set (the data package's ``convert_array``).

    With ``fit`` the strokes are cropped to their bounding box, scaled to fill about 70 % of the
    frame and centred on their centre of mass, as MNIST-style digits are prepared."""
    c, h, w = (int(v) for v in input_shape)
    gray = np.asarray(gray)
    if gray.dtype != np.uint8:
        gray = np.clip(np.rint(np.asarray(gray, dtype=np.float64) * (255.0 if gray.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    if fit:
        gray = fit_drawing(gray)
    try:
        from ..data.convert import convert_array
    except ImportError:
        from PIL import Image

        img = Image.fromarray(gray, mode="L")
        return _to_tensor(img, c, h, w, resize)
    return convert_array(gray[None, :, :, None], c, h, w, resize or "bilinear")[0].contiguous()


def fit_drawing(gray: np.ndarray, fill: float = 0.7) -> np.ndarray:
    """Crop a drawing to its strokes, scale it to ``fill`` of the frame and centre its mass."""
    from PIL import Image

    ys, xs = np.nonzero(gray > 16)
    if ys.size == 0:
        return gray
    H, W = gray.shape
    crop = gray[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    ch, cw = crop.shape
    s = fill * min(H, W) / max(ch, cw)
    nh, nw = max(1, int(round(ch * s))), max(1, int(round(cw * s)))
    small = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.Resampling.BILINEAR))
    out = np.zeros_like(gray)
    m = small.astype(np.float64)
    total = m.sum()
    if total > 0:
        cy = (m.sum(axis=1) * np.arange(nh)).sum() / total
        cx = (m.sum(axis=0) * np.arange(nw)).sum() / total
    else:
        cy, cx = nh / 2, nw / 2
    top = int(round(H / 2 - cy))
    left = int(round(W / 2 - cx))
    top = min(max(top, 0), H - nh)
    left = min(max(left, 0), W - nw)
    out[top : top + nh, left : left + nw] = small
    return out


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
