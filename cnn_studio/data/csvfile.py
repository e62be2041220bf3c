"""CSV tables with one image per row: a label column and pixel columns (Kaggle MNIST layout,
``label,pixel0,...,pixel783``, or header-less ``mnist_train.csv`` with the label first).

The label column is ``label_column`` (a header name or 0-based index), else a column named
label/labels/class/target/y, else the first column. Pixels fill a square image: N*N values are gray,
N*N*3 values are colour stored pixel by pixel (r, g, b, r, g, b, ...); with ``height``/``width`` set,
any matching count h*w or h*w*3 works too. Values are 0..255 or 0..1. Labels are integers
0, 1, ... or text (then the sorted distinct texts are the class names).

A test split comes from a sibling file named like the training file with ``train`` replaced by
``test`` (``train.csv`` -> ``test.csv``); a test file without the label column (Kaggle's
submission input) is not a test split and is reported in the warnings.
"""
from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np

from ._util import natural_key, to_labels, to_uint8
from .errors import DataError
from .raw import RawData, RawSplit, finish_classes

_LABEL_NAMES = ("label", "labels", "class", "target", "y")
# The fast path parses every cell as float32, which rounds integers from 2**24 on: labels that large are
# read again exactly (class indices that big are rare; a label of 16777217 must not become 16777216).
_FLOAT32_EXACT = 2**24


def _first_row(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            for row in csv.reader(f):
                if row and any(c.strip() for c in row):
                    return [c.strip() for c in row]
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}; check the file's permissions") from None
    except csv.Error as e:
        raise DataError(f"'{path}' is not a readable CSV file ({e}); save it as comma-separated text") from None
    raise DataError(f"'{path}' is empty; a CSV data set needs a label column and pixel columns")


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _resolve_label(header: list[str] | None, ncols: int, label_column: str | None, path: Path) -> int:
    if label_column is not None and label_column.strip().lstrip("-").isdigit():
        i = int(label_column)
        if not 0 <= i < ncols:
            raise DataError(f"label column {i} does not exist in '{path}', which has {ncols} columns (0..{ncols - 1})")
        return i
    if label_column is not None:
        if header is None:
            raise DataError(
                f"'{path}' has no header row, so the label column '{label_column}' cannot be found; "
                "give the column's 0-based index instead"
            )
        low = [h.lower() for h in header]
        if label_column.lower() not in low:
            shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
            raise DataError(f"'{path}' has no column named '{label_column}' (columns: {shown}); set label_column to one of them")
        return low.index(label_column.lower())
    if header is not None:
        low = [h.lower() for h in header]
        for name in _LABEL_NAMES:
            if name in low:
                return low.index(name)
    return 0


def image_shape_for(count: int, height: int | None, width: int | None, what: str) -> tuple[int, int, int]:
    """(h, w, c) for a row of ``count`` pixel values."""
    if height and width:
        for c in (1, 3):
            if height * width * c == count:
                return height, width, c
    n = math.isqrt(count)
    if n * n == count and n > 0:
        return n, n, 1
    if count % 3 == 0:
        n = math.isqrt(count // 3)
        if n * n * 3 == count and n > 0:
            return n, n, 3
    raise DataError(
        f"{what} has {count} pixel values per image, which is not a square image (N*N gray or N*N*3 colour); "
        "set height and width to the image size, or check that only the label column is not a pixel"
    )


def _scan(path: Path, skip_header: bool, ncols: int, label_idx: int) -> tuple[np.ndarray, list[str]]:
    """Slow, exact parse that either returns (pixels float32, label strings) or names the bad cell."""
    rows, labels = [], []
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.reader(f)
        line = 0
        for row in reader:
            line = reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            if skip_header:
                skip_header = False
                continue
            if len(row) != ncols:
                raise DataError(
                    f"'{path}' line {line} has {len(row)} columns but the first row has {ncols}; "
                    "every row must have the same columns (fix or delete that row)"
                )
            vals = []
            for j, cell in enumerate(row):
                if j == label_idx:
                    labels.append(cell.strip())
                    continue
                try:
                    vals.append(float(cell))
                except ValueError:
                    raise DataError(
                        f"'{path}' line {line}, column {j + 1} holds '{cell[:20]}', not a number; "
                        "pixel columns must hold numbers 0..255"
                    ) from None
            rows.append(vals)
    x = np.asarray(rows, dtype=np.float32).reshape(len(rows), ncols - 1)
    return x, labels


def _read_table(path: Path, label_column: str | None, height, width, expect_cols: int | None = None):
    """-> (pixels float32 (N, P), labels: np.ndarray numeric or list[str], header, label_idx, ncols)."""
    first = _first_row(path)
    header = first if not all(_is_number(c) for c in first) else None
    ncols = len(first)
    if ncols < 2:
        raise DataError(f"'{path}' has a single column; a CSV data set needs a label column and pixel columns")
    label_idx = _resolve_label(header, ncols, label_column, path)
    skip = 1 if header is not None else 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" is reported below, in words
            data = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float32, ndmin=2, encoding="utf-8-sig")
        if data.shape[1] != ncols:
            raise ValueError("column count")
        labels = data[:, label_idx].astype(np.float64)
        if labels.size and float(np.max(np.abs(labels))) >= _FLOAT32_EXACT:
            raise ValueError("labels beyond float32 precision")  # re-read exactly below
        x = np.delete(data, label_idx, axis=1)
    except (ValueError, IndexError):
        # slow path: text labels, quoting, or a bad cell that must be named
        try:
            x, text = _scan(path, skip == 1, ncols, label_idx)
        except csv.Error as e:
            raise DataError(f"'{path}' is not a readable CSV file ({e}); save it as comma-separated text") from None
        if all(_is_number(t) for t in text):
            labels = _numeric_labels(text)
        else:
            labels = text
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}; check the file's permissions") from None
    return x, labels, header, label_idx, ncols


