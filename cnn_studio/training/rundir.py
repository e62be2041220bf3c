"""The run directory: everything one training run leaves on disk.

::

    <studio_home>/runs/<name>-<YYYYmmdd-HHMMSS>/
        config.json          graph, data and training config, class names, mean/std, input shape
        metrics.csv          one row per finished epoch, appended and flushed as it goes
        summary.json         written when the run ends (stop reason, best/final/test accuracy, ...)
        checkpoints/last.pt  resumable state (written every epoch and when stopped)
        checkpoints/best.pt  the same, at the best epoch of ``monitor``
"""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

from ..core.errors import StudioError
from ..core.project import atomic_write_text

METRIC_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy", "lr", "seconds")


class RunDirError(StudioError):
    """A run folder cannot be created, read or written."""


def default_runs_root() -> Path:
    from ..core.paths import studio_home

    return studio_home() / "runs"


def new_run_path(name: str, root: str | Path | None = None) -> Path:
    """``<root>/<name>-<timestamp>``, with ``-2``, ``-3``... when that exists already."""
    root = Path(root) if root is not None else default_runs_root()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or "run").strip("._") or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{safe}-{stamp}"
    n = 2
    while path.exists():
        path = root / f"{safe}-{stamp}-{n}"
        n += 1
    return path


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
            raise RunDirError(f"cannot write '{path}': {e.strerror or e}") from None

    def write_config(self, data: dict) -> None:
        self.write_json(self.config_path, data)

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
        """Header plus one row per epoch of ``history`` (atomically; used when a run starts or resumes)."""
        lines = [",".join(METRIC_COLUMNS)]
        lines += [",".join(_fmt(row.get(c)) for c in METRIC_COLUMNS) for row in history]
        try:
            atomic_write_text(self.metrics_path, "\n".join(lines) + "\n")
        except OSError as e:
            raise RunDirError(f"cannot write '{self.metrics_path}': {e.strerror or e}") from None

    def append_metrics(self, row: dict) -> None:
        try:
            with open(self.metrics_path, "a", encoding="utf-8", newline="") as f:
                f.write(",".join(_fmt(row.get(c)) for c in METRIC_COLUMNS) + "\n")
                f.flush()
        except OSError as e:
            raise RunDirError(f"cannot write '{self.metrics_path}': {e.strerror or e}") from None
