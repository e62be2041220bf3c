"""The run directory: everything one training run leaves on disk.

::

    <studio_home>/runs/<name>-<YYYYmmdd-HHMMSS>/
        config.json          graph, data and training config, class names, mean/std, input shape
        metrics.csv          one row per finished epoch, appended and flushed as it goes
        layer_stats.npz      per-layer weight/gradient/activation statistics over the run (layerstats.py)
        summary.json         written when the run ends (stop reason, best/final/test accuracy, ...)
        checkpoints/last.pt  resumable state (written every epoch and when stopped)
        checkpoints/best.pt  the same, at the best epoch of ``monitor``
        .lock                locked (an OS file lock) while a trainer writes the folder

A folder is created exclusively for each new run (:func:`new_run_path`); an existing run is only
written again by resuming it (or when the user asks to overwrite it).
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import sys
import time
from pathlib import Path

from ..core.atomic import atomic_write_bytes
from ..core.errors import StudioError
from ..core.runs import RUN_FORMAT  # the run-folder format; a reader refuses a larger one as newer


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _why(e: OSError) -> str:
    """The reason and the fix, for a run file that could not be written."""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return f"{e.strerror or e}; free disk space, then resume the run"
    return f"{e.strerror or e}; check the run folder can be written"

METRIC_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy", "lr", "seconds")


class RunDirError(StudioError):
    """A run folder cannot be created, read or written."""


def default_runs_root() -> Path:
    from ..core.paths import studio_home

    return studio_home() / "runs"


def new_run_path(name: str, root: str | Path | None = None) -> Path:
    """Create and return a new, empty run folder ``<root>/<name>-<timestamp>`` (``-2``, ``-3``... when
    that name is taken). The folder is created exclusively (``mkdir(exist_ok=False)``), so two runs
    started in the same second, even by two processes, never share a folder."""
    root = Path(root) if root is not None else default_runs_root()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or "run").strip("._") or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"cannot create the runs folder '{root}': {e.strerror or e}; choose another folder") from None
    n = 1
    while True:
        path = root / (f"{safe}-{stamp}" if n == 1 else f"{safe}-{stamp}-{n}")
        try:
            path.mkdir(exist_ok=False)
            return path
        except FileExistsError:
            n += 1
        except OSError as e:
            raise RunDirError(f"cannot create the run folder '{path}': {e.strerror or e}; choose another folder") from None


#: the files one run writes (``--overwrite`` removes these, and only these)
RUN_FILES = ("config.json", "metrics.csv", "summary.json", "layer_stats.npz", "checkpoints/last.pt", "checkpoints/best.pt")


def metrics_text(history: list[dict]) -> str:
    """metrics.csv for ``history``: the header and one row per epoch."""
    lines = [",".join(METRIC_COLUMNS)]
    lines += [",".join(_fmt(row.get(c)) for c in METRIC_COLUMNS) for row in history]
    return "\n".join(lines) + "\n"


def _json_safe(value):
    """NaN/inf become null so the files are strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


class RunDir:
    """Paths and writers of one run folder (created on :meth:`create`)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoint_dir / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoint_dir / "best.pt"

    def existing_files(self) -> list[str]:
        """The run files (:data:`RUN_FILES`) this folder holds already: a run has been started here."""
        return [f for f in RUN_FILES if (self.path / f).exists()]

    def clear(self) -> None:
        """Remove a previous run's files (``--overwrite``); other files in the folder are left alone."""
        for f in RUN_FILES:
            p = self.path / f
            try:
                p.unlink(missing_ok=True)
            except OSError as e:
                raise RunDirError(f"cannot remove '{p}' of the previous run: {e.strerror or e}") from None

    def create(self) -> "RunDir":
        try:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"cannot create the run folder '{self.path}': {e.strerror or e}; choose another --out folder") from None
        return self

    def write_json(self, path: Path, data: dict) -> None:
        try:
            atomic_write_text(path, json.dumps(_json_safe(data), indent=2) + "\n")
        except OSError as e:
            raise RunDirError(f"cannot write '{path}': {_why(e)}") from None

    def write_config(self, data: dict) -> None:
        self.write_json(self.config_path, {"run_format": RUN_FORMAT, **data})

    def write_summary(self, data: dict) -> None:
        self.write_json(self.summary_path, data)

    def read_json(self, path: Path) -> dict:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise RunDirError(f"'{self.path}' is not a training run folder: '{path.name}' is missing") from None
        except (OSError, ValueError) as e:
            raise RunDirError(f"cannot read '{path}': {e}") from None
        if not isinstance(data, dict):
            raise RunDirError(f"'{path}' does not hold a JSON object")
        return data

    def read_config(self) -> dict:
        return self.read_json(self.config_path)

    def read_summary(self) -> dict:
        return self.read_json(self.summary_path)

    def rewrite_metrics(self, history: list[dict]) -> None:
        """Header plus one row per epoch of ``history``, atomically: written at every epoch end, so the
        file never holds a half row and always matches a prefix of the run's history."""
        try:
            atomic_write_text(self.metrics_path, metrics_text(history))
        except OSError as e:
            raise RunDirError(f"cannot write '{self.metrics_path}': {_why(e)}") from None

    def append_metrics(self, row: dict) -> None:
        try:
            with open(self.metrics_path, "a", encoding="utf-8", newline="") as f:
                f.write(",".join(_fmt(row.get(c)) for c in METRIC_COLUMNS) + "\n")
                f.flush()
        except OSError as e:
            raise RunDirError(f"cannot write '{self.metrics_path}': {e.strerror or e}") from None

    # ---- the writer's lock ------------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.path / ".lock"

    def try_lock(self) -> bool:
        """Take the folder's writer lock (an OS file lock, released when the process ends, even by
        kill -9). False when another trainer (this process or another) holds it."""
        if self._lock_fd is not None:
            return True
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return True  # a read-only folder: nobody can be writing it through us
        if not _lock_fd(fd):
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            _unlock_fd(fd)
            os.close(fd)

    def is_locked(self) -> bool:
        """Whether a trainer is writing this folder now."""
        if self._lock_fd is not None:
            return True
        if not self.lock_path.exists():
            return False
        probe = RunDir(self.path)
        if probe.try_lock():
            probe.unlock()
            return False
        return True

    _lock_fd: int | None = None


def _lock_fd(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        try:
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except (ImportError, OSError):
            return False if "msvcrt" in sys.modules else True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock_fd(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
    except ImportError:
        try:
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except (ImportError, OSError):
            pass
    except OSError:
        pass
