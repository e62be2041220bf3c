"""MNIST-style IDX files (raw or gzip): MNIST, Fashion-MNIST, KMNIST, EMNIST and the like.

A folder holds ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` and optionally the
``t10k-*`` (or ``test-*``) pair, in any letter case, with ``-`` or ``.`` separators, optionally
``.gz``, optionally behind a prefix (``emnist-letters-train-images-idx3-ubyte``). When a folder
holds several prefixed sets, give the path of one of its files to choose.
"""
from __future__ import annotations

import gzip
import io
import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from . import _util
from ._util import to_labels, to_uint8
from .errors import DataError
from .raw import RawData, RawSplit, check_pair, finish_classes

_IDX_RE = re.compile(
    r"^(?P<prefix>.*?)(?P<split>train|t10k|test)[-_.](?P<kind>images|labels)[-_.]idx(?P<nd>[0-9])[-_.]ubyte(?:\.gz)?$",
    re.IGNORECASE,
)
_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"]


def is_idx_name(name: str) -> bool:
    return _IDX_RE.match(name) is not None


# Deflate cannot expand data by more than about 1032:1, so a gzip file of n bytes holds at most this many
# times n bytes: a header announcing more is refused before anything is inflated or allocated.
_DEFLATE_MAX_RATIO = 1100


