"""Atomic file writes, shared by every writer (project files, run files, checkpoints, exports).

A file is written to a temporary file in the target's folder, flushed and fsynced, renamed over the
target, and the folder is fsynced: a crash leaves the old file or the new one, never a mix.

Temporary files are named ``.<name>.<pid>-<8 hex>.tmp<suffix>``. A writer killed mid-write leaves
one behind (an export's can be hundreds of MB); the next write of the same target removes those of
processes that are gone, and those this process left (not being written now). Older names without a
pid (``.<name>.<8 chars>.tmp``, from ``tempfile.mkstemp``), and pid names where liveness cannot be
checked (Windows), are removed once they are an hour old.

Standard library only (core). The three primitives ``_fsync``, ``_replace`` and ``_fsync_dir`` are
module functions so fault-injection tests can stop a write at each of its boundaries.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import BinaryIO, Callable

#: temporary files older than this whose writer cannot be checked are taken as abandoned
STALE_AFTER_S = 3600.0

_writing: set[str] = set()  # temporary files this process is writing now (never removed as stale)
_writing_lock = threading.Lock()


# ---- primitives (patched by fault-injection tests) ---------------------------------------------------
def _fsync(fd: int) -> None:
    os.fsync(fd)


def _replace(src: str | Path, dst: str | Path) -> None:
    os.replace(src, dst)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable where the platform allows it (not on Windows)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ---- temporary files ---------------------------------------------------------------------------------
def temp_name(target: str | Path, suffix: str = "") -> str:
    return f".{Path(target).name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}"


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(r"\." + re.escape(name) + r"\.(?:(?P<pid>\d+)-[0-9a-f]{8}|[a-z0-9_]{8})\.tmp(?:\.[A-Za-z0-9]+)?")


def _pid_alive(pid: int) -> bool | None:
    """True/False where it can be checked, None where not (Windows)."""
    if os.name == "nt":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def stale_temp_files(target: str | Path, now: float | None = None) -> list[Path]:
    """Temporary files of our naming for ``target`` that no live writer owns."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    pattern = _temp_pattern(target.name)
    now = time.time() if now is None else now
    prefix = f".{target.name}."
    out = []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix)]
    except OSError:
        return []
    with _writing_lock:
        busy = set(_writing)
    for e in entries:
        m = pattern.fullmatch(e.name)
        if m is None or str(Path(folder) / e.name) in busy:
            continue
        try:
            if not e.is_file(follow_symlinks=False):
                continue
            age = now - e.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = m.group("pid")
        if pid is not None:
            alive = False if int(pid) == os.getpid() else _pid_alive(int(pid))
            stale = alive is False or (alive is None and age > STALE_AFTER_S)
        else:
            stale = age > STALE_AFTER_S
        if stale:
            out.append(Path(folder) / e.name)
    return out


def clean_stale_temp_files(target: str | Path) -> list[Path]:
    """Remove :func:`stale_temp_files` of ``target``; returns those removed."""
    removed = []
    for p in stale_temp_files(target):
        try:
            os.unlink(p)
            removed.append(p)
        except OSError:
            pass
    return removed


# ---- the write ---------------------------------------------------------------------------------------
def atomic_write(
    target: str | Path,
    write: Callable[[BinaryIO], None] | None = None,
    *,
    write_path: Callable[[Path], None] | None = None,
    suffix: str = "",
) -> Path:
    """Write ``target`` atomically.

    ``write(f)`` writes into the open binary temporary file; or ``write_path(tmp)`` writes the
    temporary file by name (for writers that take a path, e.g. torch.jit.save), and it is then
    fsynced here. ``suffix`` ends the temporary name (some writers want the target's extension).
    The new file keeps an existing target's mode, else the mode a plain ``open()`` would give.
    OSError (and whatever ``write`` raises) propagates; the temporary file is removed then."""
    if (write is None) == (write_path is None):
        raise TypeError("give exactly one of write= and write_path=")
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    clean_stale_temp_files(target)
    tmp = folder / temp_name(target, suffix)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with _writing_lock:
        _writing.add(str(tmp))
    try:
        try:
            if write is not None:
                f = os.fdopen(fd, "wb")
                fd = -1
                with f:
                    write(f)
                    f.flush()
                    _fsync(f.fileno())
            else:
                os.close(fd)
                fd = -1
                write_path(tmp)
                with open(tmp, "rb+") as f:
                    _fsync(f.fileno())
        finally:
            if fd >= 0:
                os.close(fd)
        with contextlib.suppress(OSError):
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o777)
        _replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _writing_lock:
            _writing.discard(str(tmp))
    _fsync_dir(folder)
    return target


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    return atomic_write(target, lambda f: f.write(data))
