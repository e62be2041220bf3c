"""``cnn-studio stats RUN_DIR [--json]``: the layer statistics of a run's last recorded epoch.

Per layer: weight and gradient norms, the update/weight ratio of the epoch's last step, activation
mean/std on the probe batch, the share of dead (ReLU) or saturated (tanh/sigmoid) units, and the
problems found (dead units, saturation, vanishing gradients, large updates) with what usually helps.
A run without ``layer_stats.npz`` exits with 2 and one line. torch is imported only when it runs.
"""
from __future__ import annotations

import json
import os

from .cli import UsageError


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "stats",
        help="per-layer statistics of a run's last epoch (norms, activations, dead/saturated units) and problems",
        description="Print the layer statistics a training run recorded (layer_stats.npz) for its last epoch: "
        "weight/gradient norms, update ratio, activation mean/std, dead or saturated units, and flags that say "
        "what a problem means and what usually helps.",
    )
    s.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by 'cnn-studio train' or the app")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_stats)


def _g(v, fmt: str = ".3g") -> str:
    return "-" if v is None else format(v, fmt)


def cmd_stats(args) -> int:
    if os.path.exists(args.run_dir) and not os.path.isdir(args.run_dir):
        raise UsageError(f"'{args.run_dir}' is not a run folder (it is a file); give a folder written by 'cnn-studio train'")
    if not os.path.isdir(args.run_dir):
        raise UsageError(f"run folder '{args.run_dir}' does not exist")
    from .training.layerstats import last_epoch, load_stats

    data = load_stats(args.run_dir)  # LayerStatsError (a StudioError): one line, exit 2
    last = last_epoch(data)
    if last is None:
        raise UsageError(f"'{args.run_dir}' has layer statistics but no finished epoch yet")
    if args.json:
        print(json.dumps({"run_dir": str(args.run_dir), **last}))
        return 0
    rows = [("Layer", "Type", "|W|", "|grad|", "update", "act mean", "act std", "dead/sat")]
    for r in last["layers"]:
        share = r.get("dead_fraction", r.get("saturated_fraction"))
        kind = " dead" if "dead_fraction" in r else " sat" if "saturated_fraction" in r else ""
        rows.append((r["node"], r["type"] or "?", _g(r.get("weight_norm")), _g(r.get("grad_norm")),
                     _g(r.get("update_ratio"), ".2e") if r.get("update_ratio") is not None else "-",
                     _g(r.get("act_mean")), _g(r.get("act_std")),
                     (f"{share:.0%}{kind}" if share is not None else "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"run: {args.run_dir}  (epoch {last['epoch']}, step {last['step']})")
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(widths[j]) if j < 2 else c.rjust(widths[j]) for j, c in enumerate(row)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    if not last["flags"]:
        print("no problems found")
    for f in last["flags"]:
        print(f"{f['node']}: {f['message']}")
    return 0
