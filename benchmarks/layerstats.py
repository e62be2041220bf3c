"""What recording layer statistics costs training: the first-run network (lenet5_relu, 3x32x32) on the
built-in shapes data, trained with ``layer_stats_every`` 0 (off) and on (default 50, and a denser
setting), interleaved ABAB... in the same process so a busy machine slows both alike.

Prints, per setting, the median end-to-end training throughput (samples trained / fit wall time,
validation included) and the time spent inside the recorder's hooks (timed directly) as a share of
the training loop's time. Goal: under 3 % with the default. The load average is printed: on a
shared machine the end-to-end ratio is noisy; the hook share is the steadier figure.

    python benchmarks/layerstats.py [--repeats 3] [--epochs 2] [--train 4000] [--threads 1] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn_studio.core import templates
from cnn_studio.data import DataConfig, load_dataset
from cnn_studio.training import TrainConfig, Trainer
from cnn_studio.training import layerstats as ls


class _TimedHooks:
    """Adds up the seconds spent in LayerStats' hooks (patched for the run, restored after)."""

    HOOKS = ("on_fit_start", "on_epoch_start", "on_batch_end", "on_epoch_end")

    def __init__(self):
        self.seconds = 0.0
        self._orig = {}

    def __enter__(self):
        for name in self.HOOKS:
            orig = getattr(ls.LayerStats, name)
            self._orig[name] = orig

            def timed(self_, *a, _orig=orig):
                t0 = time.perf_counter()
                try:
                    return _orig(self_, *a)
                finally:
                    self.seconds += time.perf_counter() - t0

            setattr(ls.LayerStats, name, timed)
        return self

    def __exit__(self, *exc):
        for name, orig in self._orig.items():
            setattr(ls.LayerStats, name, orig)


def one_run(graph, bundle, every: int, epochs: int, threads: int) -> dict:
    cfg = TrainConfig(epochs=epochs, device="cpu", seed=0, num_threads=threads, layer_stats_every=every,
                      save_checkpoints=True)
    with tempfile.TemporaryDirectory() as d, _TimedHooks() as hooks:
        t0 = time.perf_counter()
        s = Trainer(graph, bundle, cfg, run_dir=Path(d) / "run").fit()
        wall = time.perf_counter() - t0
        size = (Path(d) / "run" / ls.FILE_NAME).stat().st_size if every else 0
    seen = len(bundle.train.y) * s["epochs_completed"]
    return {"wall_s": wall, "train_s": s["train_seconds"], "samples_per_s": seen / wall, "hook_s": hooks.seconds,
            "file_bytes": size}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train", type=int, default=4000, help="training images of the shapes data (default 4000)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads, fixed so runs compare (default 1)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="ls_bench_")
    os.environ["CNN_STUDIO_HOME"] = home
    bundle = load_dataset(DataConfig(source="shapes", shapes_train=args.train, shapes_test=200, seed=0))
    graph = templates.build("lenet5_relu", tuple(bundle.input_shape()), bundle.num_classes)
    settings_ = (0, 50, 10)
    load_before = os.getloadavg()
    runs: dict[int, list[dict]] = {e: [] for e in settings_}
    one_run(graph, bundle, 50, 1, args.threads)  # warm-up (allocator, kernels, caches)
    for _ in range(args.repeats):
        for every in settings_:  # interleaved: a load change hits every setting alike
            runs[every].append(one_run(graph, bundle, every, args.epochs, args.threads))
    base = statistics.median(r["samples_per_s"] for r in runs[0])
    base_train = statistics.median(r["train_s"] for r in runs[0])
    out = {"network": "lenet5_relu", "train_images": len(bundle.train.y), "epochs": args.epochs,
           "batches_per_epoch": -(-len(bundle.train.y) // 64), "threads": args.threads, "repeats": args.repeats,
           "load_avg_before": [round(v, 2) for v in load_before],
           "load_avg_after": [round(v, 2) for v in os.getloadavg()], "settings": {}}
    for every in settings_:
        sps = statistics.median(r["samples_per_s"] for r in runs[every])
        hook = statistics.median(r["hook_s"] for r in runs[every])
        out["settings"][str(every)] = {
            "samples_per_s": round(sps, 1),
            "end_to_end_cost_pct": round(100 * (1 - sps / base), 2),
            "hook_s": round(hook, 3),
            "hook_share_of_training_pct": round(100 * hook / base_train, 2),
            "file_bytes": max(r["file_bytes"] for r in runs[every]),
        }
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"lenet5_relu, {out['train_images']} shapes images, {args.epochs} epochs x {out['batches_per_epoch']} batches, "
          f"{args.threads} thread(s), {args.repeats} interleaved repeats; load avg {out['load_avg_before']} -> {out['load_avg_after']}")
    for every, r in out["settings"].items():
        label = "off" if every == "0" else f"every {every}"
        print(f"  {label:>9}: {r['samples_per_s']:8.1f} samples/s  end-to-end cost {r['end_to_end_cost_pct']:+6.2f}%  "
              f"hooks {r['hook_s']:.3f} s = {r['hook_share_of_training_pct']:.2f}% of training  file {r['file_bytes']} B")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
