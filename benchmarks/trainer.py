"""Trainer hot loop against a minimal hand-written PyTorch loop.

Same compiled model (same initial weights), same uint8 data tensors, same batch size, same optimizer
and the same number of torch threads. Each loop runs ``--steps`` optimizer steps; the two alternate
``--repeats`` times after a warm-up; the headline ratio is the median over back-to-back pairs (robust to
the load of a shared machine drifting), and the medians of each side are printed too. The Trainer is timed from
``on_epoch_start`` to its last ``on_batch_end`` (validation, test and file writes are outside the
hot loop and are not counted); the hand-written loop from before its first batch to after its last
step. Goal: trainer / baseline samples/s >= 0.97.

    python benchmarks/trainer.py            # lenet5 and tinyvgg on shapes 32x32, prints a table
    python benchmarks/trainer.py --json     # also one JSON line
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

import torch

from cnn_studio.compiler import compile_model
from cnn_studio.core import templates
from cnn_studio.data import DataConfig, load_dataset
from cnn_studio.training import Callback, TrainConfig, Trainer


class _Timer(Callback):
    def on_epoch_start(self, trainer):
        self.t0 = time.perf_counter()
        self.t1 = self.t0
        self.samples = 0

    def on_batch_end(self, trainer, m):
        self.t1 = time.perf_counter()
        self.samples += m["size"]


def baseline_loop(graph, bundle, batch_size: int, lr: float, seed: int) -> float:
    """What a person writes by hand: shuffle, gather, normalise, forward, loss, backward, step."""
    torch.manual_seed(seed)
    model = compile_model(graph)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    crit = torch.nn.CrossEntropyLoss()
    x, y = bundle.train.x, bundle.train.y
    n = len(y)
    gen = torch.Generator().manual_seed(seed)
    normalize = bundle.normalize
    t0 = time.perf_counter()
    perm = torch.randperm(n, generator=gen)
    seen = 0
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        xb = normalize(x[idx])
        yb = y[idx]
        opt.zero_grad(set_to_none=True)
        loss = crit(model(xb), yb)
        loss.backward()
        opt.step()
        seen += len(idx)
    return seen / (time.perf_counter() - t0)


def trainer_loop(graph, bundle, batch_size: int, lr: float, seed: int, threads: int, out: Path) -> float:
    timer = _Timer()
    cfg = TrainConfig(epochs=1, batch_size=batch_size, lr=lr, optimizer="adam", device="cpu", seed=seed,
                      num_threads=threads, save_checkpoints=False)
    Trainer(graph, bundle, cfg, run_dir=out, callbacks=[timer]).fit()
    return timer.samples / (timer.t1 - timer.t0)


def bench(name: str, size: int, steps: int, batch_size: int, repeats: int, threads: int) -> dict:
    bundle = load_dataset(DataConfig(source="shapes", shapes_train=steps * batch_size, shapes_test=0, height=size, width=size,
                                     val_fraction=0.0, seed=0))
    graph = templates.build(name, tuple(bundle.input_shape()), int(bundle.num_classes))
    torch.set_num_threads(threads)
    base, trn = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # warm-up (allocator, oneDNN kernels), not timed
        baseline_loop(graph, bundle, batch_size, 1e-3, 0)
        trainer_loop(graph, bundle, batch_size, 1e-3, 0, threads, tmp / "warm")
        for r in range(repeats):
            if r % 2 == 0:  # alternate the order so slow drifts of a shared machine hit both
                base.append(baseline_loop(graph, bundle, batch_size, 1e-3, 0))
                trn.append(trainer_loop(graph, bundle, batch_size, 1e-3, 0, threads, tmp / f"r{r}"))
            else:
                trn.append(trainer_loop(graph, bundle, batch_size, 1e-3, 0, threads, tmp / f"r{r}"))
                base.append(baseline_loop(graph, bundle, batch_size, 1e-3, 0))
    mb, mt = statistics.median(base), statistics.median(trn)
    return {
        "model": name, "input": list(bundle.input_shape()), "batch_size": batch_size, "steps": len(bundle.train.y) // batch_size,
        "threads": threads, "repeats": repeats,
        "baseline_samples_per_sec": mb, "trainer_samples_per_sec": mt,
        # each pair runs back to back, so it sees the same load on a shared machine: its ratio is the headline
        "ratio": statistics.median(t / b for t, b in zip(trn, base)),
        "ratio_of_medians": mt / mb,
        "ratio_of_best": max(trn) / max(base),  # the least disturbed run of each side
        "baseline_runs": base, "trainer_runs": trn,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="lenet5,tinyvgg")
    p.add_argument("--size", type=int, default=32, help="image size (default 32)")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps per timed loop (default 100)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = p.parse_args(argv)
    os.environ.setdefault("CNN_STUDIO_HOME", tempfile.mkdtemp(prefix="cnn-studio-bench-"))
    results = []
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch_size}, {args.steps} steps x {args.repeats} repeats")
    print(f"{'model':<10} {'input':>9} {'hand loop/s':>12} {'Trainer/s':>10} {'ratio':>7} {'of med.':>7} {'of best':>7}")
    print("(samples/s are medians; ratio = median over back-to-back pairs of Trainer/hand loop; 'of med.' = ratio of the medians; 'of best' = ratio of the fastest runs)")
    for name in args.models.split(","):
        r = bench(name.strip(), args.size, args.steps, args.batch_size, args.repeats, args.threads)
        results.append(r)
        print(f"{r['model']:<10} {'x'.join(map(str, r['input'])):>9} {r['baseline_samples_per_sec']:>12.0f} "
              f"{r['trainer_samples_per_sec']:>10.0f} {r['ratio']:>7.3f} {r['ratio_of_medians']:>7.3f} {r['ratio_of_best']:>7.3f}", flush=True)
    worst = min(r["ratio"] for r in results)
    print(f"goal: Trainer >= 0.97x the hand-written loop; worst ratio {worst:.3f} -> {'met' if worst >= 0.97 else 'NOT met'}")
    if args.json:
        print(json.dumps({"benchmark": "trainer_vs_hand_loop", "goal": 0.97, "worst_ratio": worst, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
