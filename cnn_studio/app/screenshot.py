"""Render the window to a PNG: ``python -m cnn_studio.app.screenshot [OUT.png] [--dark] [--size WxH]
[--train EPOCHS] [--show TITLE ...]``.

Runs offscreen when no display is set. Used for docs/screenshot.png and to look at the app: with
``--train`` the picture is taken after a short run of the first-run network on a small generated
data set (so the curves and the inspection views hold something), ``--show`` brings docks forward
(by title, in order) before the picture. The user's saved layout (``CNN_STUDIO_HOME``) is used as
the app would use it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile


def _pump(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _bars_data(folder: str, n: int = 320, classes: int = 10) -> str:
    """A small 3x32x32 image set the first-run network learns in an epoch or two (a bright bar whose
    row is the class), as an .npz."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = (rng.random((n, 32, 32, 3)) * 60).astype(np.uint8)
    for i, c in enumerate(y):
        x[i, c % 12, :] = 255
    path = os.path.join(folder, "bars.npz")
    np.savez(path, x=x, y=y)
    return path


def train_briefly(window, epochs: int, folder: str, timeout_s: float = 300.0) -> dict | None:
    """Train the window's network for ``epochs`` on the CPU through the app (the Data and Training
    panels, then Network > Train); returns the run's summary, or None when it did not finish."""
    import time

    feat = window.training
    feat.data_panel.set_source(_bars_data(folder))
    s = feat.panel.settings
    s.epochs.setValue(epochs)
    s.batch_size.setValue(32)
    s.device.setCurrentIndex(s.device.findData("cpu"))
    done: list = []
    feat.panel.run_finished.connect(done.append)
    if not feat.train():
        return None
    end = time.monotonic() + timeout_s
    while not done and time.monotonic() < end:
        _pump(100)
    _pump(300)  # the views' jobs that follow the finished run
    return done[0] if done else None


def render(out: str, width: int = 1440, height: int = 900, mode: str = "light", select: str | None = "c3",
           train_epochs: int = 0, show: tuple[str, ...] = ()) -> str:
    from PySide6.QtCore import QCoreApplication, QEventLoop

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
        _pump(500)  # the Inspector lays out its form over a few events (a grab sooner squashed it)
    with tempfile.TemporaryDirectory() as folder:
        if train_epochs > 0 and train_briefly(window, train_epochs, folder) is None:
            print("screenshot: the run did not finish", file=sys.stderr)
        for title in show:
            dock = window.docks.get(title)
            if dock is None:
                print(f"screenshot: no dock titled {title!r}", file=sys.stderr)
                continue
            dock.show()
            dock.raise_()
            _pump(300)
        _pump(150)
        window.grab().save(out)
    window._closing_ok = True
    window.close()
    return out


def render_first_run(out: str, width: int = 1440, height: int = 900, mode: str = "light", select: str | None = "c3") -> str:
    return render(out, width, height, mode, select)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", nargs="?", default="docs/screenshot.png")
    p.add_argument("--dark", action="store_true")
    p.add_argument("--size", default="1440x900")
    p.add_argument("--train", type=int, default=0, metavar="EPOCHS", help="train this many epochs first")
    p.add_argument("--show", action="append", default=[], metavar="TITLE", help="bring this dock forward (repeatable)")
    args = p.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size {args.size!r}: write it as WIDTHxHEIGHT, e.g. 1280x800")
    print(render(args.out, w, h, "dark" if args.dark else "light", train_epochs=args.train, show=tuple(args.show)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
