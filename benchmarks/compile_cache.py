"""A network's first compile against its repeat compile from the studio's on-disk compile cache, and
what compiling buys per step once it is paid, each in a fresh process as a new session would be.

For each network (built-in template, batch 64, torch threads as set): process 1 starts with an empty
studio home (so an empty ``<home>/compile-cache``) and times the first compiled training step of a
copy (``speed.measure_compiled``: dynamo + AOT autograd + inductor's C++ build + one step), then the
median of a few compiled steps and of as many eager steps timed alternately with them, in the
memory format given; it records the compile as the Trainer does (``speed.record_compile``). Process 2 uses the same
home: it prints the compile the speed module now expects for this network (its repeat estimate, from
the record) and times the first compiled step again, now served from the cache, and the steps.

Printed per network: first and repeat compile seconds and their ratio, the estimate the repeat run
started with, and compiled / eager seconds per step (a ratio above 1: compiling pays per step).

    python benchmarks/compile_cache.py                                  # lenet5, tinyvgg (about 2 minutes)
    python benchmarks/compile_cache.py --models vgg11,resnet18 --steps 3  # about 6 minutes
    python benchmarks/compile_cache.py --json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"lenet5": 32, "tinyvgg": 32, "vgg11": 32, "resnet18": 64}


def one_session(name: str, size: int, batch: int, steps: int, memory_format: str, threads: int) -> dict:
    """Runs in the child process: one session's compile and steps (the studio home comes from the environment)."""
    sys.path.insert(0, str(ROOT))
    import torch

    from cnn_studio.compiler import compile_model
    from cnn_studio.core import templates
    from cnn_studio.training import speed

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    graph = templates.build(name, (3, size, size), 10)
    model = compile_model(graph)
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
    loss, cpu = torch.nn.CrossEntropyLoss(), torch.device("cpu")
    make_opt = lambda p: torch.optim.Adam(p, lr=1e-3, fused=True)  # noqa: E731 - the Trainer's optimizer
    cand = (memory_format, "fp32")
    key = speed.compile_key({"graph": speed.graph_hash(graph.to_config()), "batch": batch, "input": [3, size, size]},
                            cand, cpu)
    speed.use_compile_cache()
    expected, basis = speed.expected_compile_seconds(model, key)
    first, compiled_step, eager_step = speed.measure_compiled(model, x, y, loss, make_opt, (*cand, "compile"), steps, cpu)
    speed.record_compile(key, first, speed.leaf_modules(model))
    return {"expected_s": expected, "expected_basis": basis, "first_step_s": first, "compiled_step_s": compiled_step,
            "eager_step_s": eager_step, "cache_dir": os.environ.get(speed.INDUCTOR_ENV)}


def session_in_child(home: str, args, name: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}  # the studio's own cache folder
    env["CNN_STUDIO_HOME"] = home
    code = (f"import json,sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import compile_cache as c; "
            f"print('RESULT', json.dumps(c.one_session({name!r}, {SIZES[name]}, {args.batch}, {args.steps}, "
            f"{args.memory_format!r}, {args.threads})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{name}: the session failed:\n{out.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet5,tinyvgg", help=f"comma-separated, of {', '.join(SIZES)}")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8, help="timed steps after the compiling one")
    ap.add_argument("--memory-format", default="channels_last", choices=("contiguous", "channels_last"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in SIZES]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    rows = []
    print(f"batch {args.batch}, {args.threads} threads, {args.memory_format}, fp32, fused Adam; each session a fresh process")
    print(f"{'network':<9} {'first compile':>13} {'repeat':>8} {'ratio':>6} {'expected':>9}   "
          f"{'compiled step':>13} {'eager step':>10} {'eager/compiled':>14}")
    for name in names:
        with tempfile.TemporaryDirectory() as home:
            cold = session_in_child(home, args, name)
            warm = session_in_child(home, args, name)
        row = {"network": name, "first_compile_s": cold["first_step_s"], "repeat_compile_s": warm["first_step_s"],
               "repeat_expected_s": warm["expected_s"], "repeat_expected_basis": warm["expected_basis"],
               "compiled_step_s": warm["compiled_step_s"], "eager_step_s": warm["eager_step_s"],
               "cold_compiled_step_s": cold["compiled_step_s"], "cold_eager_step_s": cold["eager_step_s"]}
        rows.append(row)
        print(f"{name:<9} {row['first_compile_s']:>11.1f} s {row['repeat_compile_s']:>6.1f} s "
              f"{row['first_compile_s'] / row['repeat_compile_s']:>5.1f}x {row['repeat_expected_s']:>7.1f} s   "
              f"{row['compiled_step_s'] * 1e3:>10.1f} ms {row['eager_step_s'] * 1e3:>7.1f} ms "
              f"{row['eager_step_s'] / row['compiled_step_s']:>13.2f}x", flush=True)
    print("ratio: first / repeat compile (the repeat's kernels come from <home>/compile-cache); expected: what the "
          "speed module expected for the repeat, from the first's record; eager/compiled above 1: compiling pays per step")
    if args.json:
        print(json.dumps({"benchmark": "compile_cache", "batch": args.batch, "threads": args.threads,
                          "memory_format": args.memory_format, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
