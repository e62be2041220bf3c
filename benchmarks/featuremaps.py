"""Speed of the feature-map view, and what live maps cost a training run.

1. Render: maps of a 64-channel 32x32 layer pushed into a FeatureMapView (channel grid in numpy,
   ``setImage``, ``processEvents``), alternating two different arrays so every step really repaints.
   Goal: median under 15 ms.
2. Live maps during training: Trainer samples/s on ``shapes`` (2 epochs of 2,000 images, lenet5, 32x32)
   run in a QThread as the app runs it, with the app's TrainingWorker adapter and a pinned sample
   (``live_maps_interval=1.0``; per-epoch snapshots too) feeding a FeatureMapView in the GUI thread,
   against the same adapter with nothing pinned (no maps). The runs alternate; the headline is the
   median of the per-pair ratios (pairs alternate which side runs first). Goal: live maps cost at most 3 % (ratio >= 0.97). Throughput is
   timed from each epoch's start to its last batch (validation and file writes excluded).

    QT_QPA_PLATFORM=offscreen python benchmarks/featuremaps.py [--json] [--repeats 6] [--skip-training]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from _util import median_ms, report
from PySide6.QtCore import QEventLoop, QThread
from PySide6.QtWidgets import QApplication


def bench_render(repeat: int = 60) -> dict:
    from cnn_studio.app.inspect.featuremaps import FeatureMapView
    from cnn_studio.inspection import channel_grid

    app = QApplication.instance() or QApplication([])
    view = FeatureMapView()
    view.resize(1200, 800)
    view.show()
    rng = np.random.default_rng(0)
    maps = [rng.standard_normal((64, 32, 32)).astype(np.float32) for _ in range(2)]
    i = [0]

    def step():
        i[0] ^= 1
        view.show_maps(maps[i[0]], node_id="conv", source="live")
        app.processEvents()

    step()
    total = median_ms(step, repeat=repeat, warmup=5)
    grid = median_ms(lambda: channel_grid(maps[0], upscale=1), repeat=repeat, warmup=3)
    shape = view.grid_rgb.shape
    view.shutdown()
    view.close()
    app.processEvents()
    return {"render_64x32x32_median_ms": total, "channel_grid_only_median_ms": grid, "grid_image_px": f"{shape[1]}x{shape[0]}"}


class _Timer:
    """Trainer callback: samples and seconds inside the epochs' batch loops."""

    def __new__(cls):
        from cnn_studio.training import Callback

        class T(Callback):
            def __init__(self):
                self.samples = 0
                self.seconds = 0.0
                self.t0 = None

            def on_epoch_start(self, trainer):
                self.t0 = time.perf_counter()
                self.last = self.t0
                self.epoch_samples = 0

            def on_batch_end(self, trainer, m):
                self.last = time.perf_counter()
                self.epoch_samples += m["size"]

            def on_epoch_end(self, trainer, row):
                self.samples += self.epoch_samples
                self.seconds += self.last - self.t0

            @property
            def rate(self):
                return self.samples / self.seconds if self.seconds else 0.0

        return T()


def _run_in_thread(trainer) -> None:
    """Run trainer.fit() in a QThread while the GUI thread processes events (as the app does)."""

    class Runner(QThread):
        def run(self):
            trainer.fit()

    t = Runner()
    loop = QEventLoop()
    t.finished.connect(loop.quit)
    t.start()
    loop.exec()
    t.wait()


