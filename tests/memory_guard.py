"""A memory ceiling for tests of loaders that must not believe the sizes a file announces."""
from __future__ import annotations

import contextlib
from pathlib import Path


def _vm_size() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


@contextlib.contextmanager
def memory_ceiling(extra_mb: int = 400):
    """Cap this process's address space at its present size + ``extra_mb`` for the block, so a loader
    that would allocate gigabytes gets a MemoryError (a failed test) instead of the OOM killer. Linux
    only (elsewhere the block runs unguarded); the previous limit is restored afterwards."""
    try:
        import resource
    except ImportError:
        yield
        return
    vm = _vm_size()
    if vm is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm + extra_mb * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
