"""Fault injection: a read error (EIO) at every file open a load makes, one at a time, for every
format. Each must end in a DataError naming the file (or, for an image in a folder, that image left
out as unreadable; for CIFAR's class-names file, a warning), never another exception."""
import builtins
import gzip
import io

import numpy as np
import pytest
from test_fuzz_data import idx_blob, image_bytes

from cnn_studio.data import DataConfig, DataError, load_dataset


def seed(kind, root):
    if kind == "csv":
        (root / "train.csv").write_text("label,a,b,c,d\n" + "".join(f"{i % 2},1,2,3,4\n" for i in range(6)))
        (root / "test.csv").write_text("label,a,b,c,d\n0,1,2,3,4\n1,1,2,3,4\n")
        return root / "train.csv"
    if kind == "npz":
        np.savez(root / "d.npz", x=np.zeros((4, 3, 3), np.uint8), y=np.array([0, 1, 0, 1]))
        return root / "d.npz"
    if kind == "idx":
        (root / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_blob(np.zeros((4, 3, 3), np.uint8), 8)))
        (root / "train-labels-idx1-ubyte").write_bytes(idx_blob(np.array([0, 1, 0, 1], np.uint8), 8))
        (root / "t10k-images-idx3-ubyte").write_bytes(idx_blob(np.zeros((2, 3, 3), np.uint8), 8))
        (root / "t10k-labels-idx1-ubyte").write_bytes(idx_blob(np.array([0, 1], np.uint8), 8))
        return root
    if kind == "cifar":
        rec = np.zeros((3, 3073), np.uint8)
        rec[:, 0] = [0, 1, 2]
        (root / "data_batch_1.bin").write_bytes(rec.tobytes())
        (root / "test_batch.bin").write_bytes(rec.tobytes())
        (root / "batches.meta.txt").write_text("a\nb\nc\n")
        return root
    for i, cls in enumerate("abab"):
        (root / cls).mkdir(exist_ok=True)
        (root / cls / f"{i}.png").write_bytes(image_bytes("RGB", (5, 5), "PNG", i))
    return root


class Opens:
    """Replaces the built-in open (which pathlib, numpy, gzip and Pillow all use) and counts the opens
    under ``root``; the ``fail_at``-th raises EIO."""

    def __init__(self, root, fail_at=None):
        self.root, self.fail_at, self.paths = str(root), fail_at, []

    def __call__(self, file, *args, **kwargs):
        if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
            name = str(file)
            if name.startswith(self.root):
                self.paths.append(name)
                if len(self.paths) == self.fail_at:
                    raise OSError(5, "Input/output error", name)
        return REAL_OPEN(file, *args, **kwargs)


REAL_OPEN = builtins.open


@pytest.mark.parametrize("kind", ["csv", "npz", "idx", "cifar", "folder"])
def test_read_error_at_every_open(tmp_path, monkeypatch, kind):
    root = tmp_path / kind
    root.mkdir()
    source = seed(kind, root)
    config = DataConfig(source=str(source), val_fraction=0.0, on_corrupt="skip")
    counter = Opens(root)
    monkeypatch.setattr(builtins, "open", counter)
    monkeypatch.setattr(io, "open", counter)
    clean = load_dataset(config)
    assert counter.paths, "the load opened the data set's files"
    for k in range(1, len(counter.paths) + 1):
        failing = Opens(root, fail_at=k)
        monkeypatch.setattr(builtins, "open", failing)
        monkeypatch.setattr(io, "open", failing)
        try:
            b = load_dataset(config)
        except DataError as e:
            assert "Input/output error" in str(e) and failing.paths[k - 1].split("/")[-1] in str(e)
            continue
        # an image folder goes on without the image that could not be read (a failed probe of the image
        # size only costs a sample); a CIFAR class-names file that cannot be read gives the standard names
        assert kind in ("folder", "cifar"), kind
        if kind == "cifar":
            assert any("batches.meta.txt" in w and "Input/output error" in w for w in b.warnings), b.warnings
        elif len(b.train) < len(clean.train):
            assert len(b.train) == len(clean.train) - 1
            assert any("unreadable" in w for w in b.warnings), b.warnings