def bench_training(repeats: int = 3, n_train: int = 2000, epochs: int = 2, batch_size: int = 64) -> dict:
    import torch

    from cnn_studio.app.inspect.featuremaps import FeatureMapView
    from cnn_studio.app.training.worker import TrainingWorker, _Adapter
    from cnn_studio.core import templates
    from cnn_studio.data import DataConfig, load_dataset
    from cnn_studio.training import TrainConfig, Trainer

    app = QApplication.instance() or QApplication([])
    dc = DataConfig(source="shapes", shapes_train=n_train, shapes_test=200, height=32, width=32, val_fraction=0.1, seed=0)
    bundle = load_dataset(dc)
    graph = templates.build("lenet5", tuple(bundle.input_shape()), bundle.num_classes)
    threads = torch.get_num_threads()
    view = FeatureMapView()
    view.resize(1100, 750)
    view.show()
    renders = [0]
    view.maps_shown.connect(lambda: renders.__setitem__(0, renders[0] + 1))

    spent = {"maps": 0.0, "render": 0.0, "train": 0.0}
    orig_set_maps = view._set_maps

    def timed_set_maps(*a, **k):
        t0 = time.perf_counter()
        orig_set_maps(*a, **k)
        spent["render"] += time.perf_counter() - t0

    view._set_maps = timed_set_maps

    def run(live: bool, out: Path) -> tuple[float, int, int]:
        worker = TrainingWorker(graph.to_config(), dc, None, live_maps_interval=1.0)
        runner = worker.runner  # the thread side: its adapter emits, the worker relays in this thread
        orig_maps_for = runner._maps_for

        def timed_maps_for(*a, **k):
            t0 = time.perf_counter()
            r = orig_maps_for(*a, **k)
            if live:
                spent["maps"] += time.perf_counter() - t0
            return r

        runner._maps_for = timed_maps_for
        emitted = [0]
        if live:
            worker.pin_sample(bundle.val.x[0], "c3")
            worker.feature_maps.connect(view.add_snapshot)
            worker.feature_maps.connect(lambda e, m: emitted.__setitem__(0, emitted[0] + 1))
        timer = _Timer()
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=1e-3, device="cpu", seed=0, num_threads=threads, save_checkpoints=False)
        trainer = Trainer(graph, bundle, cfg, run_dir=out, callbacks=[timer, _Adapter(runner)], data_config=dc)
        before = renders[0]
        _run_in_thread(trainer)
        app.processEvents()
        if live:
            spent["train"] += timer.seconds
        if live:
            worker.feature_maps.disconnect()
        return timer.rate, emitted[0], renders[0] - before

    with tempfile.TemporaryDirectory() as tmp:
        run(False, Path(tmp) / "warm")  # warm-up (allocators, kernels)
        run(True, Path(tmp) / "warm2")
        base, live, ratios, emitted, rendered = [], [], [], [], []
        for r in range(repeats):
            # alternate which side goes first (ABBA), so drift of the machine's load cancels out
            order = (False, True) if r % 2 == 0 else (True, False)
            got = {}
            for side in order:
                got[side] = run(side, Path(tmp) / f"{'l' if side else 'b'}{r}")
            b = got[False][0]
            lv, em, rd = got[True]
            base.append(b)
            live.append(lv)
            ratios.append(lv / b)
            emitted.append(em)
            rendered.append(rd)
    view.shutdown()
    view.close()
    # the same cost measured directly (robust to a noisy machine): time spent computing live and
    # per-epoch maps in the training thread plus rendering them in the GUI thread, per second of training
    work_fraction = (spent["maps"] + spent["render"]) / spent["train"] if spent["train"] else float("nan")
    return {
        "maps_work_ms_per_training_s": 1000 * work_fraction,
        "maps_work_share_of_training": work_fraction,
        "train_samples_per_s_without_maps": statistics.median(base),
        "train_samples_per_s_with_live_maps": statistics.median(live),
        "live_maps_ratio_median": statistics.median(ratios),
        "live_maps_ratio_min": min(ratios),
        "live_maps_ratio_max": max(ratios),
        "maps_signals_per_run": int(statistics.median(emitted)),
        "view_renders_per_run": int(statistics.median(rendered)),
        "torch_threads": threads,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args()
    figures = bench_render()
    goals = {"render_64x32x32_median_ms": "< 15 ms"}
    if not args.skip_training:
        figures.update(bench_training(args.repeats))
        goals["live_maps_ratio_median"] = ">= 0.97"
    report("featuremaps", figures, goals)


if __name__ == "__main__":
    main()
