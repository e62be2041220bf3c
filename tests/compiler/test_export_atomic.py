"""Exports go through core.atomic: fsynced before the rename, and a killed export's temporary file
(up to hundreds of MB) is removed by the next export to the same path."""
import os
import subprocess
import sys

import pytest
import torch

from cnn_studio.compiler.export import export_state_dict
from cnn_studio.core import atomic


@pytest.mark.skipif(os.name == "nt", reason="process liveness is checked on POSIX only")
def test_export_fsyncs_and_removes_a_killed_exports_temporary_file(tmp_path, monkeypatch):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    target = tmp_path / "weights.pt"
    leftover = tmp_path / f".weights.pt.{p.pid}-0badf00d.tmp.pt"  # what a kill -9 mid-export leaves
    leftover.write_bytes(b"\0" * (1 << 20))
    synced = []
    real = atomic._fsync
    monkeypatch.setattr(atomic, "_fsync", lambda fd: (synced.append(fd), real(fd)))
    export_state_dict({"w": torch.ones(3)}, target)
    assert synced, "the export was renamed into place without an fsync"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["weights.pt"]
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.ones(3))
