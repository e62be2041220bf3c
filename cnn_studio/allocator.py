"""Keep freed tensor memory in the process between training steps (glibc's malloc, Linux).

Each training step frees its activations and gradients and allocates the same sizes again in the
next step. By default glibc's malloc serves every block above its mmap threshold (adaptive, at most
32 MB) with a fresh ``mmap`` and unmaps it when freed, gives memory free at the top of its heap back
to the OS past its trim threshold, and unmaps a non-main thread's heaps when they empty. Every step
then page-faults its working memory in again, zeroed by the kernel: measured on a 2-core Xeon at
batch 64 (``benchmarks/allocator.py``), tinyvgg took ~2,500 page faults a step (12.4 ms a step; 8.9 ms
with them gone) and vgg11 ~130,000, about 500 MB (0.97 s; 0.68 s), for 10 % more peak memory.

:func:`keep_freed_memory` tells glibc to serve every block from its heap (no mmap) and to keep what is
freed there (no trim below 2 GB free at the top): the next step reuses the memory without a fault.
Each thread keeps its own arena: one arena for all threads (M_ARENA_MAX 1) also kept a thread's large
blocks, but the app's GUI and training threads then contended for it (tinyvgg app/headless 0.88,
against 0.97 with the allocator left alone and 0.96 with arenas per thread). So in a thread other
than the main one, a block too large for its arena's heap (64 MB; vgg11's classifier gradients) is
still unmapped when freed. The entry points (``cnn-studio`` and its commands, the app) call it first
thing; the Trainer calls it again (a no-op then).
:func:`release_freed_memory` (``malloc_trim``) hands what is free back
to the OS, at the end of a run. PyTorch's CPU tuning guide gets the same effect by preloading jemalloc
or tcmalloc; this needs nothing installed.

Nothing is changed where it would not help or was chosen otherwise: not on glibc (macOS, Windows,
musl), with another allocator preloaded (``LD_PRELOAD``), where the user set glibc's malloc
settings (``MALLOC_*_`` variables, ``GLIBC_TUNABLES``), or with ``CNN_STUDIO_KEEP_FREED_MEMORY=0``.
Standard library only (the entry points call it before importing torch or Qt).
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading

OPT_OUT_ENV = "CNN_STUDIO_KEEP_FREED_MEMORY"
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's malloc.h
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: trim only past 2 GB free at the top of the heap
_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc", "hoard", "snmalloc")
_MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX",
                "MALLOC_TOP_PAD_", "MALLOC_ARENA_TEST")

_lock = threading.Lock()
_state: dict = {}  # "note": what keep_freed_memory did or why not (set once)


def why_not(environ=None, libc: tuple[str, str] | None = None, plat: str | None = None) -> str | None:
    """Why the allocator is left as it is (None: it may be set). Pure given its arguments."""
    env = os.environ if environ is None else environ
    plat = sys.platform if plat is None else plat
    if str(env.get(OPT_OUT_ENV, "")).strip().lower() in ("0", "false", "no", "off"):
        return f"{OPT_OUT_ENV}={env.get(OPT_OUT_ENV)}"
    if not plat.startswith("linux"):
        return f"not glibc ({plat})"
    name, _ = _libc_version() if libc is None else libc
    if name != "glibc":
        return f"not glibc ({name or 'unknown C library'})"
    preload = env.get("LD_PRELOAD", "").lower()
    if any(a in preload for a in _ALLOCATORS):
        return "another allocator is preloaded (LD_PRELOAD)"
    if any(v in env for v in _MALLOC_VARS) or "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        return "glibc's malloc settings were set in the environment"
    return None


def _libc_version() -> tuple[str, str]:
    """("glibc", "2.36") or ("", "") where the C library does not say (instant, unlike platform.libc_ver)."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        text = ""
    name, _, version = text.partition(" ")
    return (name, version) if name == "glibc" else ("", "")


def _libc():
    try:
        lib = ctypes.CDLL("libc.so.6")
        lib.mallopt.argtypes, lib.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        lib.malloc_trim.argtypes, lib.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        return lib
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> str:
    """Set glibc's malloc to keep freed memory for the next step (once per process; later calls
    return the first one's note). Returns what was done, or why nothing was."""
    with _lock:
        if "note" in _state:
            return _state["note"]
        reason = why_not()
        lib = _libc() if reason is None else None
        if reason is None and lib is None:
            reason = "glibc's mallopt could not be loaded"
        if reason is None:
            ok = [lib.mallopt(M_MMAP_MAX, 0), lib.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)]
            note = ("freed tensor memory is kept for the next step (glibc malloc: no mmap, no trim)"
                    if all(ok) else f"glibc refused some malloc settings ({ok}); kept what it took")
            _state["kept"] = any(ok)
        else:
            note = f"freed memory goes back to the OS as usual: {reason}"
            _state["kept"] = False
        _state["note"] = note
        return note


def kept() -> bool:
    """Whether :func:`keep_freed_memory` changed the allocator in this process."""
    return bool(_state.get("kept"))


def note() -> str | None:
    """What :func:`keep_freed_memory` did or why not; None where it has not been called in this process."""
    return _state.get("note")


def release_freed_memory() -> bool:
    """Give the heap's free memory back to the OS (``malloc_trim``), where it is kept; True if any went back."""
    if not kept():
        return False
    lib = _libc()
    return bool(lib.malloc_trim(0)) if lib is not None else False
