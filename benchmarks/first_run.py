"""The app's first run, headless: the first-run network (``first_run_graph``: lenet5_relu at 3x32x32),
the default TrainConfig (the app's Training panel has the same defaults) and the built-in ``shapes``
data with the default DataConfig (the Data panel's defaults), trained by the same Trainer.

Prints wall time, epochs, best validation and test accuracy, and the same figures for pixel
baselines trained with the same settings on the same data: a linear model on raw pixels (logistic
regression) and, with ``--mlp``, the ``mlp`` template. Goal: test accuracy >= 90% in under a minute
on a 2-core CPU, while the pixel baselines stay far below (the data needs convolutions). The load
average is printed beside the figures: on a shared machine time is noisy.

    python benchmarks/first_run.py [--mlp] [--seed N] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn_studio.core import templates
from cnn_studio.core.graph import Graph, chain
from cnn_studio.data import DataConfig, load_dataset
from cnn_studio.training import TrainConfig, Trainer


def first_run_graph() -> Graph:
    try:  # the app's own function when Qt is importable
        from cnn_studio.app.mainwindow import first_run_graph as app_graph

        return app_graph()
    except ImportError:
        return templates.build("lenet5_relu", (3, 32, 32), 10)


def linear_graph(shape, classes) -> Graph:
    c, h, w = shape
    g = Graph("pixels_linear")
    chain(g, [("input", {"channels": c, "height": h, "width": w}, "input"), ("flatten", {}, "flatten"),
              ("linear", {"out_features": classes}, "output"), ("cross_entropy", {}, "loss")])
    return g


def train(graph: Graph, bundle, config: TrainConfig) -> dict:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        s = Trainer(graph, bundle, config, run_dir=Path(d) / "run").fit()
    return {"network": graph.name, "wall_s": round(time.perf_counter() - t0, 1), "epochs": s["epochs_completed"],
            "best_val_accuracy": s["best_val_accuracy"], "test_accuracy": s["test_accuracy"],
            "test_weights": s.get("test_weights"), "train_accuracy": s["final_train_accuracy"],
            "samples_per_sec": round(s["samples_per_sec"] or 0), "load_avg": [round(v, 2) for v in os.getloadavg()]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlp", action="store_true", help="also train the mlp template (slow: 1.7M parameters)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    t0 = time.perf_counter()
    bundle = load_dataset(DataConfig(seed=0))
    data_s = time.perf_counter() - t0
    print(f"data: {bundle.source_description} ({data_s:.1f}s; train {len(bundle.train)}, val {len(bundle.val)}, test {len(bundle.test)})")
    config = TrainConfig(seed=args.seed)
    print(f"settings: {config.optimizer} lr {config.lr:g} {config.schedule}, batch {config.batch_size}, {config.epochs} epochs, "
          f"restore best weights {config.restore_best_weights}")
    rows = [train(first_run_graph(), bundle, config)]
    rows.append(train(linear_graph(bundle.input_shape(), bundle.num_classes), bundle, config))
    if args.mlp:
        rows.append(train(templates.build("mlp", bundle.input_shape(), bundle.num_classes), bundle, config))
    print(f"{'network':<14} {'wall':>7} {'epochs':>6} {'best val':>9} {'test':>7} {'weights':>8} {'train':>7} {'samples/s':>10}  load")
    for r in rows:
        print(f"{r['network']:<14} {r['wall_s']:>6.1f}s {r['epochs']:>6} {r['best_val_accuracy']:>9.1%} {r['test_accuracy']:>7.1%} "
              f"{r['test_weights'] or '-':>8} {r['train_accuracy']:>7.1%} {r['samples_per_sec']:>10}  {' '.join(map(str, r['load_avg']))}")
    first = rows[0]
    ok = first["test_accuracy"] >= 0.90 and first["wall_s"] + data_s < 60
    print(f"first run: {first['test_accuracy']:.1%} test in {first['wall_s'] + data_s:.1f}s with data "
          f"({'meets' if ok else 'misses'} >= 90% in < 60 s); best pixel baseline {max(r['test_accuracy'] for r in rows[1:]):.1%}")
    if args.json:
        print(json.dumps({"data_s": round(data_s, 1), "runs": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
