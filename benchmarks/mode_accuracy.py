"""Does a speed/precision mode trade accuracy away? The Trainer in each ``--modes`` setting, over ``--seeds``
seeds, against the first setting (default eager/fp32) on the same seeds.

issue 14 asks for "accuracy after the same number of epochs in each mode, to show nothing was traded
away". One run per mode cannot show that: resnet18 with Adam swings by several points from one epoch
to the next and from one seed to the next, far more than the modes differ (``speed_modes.py``'s accN).
Here every setting trains the same network on the same data for the same epochs with seeds 0..N-1; a
seed fixes the initial weights and the batch order, so the runs of two settings with one seed differ
only in how the arithmetic is done, and the difference is taken per seed (paired). Printed per
setting: the test accuracy after the last epoch and its mean over the last ``ACC_EPOCHS`` epochs (mean
+- sd over the seeds), the final training loss, and the paired difference from the reference with its
95% confidence interval (Student's t over the seeds) and what that interval allows:

- ``same within X``: the whole interval lies within +-``--margin`` (default 1 point): no accuracy lost
  beyond the margin, shown;
- ``worse`` / ``better``: the whole interval lies below / above zero;
- ``no loss beyond X``: the interval holds zero and reaches past +X but not below -X: the setting
  may be better by more than the margin and is not worse by more (what "nothing traded away" asks);
- ``not shown (more seeds)``: the interval is too wide to tell; more seeds narrow it.

The runs of two settings still part after a few steps, as any two float computations in another
order do, and then follow different paths: channels_last/fp32 does NCHW fp32's arithmetic in another
order only, so its spread against the reference is the floor any mode's difference sits on (on
tinyvgg after 6 epochs its per-seed differences swing by several points), and a narrow interval
takes many seeds.

``auto`` decides its mode as for the issue's run (10 epochs of 9,000 images, ``--plan-steps``), not for
the measured run's few hundred steps, which are too few to repay a probe on a big network (resnet18
at 2,048 images kept NCHW fp32 without probing, so its row was eager/fp32's again). The
reduced-precision choice of ``auto`` comes from a 4-step loss check at the start of a run
(``cnn_studio/training/speed.py``); this benchmark is the longer check behind it. Test accuracy is
taken in eval mode and fp32 on the last epoch's weights (no best-weights restore), the same way for
every setting (``speed_modes.test_accuracy``). The speed cache lives in a fresh folder, so ``auto``'s
probe runs for the first seed and its choice is reused for the others, as in the app.

    python benchmarks/mode_accuracy.py --quick                    # lenet5, tinyvgg, 3 seeds (about 2 minutes on 2 cores)
    python benchmarks/mode_accuracy.py                            # lenet5, tinyvgg, 5 seeds (about 4 minutes)
    nice python benchmarks/mode_accuracy.py --models resnet18     # about 30 minutes on 2 cores (vgg11: an hour)
    python benchmarks/mode_accuracy.py --modes eager/fp32,eager/bf16,compile/fp32 --json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import paired_summary  # noqa: E402
from speed_modes import ACC_EPOCHS, LONG_EPOCHS, LONG_SAMPLES, MODELS, deciding_as_for, test_accuracy  # noqa: E402  (also keeps freed memory, as cnn-studio does)

import torch  # noqa: E402

from cnn_studio.core import templates  # noqa: E402
from cnn_studio.data import DataConfig, load_dataset  # noqa: E402
from cnn_studio.training import Callback, TrainConfig, Trainer  # noqa: E402

class _LastEpochs(Callback):
    """Test accuracy after each of the run's last ``ACC_EPOCHS`` epochs (outside the hot loop)."""

    def __init__(self, epochs: int):
        self.first = max(0, epochs - ACC_EPOCHS)
        self.accuracy: list[float] = []

    def on_epoch_end(self, trainer, m):
        if m["epoch"] > self.first:  # m["epoch"] is 1-based
            self.accuracy.append(test_accuracy(trainer.model, trainer.bundle))


def train_one(graph, bundle, mode: tuple[str, str], seed: int, epochs: int, batch: int, lr: float, threads: int,
              run_dir: Path, plan_steps: int | None = None) -> dict:
    cb = _LastEpochs(epochs)
    cfg = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, optimizer="adam", schedule="constant", device="cpu", seed=seed,
                      num_threads=threads, save_checkpoints=False, layer_stats_every=0, speed=mode[0], precision=mode[1],
                      restore_best_weights=False)
    trainer = Trainer(graph, bundle, cfg, run_dir=run_dir, callbacks=[cb])
    with deciding_as_for(plan_steps):
        s = trainer.fit()
    sp = s["speed"]
    return {"seed": seed, "final": cb.accuracy[-1], "last_mean": statistics.fmean(cb.accuracy),
            "train_loss": trainer.state.history[-1]["train_loss"],
            "mode": f"{sp['memory_format']} {sp['precision']}" + (" compiled" if sp["compiled"] else ""),
            "reason": sp["reason"]}


def _mean_sd(xs: list[float]) -> str:
    return f"{statistics.fmean(xs):.3f}+-{statistics.stdev(xs) if len(xs) > 1 else 0.0:.3f}"


