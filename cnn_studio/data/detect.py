"""Which importer reads a path: ``detect_format``."""
from __future__ import annotations

from pathlib import Path

from .cifar import find_cifar_dir
from .config import FORMATS
from .csvfile import find_train_csv
from .errors import DataError
from .folder import IMAGE_EXTS, _skip_name
from .idx import find_idx_sets, is_idx_name

_HELP = ("an image folder with one subfolder per class, a folder of MNIST-style IDX files, CIFAR binary "
         "batches, a CSV file with a label column, or an .npz file with x and y arrays")


def _has_images(folder: Path, limit: int = 2000) -> bool:
    seen = 0
    stack = [folder]
    while stack and seen < limit:
        d = stack.pop()
        try:
            for p in d.iterdir():
                seen += 1
                if _skip_name(p.name):
                    continue
                if p.is_dir():
                    stack.append(p)
                elif p.suffix.lower() in IMAGE_EXTS:
                    return True
        except OSError:
            continue
    return False


def detect_format(path) -> str:
    """One of ``shapes``, ``folder``, ``idx``, ``cifar``, ``csv``, ``npz`` for a source, or a DataError
    saying what was expected. The exact word ``shapes`` is the built-in data set."""
    if isinstance(path, str) and path.strip().lower() == "shapes":
        return "shapes"
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"'{p}' does not exist; check the path, or use 'shapes' for the built-in data set")
    if p.is_file():
        name = p.name.lower()
        if name.endswith(".npz"):
            return "npz"
        if name.endswith(".csv"):
            return "csv"
        if is_idx_name(p.name):
            return "idx"
        if name.endswith(".bin") and find_cifar_dir(p) is not None:
            return "cifar"
        if p.suffix.lower() in IMAGE_EXTS:
            raise DataError(f"'{p}' is a single image; give the folder that holds one subfolder of images per class")
        raise DataError(f"cannot tell the format of '{p}'; expected {_HELP} (or set the format explicitly)")
    if not p.is_dir():
        raise DataError(f"'{p}' is neither a file nor a folder; give {_HELP}")
    if find_idx_sets(p):
        return "idx"
    if find_cifar_dir(p) is not None:
        return "cifar"
    try:
        children = list(p.iterdir())
    except OSError as e:
        raise DataError(f"cannot list '{p}': {e.strerror or e}; check the folder's permissions") from None
    subdirs = [c for c in children if c.is_dir() and not _skip_name(c.name)]
    if any(_has_images(d) for d in subdirs):
        return "folder"
    files = [c for c in children if c.is_file()]
    if any(c.suffix.lower() == ".csv" for c in files) and find_train_csv(p) is not None:
        return "csv"
    if sum(c.suffix.lower() == ".npz" for c in files) == 1:
        return "npz"
    for d in subdirs:  # e.g. a download folder holding MNIST/raw/ or cifar-10-batches-bin/
        if find_idx_sets(d):
            return "idx"
    if any(c.suffix.lower() in IMAGE_EXTS for c in files):
        raise DataError(
            f"'{p}' holds images but no class folders; put each class's images in its own subfolder, "
            f"e.g. '{p / 'cat'}' and '{p / 'dog'}'"
        )
    if subdirs:
        raise DataError(f"the folders in '{p}' hold no images; expected {_HELP}")
    raise DataError(f"'{p}' is empty or holds nothing CNN Studio can read; expected {_HELP}")


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise DataError(f"unknown data format '{name}'; use auto or one of {', '.join(FORMATS)}")
    return name
