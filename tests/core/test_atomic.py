"""core.atomic: one atomic writer for every file the app writes (fsync before rename; temporary files
of killed writers cleaned on the next write of the same target)."""
import os
import subprocess
import sys
import time

import pytest

from cnn_studio.core import atomic


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_fsync_comes_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace, real_dir = atomic._fsync, atomic._replace, atomic._fsync_dir
    monkeypatch.setattr(atomic, "_fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(atomic, "_replace", lambda a, b: (calls.append("replace"), real_replace(a, b)))
    monkeypatch.setattr(atomic, "_fsync_dir", lambda d: (calls.append("fsync_dir"), real_dir(d)))
    target = tmp_path / "a.bin"
    atomic.atomic_write_bytes(target, b"one")
    assert calls == ["fsync", "replace", "fsync_dir"] and target.read_bytes() == b"one"
    calls.clear()
    # writers that take a path (torch.jit.save, onnx) are fsynced after they wrote the file
    atomic.atomic_write(target, write_path=lambda p: p.write_bytes(b"two"), suffix=".bin")
    assert calls == ["fsync", "replace", "fsync_dir"] and target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    os.chmod(target, 0o640)

    def boom(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic.atomic_write(target, boom)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    atomic.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640  # the mode is kept


@pytest.mark.skipif(os.name == "nt", reason="process liveness is checked on POSIX only")
def test_stale_temporary_files_of_our_naming_are_removed_on_the_next_write(tmp_path):
    target = tmp_path / "model.onnx"
    hour_ago = time.time() - 2 * atomic.STALE_AFTER_S
    dead = tmp_path / f".model.onnx.{_dead_pid()}-0123abcd.tmp.onnx"  # a killed export (500 MB in the issue)
    mine = tmp_path / f".model.onnx.{os.getpid()}-89abcdef.tmp"  # this process, not writing it now
    live = tmp_path / f".model.onnx.{os.getppid()}-00000000.tmp"  # a live writer: kept
    legacy_old = tmp_path / ".model.onnx.ab_cd12z.tmp"  # mkstemp naming, an hour old: removed
    legacy_new = tmp_path / ".model.onnx.zz_cd12z.tmp"  # mkstemp naming, fresh: may be in use, kept
    other = tmp_path / f".other.onnx.{_dead_pid()}-0123abcd.tmp"  # another target's: not ours to judge now
    unrelated = tmp_path / ".model.onnx.notes"
    for p in (dead, mine, live, legacy_old, legacy_new, other, unrelated):
        p.write_bytes(b"x" * 1000)
    os.utime(legacy_old, (hour_ago, hour_ago))
    atomic.atomic_write_bytes(target, b"onnx")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(p.name for p in (target, live, legacy_new, other, unrelated))


def test_a_file_being_written_by_this_process_is_not_stale(tmp_path):
    target = tmp_path / "big.pt"
    seen = []

    def write(f):
        f.write(b"data")
        seen.extend(atomic.stale_temp_files(target))  # a second writer looking now finds nothing to remove
        seen.append(len([p for p in tmp_path.iterdir() if p.name.startswith(".big.pt.")]))

    atomic.atomic_write(target, write)
    assert seen == [1]
