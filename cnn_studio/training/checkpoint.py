"""Checkpoint files: atomic writes, safe loads, and RNG states as plain tensors and lists.

A checkpoint is a dict holding only tensors, dicts, lists, str, int, float, bool and None, so it loads
with ``torch.load(path, weights_only=True)`` (no pickled code runs). Keys::

    format, version, model, optimizer, scheduler, scaler, rng {torch, cuda, numpy, python, shuffle,
    augment}, progress {epoch, batch, global_step, epoch_complete}, running {loss_sum, correct, seen,
    seconds}, best {...}, early_stopping {...}, history, graph, data, train, class_names, mean, std,
    input_shape
"""
from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import StudioError

FORMAT = "cnn-studio-checkpoint"
VERSION = 1


class CheckpointError(StudioError):
    """A checkpoint cannot be written, read or used."""


# ---- RNG states as checkpoint-safe values ----------------------------------------------------------
def numpy_rng_to_plain(state: tuple) -> list:
    name, keys, pos, has_gauss, cached = state
    return [str(name), torch.from_numpy(np.asarray(keys, dtype=np.int64).copy()), int(pos), int(has_gauss), float(cached)]


def numpy_rng_from_plain(plain: list) -> tuple:
    name, keys, pos, has_gauss, cached = plain
    return (name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached))


def python_rng_to_plain(state: tuple) -> list:
    version, internal, gauss_next = state
    return [int(version), [int(v) for v in internal], gauss_next]


def python_rng_from_plain(plain: list) -> tuple:
    version, internal, gauss_next = plain
    return (int(version), tuple(int(v) for v in internal), gauss_next)


def capture_global_rng() -> dict:
    """torch CPU, every CUDA device, numpy and Python ``random`` states."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        "numpy": numpy_rng_to_plain(np.random.get_state()),
        "python": python_rng_to_plain(random.getstate()),
    }


def restore_global_rng(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    cuda = rng.get("cuda") or []
    if cuda and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        torch.cuda.set_rng_state_all(cuda[:n])
    if rng.get("numpy") is not None:
        np.random.set_state(numpy_rng_from_plain(rng["numpy"]))
    if rng.get("python") is not None:
        random.setstate(python_rng_from_plain(rng["python"]))


# ---- files -------------------------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder, fsync, replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise CheckpointError(f"cannot write checkpoint '{path}': {e.strerror or e}") from None
        raise
    return path


def copy_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Atomic file copy (used for best.pt: it is the same bytes as the last.pt just written)."""
    src, dst = Path(src), Path(dst)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dst)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CheckpointError(f"cannot write checkpoint '{dst}': {e.strerror or e}") from None
    return dst


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``; any problem is a :class:`CheckpointError` naming the file."""
    path = Path(path)
    if path.is_dir():
        for cand in (path / "checkpoints" / "last.pt", path / "last.pt"):
            if cand.is_file():
                path = cand
                break
        else:
            raise CheckpointError(f"'{path}' holds no checkpoint (checkpoints/last.pt); give a run folder or a .pt file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, garbage bytes, disallowed objects...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint '{path}' is corrupt or unreadable ({reason[:160]}); use another checkpoint (e.g. best.pt) or start a new run"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is not a CNN Studio training checkpoint")
    if int(data.get("version", 0)) > VERSION:
        raise CheckpointError(f"checkpoint '{path}' was written by a newer CNN Studio (version {data.get('version')}); update CNN Studio")
    for key in ("model", "graph", "train", "progress"):
        if key not in data:
            raise CheckpointError(f"checkpoint '{path}' is incomplete: it has no '{key}' entry")
    return data
