"""Writers of tiny data sets in every supported format, for the data-layer tests."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from memory_guard import memory_ceiling
from PIL import Image


class Make:
    """Factory of small data sets on disk (each test gets its own tmp_path)."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path

    # ---- image folders ---------------------------------------------------------------------------
    @staticmethod
    def image(path: Path, size=(8, 8), mode="RGB", value=None, seed=0, fmt=None) -> Path:
        rng = np.random.default_rng(seed)
        w, h = size
        if mode in ("RGB", "RGBA"):
            a = rng.integers(0, 256, (h, w, len(mode)), dtype=np.uint8)
        else:
            a = rng.integers(0, 256, (h, w), dtype=np.uint8)
        if value is not None:
            a[...] = value
        im = Image.fromarray(a, mode)
        path.parent.mkdir(parents=True, exist_ok=True)
        im.save(path, format=fmt)
        return path

    def folder(self, classes: dict[str, int], root: Path | None = None, size=(8, 8), mode="RGB", ext=".png",
               seed=0) -> Path:
        root = root or self.tmp / "images"
        k = 0
        for cls, n in classes.items():
            (root / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                self.image(root / cls / f"img{i}{ext}", size=size, mode=mode, seed=seed + k)
                k += 1
        return root

    # ---- IDX ----------------------------------------------------------------------------------------
    @staticmethod
    def idx_bytes(arr: np.ndarray) -> bytes:
        codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
                 np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}
        arr = np.asarray(arr)
        if arr.dtype.kind in "if" and arr.dtype.itemsize > 1:
            arr = arr.astype(arr.dtype.newbyteorder(">"))
        head = struct.pack(">BBBB", 0, 0, codes[arr.dtype], arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
        return head + arr.tobytes()

    def idx(self, folder: Path | None = None, n_train=40, n_test=20, h=6, w=5, classes=10, prefix="", gz=False,
            upper=False, seed=0, sep="-") -> tuple[Path, dict]:
        folder = folder or self.tmp / "idx"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        data = {}
        for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
            if n is None:
                continue
            x = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
            y = (np.arange(n) % classes).astype(np.uint8)
            data[split] = (x, y)
            for kind, arr, nd in (("images", x, 3), ("labels", y, 1)):
                name = f"{prefix}{stem}{sep}{kind}{sep}idx{nd}{sep}ubyte"
                if upper:
                    name = name.upper()
                blob = self.idx_bytes(arr)
                if gz:
                    name += ".gz"
                    blob = gzip.compress(blob)
                (folder / name).write_bytes(blob)
        return folder, data

    # ---- CIFAR --------------------------------------------------------------------------------------
    def cifar10(self, folder: Path | None = None, per_batch=6, batches=5, test=8, meta=True, seed=0) -> Path:
        folder = folder or self.tmp / "cifar-10-batches-bin"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        for b in range(1, batches + 1):
            (folder / f"data_batch_{b}.bin").write_bytes(self.cifar_records(rng, per_batch, 1, 10))
        if test:
            (folder / "test_batch.bin").write_bytes(self.cifar_records(rng, test, 1, 10))
        if meta:
            names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
            (folder / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
        return folder

    @staticmethod
    def cifar_records(rng, n, label_bytes, classes, labels=None) -> bytes:
        recs = np.zeros((n, label_bytes + 3072), dtype=np.uint8)
        recs[:, label_bytes:] = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        lab = np.arange(n) % classes if labels is None else np.asarray(labels)
        recs[:, label_bytes - 1] = lab
        if label_bytes == 2:
            recs[:, 0] = lab // 5  # coarse label
        return recs.tobytes()

    # ---- CSV / NPZ ------------------------------------------------------------------------------------
    def csv(self, name="train.csv", n=20, pixels=16, classes=4, header=True, seed=0, label_first=True) -> tuple[Path, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.integers(0, 256, (n, pixels))
        y = np.arange(n) % classes
        path = self.tmp / name
        lines = []
        if header:
            cols = [f"pixel{i}" for i in range(pixels)]
            lines.append(",".join(["label"] + cols if label_first else cols + ["label"]))
        for xi, yi in zip(x, y):
            vals = [str(v) for v in xi]
            lines.append(",".join([str(yi)] + vals if label_first else vals + [str(yi)]))
        path.write_text("\n".join(lines) + "\n")
        return path, x, y

    def npz(self, name="data.npz", **arrays) -> Path:
        path = self.tmp / name
        np.savez(path, **arrays)
        return path


@pytest.fixture
def make(tmp_path) -> Make:
    return Make(tmp_path)


@pytest.fixture
def ceiling():
    """``with ceiling(mb):`` runs a block under :func:`memory_ceiling`."""
    return memory_ceiling


def pytest_terminal_summary(terminalreporter):
    from fuzz_counts import terminal_summary

    terminal_summary(terminalreporter)
