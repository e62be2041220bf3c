"""Checkpoint files: atomic writes, safe loads, and RNG states as plain tensors and lists.

A checkpoint is a dict holding only tensors, dicts, lists, str, int, float, bool and None, so it loads
with ``torch.load(path, weights_only=True)`` (no pickled code runs). Keys::

    format, version, model, optimizer, scheduler, scaler, rng {torch, cuda, numpy, python, shuffle,
    augment}, progress {epoch, batch, global_step, epoch_complete}, running {loss_sum, correct, seen,
    seconds}, best {...}, early_stopping {...}, history, graph, data, train, class_names, mean, std,
    input_shape
"""
from __future__ import annotations

import errno
import math
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.atomic import atomic_write
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
class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (full disk, no permission...); the previous file is kept."""


def _write_error(path: Path, e: BaseException) -> CheckpointWriteError:
    if isinstance(e, OSError):
        reason = e.strerror or str(e) or type(e).__name__
        full = getattr(e, "errno", None) in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    else:  # torch's writer raises RuntimeError ("... failed writing file data/0: file write failed")
        text = " ".join(str(e).split())
        reason = "the file write failed" + (" (no space left on device)" if "space" in text.lower() else "")
        full = True
    hint = "free disk space (or choose a run folder on another disk)" if full else "check the folder can be written"
    return CheckpointWriteError(f"cannot write checkpoint '{path}': {reason}; {hint}, then resume the run; the previous checkpoint is kept")


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder, fsync, replace).

    Any failure to write (OSError, or torch's RuntimeError on a full disk) is a
    :class:`CheckpointWriteError` in one line; the file that was there is left as it was."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: torch.save(payload, f))
    except (OSError, RuntimeError) as e:
        raise _write_error(path, e) from None
    return path


def copy_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Atomic file copy (used for best.pt: it is the same bytes as the last.pt just written)."""
    src, dst = Path(src), Path(dst)

    def write(out) -> None:
        with open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)

    try:
        atomic_write(dst, write)
    except OSError as e:
        raise _write_error(dst, e) from None
    return dst


