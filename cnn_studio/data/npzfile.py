"""NumPy ``.npz`` archives: ``x``/``y`` or ``x_train``/``y_train`` (+ ``x_test``/``y_test``,
``x_val``/``y_val``), optional ``class_names`` (a string array). Loaded with ``allow_pickle=False``:
arrays of Python objects are refused. Images may be NHWC, NCHW (channels axis found by its size 1-4;
when both fit, a 1 or 3 wins, then NHWC), NHW or flat rows (N, pixels) and
uint8, integer 0..255, bool, or float 0..1 / 0..255. Labels are class indices or one-hot rows.
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from . import _util
from ._util import to_labels, to_uint8
from .csvfile import image_shape_for
from .errors import DataError
from .raw import RawData, RawSplit, check_pair, finish_classes

_PAIRS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test"), "val": ("x_val", "y_val")}


def _layout(x: np.ndarray, what: str, height, width) -> np.ndarray:
    """Any supported layout -> NHWC."""
    if x.ndim == 2:
        h, w, c = image_shape_for(x.shape[1], height, width, what)
        return x.reshape(len(x), h, w, c)
    if x.ndim == 3:
        return x[..., None]
    if x.ndim == 4:
        last, first = x.shape[3] in (1, 2, 3, 4), x.shape[1] in (1, 2, 3, 4)
        if last and first:  # ambiguous (tiny images): prefer the axis holding a gray/RGB count, then NHWC
            if x.shape[1] in (1, 3) and x.shape[3] not in (1, 3):
                return x.transpose(0, 2, 3, 1)
            return x
        if last:
            return x
        if first:
            return x.transpose(0, 2, 3, 1)
        raise DataError(
            f"{what} has shape {tuple(x.shape)}, in which neither axis 1 nor axis 3 is a channel count (1-4); "
            "store images as N x H x W x C or N x C x H x W"
        )
    raise DataError(f"{what} has shape {tuple(x.shape)}; store images as N x H x W (x C) with one image per row")


# Deflate expands at most about 1032:1 (see idx._DEFLATE_MAX_RATIO): a member declaring more is damaged.
_DEFLATE_MAX_RATIO = 1100


def check_members(path: Path) -> None:
    """Check every array's declared size before numpy reads it: numpy allocates the shape an array's
    header announces and then reads, so a header must agree with the member's size in the zip
    directory, and that size with what the compressed bytes can hold (no zip bombs)."""
    try:
        length, total = path.stat().st_size, 0
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[:-4]
                if info.compress_size > length or info.file_size > max(info.compress_size, 1) * _DEFLATE_MAX_RATIO:
                    raise DataError(
                        f"'{key}' in '{path}' declares {info.file_size} bytes, more than its {info.compress_size} "
                        "stored bytes can hold; the file is damaged: save it again with np.savez"
                    )
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(fh)
                    if dtype.hasobject:
                        continue  # refused below with its own message: it would need pickle
                    want = math.prod(shape) * dtype.itemsize
                    have = info.file_size - fh.tell()
                if want != have:
                    raise DataError(
                        f"'{key}' in '{path}' announces shape {tuple(shape)} ({want} bytes) but holds {have} bytes; "
                        "the file is damaged: save it again with np.savez"
                    )
                total += want
        _util.check_memory(total, f"'{path}'")
    except DataError:
        raise
    except Exception as e:  # zipfile and numpy's header parser raise many kinds on a damaged archive
        raise DataError(f"'{path}' is not a readable .npz archive ({type(e).__name__}: {e}); save it with np.savez") from None


def load_npz(path: Path, reporter, height=None, width=None) -> RawData:
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".npz")
        if len(found) != 1:
            raise DataError(f"'{path}' holds {len(found)} .npz files; give the path of the one to load")
        path = found[0]
    reporter(0, 1, f"Reading {path.name}")
    arrays: dict[str, np.ndarray] = {}
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}; check the file's permissions") from None
    if magic == b"\x93NUMPY":
        raise DataError(f"'{path}' is a single .npy array, not an .npz archive; save it with np.savez(path, x=images, y=labels)")
    if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DataError(f"'{path}' is not an .npz archive (it does not start like a zip file); save it with np.savez(path, x=images, y=labels)")
    check_members(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = {k.lower(): k for k in f.files}
            for low, key in keys.items():
                try:
                    value = f[key]
                    if isinstance(value, np.ndarray):
                        arrays[low] = value
                except ValueError as e:
                    if "allow_pickle" in str(e) or "object" in str(e).lower():
                        raise DataError(
                            f"'{key}' in '{path}' is an array of Python objects, which is not loaded because that "
                            "needs pickle; save plain numeric arrays (uint8 images, integer labels)"
                        ) from None
                    raise
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"'{path}' declares arrays too large for memory; the file is damaged or too big to load") from None
    except Exception as e:  # zipfile, zlib and numpy's header parser raise many kinds on a damaged archive
        raise DataError(f"'{path}' is not a readable .npz archive ({type(e).__name__}: {e}); save it with np.savez") from None

    if "x" in arrays or "y" in arrays:
        pairs = {"train": ("x", "y")}
    else:
        pairs = {}
    for split, (xk, yk) in _PAIRS.items():
        if xk in arrays or yk in arrays:
            if split == "train" and pairs:
                raise DataError(f"'{path}' has both 'x'/'y' and 'x_train'/'y_train'; keep one pair")
            pairs[split] = (xk, yk)
    if "train" not in pairs:
        raise DataError(
            f"'{path}' has arrays {', '.join(sorted(arrays)) or '(none)'}; expected 'x' and 'y' "
            "(or 'x_train' and 'y_train', optionally 'x_test' and 'y_test')"
        )
    splits: dict[str, RawSplit] = {}
    for split, (xk, yk) in pairs.items():
        for k in (xk, yk):
            if k not in arrays:
                raise DataError(f"'{path}' has '{yk if k == xk else xk}' but no '{k}'; store images and labels in pairs")
        what = f"'{xk}' in '{path}'"
        x = arrays[xk]
        if x.dtype.kind not in "biuf":
            raise DataError(f"{what} holds {x.dtype} values; images must be numbers (uint8 0..255 or float 0..1)")
        x = to_uint8(_layout(x, what, height, width), what)
        y = to_labels(arrays[yk], f"'{yk}' in '{path}'")
        check_pair(len(x), y, f"'{path}' ('{xk}'/'{yk}')")
        splits[split] = RawSplit(np.ascontiguousarray(x), y)
    shapes = {s: r.x.shape[1:3] for s, r in splits.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"the splits in '{path}' have different image sizes ({shapes}); store one size for all")
    names = None
    if "class_names" in arrays:
        cn = arrays["class_names"]
        if cn.dtype.kind not in "US" or cn.ndim != 1:
            raise DataError(f"'class_names' in '{path}' must be a 1-D array of strings")
        names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in cn.tolist()]
    warnings: list[str] = []
    others = [(splits[s].y, f"the {s} labels") for s in ("test", "val") if s in splits]
    names = finish_classes(splits["train"].y, others, names, f"'{path}'", warnings)
    tr = splits["train"]
    h, w, c = tr.x.shape[1:]
    parts = [f"{len(tr)} training"] + [f"{len(splits[s])} {s}" for s in ("val", "test") if s in splits]
    desc = f"NPZ '{path}': {', '.join(parts)} images of {h}x{w}{'' if c == 1 else 'x' + str(c)}"
    return RawData(train=tr, test=splits.get("test"), val=splits.get("val"), class_names=names,
                   description=desc, warnings=warnings)
