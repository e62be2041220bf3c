"""Small helpers shared by the importers: progress/cancel plumbing and uint8 conversion of arrays."""
from __future__ import annotations

import math
import os
import re
import unicodedata
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import DataCancelled, DataError

ProgressFn = Callable[[int, int, str], None]


class Reporter:
    """Wraps the user's ``progress`` callback and ``cancel`` callable/``threading.Event``."""

    def __init__(self, progress: ProgressFn | None = None, cancel: Any = None):
        self._progress = progress
        if cancel is None:
            self._cancel: Callable[[], bool] = lambda: False
        elif isinstance(cancel, threading.Event) or (hasattr(cancel, "is_set") and not callable(cancel)):
            self._cancel = cancel.is_set
        elif callable(cancel):
            self._cancel = cancel
        else:
            raise DataError(f"cancel must be a callable returning True to cancel or a threading.Event, got {type(cancel).__name__}")

    def cancelled(self) -> bool:
        return bool(self._cancel())

    def check(self) -> None:
        """Raise ``DataCancelled`` when cancellation was requested."""
        if self.cancelled():
            raise DataCancelled()

    def __call__(self, done: int, total: int, message: str) -> None:
        self.check()
        if self._progress is not None:
            self._progress(int(done), int(total), message)
        self.check()


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable, else physical memory), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(nbytes: int, what: str) -> None:
    """Refuse, before allocating, an array larger than the memory available (a file can announce any
    size, and a consistent one, e.g. gigabytes of zeros compressed 1000:1, passes every header check)."""
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise DataError(
            f"{what} needs {_size(nbytes)} of memory but only {_size(avail)} are available; "
            "load a smaller data set (or a subset of it), or free memory"
        )


def _size(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def natural_key(name: str) -> list:
    """Sort key that orders '2' before '10' (class folders named by number sort as numbers).

    A run of digits compares as a number without int() (a 5,000-digit name exceeds Python's
    int-string limit, and '²' is isdigit() but no int): by its length without leading zeros, then
    its digits (every Unicode decimal digit, as ``\\d`` matches, by its value). re.split with one
    group alternates text, digits, text..., so each position always holds the same kind."""
    parts = re.split(r"(\d+)", name)
    key: list = []
    for i, t in enumerate(parts):
        if i % 2:
            digits = "".join(str(unicodedata.decimal(c, 0)) for c in t).lstrip("0")
            key.append((len(digits), digits))
        else:
            key.append(t.lower())
    return key


def to_uint8(x: np.ndarray, what: str, fix: str = "") -> np.ndarray:
    """Convert pixel values to uint8: uint8 as is; bool to 0/255; integers in 0..255 as is;
    floats in 0..1 scaled by 255, floats in 0..255 rounded. Anything else is a DataError."""
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.bool_:
        return x.astype(np.uint8) * np.uint8(255)
    if x.dtype.kind in "iu":
        if x.size:
            lo, hi = int(x.min()), int(x.max())
            if lo < 0 or hi > 255:
                raise DataError(f"{what} has pixel values from {lo} to {hi}; expected 0..255{('; ' + fix) if fix else ''}")
        return x.astype(np.uint8)
    if x.dtype.kind == "f":
        if x.size == 0:
            return x.astype(np.uint8)
        lo, hi = float(np.min(x)), float(np.max(x))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise DataError(f"{what} contains NaN or infinite pixel values; clean the data before loading it")
        if lo < 0.0 or hi > 255.0:
            raise DataError(
                f"{what} has pixel values from {lo:.4g} to {hi:.4g}; expected 0..1 or 0..255 "
                f"(save the images before normalization){('; ' + fix) if fix else ''}"
            )
        scale = 255.0 if hi <= 1.0 else 1.0
        return np.clip(np.rint(x.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    raise DataError(f"{what} has unsupported element type {x.dtype}; store pixels as uint8 or float numbers")


_LABEL_MAX = 2**62  # labels beyond this wrap around in int64 arithmetic; far beyond any class count anyway


def to_labels(y: np.ndarray, what: str) -> np.ndarray:
    """Integer class labels as int64; one-hot rows are turned into indices. Non-integer or negative
    labels raise a DataError."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1 and y.dtype.kind in "biuf":
        row_sums = y.sum(axis=1)
        if np.all((y == 0) | (y == 1)) and np.all(row_sums == 1):
            return np.argmax(y, axis=1).astype(np.int64)
        raise DataError(f"{what} is a {y.shape[0]}x{y.shape[1]} table that is not one-hot; give one class index per sample")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{what} has shape {tuple(y.shape)}; give one class index per sample (a 1-D array)")
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind in "iu":
        if y.dtype == np.uint64 and y.size and int(y.max()) > _LABEL_MAX:
            i = int(np.argmax(y))
            raise DataError(f"{what} has label {int(y[i])} at index {i}, too large to be a class index; labels must be class indices 0, 1, 2, ...")
        out = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if y.size and not np.all(np.isfinite(y)):
            raise DataError(f"{what} contains NaN or infinite labels; every label must be a class index 0, 1, 2, ...")
        if y.size and float(np.max(np.abs(y))) > _LABEL_MAX:  # would wrap around when cast to int64
            i = int(np.argmax(np.abs(y)))
            raise DataError(f"{what} has label {float(y[i]):g} at index {i}, too large to be a class index; labels must be class indices 0, 1, 2, ...")
        r = np.rint(y)
        bad = np.nonzero(r != y)[0]
        if bad.size:
            raise DataError(
                f"{what} has non-integer label {float(y[bad[0]]):g} at index {int(bad[0])}; labels must be class indices 0, 1, 2, ..."
            )
        out = r.astype(np.int64)
    else:
        raise DataError(f"{what} has labels of type {y.dtype}; labels must be integer class indices")
    if out.size and out.min() < 0:
        i = int(np.argmin(out))
        raise DataError(f"{what} has negative label {int(out[i])} at index {i}; labels must be class indices 0, 1, 2, ...")
    return out