def read_idx(path: Path, what: str) -> np.ndarray:
    """Read an IDX file (raw, or gzip when it starts with the gzip magic bytes) into an array.

    The header is read first (streaming through gzip), and the size it announces is checked against
    the file's length (raw) or the most the compressed bytes can hold (gzip) before the data is read:
    a damaged or hostile header never makes us inflate or allocate more than the file can contain.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                f.seek(0)
                with gzip.GzipFile(fileobj=f, mode="rb") as gz:
                    return _read_idx(gz, what, size, compressed=True)
            f.seek(0)
            return _read_idx(f, what, size, compressed=False)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"'{path}' is a damaged or incomplete gzip file ({e}); download it again") from None
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}; check the file's permissions") from None


def parse_idx(data: bytes, what: str) -> np.ndarray:
    """Parse an IDX blob (magic 0 0 type ndim, big-endian uint32 dims, data) into an array."""
    return _read_idx(io.BytesIO(data), what, len(data), compressed=False)


def _read_idx(stream, what: str, size: int, compressed: bool) -> np.ndarray:
    """IDX from a binary stream of ``size`` bytes on disk (compressed: ``stream`` inflates them)."""
    data = stream.read(4)
    if len(data) < 4:
        raise DataError(f"{what} is too short to be an IDX file ({len(data)} bytes); the file is truncated or not IDX")
    if data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DataError(
            f"{what} is not an IDX file (its first bytes are {data[:4].hex(' ')}, expected 00 00 <type> <dims>); "
            "check that you picked the MNIST-style images/labels file"
        )
    dtype, ndim = _TYPES[data[2]], data[3]
    if not 1 <= ndim <= 4:
        raise DataError(f"{what} declares {ndim} dimensions; an IDX images or labels file has 1 to 4")
    header = 4 + 4 * ndim
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{what} is truncated inside its header; download the file again")
    dims = list(struct.unpack(f">{ndim}I", raw_dims))
    shape = "x".join(map(str, dims))
    expected = math.prod(dims) * dtype.itemsize
    if not compressed:
        have = size - header
        if have < expected:
            raise DataError(
                f"{what} is truncated: its header announces {shape} values ({expected} bytes) "
                f"but only {have} bytes follow; download the file again"
            )
        if have > expected:
            raise DataError(
                f"{what} has {have - expected} bytes more than its header ({shape}) announces; "
                "the file is damaged or not IDX"
            )
    elif expected > size * _DEFLATE_MAX_RATIO:
        raise DataError(
            f"{what} is damaged: its header announces {shape} values ({expected} bytes), more than its {size} "
            "compressed bytes can hold; download the file again"
        )
    _util.check_memory(expected, what)
    buf = np.empty(expected, dtype=np.uint8)  # untouched pages cost nothing if the body turns out short
    view, got = memoryview(buf), 0
    while got < expected:
        n = stream.readinto(view[got:])
        if not n:
            raise DataError(
                f"{what} is truncated: its header announces {shape} values ({expected} bytes) "
                f"but only {got} bytes follow; download the file again"
            )
        got += n
    if compressed and stream.read(1):
        raise DataError(f"{what} has more bytes than its header ({shape}) announces; the file is damaged or not IDX")
    return buf.view(dtype).reshape(dims)


def find_idx_sets(folder: Path) -> dict[str, dict[tuple[str, str], Path]]:
    """prefix (lower case) -> {(split, kind): path}, split in train/test, kind in images/labels."""
    sets: dict[str, dict[tuple[str, str], Path]] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return sets
    for p in entries:
        m = _IDX_RE.match(p.name)
        if not m or not p.is_file():
            continue
        split = "train" if m["split"].lower() == "train" else "test"
        key = (split, m["kind"].lower())
        group = sets.setdefault(m["prefix"].lower(), {})
        if key not in group or group[key].name.lower().endswith(".gz"):  # prefer the uncompressed copy
            group[key] = p
    return sets


def _mapping(folder: Path, prefix: str) -> dict[int, str] | None:
    for p in folder.iterdir() if folder.is_dir() else []:
        if p.name.lower() == f"{prefix}mapping.txt":
            out: dict[int, str] = {}
            try:
                for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
                    parts = line.split()
                    # keys are class labels (0..2**31), values Unicode code points; other lines are skipped
                    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() and len(parts[0]) < 10:
                        out[int(parts[0])] = chr(int(parts[1]))
            except (OSError, ValueError, OverflowError):
                return None
            return out or None
    return None


def load_idx(path: Path, reporter) -> RawData:
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    sets = find_idx_sets(folder)
    if not sets and path.is_dir():  # a download folder holding e.g. MNIST/raw/
        try:
            subs = sorted(p for p in folder.iterdir() if p.is_dir())
        except OSError:
            subs = []
        found = [(d, find_idx_sets(d)) for d in subs]
        found = [(d, s) for d, s in found if s]
        if len(found) == 1:
            folder, sets = found[0]
    if not path.is_dir():
        m = _IDX_RE.match(path.name)
        if not m:
            raise DataError(
                f"'{path}' is not named like an IDX file (e.g. train-images-idx3-ubyte.gz); "
                "rename it or point at the folder that holds the IDX files"
            )
        sets = {m["prefix"].lower(): sets.get(m["prefix"].lower(), {})}
    if not sets:
        raise DataError(
            f"'{folder}' holds no IDX files; expected train-images-idx3-ubyte and train-labels-idx1-ubyte (optionally .gz)"
        )
    if len(sets) > 1:
        names = ", ".join(f"'{p or '(no prefix)'}'" for p in sorted(sets))
        raise DataError(
            f"'{folder}' holds several IDX data sets ({names}); give the path of one of the files of the set you want"
        )
    prefix, files = next(iter(sets.items()))
    for kind in ("images", "labels"):
        if ("train", kind) not in files:
            other = "labels" if kind == "images" else "images"
            have = files.get(("train", other)) or next(iter(files.values()))
            raise DataError(
                f"'{folder}' has '{have.name}' but no training {kind} file ({prefix}train-{kind}-idx{3 if kind == 'images' else 1}-ubyte); "
                "add it next to the other"
            )
    emnist = "emnist" in prefix
    warnings: list[str] = []

    def read_pair(split: str) -> RawSplit:
        ip, lp = files[(split, "images")], files[(split, "labels")]
        reporter(0, 1, f"Reading {ip.name}")
        x = read_idx(ip, f"'{ip}'")
        y = read_idx(lp, f"'{lp}'")
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[3] not in (1, 2, 3, 4):
            raise DataError(f"'{ip}' holds an array of shape {tuple(x.shape)}; an images file must be N x height x width")
        if emnist:
            x = x.transpose(0, 2, 1, 3)  # EMNIST stores images transposed
        x = to_uint8(x, f"'{ip}'")
        y = to_labels(y, f"'{lp}'")
        check_pair(len(x), y, f"the pair '{ip.name}' / '{lp.name}'")
        return RawSplit(np.ascontiguousarray(x), y)

    train = read_pair("train")
    test = None
    has_img, has_lab = ("test", "images") in files, ("test", "labels") in files
    if has_img and has_lab:
        test = read_pair("test")
        if test.x.shape[1:] != train.x.shape[1:]:
            raise DataError(
                f"the test images are {test.x.shape[1]}x{test.x.shape[2]} but the training images are "
                f"{train.x.shape[1]}x{train.x.shape[2]}; both files must come from the same data set"
            )
    elif has_img or has_lab:
        lone = files.get(("test", "images")) or files.get(("test", "labels"))
        warnings.append(f"'{lone.name}' has no matching test {'labels' if has_img else 'images'} file; the test files are not used")

    names = None
    mapping = _mapping(folder, prefix)
    desc_extra = ""
    if mapping:
        keys = sorted(mapping)
        sorted_keys = np.asarray(keys, dtype=np.int64)
        for split in (train, test):
            if split is None:
                continue
            # renumber by position among the sorted keys (a lookup table indexed by label would be as long
            # as the largest key the mapping file names, which can be anything)
            pos = np.minimum(np.searchsorted(sorted_keys, split.y), len(keys) - 1)
            unlisted = sorted_keys[pos] != split.y
            if unlisted.any():
                bad = int(split.y[np.argmax(unlisted)])
                raise DataError(f"label {bad} is not listed in the mapping file '{prefix}mapping.txt'; use the file of the same set")
            split.y = pos.astype(np.int64)
        names = [mapping[k] for k in keys]
    elif emnist and "letters" in prefix and all(
        s.y.size == 0 or (int(s.y.min()) >= 1 and int(s.y.max()) <= 26) for s in (train, test) if s is not None
    ) and train.y.size:  # every split, not only training: a test label 0 would become class -1
        for split in (train, test):
            if split is not None:
                split.y = split.y - 1
        names = [chr(ord("A") + i) for i in range(26)]
        desc_extra = ", labels 1..26 mapped to A..Z"
    elif "fashion" in str(folder).lower() or "fashion" in prefix:
        names = FASHION_NAMES
    others = [(test.y, "the test labels")] if test is not None else []
    names = finish_classes(train.y, others, names, f"'{folder}'", warnings)
    h, w = train.x.shape[1:3]
    desc = (f"IDX '{folder}'{' (' + prefix.rstrip('-_.') + ')' if prefix else ''}: {len(train)} training"
            f"{f' and {len(test)} test' if test is not None else ''} images of {h}x{w}{desc_extra}")
    return RawData(train=train, test=test, class_names=names, description=desc, warnings=warnings)
