"""The Runs table: one row per run folder (a ``training.runs.RunInfo``), ten columns, sortable by
each column's value (not its text), filterable by text over every column.

Nothing here imports torch: the rows are plain values the scan produced (in a worker thread)."""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

from .. import fmt

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the value a column sorts by
INFO_ROLE = Qt.ItemDataRole.UserRole + 2  # the RunInfo of the row

STAR = "\u2605"



def field(info, *names: str, default: Any = None) -> Any:
    """The first of ``names`` that ``info`` has (and is not None); RunInfo is H8's dataclass, read
    defensively so a row with missing fields still shows."""
    for n in names:
        v = getattr(info, n, None)
        if v is None and isinstance(info, dict):
            v = info.get(n)
        if v is not None:
            return v
    return default


def started_of(info) -> float:
    """The start as a POSIX time (0 when unknown): the sort key of the Started column."""
    v = field(info, "started", "created")
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    if isinstance(v, _dt.datetime):
        return v.timestamp()
    if isinstance(v, str) and v:
        try:
            return _dt.datetime.fromisoformat(v).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def _started_text(info) -> str:
    t = started_of(info)
    if t <= 0:
        v = field(info, "started")
        return str(v) if v else ""
    return _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _duration_text(info) -> str:
    s = field(info, "duration", "seconds")
    if not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0:
        return ""
    s = int(round(s))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _network_text(info) -> str:
    net = field(info, "network", "network_name", default="") or ""
    params = _num(field(info, "params", "network_params", "parameters"))
    return f"{net} · {fmt.count(int(params))}" if params is not None and net else (net or (fmt.count(int(params)) if params is not None else ""))


def _lr_text(v) -> str:
    v = _num(v)
    return "" if v is None else f"{v:g}"


def _settings_text(info) -> str:
    opt = field(info, "optimizer", default="") or ""
    parts = [str(opt)] if opt else []
    lr = _lr_text(field(info, "lr", "learning_rate"))
    if lr:
        parts.append(f"lr {lr}")
    b = field(info, "batch_size", "batch")
    if b is not None:
        parts.append(f"batch {b}")
    e = field(info, "epochs")
    if e is not None:
        parts.append(f"{e} ep")
    return " · ".join(parts)


def _pct(v) -> str:
    v = _num(v)
    return "" if v is None else f"{v:.1%}"


def status_of(info) -> str:
    return str(field(info, "status", default="") or "")


def _stop_text(info) -> str:
    """The stop reason; for a run going, "running"; for a folder that is not a usable run (corrupt,
    from a newer version, interrupted), its status and why."""
    status = status_of(info)
    state = status.split(":", 1)[0]
    if state == "running":
        return "running"
    if state in ("corrupt", "newer version"):
        return status
    if state == "incomplete":
        why = str(field(info, "message", default="") or "")
        return f"incomplete: {why}" if why else "incomplete"
    text = getattr(info, "stop_text", None)
    return str(text or field(info, "stop_reason", default="") or status)


def _name_text(info) -> str:
    name = str(field(info, "name", default="") or "")
    return f"{STAR} {name}" if field(info, "star", "starred", default=False) else name


# (header, text, sort key)
COLUMNS: tuple[tuple[str, Callable, Callable], ...] = (
    ("Name", _name_text, lambda i: str(field(i, "name", default="")).lower()),
    ("Started", _started_text, started_of),
    ("Duration", _duration_text, lambda i: _num(field(i, "duration", "seconds")) or 0.0),
    ("Network", _network_text, lambda i: (str(field(i, "network", "network_name", default="")).lower(), _num(field(i, "params", "network_params")) or 0.0)),
    ("Data", lambda i: str(field(i, "dataset", default="") or ""), lambda i: str(field(i, "dataset", default="")).lower()),
    ("Settings", _settings_text, _settings_text),
    ("Epochs", lambda i: _epochs_text(i), lambda i: _num(field(i, "epochs_done", "epochs_completed")) or 0.0),
    ("Best val acc", lambda i: _pct(field(i, "best_val_accuracy", "best_val_acc")), lambda i: _num(field(i, "best_val_accuracy", "best_val_acc")) or -1.0),
    ("Test acc", lambda i: _pct(field(i, "test_accuracy", "test_acc")), lambda i: _num(field(i, "test_accuracy", "test_acc")) or -1.0),
    ("Stop reason", _stop_text, _stop_text),
)
HEADERS = tuple(c[0] for c in COLUMNS)


def _epochs_text(info) -> str:
    done = field(info, "epochs_done", "epochs_completed")
    total = field(info, "epochs")
    if done is None:
        return ""
    return f"{done}/{total}" if total is not None else str(done)


def run_path(info) -> str:
    return str(field(info, "path", "run_dir", default=""))


class RunsTableModel(QAbstractTableModel):
    """Rows: RunInfo values, newest first as the scan gives them."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list = []
        self._texts: list[tuple[str, ...]] = []

    def set_rows(self, rows: list) -> None:
        """Replace the rows (a rescan). The view keeps its selection by path (see RunsView)."""
        self.beginResetModel()
        self.rows = list(rows)
        self._texts = [self._row_texts(r) for r in self.rows]
        self.endResetModel()

    @staticmethod
    def _row_texts(info) -> tuple[str, ...]:
        out = []
        for _h, text, _key in COLUMNS:
            try:
                out.append(str(text(info)))
            except Exception:  # a field of an unexpected type: an empty cell, never a crash
                out.append("")
        return tuple(out)

    def row_of(self, path: str) -> int:
        for i, r in enumerate(self.rows):
            if run_path(r) == path:
                return i
        return -1

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section][0]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        info = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._texts[index.row()][col]
        if role == SORT_ROLE:
            try:
                return COLUMNS[col][2](info)
            except Exception:
                return ""
        if role == INFO_ROLE:
            return info
        if role == Qt.ItemDataRole.ToolTipRole:
            note = field(info, "note", default="")
            tip = run_path(info)
            return f"{tip}\n{note}" if note else tip
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 6, 7, 8):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RunsFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's value; a filter text keeps the rows whose cells (or note) contain
    every word of it, case-insensitively."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._words: list[str] = []

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._words = [w.lower() for w in text.split()]
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row, parent) -> bool:
        if not self._words:
            return True
        m = self.sourceModel()
        texts = m._texts[row] if row < len(m._texts) else ()
        hay = " ".join(texts).lower() + " " + str(field(m.rows[row], "note", default="")).lower()
        return all(w in hay for w in self._words)

    def lessThan(self, left, right) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
