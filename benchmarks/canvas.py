"""Canvas responsiveness on a 200-layer network (offscreen, raster painting).

- edit: push a parameter change through the undo stack, re-analyse, update the cards whose text
  changed, and repaint the canvas synchronously (``viewport().repaint()``). Two cases: a change
  of the Input size, which changes every shape downstream (all 200 cards and links update), and a
  change of one convolution's filter count (a handful of cards update). Goal < 50 ms.
- drag: press on a card, then per frame one mouse move plus a synchronous repaint, at 100 % zoom
  and zoomed out as far as the view goes (15 %, dozens of cards on screen). Goal < 16 ms per frame.

Prints medians and 95th percentiles; ``--json`` adds one JSON line.

    python benchmarks/canvas.py [--nodes 200] [--repeat 30] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CNN_STUDIO_HOME", tempfile.mkdtemp(prefix="cnn-studio-bench-"))


def build_graph(n_nodes: int):
    """Input, blocks of conv 3x3 (same) + batch norm + ReLU, then pool, flatten, FC, loss."""
    from cnn_studio.core.graph import Graph
    from cnn_studio.core.layout import apply_layout

    g = Graph("bench")
    g.add_node("input", {"channels": 3, "height": 32, "width": 32}, node_id="input")
    last = "input"
    i = 0
    while len(g.nodes) < n_nodes - 4:
        i += 1
        for t, cfg in (("conv2d", {"out_channels": 16, "kernel_size": 3, "padding": "same"}), ("batchnorm2d", {}), ("relu", {})):
            if len(g.nodes) >= n_nodes - 4:
                break
            nid = f"{t}_{i}"
            g.add_node(t, cfg, node_id=nid)
            g.connect(last, nid)
            last = nid
    for t, cfg, nid in (("adaptive_avgpool2d", {}, "pool"), ("flatten", {}, "flatten"), ("linear", {"out_features": 10}, "fc"), ("cross_entropy", {}, "loss")):
        g.add_node(t, cfg, node_id=nid)
        g.connect(last, nid)
        last = nid
    apply_layout(g)
    return g


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="canvas edit and drag timings on a large network")
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from cnn_studio.app.commands import set_param_command
    from cnn_studio.app.main import create_application
    from cnn_studio.app.mainwindow import MainWindow

    app, manager = create_application()
    graph = build_graph(args.nodes)
    t0 = time.perf_counter()
    w = MainWindow(graph, theme_manager=manager, autosave_interval_s=3600)
    w.resize(1440, 900)
    w.show()
    QApplication.processEvents()
    t_open = time.perf_counter() - t0
    w.view.set_zoom(1.0)
    w.view.centerOn(w.scene.node_items["conv2d_3"])
    vp = w.view.viewport()
    vp.repaint()
    assert w.document.analysis.ok, [str(i) for i in w.document.analysis.issues[:3]]
    doc = w.document

    def timed_edit(node_id: str, key: str, values: list) -> list[float]:
        times = []
        for k in range(args.repeat):
            cmd = set_param_command(doc.graph, node_id, key, values[k % len(values)])
            t = time.perf_counter()
            doc.push(cmd)  # analysis + scene update
            vp.repaint()
            times.append(time.perf_counter() - t)
        return times

    edit_all = timed_edit("input", "height", [31, 32])
    edit_one = timed_edit("conv2d_2", "out_channels", [24, 16])
    changed_cards = len(w.scene.node_items)

    def timed_drag(zoom_out: bool) -> list[float]:
        if zoom_out:
            w.view.fit()
        else:
            w.view.set_zoom(1.0)
            w.view.centerOn(w.scene.node_items["conv2d_3"])
        QApplication.processEvents()
        start = w.view.mapFromScene(w.scene.node_items["conv2d_3"].scenePos())
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        times = []
        for k in range(1, args.repeat * 2 + 1):
            pos = start + QPoint(3 * k, k)
            t = time.perf_counter()
            QTest.mouseMove(vp, pos)
            vp.repaint()
            times.append(time.perf_counter() - t)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        return times

    drag_100 = timed_drag(False)
    drag_fit = timed_drag(True)
    fit_zoom = w.view.zoom()
    on_screen = len([i for i in w.scene.items(w.view.visible_scene_rect()) if type(i).__name__ == "NodeItem"])
    moves = doc.undo_stack.count()

    res = {
        "benchmark": "canvas",
        "nodes": len(doc.graph.nodes),
        "open_window_s": t_open,
        "edit_input_all_cards_ms_median": statistics.median(edit_all) * 1000,
        "edit_input_all_cards_ms_p95": pct(edit_all, 0.95) * 1000,
        "edit_one_conv_ms_median": statistics.median(edit_one) * 1000,
        "edit_one_conv_ms_p95": pct(edit_one, 0.95) * 1000,
        "drag_frame_100pct_ms_median": statistics.median(drag_100) * 1000,
        "drag_frame_100pct_ms_p95": pct(drag_100, 0.95) * 1000,
        "drag_frame_zoomed_out_ms_median": statistics.median(drag_fit) * 1000,
        "drag_frame_zoomed_out_ms_p95": pct(drag_fit, 0.95) * 1000,
        "zoomed_out_zoom": fit_zoom,
        "zoomed_out_cards_on_screen": on_screen,
        "edit_goal_ms": 50,
        "frame_goal_ms": 16,
    }
    print(f"canvas benchmark: {res['nodes']} layers, offscreen raster, {args.repeat} edits / {2 * args.repeat} frames each")
    print(f"  open window with the network           {t_open * 1000:7.1f} ms")
    print(f"  edit Input size (all {changed_cards} cards change)   median {res['edit_input_all_cards_ms_median']:6.1f} ms  p95 {res['edit_input_all_cards_ms_p95']:6.1f} ms  (goal < 50)")
    print(f"  edit one conv's filters                median {res['edit_one_conv_ms_median']:6.1f} ms  p95 {res['edit_one_conv_ms_p95']:6.1f} ms  (goal < 50)")
    print(f"  drag frame at 100% zoom                median {res['drag_frame_100pct_ms_median']:6.1f} ms  p95 {res['drag_frame_100pct_ms_p95']:6.1f} ms  (goal < 16)")
    print(f"  drag frame at {fit_zoom * 100:.0f}% ({on_screen} cards on screen)  median {res['drag_frame_zoomed_out_ms_median']:6.1f} ms  p95 {res['drag_frame_zoomed_out_ms_p95']:6.1f} ms  (goal < 16)")
    print(f"  (each drag became one undo step: {moves} commands on the stack after {2 * args.repeat} edits and 2 drags)")
    if args.json:
        print(json.dumps(res))
    w._closing_ok = True
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
