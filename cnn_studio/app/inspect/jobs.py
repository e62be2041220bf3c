"""Background work for the inspection views: one ``QThread`` per runner, a ``QObject`` worker moved to
it, ``@Slot`` methods, results handed back by queued signals (DESIGN.md, convention 7).

A job is a plain Python callable ``fn(progress, cancel)`` (``progress(done, total, message)``; ``cancel``
a ``threading.Event``) that returns a value the GUI thread may keep (numpy copies, an InspectModel).
Jobs are grouped by ``key``: a newer job of the same key supersedes an older one that has not started
yet (it is skipped) and makes the older one's result stale (it is dropped), so clicking through
samples or layers quickly computes only what is still wanted. ``cancel(key)`` sets the event of the
running job of that key; ``shutdown()`` cancels everything, quits and waits for the thread.
"""
from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from ...core.errors import StudioError


class _Job:
    __slots__ = ("cancel", "fn", "id", "key", "on_done", "on_failed")

    def __init__(self, job_id: int, key: str, fn: Callable, on_done, on_failed):
        self.id = job_id
        self.key = key
        self.fn = fn
        self.cancel = threading.Event()
        self.on_done = on_done
        self.on_failed = on_failed


class _JobWorker(QObject):
    """Lives in the runner's thread."""

    progress = Signal(int, int, int, str)  # job id, done, total, message
    done = Signal(int, object)  # job id, result
    failed = Signal(int, str, str)  # job id, message for the user, details
    skipped = Signal(int)

    def __init__(self, runner: JobRunner):
        super().__init__()
        self._runner = runner

    @Slot(object)
    def run(self, job: _Job) -> None:
        if not getattr(self, "_torch_single", False):  # keep the training thread's OpenMP team alone
            from ..training.worker import single_threaded_torch

            single_threaded_torch()
            self._torch_single = True
        if self._runner._is_stale(job):
            self.skipped.emit(job.id)
            return
        if job.cancel.is_set():
            self.failed.emit(job.id, "cancelled", "")
            return

        def progress(done, total, message=""):
            self.progress.emit(job.id, int(done), int(total), str(message))

        try:
            result = job.fn(progress, job.cancel)
        except StudioError as e:
            self.failed.emit(job.id, str(e), traceback.format_exc())
            return
        except Exception as e:  # a bug or an environment problem: report it, never kill the thread
            self.failed.emit(job.id, f"{type(e).__name__}: {e}", traceback.format_exc())
            return
        self.done.emit(job.id, result)


class JobRunner(QObject):
    """GUI-thread owner of one worker thread. ``submit`` returns the job id."""

    busy_changed = Signal(bool)
    progress = Signal(str, int, int, str)  # key, done, total, message

    _request = Signal(object)

    def __init__(self, parent=None, name: str = "cnn-studio-inspect"):
        super().__init__(parent)
        self._name = name
        self._thread: QThread | None = None
        self._worker: _JobWorker | None = None
        self._jobs: dict[int, _Job] = {}
        self._latest: dict[str, int] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._closed = False  # after shutdown() no job starts a thread again

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        thread = QThread()
        thread.setObjectName(self._name)
        worker = _JobWorker(self)
        worker.moveToThread(thread)
        self._request.connect(worker.run)
        worker.done.connect(self._on_worker_done)
        worker.failed.connect(self._on_worker_failed)
        worker.progress.connect(self._on_worker_progress)
        worker.skipped.connect(self._on_worker_skipped)
        self._thread, self._worker = thread, worker
        app = QCoreApplication.instance()
        if app is not None:  # never leave a running thread behind when the app quits
            app.aboutToQuit.connect(self.shutdown)
        thread.start()

    def _is_stale(self, job: _Job) -> bool:
        with self._lock:
            return self._latest.get(job.key) != job.id

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def is_running(self, key: str) -> bool:
        return any(j.key == key for j in self._jobs.values())

    def submit(self, fn: Callable[[Callable, threading.Event], Any], on_done: Callable[[Any], None] | None = None, on_failed: Callable[[str, str], None] | None = None, key: str = "default") -> int:
        """Queue a job; returns its id, or -1 once the runner has been shut down (window closing:
        a late signal must not start a thread that nobody will join)."""
        if self._closed:
            return -1
        self._ensure_thread()
        self._next += 1
        job = _Job(self._next, key, fn, on_done, on_failed)
        with self._lock:
            old = self._latest.get(key)
            self._latest[key] = job.id
        if old is not None and old in self._jobs:
            self._jobs[old].cancel.set()
        was_busy = self.busy
        self._jobs[job.id] = job
        if not was_busy:
            self.busy_changed.emit(True)
        self._request.emit(job)
        return job.id

    def cancel(self, key: str | None = None) -> None:
        for job in list(self._jobs.values()):
            if key is None or job.key == key:
                job.cancel.set()

    def _finish(self, job_id: int) -> _Job | None:
        job = self._jobs.pop(job_id, None)
        if not self._jobs:
            self.busy_changed.emit(False)
        return job

    @Slot(int, object)
    def _on_worker_done(self, job_id: int, result) -> None:
        job = self._finish(job_id)
        if job is None or self._is_stale(job):
            return
        if job.on_done is not None:
            job.on_done(result)

    @Slot(int, str, str)
    def _on_worker_failed(self, job_id: int, message: str, details: str) -> None:
        job = self._finish(job_id)
        if job is None or self._is_stale(job):
            return
        if job.on_failed is not None:
            job.on_failed(message, details)

    @Slot(int)
    def _on_worker_skipped(self, job_id: int) -> None:
        self._finish(job_id)

    @Slot(int, int, int, str)
    def _on_worker_progress(self, job_id: int, done: int, total: int, message: str) -> None:
        job = self._jobs.get(job_id)
        if job is not None and not self._is_stale(job):
            self.progress.emit(job.key, done, total, message)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Process events until no job is left (tests and scripts)."""
        from PySide6.QtCore import QDeadlineTimer

        deadline = QDeadlineTimer(timeout_ms)
        while self._jobs and not deadline.hasExpired():
            QCoreApplication.processEvents()
            QThread.msleep(2)
        QCoreApplication.processEvents()
        return not self._jobs

    @Slot()
    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job, quit the thread and wait for it. True when the thread is gone."""
        self._closed = True
        self.cancel()
        with self._lock:
            self._latest.clear()
        thread = self._thread
        if thread is None:
            return True
        thread.quit()
        ok = thread.wait(timeout_ms)
        if ok:
            try:
                self._request.disconnect()
            except (RuntimeError, TypeError):
                pass
            self._thread = None
            self._worker = None
            self._jobs.clear()
        return ok
