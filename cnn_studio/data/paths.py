"""Where the data layer keeps its files: decoded data-set caches live in ``studio_home()/cache``.
``studio_home`` is the one in ``core.paths`` (``$CNN_STUDIO_HOME`` when set)."""
from __future__ import annotations

from pathlib import Path

from ..core.paths import studio_home, subdir

__all__ = ["studio_home", "cache_dir"]


def cache_dir(create: bool = True) -> Path:
    """``studio_home()/cache``; created when ``create`` is true (errors creating it are left to the caller)."""
    return subdir("cache", create)
