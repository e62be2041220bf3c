"""On-disk cache of decoded data sets: uint8 arrays in ``.npz`` files under ``studio_home()/cache``.

Each entry is keyed by a hash of what produced it (source path, target shape, method, version) and
stores a fingerprint of its inputs; an entry whose fingerprint does not match is rebuilt. Files are
written atomically and read with ``allow_pickle=False``. A cache that cannot be read is ignored; one
that cannot be written costs a warning, never the load.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .paths import cache_dir

CACHE_VERSION = 1


def cache_path(kind: str, key: dict) -> Path:
    """``cache/<kind>-<hash of key>.npz`` (the folder is created)."""
    text = json.dumps({"v": CACHE_VERSION, **key}, sort_keys=True, default=str)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
    return cache_dir() / f"{kind}-{digest}.npz"


def load_cache(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """The arrays stored at ``path`` when it exists, is readable and matches ``fingerprint``; else None."""
    from .npzfile import check_members

    try:
        if not path.is_file():
            return None
        check_members(path)  # headers agree with the sizes on disk: a damaged entry never allocates its claims
        with np.load(path, allow_pickle=False) as f:
            if "fingerprint" not in f.files or str(f["fingerprint"]) != fingerprint:
                return None
            return {k: f[k] for k in f.files}
    except Exception:  # noqa: BLE001 - any damage (zipfile, zlib, numpy's header parser, DataError) is a miss
        return None


def save_cache(path: Path, arrays: dict[str, np.ndarray], fingerprint: str) -> str | None:
    """Write the arrays atomically (temporary file in the same folder, fsync, rename), streaming them
    to disk so that a large cache does not need a second copy in memory. Returns None, or a warning
    for the user when the cache could not be written."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, fingerprint=np.array(fingerprint), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        return None
    except (OSError, ValueError) as e:
        return f"could not write the data cache '{path}': {e}; the data will be decoded again next time"
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def clear_cache() -> tuple[int, int]:
    """Delete every cached data set; returns (files removed, bytes freed)."""
    folder = cache_dir(create=False)
    files = freed = 0
    if folder.is_dir():
        for p in folder.glob("*.npz"):
            try:
                size = p.stat().st_size
                p.unlink()
            except OSError:
                continue
            files += 1
            freed += size
    return files, freed


def fingerprint_of(entries) -> str:
    """Hash of an iterable of tuples (e.g. relative path, size, mtime_ns)."""
    h = hashlib.sha1()
    for e in entries:
        h.update(repr(tuple(e)).encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()
