"""Start the desktop app: ``run_app(project_path_or_None) -> exit status``.

The start-up path imports Qt and ``cnn_studio.core`` only; torch is never imported here (the
training panel loads it after the window has painted). An excepthook shows unexpected errors in a
dialog and the log, after writing the recovery file, instead of a raw traceback.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import traceback
import weakref
from pathlib import Path

log = logging.getLogger("cnn_studio.app")


def setup_logging() -> Path | None:
    from .paths import log_dir

    try:
        folder = log_dir(create=True)
    except OSError:
        return None
    path = folder / "app.log"
    root = logging.getLogger("cnn_studio")
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        try:
            h = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8")
        except OSError:
            return None
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(h)
        root.setLevel(logging.INFO)
    return path


# Qt's raster painter splits every large fill and image blit (a plot's cached background, a window
# region, a feature-map image) over a private pool of helper threads, one per core. While the CPU
# trains, each of those hand-offs wakes two threads that preempt the training threads on every
# core: ~220 wake-ups a second on 2 cores, which more than doubled the training threads' involuntary
# context switches (~88/s each, against ~33/s with the pool off and ~32/s headless). Painting this
# window on the GUI thread alone costs about a millisecond a frame, so the pool is turned off. Qt
# reads the variable at its first parallel fill, so it must be set before anything paints. Qt turns
# the pool off for any value of it (even 0 or empty); PAINT_THREADS_ENV=1 leaves Qt's default.
GUI_THREADPOOL_ENV = "QT_NO_GUI_THREADPOOL"
PAINT_THREADS_ENV = "CNN_STUDIO_QT_PAINT_THREADS"


def keep_painting_on_the_gui_thread() -> None:
    """Turn off Qt's painting helper threads (see GUI_THREADPOOL_ENV), unless PAINT_THREADS_ENV is 1."""
    if os.environ.get(PAINT_THREADS_ENV, "").strip() != "1":
        os.environ.setdefault(GUI_THREADPOOL_ENV, "1")


def create_application(argv: list[str] | None = None):
    """The QApplication with CNN Studio's name, icon, style and theme (reuses an existing one)."""
    from ..allocator import keep_freed_memory

    keep_freed_memory()  # before Qt or torch start threads (allocator.py)
    keep_painting_on_the_gui_thread()
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from . import theme
    from .icons import app_icon
    from .paths import app_settings

    QCoreApplication.setOrganizationName("CNN Studio")
    QCoreApplication.setApplicationName("cnn-studio")
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    QGuiApplication.setApplicationDisplayName("CNN Studio")
    QGuiApplication.setDesktopFileName("cnn-studio")
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    mode = str(app_settings().value("theme", "system"))
    manager = getattr(app, "_cnn_studio_theme", None)
    if manager is None:
        manager = theme.ThemeManager(app, mode)
        manager.changed.connect(theme.set_colours)
        app._cnn_studio_theme = manager  # keep it alive with the app
    theme.set_colours(manager.colours)
    return app, manager


class ExceptionHandler:
    """sys.excepthook for the GUI: autosave first, then log and show the error in a dialog."""

    def __init__(self, window, log_path: Path | None) -> None:
        self._window = weakref.ref(window)
        self.log_path = log_path
        self._busy = False

    def __call__(self, etype, value, tb) -> None:
        if issubclass(etype, KeyboardInterrupt):
            from PySide6.QtWidgets import QApplication

            QApplication.quit()
            return
        text = "".join(traceback.format_exception(etype, value, tb))
        log.error("unexpected error\n%s", text)
        if self._busy:  # an error while reporting an error: don't loop
            print(text, file=sys.stderr)
            return
        self._busy = True
        try:
            window = self._window()
            saved = False
            if window is not None:
                try:
                    saved = window.recovery.save_now()
                except Exception:  # pragma: no cover - last resort
                    saved = False
                where = f" Details are in {self.log_path}." if self.log_path else ""
                safe = " Your unsaved changes were written to the recovery file." if saved else ""
                from PySide6.QtWidgets import QMessageBox

                window.inform(
                    "Unexpected error",
                    f"Something went wrong: {etype.__name__}: {value}.{safe} You can keep working; please save "
                    f"your project soon and report the problem.{where}",
                    QMessageBox.Icon.Critical,
                    details=text,
                )
            else:
                print(text, file=sys.stderr)
        finally:
            self._busy = False


def run_app(project: str | None = None) -> int:
    log_path = setup_logging()
    app, manager = create_application()
    from PySide6.QtCore import QTimer

    from ..core.errors import ProjectFileError
    from ..core.project import load_project
    from .mainwindow import MainWindow

    graph, path, error = None, None, None
    if project:
        try:
            graph, path = load_project(project), Path(project).resolve()
        except ProjectFileError as e:
            error = str(e)
    window = MainWindow(graph, path, theme_manager=manager)
    if path is not None:
        window._add_recent(str(path))
    sys.excepthook = ExceptionHandler(window, log_path)
    window.show()
    from .training.worker import freeze_long_lived_objects  # Qt only: torch is not imported here

    QTimer.singleShot(500, freeze_long_lived_objects)  # after the first paint
    if error:
        QTimer.singleShot(0, lambda: window.inform("Cannot open project", error))
    else:
        QTimer.singleShot(0, window.offer_recovery)
    log.info("started (project=%s)", project)
    rc = app.exec()
    sys.excepthook = sys.__excepthook__
    return int(rc)
