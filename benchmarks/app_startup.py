"""Desktop app start-up: from process start to the first painted main window.

Each run spawns ``python -c`` that imports the app, builds the main window (first run: LeNet-5),
shows it and waits for the canvas viewport's first paint to complete; it reports the time since
the parent launched it (interpreter start-up included) and whether torch was imported (it must
not be). Prints the median of the runs; ``--json`` adds one JSON line. Goal: < 1.0 s.

    python benchmarks/app_startup.py [--runs 5] [--platform offscreen] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QEvent, QObject, QTimer
t_qt = time.time()
from cnn_studio.app.main import create_application
from cnn_studio.app.mainwindow import MainWindow
t_import = time.time()
app, manager = create_application()
w = MainWindow(theme_manager=manager)
t_window = time.time()
marks = {}

def finish():
    marks["painted"] = time.time()
    app.quit()

class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time()
            QTimer.singleShot(0, finish)  # after this paint has been drawn and flushed
        return False

f = FirstPaint()
w.view.viewport().installEventFilter(f)
w.show()
QTimer.singleShot(10000, app.quit)
app.exec()
print(json.dumps({
    "first_paint_s": marks.get("painted", float("nan")) - t0,
    "python_and_qt_import_s": t_qt - t0,
    "app_import_s": t_import - t_qt,
    "window_build_s": t_window - t_import,
    "show_to_paint_s": marks.get("painted", float("nan")) - t_window,
    "torch_imported": "torch" in sys.modules,
    "numpy_imported": "numpy" in sys.modules,
}))
w._closing_ok = True
w.close()
"""


def run_once(platform: str, home: str) -> dict:
    env = dict(os.environ, CNN_STUDIO_HOME=home)
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, repr(t0)], capture_output=True, text=True, env=env, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"child failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="time from process start to the first painted CNN Studio window")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--platform", default="offscreen", help="Qt platform plugin (offscreen, xcb, ...); '' keeps the environment's")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        run_once(args.platform, home)  # warm the file-system cache (first run after install is slower)
        runs = [run_once(args.platform, home) for _ in range(args.runs)]
    keys = ["first_paint_s", "python_and_qt_import_s", "app_import_s", "window_build_s", "show_to_paint_s"]
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    torch = any(r["torch_imported"] for r in runs)
    print(f"app start-up, {args.runs} runs (median), platform={args.platform or os.environ.get('QT_QPA_PLATFORM', 'default')}")
    print(f"  process start -> first painted window: {med['first_paint_s'] * 1000:7.0f} ms   (goal < 1000 ms)")
    print(f"    python + Qt import              {med['python_and_qt_import_s'] * 1000:7.0f} ms")
    print(f"    app modules import              {med['app_import_s'] * 1000:7.0f} ms")
    print(f"    QApplication + main window      {med['window_build_s'] * 1000:7.0f} ms")
    print(f"    show -> first paint done        {med['show_to_paint_s'] * 1000:7.0f} ms")
    each = ", ".join(f"{r['first_paint_s'] * 1000:.0f}" for r in runs)
    print(f"  all runs: {each} ms")
    print(f"  torch imported on the start-up path: {'YES (bad)' if torch else 'no'}")
    if args.json:
        print(json.dumps({"benchmark": "app_startup", "runs": args.runs, **{k + "_median": v for k, v in med.items()}, "torch_imported": torch, "goal_s": 1.0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
