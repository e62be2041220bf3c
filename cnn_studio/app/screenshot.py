"""Render the first-run window to a PNG: ``python -m cnn_studio.app.screenshot [OUT.png] [--dark]``.

Runs offscreen when no display is set. Used for docs/screenshot.png and to look at the app.
"""
from __future__ import annotations

import argparse
import os
import sys


def render_first_run(out: str, width: int = 1440, height: int = 900, mode: str = "light", select: str | None = "c3") -> str:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from .main import create_application
    from .mainwindow import MainWindow

    app, manager = create_application()
    manager.set_mode(mode)
    window = MainWindow(theme_manager=manager, autosave_interval_s=3600)
    window.resize(width, height)
    window.show()
    for _ in range(3):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    window.fit_readable()
    if select:
        window.select_nodes([select])
    loop = QEventLoop()
    QTimer.singleShot(150, loop.quit)
    loop.exec()
    window.grab().save(out)
    window._closing_ok = True
    window.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", nargs="?", default="docs/screenshot.png")
    p.add_argument("--dark", action="store_true")
    p.add_argument("--size", default="1440x900")
    args = p.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    w, h = (int(v) for v in args.size.lower().split("x"))
    print(render_first_run(args.out, w, h, "dark" if args.dark else "light"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
