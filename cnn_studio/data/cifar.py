"""CIFAR-10 / CIFAR-100 binary version (``cifar-10-binary.tar.gz`` / ``cifar-100-binary.tar.gz``
extracted). CIFAR-10: ``data_batch_1..5.bin`` + ``test_batch.bin``, records of 1 label byte and
3072 pixel bytes (R, G, B planes of 32x32). CIFAR-100: ``train.bin`` + ``test.bin``, records of a
coarse and a fine label byte and 3072 pixel bytes; the fine labels are used. Class names come from
``batches.meta.txt`` / ``fine_label_names.txt`` when present. The pickled "python version" is refused
(loading pickles can run code).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import DataError
from .raw import RawData, RawSplit, finish_classes

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_BATCH_RE = re.compile(r"^data_batch_(\d+)\.bin$", re.IGNORECASE)


def _files(folder: Path) -> dict[str, Path]:
    try:
        return {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    except OSError:
        return {}


def cifar_kind(folder: Path) -> str | None:
    """'cifar10', 'cifar100', 'python' (pickled version) or None."""
    names = _files(folder)
    if any(_BATCH_RE.match(n) for n in names) or "test_batch.bin" in names:
        return "cifar10"
    if "train.bin" in names and ("test.bin" in names or "fine_label_names.txt" in names or "coarse_label_names.txt" in names):
        return "cifar100"
    if "data_batch_1" in names or "batches.meta" in names or ("train" in names and "meta" in names):
        return "python"
    return None


def find_cifar_dir(path: Path) -> Path | None:
    """The folder holding the batches: ``path`` itself or one of its immediate subfolders."""
    folder = path if path.is_dir() else path.parent
    if cifar_kind(folder):
        return folder
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return None
    for sub in subs:
        if cifar_kind(sub):
            return sub
    return None


def _read_names(path: Path | None, warnings: list[str]) -> list[str] | None:
    if path is None:
        return None
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError as e:
        warnings.append(f"cannot read the class names in '{path}' ({e.strerror or e}); the classes are named by default")
        return None
    return [ln for ln in lines if ln] or None


def _read_batch(path: Path, label_bytes: int, label_index: int) -> RawSplit:
    rec = label_bytes + 3072
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}; check the file's permissions") from None
    if len(data) == 0 or len(data) % rec:
        kind = "CIFAR-10" if label_bytes == 1 else "CIFAR-100"
        raise DataError(
            f"'{path}' has {len(data)} bytes, not a whole number of {rec}-byte {kind} records; "
            "the file is truncated or not a CIFAR binary batch: download it again"
        )
    arr = np.frombuffer(data, dtype=np.uint8).reshape(-1, rec)
    y = arr[:, label_index].astype(np.int64)
    x = arr[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return RawSplit(np.ascontiguousarray(x), y)


def load_cifar(path: Path, reporter) -> RawData:
    path = Path(path)
    folder = find_cifar_dir(path)
    if folder is None:
        raise DataError(
            f"'{path}' holds no CIFAR binary batches; expected data_batch_1.bin ... test_batch.bin (CIFAR-10) "
            "or train.bin and test.bin (CIFAR-100) from the binary version of the data set"
        )
    kind = cifar_kind(folder)
    if kind == "python":
        raise DataError(
            f"'{folder}' holds the CIFAR 'python version', which is stored with pickle and is not loaded for safety; "
            "download the binary version (cifar-10-binary.tar.gz or cifar-100-binary.tar.gz) instead"
        )
    files = _files(folder)
    warnings: list[str] = []
    if kind == "cifar10":
        batches = sorted(((int(m.group(1)), p) for n, p in files.items() if (m := _BATCH_RE.match(n))))
        if not batches:
            raise DataError(f"'{folder}' has test_batch.bin but no data_batch_N.bin training batches; add them")
        nums = [n for n, _ in batches]
        if nums != list(range(1, len(nums) + 1)) or len(nums) < 5:
            missing = sorted(set(range(1, max(5, max(nums)) + 1)) - set(nums))
            if missing:
                warnings.append(f"training batches {', '.join(f'data_batch_{m}.bin' for m in missing)} are missing; "
                                "training uses the batches present")
        parts = []
        for i, (_, p) in enumerate(batches):
            reporter(i, len(batches) + 1, f"Reading {p.name}")
            parts.append(_read_batch(p, 1, 0))
        train = RawSplit(np.concatenate([s.x for s in parts]), np.concatenate([s.y for s in parts]))
        test = _read_batch(files["test_batch.bin"], 1, 0) if "test_batch.bin" in files else None
        names = _read_names(files.get("batches.meta.txt"), warnings) or CIFAR10_NAMES
        title = "CIFAR-10"
    else:
        reporter(0, 2, "Reading train.bin")
        train = _read_batch(files["train.bin"], 2, 1)
        test = _read_batch(files["test.bin"], 2, 1) if "test.bin" in files else None
        names = _read_names(files.get("fine_label_names.txt"), warnings)
        title = "CIFAR-100"
    if test is None:
        warnings.append(f"'{folder}' has no test batch; there is no test split")
    others = [(test.y, "the test labels")] if test is not None else []
    names = finish_classes(train.y, others, names, f"'{folder}'", warnings)
    desc = (f"{title} '{folder}': {len(train)} training{f' and {len(test)} test' if test is not None else ''} "
            f"images of 32x32 RGB, {len(names)} classes")
    return RawData(train=train, test=test, class_names=names, description=desc, warnings=warnings)
