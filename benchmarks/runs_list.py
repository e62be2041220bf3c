"""Speed of listing run folders (the Runs dock and ``cnn-studio runs``): 500 realistic run folders
(config.json with a real network, summary.json, a 20-epoch metrics.csv, a .lock file; no
checkpoints) in a temporary folder, listed cold (empty cache, first read of every file) and warm
(the cache only stats the files). Goal: warm under 0.5 s for 500 runs.

Also prints the cost of re-listing after one run changed (one folder re-read) and the baseline of
stat-ing every run file once (the floor a warm list cannot beat). --json adds a JSON line.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _util import median_ms, report  # noqa: E402

from cnn_studio.core import templates  # noqa: E402
from cnn_studio.core import runs  # noqa: E402

N_RUNS = 500
EPOCHS = 20
COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy", "lr", "seconds")


def make_runs(root: Path, n: int = N_RUNS) -> None:
    nets = [templates.build(t).to_config() for t in ("lenet5", "tinyvgg", "resnet18", "mlp")]
    for i in range(n):
        p = root / f"run{i:04d}-20261201-{i % 24:02d}{i % 60:02d}00"
        (p / "checkpoints").mkdir(parents=True)
        g = nets[i % len(nets)]
        config = {"name": g["name"], "graph": g, "data": {"source": "shapes", "height": 32, "width": 32, "augment": {"hflip": False}},
                  "train": {"optimizer": "adam", "lr": 1e-3 * (1 + i % 5), "batch_size": 64, "epochs": EPOCHS, "seed": i},
                  "class_names": [f"class{k}" for k in range(10)], "num_classes": 10, "input_shape": [3, 32, 32],
                  "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "created": f"2026-12-01T{i % 24:02d}:{i % 60:02d}:00"}
        (p / "config.json").write_text(json.dumps(config, indent=2))
        rows = [",".join(COLUMNS)]
        for e in range(1, EPOCHS + 1):
            rows.append(",".join(repr(v) for v in (e, 2.3 / e, 0.1 * e / 2, 2.2 / e, 0.09 * e / 2, 0.5, 1e-3, 12.5)))
        (p / "metrics.csv").write_text("\n".join(rows) + "\n")
        cm = [[(r == c) * 6 for c in range(10)] for r in range(10)]
        summary = {"name": g["name"], "stop_reason": "finished", "epochs_completed": EPOCHS, "epochs": EPOCHS,
                   "best_val_accuracy": 0.9, "best_epoch": EPOCHS, "test_accuracy": 0.88, "test_weights": "best",
                   "test_epoch": EPOCHS, "test_confusion_matrix": cm, "val_confusion_matrix": cm, "train_seconds": 250.0,
                   "notes": []}
        (p / "summary.json").write_text(json.dumps(summary, indent=2))
        (p / ".lock").touch()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        make_runs(root)
        make_s = time.perf_counter() - t0
        runs.clear_cache()
        t0 = time.perf_counter()
        first = runs.scan_runs([root])
        cold = time.perf_counter() - t0
        assert len(first) == N_RUNS and all(r.status == "finished" for r in first), {r.status for r in first}
        warm = median_ms(lambda: runs.scan_runs([root]), repeat=7, warmup=1) / 1000
        folders = runs.find_run_folders([root])

        def stat_all():
            for p in folders:
                for name in ("config.json", "summary.json", "metrics.csv", "run_meta.json", "checkpoints/last.pt", "checkpoints/best.pt"):
                    try:
                        os.stat(p / name)
                    except OSError:
                        pass

        floor = median_ms(stat_all, repeat=7, warmup=1) / 1000
        target = folders[N_RUNS // 2]

        def one_changed():
            runs.set_run_meta(target, note=f"note {time.perf_counter()}")
            return runs.scan_runs([root])

        changed = median_ms(one_changed, repeat=5, warmup=1) / 1000
        report("runs_list", {
            "runs": N_RUNS,
            "create the folders (s)": make_s,
            "cold list (s)": cold,
            "warm list (s)": warm,
            "warm list after one run changed (s)": changed,
            "stat every run file once (s), the floor": floor,
            "warm / floor": warm / floor if floor else float("nan"),
        }, {"warm list (s)": "< 0.5"})


if __name__ == "__main__":
    main()
