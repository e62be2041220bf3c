"""Trainer in speed/precision auto mode against the plain loop a user writes (eager, NCHW, fp32).

For each network: the same compiled model (same initial weights), the same built-in shapes data,
batch and torch threads. The hand loop trains ``--epochs`` epochs (shuffle, normalise, forward, loss,
backward, step); the Trainer trains the same epochs with ``speed="auto", precision="auto"`` and a
fresh speed cache, so its probe runs and its time is counted (even where the run is too short
for the Trainer to probe by itself: PROBE_SHARE is lifted). Trainer time = its hot loops (from
``on_epoch_start`` to the epoch's last ``on_batch_end``) + the probe; no validation split, so no
validation time on either side. Printed: samples/s of each, their ratio, the mode chosen and why,
achieved GFLOP/s (training FLOPs per sample ~ 3 x 2 x the analysis' forward MACs: forward, and
backward at about twice the forward) beside the machine's peak, and test accuracy after the same epochs.

Peak assumption: cores (logical CPUs in /proc/cpuinfo) x clock (its "cpu MHz") x fp32 flops per
cycle per core = lanes x 2 FMA units x 2 (multiply and add): 16 lanes with avx512f, 8 with avx2,
4 otherwise. CPUs that split 512-bit operations into two 256-bit halves (AMD Zen 4) reach half that.

    python benchmarks/speed_modes.py --quick     # small sample counts, 2 epochs (a few minutes)
    python benchmarks/speed_modes.py --json      # also one JSON line
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from cnn_studio.compiler import compile_model
from cnn_studio.core import templates
from cnn_studio.core.analysis import analyze
from cnn_studio.data import DataConfig, load_dataset
from cnn_studio.training import Callback, TrainConfig, Trainer, speed

MODELS = (("lenet5", 32), ("tinyvgg", 32), ("vgg11", 32), ("resnet18", 64))
GOALS = {"lenet5": 1.2, "tinyvgg": 1.5, "vgg11": 1.5, "resnet18": 1.5}  # issue 14


def machine_peak() -> tuple[float, str]:
    """Peak fp32 GFLOP/s from /proc/cpuinfo and the assumption behind it."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    cores = info.count("processor\t:") or os.cpu_count() or 1
    mhz = next((float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")), 2000.0)
    flags = next((line.split(":")[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    peak = cores * mhz / 1000 * lanes * 2 * 2
    return peak, f"{cores} cores x {mhz / 1000:.2f} GHz x {lanes} fp32 lanes x 2 FMA units x 2 flops"


class _Timer(Callback):
    def __init__(self):
        self.seconds, self.samples = 0.0, 0

    def on_epoch_start(self, trainer):
        self.t0 = self.t1 = time.perf_counter()

    def on_batch_end(self, trainer, m):
        self.t1 = time.perf_counter()
        self.samples += m["size"]

    def on_epoch_end(self, trainer, m):
        self.seconds += self.t1 - self.t0


def hand_loop(graph, bundle, batch: int, epochs: int, lr: float, seed: int) -> tuple[float, float]:
    """The loop a person writes; returns (samples/s, test accuracy)."""
    torch.manual_seed(seed)
    model = compile_model(graph)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    crit = torch.nn.CrossEntropyLoss()
    x, y, n = bundle.train.x, bundle.train.y, len(bundle.train.y)
    gen = torch.Generator().manual_seed(seed)
    seen, t = 0, 0.0
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss = crit(model(bundle.normalize(x[idx])), y[idx])
            loss.backward()
            opt.step()
            seen += len(idx)
        t += time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(bundle.normalize(bundle.test.x[i:i + 256])).argmax(1) for i in range(0, len(bundle.test.y), 256)])
    return seen / t, float((pred == bundle.test.y).float().mean())


def trainer_run(graph, bundle, batch: int, epochs: int, lr: float, seed: int, threads: int, out: Path) -> dict:
    timer = _Timer()
    cfg = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, optimizer="adam", schedule="constant", device="cpu", seed=seed,
                      num_threads=threads, save_checkpoints=False, layer_stats_every=0, speed="auto", precision="auto")
    s = Trainer(graph, bundle, cfg, run_dir=out, callbacks=[timer]).fit()
    sp = s["speed"]
    return {"samples_per_sec": timer.samples / (timer.seconds + sp["probe_seconds"]), "probe_seconds": sp["probe_seconds"],
            "loop_samples_per_sec": timer.samples / timer.seconds,
            "mode": f"{sp['memory_format']} {sp['precision']}", "reason": sp["reason"], "test_accuracy": s["test_accuracy"]}


def bench(name: str, size: int, samples: int, epochs: int, batch: int, threads: int, peak: float) -> dict:
    bundle = load_dataset(DataConfig(source="shapes", shapes_train=samples, shapes_test=max(128, samples // 4), height=size,
                                     width=size, val_fraction=0.0, seed=0))
    graph = templates.build(name, tuple(bundle.input_shape()), int(bundle.num_classes))
    macs = analyze(graph).total_macs
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CNN_STUDIO_HOME"] = tmp  # a fresh speed cache: the probe runs and is counted
        speed.PROBE_SHARE = math.inf  # probe even these short runs (a real run this short skips it and stays NCHW fp32)
        hand_sps, hand_acc = hand_loop(graph, bundle, batch, epochs, 1e-3, 0)
        tr = trainer_run(graph, bundle, batch, epochs, 1e-3, 0, threads, Path(tmp) / "run")
    gflop = 6 * macs / 1e9  # per training sample
    return {"model": name, "input": f"3x{size}x{size}", "samples": samples, "epochs": epochs, "macs": macs,
            "hand_samples_per_sec": hand_sps, "trainer_samples_per_sec": tr["samples_per_sec"],
            "ratio": tr["samples_per_sec"] / hand_sps, "goal": GOALS.get(name),
            "ratio_without_probe": tr["loop_samples_per_sec"] / hand_sps,
            "hand_gflops": hand_sps * gflop, "trainer_gflops": tr["samples_per_sec"] * gflop,
            "trainer_peak_percent": 100 * tr["samples_per_sec"] * gflop / peak,
            "hand_test_accuracy": hand_acc, "trainer_test_accuracy": tr["test_accuracy"],
            "mode": tr["mode"], "probe_seconds": tr["probe_seconds"], "reason": tr["reason"]}


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer samples and 2 epochs")
    p.add_argument("--models", default=",".join(m for m, _ in MODELS))
    p.add_argument("--epochs", type=int, default=None, help="epochs per mode (default 3; --quick 2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 3)
    sizes = dict(MODELS)
    peak, how = machine_peak()
    load = _uptime()
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch_size}, {epochs} epoch(s) per mode")
    print(f"machine peak {peak:.0f} GFLOP/s fp32 ({how}); uptime: {load}")
    print(f"{'model':<9} {'input':>8} {'hand/s':>8} {'Trainer/s':>9} {'ratio':>6} {'no prb':>6} {'goal':>5} {'GFLOP/s':>8} {'%peak':>6} "
          f"{'acc hand':>8} {'acc Trn':>8}  mode (probe s): reason")
    results = []
    for name in (m.strip() for m in args.models.split(",")):
        size = sizes.get(name, 32)
        big = name in ("vgg11", "resnet18")
        samples = (256 if big else 1024) if args.quick else (640 if big else 2048)
        r = bench(name, size, samples, epochs, args.batch_size, args.threads, peak)
        results.append(r)
        print(f"{r['model']:<9} {r['input']:>8} {r['hand_samples_per_sec']:>8.0f} {r['trainer_samples_per_sec']:>9.0f} "
              f"{r['ratio']:>6.2f} {r['ratio_without_probe']:>6.2f} {r['goal'] or 0:>5.1f} {r['trainer_gflops']:>8.1f} {r['trainer_peak_percent']:>5.1f}% "
              f"{r['hand_test_accuracy']:>8.3f} {r['trainer_test_accuracy']:>8.3f}  {r['mode']} ({r['probe_seconds']:.1f}): "
              f"{r['reason']}", flush=True)
    print(f"uptime at the end: {_uptime()}  (a shared machine: the ratios move with its load)")
    if args.json:
        print(json.dumps({"benchmark": "speed_modes", "peak_gflops": peak, "peak_assumption": how, "uptime": load,
                          "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
