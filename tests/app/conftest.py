"""Fixtures for the desktop app tests: a shown main window whose dialogs (ask, inform, file choosers,
the New dialog) are answered by the test instead of running modal loops. Helpers that act as a user
would live in app_helpers.py."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402


class Answers:
    """Scripted answers for MainWindow.ask / inform / file dialogs; records what was shown."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.informed: list[tuple[str, str]] = []
        self.replies: list = []
        self.open_path = None
        self.save_path = None
        self.new_graph = None

    def ask(self, title, text, buttons=None, default=None, informative=""):
        self.asked.append((title, text))
        if not self.replies:
            raise AssertionError(f"unexpected question: {title}: {text}")
        return self.replies.pop(0)

    def inform(self, title, text, icon=None, details=""):
        self.informed.append((title, text))


def _make_window(qtbot, graph=None, path=None):
    from cnn_studio.app.main import create_application
    from cnn_studio.app.mainwindow import MainWindow

    app, manager = create_application()
    manager.set_mode("light")
    w = MainWindow(graph, path, theme_manager=manager, autosave_interval_s=3600)
    answers = Answers()
    w.ask = answers.ask
    w.inform = answers.inform
    w.get_open_path = lambda: answers.open_path
    w.get_save_path = lambda: answers.save_path
    w.choose_new_network = lambda: answers.new_graph
    w.answers = answers
    w.resize(1280, 860)
    w.show()
    qtbot.waitExposed(w)
    QApplication.processEvents()
    w.fit_readable()
    QApplication.processEvents()
    return w


@pytest.fixture
def make_window(qtbot):
    made = []

    def make(graph=None, path=None):
        w = _make_window(qtbot, graph, path)
        made.append(w)
        return w

    yield make
    for w in made:
        if w.isVisible():
            w._closing_ok = True
            w.close()
        w.deleteLater()
    _destroy_now()


def _destroy_now() -> None:
    """Run the deferred deletes and collect the Python wrappers now, while Qt is in a sane state,
    rather than whenever a later (non-Qt) test happens to trigger the garbage collector."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    QApplication.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    QApplication.processEvents()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def empty_window(make_window):
    from cnn_studio.app.newdialog import empty_network

    return make_window(empty_network((3, 32, 32)))