def _diff(p: dict) -> str:
    if p["low"] is None:
        return f"{100 * p['mean']:+5.1f}            "
    return f"{100 * p['mean']:+5.1f} [{100 * p['low']:+5.1f},{100 * p['high']:+5.1f}]"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 seeds instead of 5")
    p.add_argument("--models", default=None, help="default lenet5,tinyvgg (all four: lenet5,tinyvgg,vgg11,resnet18)")
    p.add_argument("--modes", default="eager/fp32,channels_last/fp32,eager/bf16,auto/auto",
                   help="SPEED/PRECISION settings; the first is the reference the others are paired with")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 per setting (default 5, --quick 3; >= 2 for an interval)")
    p.add_argument("--epochs", type=int, default=6, help=f"epochs per run (default 6; accuracy averaged over the last {ACC_EPOCHS})")
    p.add_argument("--samples", type=int, default=4096,
                   help="training images per epoch (default 4096: 64 steps of 64, 384 in 6 epochs, enough for auto's probe "
                        "to run (it is skipped below 200) and for the nets to learn the shapes well past chance)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--margin", type=float, default=0.01, help="the accuracy difference counted as the same (default 0.01: 1 point)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--plan-steps", type=int, default=None,
                   help="auto decides its mode as for a run of this many steps (default: the issue's 10 epochs of 9,000 "
                        "images at --batch-size, 1,410 steps at 64; 0: the measured run's own length, for which a "
                        "short run may keep NCHW fp32 without a probe)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    plan = (LONG_EPOCHS * math.ceil(LONG_SAMPLES / args.batch_size) if args.plan_steps is None else args.plan_steps) or None
    models = [m.strip() for m in (args.models or "lenet5,tinyvgg").split(",") if m.strip()]
    modes = [tuple(m.strip().split("/")) for m in args.modes.split(",") if m.strip()]
    if any(len(m) != 2 for m in modes):
        p.error("--modes takes SPEED/PRECISION pairs, e.g. eager/fp32,eager/bf16")
    seeds = args.seeds or (3 if args.quick else 5)
    sizes = dict(MODELS)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch_size}, {args.epochs} epochs, seeds 0..{seeds - 1}, "
          f"Adam lr {args.lr:g} constant; reference: {'/'.join(modes[0])}; margin {100 * args.margin:g} pt; "
          + (f"auto decides as for a {plan}-step run" if plan else "auto decides for the run's own length"))
    print(f"{'model':<9} {'setting':<20} {'acc final':>13} {'acc lastN':>13} {'loss':>6} {'diff final (95% CI) pt':>22} "
          f"{'diff lastN (95% CI) pt':>22}  verdict (lastN)  | mode chosen")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CNN_STUDIO_HOME"] = tmp  # a fresh speed cache: auto probes for the first seed, reuses after
        for name in models:
            size = sizes.get(name, 32)
            samples = args.samples
            data = DataConfig(source="shapes", shapes_train=samples, shapes_test=max(256, samples // 4), height=size, width=size,
                              val_fraction=0.0, seed=0)
            bundle = load_dataset(data)
            graph = templates.build(name, tuple(bundle.input_shape()), int(bundle.num_classes))
            runs = {}
            for i, mode in enumerate(modes):
                runs[mode] = [train_one(graph, bundle, mode, s, args.epochs, args.batch_size, args.lr, args.threads,
                                        Path(tmp) / f"{name}-{i}-{s}", plan) for s in range(seeds)]
                rs, ref = runs[mode], runs[modes[0]]
                final = paired_summary([r["final"] for r in rs], [r["final"] for r in ref], args.margin)
                last = paired_summary([r["last_mean"] for r in rs], [r["last_mean"] for r in ref], args.margin)
                chosen = sorted({r["mode"] for r in rs})
                row = {"model": name, "setting": "/".join(mode), "seeds": seeds, "epochs": args.epochs, "samples": samples,
                       "final": [r["final"] for r in rs], "last_mean": [r["last_mean"] for r in rs],
                       "train_loss": [r["train_loss"] for r in rs], "diff_final": final, "diff_last": last,
                       "modes_chosen": chosen, "reason": rs[0]["reason"]}
                results.append(row)
                losses = [x for x in row["train_loss"] if x is not None]
                ref_row = i == 0
                print(f"{name:<9} {'/'.join(mode):<20} {_mean_sd(row['final']):>13} {_mean_sd(row['last_mean']):>13} "
                      f"{(statistics.fmean(losses) if losses else float('nan')):>6.3f} "
                      f"{'(reference)' if ref_row else _diff(final):>22} {'' if ref_row else _diff(last):>22}  "
                      f"{'' if ref_row else last['verdict']:<15} | {', '.join(chosen)}", flush=True)
    print(f"acc final: test accuracy after the last epoch; acc lastN: its mean over the last {ACC_EPOCHS} epochs (mean+-sd over "
          "the seeds); diff: the setting minus the reference on the same seed, in points, mean [95% interval]; verdict: "
          f"'same within {100 * args.margin:g} pt' when the whole interval lies within the margin, 'worse'/'better' when it "
          f"lies below/above zero, 'no loss beyond {100 * args.margin:g} pt' when it reaches above the margin but not below, "
          "else 'not shown' (more seeds narrow it)")
    if args.json:
        print(json.dumps({"benchmark": "mode_accuracy", "margin": args.margin, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
