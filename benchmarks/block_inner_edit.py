"""Latency of one structural edit inside a block on the canvas (canvas/inner_edit.py).

Each edit inside a block runs its operation on a copy of the whole graph, checks the definitions,
and pushes one undo snapshot, which replaces the graph (re-analysis, rebuild of the shown level).
Measured on ResNet-50 (torchvision's layout, 16 bottleneck instances in 4 nested levels), inside
layer1/0 (Bottleneck): connect + disconnect of an inner link as one edit each (push, analysis,
scene rebuild, synchronous repaint), and undo of one. Goal: < 150 ms on an idle machine (one discrete
gesture: a drop, a link, a Delete). The repaint after the rebuild (no card is cached yet) is a
large share; it is printed on its own.

    python benchmarks/block_inner_edit.py [--repeat 20] [--json]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CNN_STUDIO_HOME", tempfile.mkdtemp(prefix="cnn-studio-bench-"))
sys.path.insert(0, os.path.dirname(__file__))

from _util import report  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="structural edit inside a block: latency")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from cnn_studio.app.main import create_application
    from cnn_studio.app.mainwindow import MainWindow
    from cnn_studio.core import block_edit as be
    from cnn_studio.core import templates

    app, manager = create_application()
    w = MainWindow(templates.build("resnet50"), theme_manager=manager, autosave_interval_s=3600)
    w.resize(1440, 900)
    w.show()
    QApplication.processEvents()
    scene, vp, doc = w.scene, w.view.viewport(), w.document
    assert scene.enter_block("layer1") and scene.enter_block("layer1/0")
    name = scene.current_block()
    inner = w.graph.blocks[name].graph
    e = next(e for e in inner.edges if e.dst != "add")
    times, paint_times, undo_times = [], [], []
    for k in range(args.repeat):
        op = (lambda g, n: be.disconnect_inner(g, n, e.src, e.dst, e.src_port, e.dst_port)) if k % 2 == 0 else \
             (lambda g, n: be.connect_inner(g, n, e.src, e.dst, e.src_port, e.dst_port))
        t = time.perf_counter()
        scene.inner_edit("bench", op)
        doc.refresh()
        t1 = time.perf_counter()
        vp.repaint()
        times.append((time.perf_counter() - t) * 1000)
        paint_times.append((time.perf_counter() - t1) * 1000)
    for _ in range(min(args.repeat, doc.undo_stack.count())):
        t = time.perf_counter()
        doc.undo_stack.undo()
        doc.refresh()
        vp.repaint()
        undo_times.append((time.perf_counter() - t) * 1000)
    report("block_inner_edit (ResNet-50, inside layer1/0)", {
        "definition": name,
        "inner layers shown": len(inner.nodes),
        "edit median ms": statistics.median(times),
        "edit max ms": max(times),
        "of which repaint median ms": statistics.median(paint_times),
        "undo median ms": statistics.median(undo_times),
    }, {"edit median ms": "< 150 on an idle machine"})
    w._closing_ok = True
    w.close()


if __name__ == "__main__":
    main()
