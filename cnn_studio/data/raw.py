"""What an importer hands to ``load_dataset``: splits of uint8 NHWC arrays (or file lists when
streaming), integer labels and class names, plus description and warnings."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataError


@dataclass
class RawSplit:
    x: np.ndarray | None          # uint8 NHWC; None when the split streams from files
    y: np.ndarray                 # int64 class indices
    files: list[str] | None = None  # image paths, for streaming

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class RawData:
    train: RawSplit
    class_names: list[str]
    description: str
    test: RawSplit | None = None
    val: RawSplit | None = None   # a validation split given by the source (a val/ folder)
    warnings: list[str] = field(default_factory=list)
    stream: dict | None = None    # for streaming folders: channels, height, width, resize, on_corrupt
    converted: bool = False       # arrays already have the target channels and size


def check_pair(x_len: int, y: np.ndarray, what: str) -> None:
    if x_len != len(y):
        raise DataError(
            f"{what} has {x_len} images but {len(y)} labels; give exactly one label per image"
        )


# Most classes a data set may have (ImageNet-21k has 21,841). Without a class list the labels are class
# indices, so one label of 10**12 would mean a list of 10**12 class names (24 GB): labels at or beyond
# this limit are mapped to dense indices when few distinct values occur, and refused otherwise.
MAX_CLASSES = 100_000


def finish_classes(raw_train_y: np.ndarray, others: list[tuple[np.ndarray, str]], names: list[str] | None,
                   source: str, warnings: list[str]) -> list[str]:
    """Validate labels against the class list (or derive it) and return the class names.

    With names: every label must be in 0..len(names)-1. Without: there are max(label)+1 classes,
    named "0", "1", ...; labels beyond MAX_CLASSES are renumbered 0..n-1 in place (see _dense_labels).
    Fewer than two classes is an error; classes with no training sample are warned about.
    """
    every = [(raw_train_y, "the training labels")] + others
    if names is not None:
        k = len(names)
        if k == 0:
            raise DataError(f"{source} has an empty class list; give one name per class, or leave the list out")
        for y, what in every:
            if y.size and int(y.max()) >= k:
                i = int(np.argmax(y))
                raise DataError(
                    f"{source}: {what} contain label {int(y[i])} at index {i}, out of range for the {k} classes "
                    f"(0..{k - 1}); fix the label or the class list"
                )
    else:
        k = max((int(y.max()) + 1 for y, _ in every if y.size), default=0)
        if k > MAX_CLASSES:
            names = _dense_labels(every, k - 1, source, warnings)
            k = len(names)
        else:
            names = [str(i) for i in range(k)]
    if len(raw_train_y) == 0:
        raise DataError(f"{source} has no training samples; add labelled images")
    present = np.bincount(raw_train_y, minlength=k)
    if k < 2 or np.count_nonzero(present) < 2:
        only = names[int(np.argmax(present))] if k else "?"
        raise DataError(
            f"{source} has only one class ('{only}') in its training data; a classifier needs at least two classes"
        )
    missing = [names[i] for i in np.nonzero(present == 0)[0]]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:8]) + (" ..." if len(missing) > 8 else "")
        warnings.append(
            f"{len(missing)} of {k} classes have no training samples ({shown}); the model cannot learn them"
        )
    return list(names)


def _dense_labels(every: list[tuple[np.ndarray, str]], top: int, source: str, warnings: list[str]) -> list[str]:
    """Renumber sparse labels (largest ``top`` >= MAX_CLASSES) to 0..n-1 in increasing order, in place,
    and return their original values as the class names; more than MAX_CLASSES distinct values is a DataError."""
    values = np.unique(np.concatenate([y for y, _ in every]))
    if len(values) > MAX_CLASSES:
        raise DataError(
            f"{source}: the labels take {len(values)} different values (up to {top}), more than the {MAX_CLASSES} "
            "classes CNN Studio supports; the label column must hold class indices 0, 1, 2, ... or class names"
        )
    done: set[int] = set()
    for y, _ in every:
        if id(y) not in done:  # the same array listed twice must not be renumbered twice
            done.add(id(y))
            y[...] = np.searchsorted(values, y)
    warnings.append(
        f"labels go up to {top}, beyond the {MAX_CLASSES}-class limit, but only {len(values)} different values occur; "
        f"they are numbered 0..{len(values) - 1} in increasing order and keep their values as class names"
    )
    return [str(int(v)) for v in values]
