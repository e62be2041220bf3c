"""Training beside a busy program: CPU threads Auto against fixed 1 and N threads.

A child process spins on one core (pure Python busy loop, bounded in time, killed at the end) while
the Trainer trains the same network on the same data with ``num_threads`` = 1, N (all cores) and
None (Auto, cnn_studio/training/threads.py). Each setting runs ``--repeats`` times in rotating order
so a drifting load on a shared machine hits all three; the figures are medians of the Trainer's own
training samples/s (validation and file writes left out). Auto trains whole epochs (its probes at
run start and epoch ends are in its figure); a fixed count trains for ``--fixed-seconds`` (its rate
is steady, and 2 threads beside a busy program are too slow for whole epochs). Then the same
without the busy program ("idle": on a machine shared with other work it may not be idle).
Goal: Auto >= 0.8 x the best fixed setting, busy and idle.

    python benchmarks/busy_machine.py                 # tinyvgg on shapes 32x32, Auto 10 epochs, 2 repeats
    python benchmarks/busy_machine.py --json          # also one JSON line
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from cnn_studio.core import templates
from cnn_studio.data import DataConfig, load_dataset
from cnn_studio.training import Callback, TrainConfig, Trainer


def _spin(seconds: float) -> None:
    """The busy program: one core at 100 % for at most ``seconds``."""
    end = time.monotonic() + seconds
    parent = os.getppid()
    x = 0
    while time.monotonic() < end and os.getppid() == parent:  # also ends if the benchmark dies
        for _ in range(10_000):
            x += 1


class _Timer(Callback):
    """Training time only: from each epoch's start to its last batch; stops the run after ``limit_s``."""

    def __init__(self, limit_s: float = math.inf):
        self.seconds, self.samples, self.limit_s = 0.0, 0, limit_s

    def on_epoch_start(self, trainer):
        self.t0 = self.t1 = time.perf_counter()

    def on_batch_end(self, trainer, m):
        self.t1 = time.perf_counter()
        self.samples += m["size"]
        if self.seconds + self.t1 - self.t0 >= self.limit_s:
            trainer.request_stop()

    def on_epoch_end(self, trainer, m):
        self.seconds += self.t1 - self.t0

    def on_fit_end(self, trainer):
        if trainer.state.stop_reason == "stopped_by_user":  # stopped mid-epoch: no on_epoch_end
            self.seconds += self.t1 - self.t0


def run(graph, bundle, threads, epochs: int, batch_size: int, out: Path, limit_s: float = math.inf) -> tuple[float, dict]:
    timer = _Timer(limit_s)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=1e-3, device="cpu", seed=0, num_threads=threads,
                      save_checkpoints=False)
    t = Trainer(graph, bundle, cfg, run_dir=out, callbacks=[timer])
    s = t.fit()
    return timer.samples / timer.seconds, s.get("threads") or {}


def measure(graph, bundle, n: int, args, tmp: Path, label: str) -> dict:
    settings = {"1": 1, str(n): n, "auto": None}
    got: dict[str, list[float]] = {k: [] for k in settings}
    auto_log = []
    keys = list(settings)
    for r in range(args.repeats):
        for k in keys[r % 3:] + keys[:r % 3]:  # rotate the order each repeat
            # a fixed count's samples/s is steady: it trains for --fixed-seconds; Auto trains whole epochs
            # (it decides at run start and at epoch ends, and pays for its probes in this figure)
            limit = math.inf if k == "auto" else args.fixed_seconds
            sps, rec = run(graph, bundle, settings[k], args.epochs, args.batch_size, tmp / f"{label}-{k}-{r}", limit)
            got[k].append(sps)
            if k == "auto":
                auto_log.append(rec.get("changes"))
            print(f"  {label:<5} threads={k:<5} repeat {r + 1}: {sps:8.0f} samples/s" +
                  (f"   auto changes (step, threads, why): {rec.get('changes')}" if k == "auto" else ""), flush=True)
    med = {k: statistics.median(v) for k, v in got.items()}
    best_fixed = max(med["1"], med[str(n)])
    return {"load": label, "samples_per_sec": med, "runs": got, "auto_over_best": med["auto"] / best_fixed,
            "auto_changes": auto_log}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tinyvgg")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--train", type=int, default=4000, help="training images (default 4000, 10%% of them validation)")
    p.add_argument("--epochs", type=int, default=10, help="Auto's epochs (default 10, the app's default)")
    p.add_argument("--fixed-seconds", type=float, default=12.0, help="training seconds of each fixed-count run (default 12)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--busy", type=int, default=1, help="busy child processes (default 1)")
    p.add_argument("--no-idle", action="store_true", help="skip the idle-machine pass")
    p.add_argument("--no-meter", action="store_true",
                   help="Auto without the free-core meter (as where /proc/stat is missing: macOS, Windows): "
                   "it then times every count, busy or not")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("CNN_STUDIO_HOME", tempfile.mkdtemp(prefix="cnn-studio-bench-"))
    if args.no_meter:
        from cnn_studio.training import threads

        threads.CpuMeter.free = lambda self: None
    n = torch.get_num_threads()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, N = {n} threads; {args.model} {args.size}x{args.size}, "
          f"{args.train} images, {args.epochs} epochs x {args.repeats} repeats{'; Auto without the meter' if args.no_meter else ''}; "
          f"load: {os.getloadavg()}")
    bundle = load_dataset(DataConfig(source="shapes", shapes_train=args.train, shapes_test=0, height=args.size, width=args.size,
                                     val_fraction=0.1, seed=0))
    graph = templates.build(args.model, tuple(bundle.input_shape()), int(bundle.num_classes))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k in (1, n):  # warm-up: allocator, oneDNN kernels (before the busy program starts)
            run(graph, bundle, k, 1, args.batch_size, tmp / f"warm{k}", 2.0)
        ctx = mp.get_context("spawn")
        budget = 1800.0  # the busy children end by themselves (and when this script dies)
        kids = [ctx.Process(target=_spin, args=(budget,), daemon=True) for _ in range(args.busy)]
        for k in kids:
            k.start()
        try:
            time.sleep(0.5)
            results.append(measure(graph, bundle, n, args, tmp, "busy"))
        finally:
            for k in kids:
                k.kill()
                k.join()
        if not args.no_idle:
            results.append(measure(graph, bundle, n, args, tmp, "idle"))
    print(f"\n{'load':<6} {'1 thread':>10} {f'{n} threads':>10} {'Auto':>10} {'Auto/best':>10}   (median samples/s)")
    for r in results:
        m = r["samples_per_sec"]
        print(f"{r['load']:<6} {m['1']:>10.0f} {m[str(n)]:>10.0f} {m['auto']:>10.0f} {r['auto_over_best']:>10.3f}")
    print(f"load average at the end: {os.getloadavg()}")
    worst = min(r["auto_over_best"] for r in results)
    print(f"goal: Auto >= 0.8 x the best fixed setting; worst {worst:.3f} -> {'met' if worst >= 0.8 else 'NOT met'}")
    if args.json:
        print(json.dumps({"benchmark": "busy_machine", "goal": 0.8, "worst_auto_over_best": worst, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
