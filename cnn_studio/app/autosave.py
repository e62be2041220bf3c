"""Autosave to a recovery file, and recovery after a crash.

Each window's session owns ``<studio home>/recovery/<id>.cnnstudio`` (the graph, written atomically)
plus ``<id>.json`` (original path, name, time) and holds ``<id>.lock`` (a ``QLockFile``) while it
runs. The recovery file is written every ``interval_s`` seconds and shortly after each edit
(debounced), but only while there are unsaved changes; a clean save or a normal close removes it.
After a crash the lock is stale (its process is gone), which is how the next start tells a crashed
session's file from one of another running window.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QTimer

from ..core.project import SUFFIX, atomic_write_text, dumps
from .document import Document
from .paths import recovery_dir


@dataclass
class RecoveryEntry:
    """A recovery file left by a session that ended without cleaning up."""

    id: str
    file: Path
    info: dict
    lock: QLockFile

    @property
    def original_path(self) -> str | None:
        return self.info.get("path")

    @property
    def name(self) -> str:
        return self.info.get("name") or "untitled"

    @property
    def saved_at(self) -> float:
        return float(self.info.get("saved_at") or self.file.stat().st_mtime)

    def remove(self) -> None:
        for p in (self.file, self.file.with_suffix(".json")):
            try:
                p.unlink()
            except OSError:
                pass
        self.lock.unlock()


def find_orphans() -> list[RecoveryEntry]:
    """Recovery files of sessions that are no longer running, newest first. Each returned entry
    holds its lock until ``remove()``, so two starting windows never offer the same file."""
    folder = recovery_dir(create=False)
    if not folder.is_dir():
        return []
    out = []
    for info_path in folder.glob("*.json"):
        rid = info_path.stem
        data = folder / f"{rid}{SUFFIX}"
        lock = QLockFile(str(folder / f"{rid}.lock"))
        lock.setStaleLockTime(0)  # only a dead owner makes a lock stale, never its age
        if not lock.tryLock(0):
            continue  # another running window owns it
        if not data.exists():
            try:
                info_path.unlink()
            except OSError:
                pass
            lock.unlock()
            continue
        try:
            info = json.loads(info_path.read_text("utf-8"))
            if not isinstance(info, dict):
                info = {}
        except (OSError, ValueError):
            info = {}
        out.append(RecoveryEntry(rid, data, info, lock))
    out.sort(key=lambda e: e.saved_at, reverse=True)
    return out


class RecoveryManager(QObject):
    def __init__(self, document: Document, interval_s: float = 60.0, debounce_s: float = 3.0, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.id = uuid.uuid4().hex[:12]
        self._lock: QLockFile | None = None
        self.saves = 0
        self._timer = QTimer(self)
        self._timer.setInterval(int(interval_s * 1000))
        self._timer.timeout.connect(self.save_now)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(int(debounce_s * 1000))
        self._debounce.timeout.connect(self.save_now)
        document.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        document.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)

    @property
    def file(self) -> Path:
        return recovery_dir(create=False) / f"{self.id}{SUFFIX}"

    @property
    def info_file(self) -> Path:
        return recovery_dir(create=False) / f"{self.id}.json"

    def start(self) -> None:
        folder = recovery_dir(create=True)
        self._lock = QLockFile(str(folder / f"{self.id}.lock"))
        self._lock.setStaleLockTime(0)
        self._lock.tryLock(0)
        self._timer.start()

    def _on_undo_stack_index_changed(self, _i) -> None:
        if self._timer.isActive():
            self._debounce.start()

    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        if clean:
            self.discard()

    def save_now(self) -> bool:
        """Write the recovery file if there are unsaved changes (else remove it). Never raises."""
        self._debounce.stop()
        if not self.document.modified:
            self.discard()
            return False
        try:
            folder = recovery_dir(create=True)
            atomic_write_text(folder / f"{self.id}{SUFFIX}", dumps(self.document.graph))
            info = {
                "path": str(self.document.path) if self.document.path else None,
                "name": self.document.display_name(),
                "saved_at": time.time(),
            }
            atomic_write_text(folder / f"{self.id}.json", json.dumps(info))
        except Exception:  # autosave must never take the app down; the next tick retries
            return False
        self.saves += 1
        return True

    def discard(self) -> None:
        for p in (self.file, self.info_file):
            try:
                p.unlink()
            except OSError:
                pass

    def stop(self) -> None:
        """Normal end of the session: no recovery file stays behind."""
        self._timer.stop()
        self._debounce.stop()
        self.discard()
        if self._lock is not None:
            self._lock.unlock()
            self._lock.removeStaleLockFile()
            self._lock = None
        try:
            (recovery_dir(create=False) / f"{self.id}.lock").unlink()
        except OSError:
            pass

    def abandon(self) -> None:
        """What a crash leaves behind: timers stop and the lock goes, the recovery file stays.
        (Used by tests and by the excepthook's last resort.)"""
        self._timer.stop()
        self._debounce.stop()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None