def _find(path: Path) -> Path:
    if path.is_dir():
        for cand in (path / "checkpoints" / "last.pt", path / "last.pt"):
            if cand.is_file():
                return cand
        raise CheckpointError(f"'{path}' holds no checkpoint (checkpoints/last.pt); give a run folder or a .pt file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint with ``weights_only=True`` and check its whole structure (:func:`validate_payload`);
    any problem is a :class:`CheckpointError` naming the file."""
    path = _find(Path(path))
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, garbage bytes, disallowed objects...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint '{path}' is corrupt or unreadable ({reason[:160]}); use another checkpoint (e.g. best.pt) or start a new run"
        ) from None
    validate_payload(data, path)
    return data


# ---- structure -----------------------------------------------------------------------------------------
class _Bad(Exception):
    def __init__(self, where: str, what: str):
        super().__init__(f"{where}: {what}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_ABSENT = object()


def _field(d: dict, key: str, where: str, optional: bool, none: bool):
    """The value of ``key``, or ``_ABSENT`` when it may be left out (missing and ``optional``, or
    None and ``none``); a missing required key is an error."""
    if key not in d:
        if optional:
            return _ABSENT
        raise _Bad(where, f"'{key}' is missing")
    v = d[key]
    return _ABSENT if v is None and none else v


def _int(d: dict, key: str, where: str, lo: int = 0, hi: int | None = None, optional: bool = False, none: bool = False):
    v = _field(d, key, where, optional, none)
    if v is _ABSENT:
        return None
    if not _is_int(v) or v < lo or (hi is not None and v > hi):
        rng = f"from {lo}" + (f" to {hi}" if hi is not None else "")
        raise _Bad(f"{where}.{key}", f"expected a whole number {rng}, got {_show(v)}")
    return v


def _num(d: dict, key: str, where: str, lo: float = -math.inf, optional: bool = True, none: bool = True):
    v = _field(d, key, where, optional, none)
    if v is _ABSENT:
        return None
    if not _is_num(v) or (lo > -math.inf and not v >= lo):
        raise _Bad(f"{where}.{key}", f"expected a number{f' of at least {lo:g}' if lo > -math.inf else ''}, got {_show(v)}")
    return v


def _dict(d: dict, key: str, where: str, optional: bool = False, none: bool = False) -> dict | None:
    v = _field(d, key, where, optional, none)
    if v is _ABSENT:
        return None
    if not isinstance(v, dict):
        raise _Bad(f"{where}.{key}", f"expected a dict, got {_show(v)}")
    return v


def _show(v) -> str:
    if isinstance(v, torch.Tensor):
        return f"a tensor of shape {tuple(v.shape)}"
    text = repr(v)
    return f"{type(v).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _byte_state(v, where: str, numel: int | None = None) -> None:
    if not isinstance(v, torch.Tensor) or v.dtype != torch.uint8 or v.dim() != 1 or (numel is not None and v.numel() != numel):
        raise _Bad(where, f"expected a random generator state (a 1-D uint8 tensor{f' of {numel}' if numel else ''}), got {_show(v)}")


def _float_list(d: dict, key: str, where: str) -> None:
    v = d.get(key)
    if v is not None and not (isinstance(v, list) and all(_is_num(x) for x in v)):
        raise _Bad(f"{where}.{key}", f"expected a list of numbers, got {_show(v)}")


_CPU_RNG_BYTES = torch.get_rng_state().numel()
_HISTORY_NUMBERS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy", "lr", "seconds", "samples_per_sec")


def _check(data: Any) -> None:
    """Raise :class:`_Bad` naming the first field whose type or range is wrong."""
    v = data.get("version")
    if not _is_int(v) or v < 1:
        raise _Bad("version", f"expected a whole number of at least 1, got {_show(v)}")
    if v > VERSION:
        raise CheckpointError(f"was written by a newer CNN Studio (version {v}); update CNN Studio")
    model = _dict(data, "model", "checkpoint")
    for k, t in model.items():
        if not isinstance(k, str) or not isinstance(t, torch.Tensor):
            raise _Bad("model", f"expected parameter names and tensors, got {_show(k)}: {_show(t)}")
    for key in ("graph", "train"):
        _dict(data, key, "checkpoint")
    _dict(data, "data", "checkpoint", optional=True, none=True)
    for key in ("optimizer", "scheduler", "scaler"):
        _dict(data, key, "checkpoint", optional=True, none=True)
    prog = _dict(data, "progress", "checkpoint")
    epoch = _int(prog, "epoch", "progress")
    _int(prog, "batch", "progress", optional=True)
    _int(prog, "global_step", "progress", optional=True)
    if "epoch_complete" in prog and not isinstance(prog["epoch_complete"], bool):
        raise _Bad("progress.epoch_complete", f"expected true or false, got {_show(prog['epoch_complete'])}")
    run = _dict(data, "running", "checkpoint", optional=True, none=True) or {}
    _num(run, "loss_sum", "running", none=False)
    _int(run, "correct", "running", optional=True)
    _int(run, "seen", "running", optional=True)
    _num(run, "seconds", "running", none=False)
    best = _dict(data, "best", "checkpoint", optional=True, none=True) or {}
    _num(best, "metric", "best")
    _int(best, "epoch", "best", lo=1, hi=max(epoch, 1), optional=True, none=True)
    _num(best, "val_accuracy", "best")
    if best.get("monitor") is not None and not isinstance(best["monitor"], str):
        raise _Bad("best.monitor", f"expected a metric name, got {_show(best['monitor'])}")
    es = _dict(data, "early_stopping", "checkpoint", optional=True, none=True) or {}
    _int(es, "wait", "early_stopping", optional=True)
    hist = data.get("history", [])
    if not isinstance(hist, list):
        raise _Bad("history", f"expected a list of epochs, got {_show(hist)}")
    if len(hist) != epoch:
        raise _Bad("history", f"holds {len(hist)} epoch(s) but progress.epoch is {epoch}")
    for i, row in enumerate(hist):
        where = f"history[{i}]"
        if not isinstance(row, dict):
            raise _Bad(where, f"expected a dict, got {_show(row)}")
        _int(row, "epoch", where, lo=i + 1, hi=i + 1)
        for key in _HISTORY_NUMBERS:
            _num(row, key, where)
        pc = row.get("val_per_class_accuracy")
        if pc is not None and not (isinstance(pc, list) and all(x is None or _is_num(x) for x in pc)):
            raise _Bad(f"{where}.val_per_class_accuracy", f"expected a list of numbers, got {_show(pc)}")
    names = data.get("class_names")
    if names is not None and not (isinstance(names, list) and all(isinstance(c, str) for c in names)):
        raise _Bad("class_names", f"expected a list of names, got {_show(names)}")
    _float_list(data, "mean", "checkpoint")
    _float_list(data, "std", "checkpoint")
    shape = data.get("input_shape")
    if shape is not None and not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(x) and x > 0 for x in shape)):
        raise _Bad("input_shape", f"expected [channels, height, width], got {_show(shape)}")
    rng = _dict(data, "rng", "checkpoint", optional=True, none=True) or {}
    if "torch" in rng:
        _byte_state(rng["torch"], "rng.torch", _CPU_RNG_BYTES)
    if "shuffle" in rng and rng["shuffle"] is not None:
        _byte_state(rng["shuffle"], "rng.shuffle", _CPU_RNG_BYTES)
    if "augment" in rng and rng["augment"] is not None:
        _byte_state(rng["augment"], "rng.augment")
    cuda = rng.get("cuda") or []
    if not isinstance(cuda, list):
        raise _Bad("rng.cuda", f"expected a list of generator states, got {_show(cuda)}")
    for i, s in enumerate(cuda):
        _byte_state(s, f"rng.cuda[{i}]")
    npst = rng.get("numpy")
    if npst is not None:
        ok = (isinstance(npst, list) and len(npst) == 5 and npst[0] == "MT19937" and isinstance(npst[1], torch.Tensor)
              and npst[1].dim() == 1 and npst[1].numel() == 624 and not npst[1].is_floating_point() and _is_int(npst[2])
              and 0 <= npst[2] <= 624 and _is_int(npst[3]) and _is_num(npst[4]))
        if not ok:
            raise _Bad("rng.numpy", "expected a numpy MT19937 state ['MT19937', 624 keys, pos, has_gauss, cached]")
    pyst = rng.get("python")
    if pyst is not None:
        ok = (isinstance(pyst, list) and len(pyst) == 3 and _is_int(pyst[0]) and isinstance(pyst[1], list)
              and len(pyst[1]) == 625 and all(_is_int(x) and 0 <= x < 2**32 for x in pyst[1]) and pyst[1][-1] <= 624
              and (pyst[2] is None or _is_num(pyst[2])))
        if not ok:
            raise _Bad("rng.python", "expected a Python random state [version, 625 numbers, gauss]")


def validate_payload(data: Any, path: str | os.PathLike = "checkpoint") -> None:
    """Check the types and ranges of every field training reads back (see the module docstring); a
    :class:`CheckpointError` naming the file and the field otherwise. The weights' shapes are checked
    against the network when they are loaded."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is not a CNN Studio training checkpoint")
    try:
        _check(data)
    except _Bad as e:
        raise CheckpointError(f"checkpoint '{path}' is damaged or was not written by CNN Studio ({e}); "
                              "use another checkpoint (e.g. best.pt) or start a new run") from None
    except CheckpointError as e:
        raise CheckpointError(f"checkpoint '{path}' {e}") from None