def _numeric_labels(text: list[str]) -> np.ndarray:
    """Number labels, exact: integer literals as int64 (float64 rounds beyond 2**53), others as float64."""
    try:
        values = [int(t) for t in text]
    except ValueError:  # "1.0", "1e3", or an integer too long for Python to convert
        return np.asarray([float(t) for t in text], dtype=np.float64)
    if values and max(abs(v) for v in values) > 2**62:
        return np.asarray([float(v) for v in values], dtype=np.float64)  # refused as too large by to_labels
    return np.asarray(values, dtype=np.int64)


def _sibling_test(path: Path) -> Path | None:
    name = path.name
    for a, b in (("train", "test"), ("Train", "Test"), ("TRAIN", "TEST")):
        if a in name:
            cand = path.with_name(name.replace(a, b))
            if cand.is_file():
                return cand
    return None


def find_train_csv(folder: Path) -> Path | None:
    csvs = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    for p in csvs:
        if p.stem.lower() == "train":
            return p
    trains = [p for p in csvs if "train" in p.stem.lower()]
    if len(trains) == 1:
        return trains[0]
    non_test = [p for p in csvs if "test" not in p.stem.lower()]
    return non_test[0] if len(non_test) == 1 else None


def load_csv(path: Path, reporter, label_column: str | None = None, height=None, width=None) -> RawData:
    path = Path(path)
    if path.is_dir():
        found = find_train_csv(path)
        if found is None:
            raise DataError(f"'{path}' holds no single training CSV file; give the path of the CSV file (e.g. train.csv)")
        path = found
    notes: list[str] = []
    reporter(0, 2, f"Reading {path.name}")
    x, labels, header, label_idx, ncols = _read_table(path, label_column, height, width)
    if len(x) == 0:
        raise DataError(f"'{path}' has a header but no data rows; add one row per image")
    h, w, c = image_shape_for(x.shape[1], height, width, f"'{path}'")

    test_path = _sibling_test(path)
    test_x = test_labels = None
    if test_path is not None:
        first = _first_row(test_path)
        if len(first) == ncols:
            reporter(1, 2, f"Reading {test_path.name}")
            col = header[label_idx] if header is not None else str(label_idx)
            if header is not None and first and all(_is_number(v) for v in first):
                col = str(label_idx)
            test_x, test_labels, _, _, _ = _read_table(test_path, col, height, width)
        elif len(first) == ncols - 1:
            notes.append(
                f"'{test_path.name}' has no label column (like Kaggle's submission input), so it is not used as a test split"
            )
        else:
            notes.append(
                f"'{test_path.name}' has {len(first)} columns but '{path.name}' has {ncols}; it is not used as a test split"
            )

    if isinstance(labels, list) or isinstance(test_labels, list):
        texts = [str(v) for v in (labels if isinstance(labels, list) else labels.tolist())]
        names = sorted(set(texts), key=natural_key)
        index = {n: i for i, n in enumerate(names)}
        y = np.asarray([index[t] for t in texts], dtype=np.int64)
        if test_labels is not None:
            tt = [str(v) for v in (test_labels if isinstance(test_labels, list) else test_labels.tolist())]
            unknown = sorted(set(tt) - set(index))
            if unknown:
                raise DataError(f"'{test_path}' has labels not in the training file ({', '.join(unknown[:5])}); "
                                "every test class must also appear in training")
            ty = np.asarray([index[t] for t in tt], dtype=np.int64)
    else:
        names = None
        y = to_labels(labels, f"the label column of '{path}'")
        ty = to_labels(test_labels, f"the label column of '{test_path}'") if test_x is not None else None

    def images(arr, what):
        arr = to_uint8(arr, what, "store pixels as 0..255 or 0..1")
        return np.ascontiguousarray(arr.reshape(len(arr), h, w, c))

    train = RawSplit(images(x, f"'{path}'"), y)
    test = RawSplit(images(test_x, f"'{test_path}'"), ty) if test_x is not None else None
    others = [(test.y, "the test labels")] if test is not None else []
    names = finish_classes(train.y, others, names, f"'{path}'", notes)
    desc = (f"CSV '{path}': {len(train)} training{f' and {len(test)} test' if test is not None else ''} images of "
            f"{h}x{w}{'x3' if c == 3 else ''}, label column {header[label_idx] if header else label_idx}")
    return RawData(train=train, test=test, class_names=names, description=desc, warnings=notes)
