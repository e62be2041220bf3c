"""The end of an epoch as one recoverable transaction, and the repair that finishes it after a crash.

An epoch that is checkpointed ends with these writes, each atomic, in this order::

    1. checkpoints/last.pt   the commit point: weights, optimizer, RNG, the whole history (this
                             epoch's row included), the best epoch and the early-stopping count
    2. metrics.csv           rewritten from the history
    3. checkpoints/best.pt   a copy of last.pt, when this epoch is the best so far
    4. summary.json          when the run has ended, after the final test evaluation

A crash before 1 loses the epoch: resuming retrains it from the previous last.pt, exactly. A crash
after 1 leaves 2-4 to be derived from last.pt, which :func:`repair_run` does: it re-copies best.pt
when last.pt is the best epoch and best.pt is older, rewrites metrics.csv when it lacks last.pt's
rows, and reports whether the run has ended without a summary (``finish``), in which case
:meth:`Trainer.from_run` runs only the final evaluation and writes summary.json. Resuming repairs
first; ``cnn-studio evaluate`` and ``export`` call :func:`recover_run` when they open a run. A run
whose folder is locked (a trainer is writing it now) is left alone.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.errors import StudioError
from . import checkpoint as ckpt
from .rundir import RunDir, metrics_text


@dataclass
class Repair:
    notes: list[str] = field(default_factory=list)  # what was fixed, one line each
    finish: str | None = None  # the run ended ("finished"/"early_stopping") but summary.json is missing or stale


def run_ended(payload: dict) -> str | None:
    """"finished" or "early_stopping" when last.pt is the end of a run that ended there, else None."""
    prog, train = payload["progress"], payload["train"]
    if int(prog.get("batch", 0)) != 0:
        return None
    done = int(prog["epoch"])
    epochs = train.get("epochs")
    if isinstance(epochs, int) and done >= epochs:
        return "finished"
    wait = int((payload.get("early_stopping") or {}).get("wait", 0))
    patience = train.get("patience")
    if train.get("early_stopping") is True and isinstance(patience, int) and done > 0 and wait >= patience:
        return "early_stopping"
    return None


def checkpoint_epoch(path: Path) -> int | None:
    """progress.epoch of a checkpoint file (memory-mapped: the weights are not read), None if unreadable."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(data["progress"]["epoch"]) if data["progress"].get("batch", 0) == 0 else None
    except Exception:  # noqa: BLE001 - any damage means "not the right copy"
        return None


def repair_run(run_dir: str | os.PathLike | RunDir, payload: dict | None = None, write: bool = True) -> Repair:
    """Finish the bookkeeping of the epoch last.pt committed (see the module docstring).
    ``write=False`` (a torchrun worker rank, which must not write or probe the folder's lock): only
    ``finish`` is worked out, the same way, so every rank takes the same decision."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    out = Repair()
    if not rd.last_checkpoint.is_file() or (write and rd.is_locked()):
        return out
    if payload is None:
        payload = ckpt.load_checkpoint(rd.last_checkpoint)
    if not write:
        out.finish = _unfinished_end(rd, payload)
        return out
    prog = payload["progress"]
    done = int(prog["epoch"])
    best_epoch = (payload.get("best") or {}).get("epoch")
    history = list(payload.get("history") or [])
    if best_epoch is not None and best_epoch == done and int(prog.get("batch", 0)) == 0 and payload["train"].get("save_checkpoints", True):
        if checkpoint_epoch(rd.best_checkpoint) != done:
            ckpt.copy_checkpoint(rd.last_checkpoint, rd.best_checkpoint)
            out.notes.append(f"checkpoints/best.pt was older than the best epoch ({done}); copied it from last.pt")
    expected = metrics_text(history)
    try:
        current = rd.metrics_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = ""
    if not current.startswith(expected):
        rd.rewrite_metrics(history)
        out.notes.append(f"metrics.csv lacked rows of the checkpointed epochs; rewrote it ({len(history)} epoch(s))")
    out.finish = _unfinished_end(rd, payload)
    return out


def _unfinished_end(rd: RunDir, payload: dict) -> str | None:
    """How the run ended at last.pt when its summary.json does not say so yet, else None."""
    ended = run_ended(payload)
    if ended is None:
        return None
    try:
        summary = rd.read_summary()
    except StudioError:
        summary = None
    if (summary is None or summary.get("stop_reason") not in ("finished", "early_stopping")
            or summary.get("epochs_completed") != int(payload["progress"]["epoch"])):
        return ended
    return None


def recover_run(run_dir: str | os.PathLike) -> list[str]:
    """Repair a run folder before reading it (evaluate, export): best.pt and metrics.csv from last.pt,
    and, when the run ended without a summary, its final evaluation and summary.json. Returns notes;
    never raises for a damaged run (the reader then reports what it cannot use)."""
    rd = RunDir(run_dir)
    try:
        repair = repair_run(rd)
    except StudioError as e:
        return [f"the run's last checkpoint cannot be used to check the run ({e})"] if rd.last_checkpoint.exists() else []
    notes = list(repair.notes)
    if repair.finish:
        from .trainer import Trainer

        try:
            Trainer.from_run(rd.path).fit()
            notes.append("the run had ended without summary.json (interrupted); ran its final evaluation and wrote it")
        except StudioError as e:
            notes.append(f"the run ended without summary.json and it could not be written now ({e})")
    return notes
