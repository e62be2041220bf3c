"""What ``cnn-studio train --tensorboard`` costs training: the first-run network (lenet5_relu,
3x32x32) on the built-in shapes data, trained without and with the TensorBoardLogger, interleaved
ABAB... in the same process so a busy machine slows both alike.

Prints, per setting, the median end-to-end throughput (samples trained / fit wall time) and the
seconds spent inside the logger's hooks (timed directly, add_graph included) as a share of the
run's time; the hook share is the steadier figure on a shared machine.

    python benchmarks/tensorboard_cost.py [--repeats 3] [--epochs 2] [--train 4000] [--threads 1]
"""
from __future__ import annotations

import argparse
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
from cnn_studio.training.tensorboard import TensorBoardLogger

HOOKS = ("on_fit_start", "on_batch_end", "on_epoch_end", "on_fit_end")


class TimedLogger(TensorBoardLogger):
    """The real logger, with the seconds spent in its hooks added up."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seconds = 0.0
        for name in HOOKS:
            fn = getattr(self, name)

            def timed(*args, _fn=fn):
                t = time.perf_counter()
                try:
                    return _fn(*args)
                finally:
                    self.seconds += time.perf_counter() - t

            setattr(self, name, timed)


def one_run(bundle, data_config, epochs: int, threads: int, tensorboard: bool, root: Path) -> tuple[float, float, float]:
    graph = templates.build("lenet5_relu", (3, 32, 32), bundle.num_classes)
    cfg = TrainConfig(epochs=epochs, device="cpu", num_threads=threads, layer_stats_every=0, seed=0)
    cbs = [TimedLogger()] if tensorboard else []
    out = Path(tempfile.mkdtemp(dir=root))
    trainer = Trainer(graph, bundle, cfg, run_dir=out / "run", callbacks=cbs, data_config=data_config)
    t = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - t
    samples = epochs * len(bundle.train.y)
    return samples / wall, wall, cbs[0].seconds if cbs else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    dc = DataConfig(source="shapes", shapes_train=args.train, shapes_test=0, height=32, width=32, channels=3, seed=0)
    bundle = load_dataset(dc)
    res = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for tb in (False, True):
                res[tb].append(one_run(bundle, dc, args.epochs, args.threads, tb, Path(tmp)))
    off = statistics.median(r[0] for r in res[False])
    on = statistics.median(r[0] for r in res[True])
    share = statistics.median(r[2] / r[1] for r in res[True])
    print(f"load average {os.getloadavg()[0]:.2f}; lenet5_relu, {args.train} images, {args.epochs} epochs, {args.threads} thread(s), {args.repeats} repeats")
    print(f"without --tensorboard: {off:,.0f} samples/s")
    print(f"with --tensorboard:    {on:,.0f} samples/s  (ratio {on / off:.3f})")
    print(f"time inside the logger's hooks: {100 * share:.2f}% of the run (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
