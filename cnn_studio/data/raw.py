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


def finish_classes(raw_train_y: np.ndarray, others: list[tuple[np.ndarray, str]], names: list[str] | None,
                   source: str, warnings: list[str]) -> list[str]:
    """Validate labels against the class list (or derive it) and return the class names.

    With names: every label must be in 0..len(names)-1. Without: there are max(label)+1 classes,
    named "0", "1", ... Fewer than two classes is an error; classes with no training sample are warned about.
    """
    every = [(raw_train_y, "the training labels")] + others
    if names is not None:
        k = len(names)
        for y, what in every:
            if y.size and int(y.max()) >= k:
                i = int(np.argmax(y))
                raise DataError(
                    f"{source}: {what} contain label {int(y[i])} at index {i}, out of range for the {k} classes "
                    f"(0..{k - 1}); fix the label or the class list"
                )
    else:
        k = max((int(y.max()) + 1 for y, _ in every if y.size), default=0)
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
