"""A checkpoint write that fails (full disk: torch raises RuntimeError writing to a path, OSError through
a file object) is one CheckpointWriteError line naming the file and 'free disk space'; the checkpoint
that was there survives and no temporary file is left."""
import errno

import pytest
import torch

from cnn_studio.training import checkpoint as ckpt


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 1536 vs 1472\n"
                 "PytorchStreamWriter failed writing file data/0: file write failed"),
    OSError(errno.ENOSPC, "No space left on device"),
])
def test_a_full_disk_is_one_line_and_keeps_the_old_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "last.pt"
    ckpt.save_checkpoint(path, {"format": ckpt.FORMAT, "w": torch.ones(2)})
    before = path.read_bytes()

    def fail(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half a zip")
        raise error

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(ckpt.CheckpointWriteError) as e:
        ckpt.save_checkpoint(path, {"format": ckpt.FORMAT, "w": torch.zeros(2)})
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "free disk space" in msg and "previous checkpoint is kept" in msg
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_a_failed_best_copy_is_one_line(tmp_path, monkeypatch):
    src = ckpt.save_checkpoint(tmp_path / "last.pt", {"format": ckpt.FORMAT})
    import shutil

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full)
    with pytest.raises(ckpt.CheckpointWriteError, match="best.pt.*No space left on device; free disk space"):
        ckpt.copy_checkpoint(src, tmp_path / "best.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_a_full_disk_while_writing_metrics_is_one_line(graph, bundle, tmp_path, monkeypatch):
    from cnn_studio.core import atomic
    from cnn_studio.training import Callback, RunDirError, TrainConfig, Trainer

    t = Trainer(graph, bundle, TrainConfig(epochs=1, batch_size=32, device="cpu", save_checkpoints=False), run_dir=tmp_path / "r")
    real = atomic._fsync
    armed = []

    class Arm(Callback):
        def on_epoch_end(self, trainer, m):
            armed.append(True)

    def fsync(fd):
        if armed:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    t.callbacks.callbacks.append(Arm())
    monkeypatch.setattr(atomic, "_fsync", fsync)
    with pytest.raises(RunDirError) as e:
        t.fit()
    msg = str(e.value)
    assert "metrics.csv" in msg and "No space left on device; free disk space" in msg and "\n" not in msg
