"""Training steps with freed memory kept (cnn_studio/allocator.py) against glibc's default, per network.

Each measurement is a fresh process (the allocator is set once per process, before torch starts):
it builds the network, trains ``--steps`` steps of batch 64 on random data (Adam, fused, as the
Trainer), after 3 warm-up steps, either in the main thread (as ``cnn-studio train``) or in a thread
started for it (as the app's training thread), and prints seconds per step, page faults per step and
the peak resident memory (ru_maxrss). "plain" and "kept" processes alternate, ``--pairs`` times, so a
shared machine's drift falls on both; the ratio is the median of the per-pair ratios.

    python benchmarks/allocator.py                       # lenet5, tinyvgg, vgg11, resnet18 (about 6 minutes)
    python benchmarks/allocator.py --models tinyvgg --pairs 5 --json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

MODELS = {"lenet5": (32, 300, "channels_last"), "tinyvgg": (32, 300, "channels_last"), "vgg11": (32, 6, "contiguous"),
          "resnet18": (64, 8, "contiguous")}

_CHILD = r"""
import json, resource, sys, threading, time
from cnn_studio import allocator
name, size, steps, mf, mode, where, threads = sys.argv[1:8]
note = allocator.keep_freed_memory() if mode == "kept" else "glibc default"
import torch
from cnn_studio.compiler import compile_model
from cnn_studio.core import templates
from cnn_studio.training import speed
from cnn_studio.training.step import TrainStep
torch.set_num_threads(int(threads)); torch.manual_seed(0)
size, steps = int(size), int(steps)
out = {}
def body():
    m = speed.apply_to_model(compile_model(templates.build(name, (3, size, size), 10)), mf)
    st = TrainStep(m, torch.nn.CrossEntropyLoss(), torch.optim.Adam(m.parameters(), lr=1e-3, fused=True))
    x, y = speed.to_memory_format(torch.randn(64, 3, size, size), mf), torch.randint(0, 10, (64,))
    for _ in range(3):
        st(x, y)
    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    for _ in range(steps):
        st(x, y)
    out["step_s"] = (time.perf_counter() - t0) / steps
    out["faults_per_step"] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / steps
if where == "thread":
    t = threading.Thread(target=body); t.start(); t.join()
else:
    body()
out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the peak (Linux: KiB)
out["note"] = note
print(json.dumps(out))
"""


def measure(name: str, mode: str, where: str, threads: int) -> dict:
    size, steps, mf = MODELS[name]
    env = {k: v for k, v in os.environ.items() if k != "CNN_STUDIO_KEEP_FREED_MEMORY"}
    r = subprocess.run([sys.executable, "-c", _CHILD, name, str(size), str(steps), mf, mode, where, str(threads)],
                       capture_output=True, text=True, env=env, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"{name} {mode} {where} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--where", default="main,thread", help="main, thread or both (default)")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = []
    print(f"{args.threads} torch thread(s), batch 64, {args.pairs} alternating pairs of fresh processes per row")
    print(f"{'model':<9} {'where':<6} {'plain ms':>9} {'kept ms':>8} {'speedup':>7} {'pairs':>15} "
          f"{'faults plain':>12} {'kept':>6} {'peak RSS MB plain':>17} {'kept':>6}")
    for name in (m.strip() for m in args.models.split(",") if m.strip()):
        for where in (w.strip() for w in args.where.split(",") if w.strip()):
            plain, kept = [], []
            for i in range(args.pairs):
                order = ("plain", "kept") if i % 2 == 0 else ("kept", "plain")
                for mode in order:
                    (plain if mode == "plain" else kept).append(measure(name, mode, where, args.threads))
            ratios = [a["step_s"] / b["step_s"] for a, b in zip(plain, kept)]
            med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
            row = {"model": name, "where": where, "plain_step_s": med(plain, "step_s"), "kept_step_s": med(kept, "step_s"),
                   "speedup": statistics.median(ratios), "pairs": ratios,
                   "plain_faults_per_step": med(plain, "faults_per_step"), "kept_faults_per_step": med(kept, "faults_per_step"),
                   "plain_peak_rss_mb": med(plain, "rss_mb"), "kept_peak_rss_mb": med(kept, "rss_mb"), "note": kept[0]["note"]}
            rows.append(row)
            print(f"{name:<9} {where:<6} {row['plain_step_s'] * 1e3:>9.1f} {row['kept_step_s'] * 1e3:>8.1f} "
                  f"{row['speedup']:>6.2f}x {min(ratios):>6.2f}-{max(ratios):<6.2f}  {row['plain_faults_per_step']:>12.0f} "
                  f"{row['kept_faults_per_step']:>6.0f} {row['plain_peak_rss_mb']:>17.0f} {row['kept_peak_rss_mb']:>6.0f}", flush=True)
    print(f"kept: {rows[0]['note'] if rows else ''}")
    if args.json:
        print(json.dumps({"benchmark": "allocator", "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
