"""MNIST-style IDX files (raw or gzip): MNIST, Fashion-MNIST, KMNIST, EMNIST and the like.

A folder holds ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` and optionally the
``t10k-*`` (or ``test-*``) pair, in any letter case, with ``-`` or ``.`` separators, optionally
``.gz``, optionally behind a prefix (``emnist-letters-train-images-idx3-ubyte``). When a folder
holds several prefixed sets, give the path of one of its files to choose.
"""
from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import numpy as np

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


def read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the file starts with the gzip magic bytes."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}; check the file's permissions") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"'{path}' is a damaged or incomplete gzip file ({e}); download it again") from None
    return data


def parse_idx(data: bytes, what: str) -> np.ndarray:
    """Parse an IDX blob (magic 0 0 type ndim, big-endian uint32 dims, data) into an array."""
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
    if len(data) < header:
        raise DataError(f"{what} is truncated inside its header; download the file again")
    dims = [int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)]
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
    have = len(data) - header
    if have < expected:
        raise DataError(
            f"{what} is truncated: its header announces {'x'.join(map(str, dims))} values ({expected} bytes) "
            f"but only {have} bytes follow; download the file again"
        )
    if have > expected:
        raise DataError(
            f"{what} has {have - expected} bytes more than its header ({'x'.join(map(str, dims))}) announces; "
            "the file is damaged or not IDX"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


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
                    if len(parts) >= 2 and parts[0].lstrip("-").isdigit() and parts[1].isdigit():
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
        x = parse_idx(read_bytes(ip), f"'{ip}'")
        y = parse_idx(read_bytes(lp), f"'{lp}'")
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
        lut = np.full(max(keys) + 1, -1, dtype=np.int64)
        lut[keys] = np.arange(len(keys))
        for split in (train, test):
            if split is None:
                continue
            if split.y.size and int(split.y.max()) >= len(lut):
                raise DataError(f"label {int(split.y.max())} is not listed in the mapping file '{prefix}mapping.txt'")
            split.y = lut[split.y]
            if (split.y < 0).any():
                raise DataError(f"some labels are not listed in the mapping file '{prefix}mapping.txt'; use the file of the same set")
        names = [mapping[k] for k in keys]
    elif emnist and "letters" in prefix and train.y.size and int(train.y.min()) >= 1 and int(train.y.max()) <= 26:
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
