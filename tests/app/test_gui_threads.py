"""The window paints on the GUI thread alone: Qt's painting helper threads stay off (issue 14).

Qt's raster painter hands large fills and image blits to a private pool of helper threads (named
"Thread (pooled)"); while the CPU trains, each hand-off wakes threads that preempt the training
threads. ``create_application`` turns that pool off before anything paints. Each case runs in a
fresh interpreter, since Qt reads the setting once, at its first parallel fill.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PAINT_AND_COUNT = """
import json, os, time
import numpy as np
import pyqtgraph as pg
{make_app}
def pooled():
    names = []
    for t in os.listdir("/proc/self/task"):
        try:
            names.append(open(f"/proc/self/task/{{t}}/comm").read().strip())
        except OSError:
            pass
    return sum(n.startswith("Thread (pooled)") for n in names)
plot = pg.PlotWidget()
plot.resize(1200, 800)
plot.show()
for i in range(15):
    plot.plot(np.random.default_rng(i).random(500))
    app.processEvents()
    time.sleep(0.01)
{extra}
print(json.dumps({{"pooled": pooled(), "env": os.environ.get("QT_NO_GUI_THREADPOOL")}}))
"""


def _run(tmp_path, make_app: str, extra: str = "", env_extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    env.update(QT_QPA_PLATFORM="offscreen", CNN_STUDIO_HOME=str(tmp_path), **(env_extra or {}))
    code = PAINT_AND_COUNT.format(make_app=textwrap.dedent(make_app), extra=textwrap.dedent(extra))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_qt_paints_large_plots_with_helper_threads_by_default(tmp_path):
    # the behaviour the app turns off: without it, painting a large plot starts Qt's helper threads
    # (if a later Qt stops doing this, the test below proves nothing and both should be revisited)
    got = _run(tmp_path, "from PySide6.QtWidgets import QApplication\napp = QApplication([])")
    assert got["env"] is None
    assert got["pooled"] > 0


def test_the_app_paints_without_helper_threads(tmp_path):
    got = _run(
        tmp_path,
        "from cnn_studio.app.main import create_application\napp, manager = create_application()",
        extra="""
        from cnn_studio.app.mainwindow import MainWindow
        w = MainWindow(theme_manager=manager)
        w.resize(1400, 900)
        w.show()
        for _ in range(10):
            app.processEvents()
            time.sleep(0.01)
        w.grab()
        w._closing_ok = True
        w.close()
        """,
    )
    assert got["env"] == "1"
    assert got["pooled"] == 0


def test_the_helper_threads_can_be_asked_for(tmp_path):
    # CNN_STUDIO_QT_PAINT_THREADS=1 leaves Qt's default (any value of Qt's own variable, even 0, turns
    # the pool off, so that one cannot turn it back on)
    got = _run(
        tmp_path,
        "from cnn_studio.app.main import create_application\napp, manager = create_application()",
        env_extra={"CNN_STUDIO_QT_PAINT_THREADS": "1"},
    )
    assert got["env"] is None
    assert got["pooled"] > 0
