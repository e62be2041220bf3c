"""``cnn-studio evaluate`` and ``cnn-studio featuremaps``: inspect a trained run from the command line.

    cnn-studio evaluate RUN_DIR [--data PATH_OR_NAME] [--data-format F] [--split val|test] [--json]
    cnn-studio featuremaps RUN_DIR --layer NODE [--sample N] [--split val] [--image FILE] -o OUT.png
                           [--cmap viridis] [--shared-scale] [--bare]

Both use the run's best checkpoint (else its last; ``evaluate --weights last`` the last epoch's) and
say which; summary.json's test accuracy is for the same best weights by default. They feed images exactly as in training (the
run's channels, size, resize method, mean and std). Bad input exits with 2 and one line on stderr.
"""
from __future__ import annotations

import json
import os
import sys

from .cli import UsageError, choice, int_at_least

CMAPS = ("viridis", "inferno", "gray", "coolwarm")
SPLIT_CHOICES = ("val", "test", "train", "all")


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "evaluate",
        help="accuracy, per-class precision/recall and the confusion matrix of a trained run",
        description="Evaluate the best model of a run folder on its test split (validation if the data has no "
        "test split), or on another data set with --data.",
    )
    s.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by 'cnn-studio train' or the app")
    s.add_argument("--data", metavar="PATH_OR_NAME",
                   help="evaluate on this data set instead of the run's ('shapes', shapes:test=500, a folder or file); "
                   "all of it is used unless it has its own test split")
    s.add_argument("--data-format", metavar="F", help="auto (default), folder, idx, cifar, csv or npz")
    s.add_argument("--split", type=choice("split", SPLIT_CHOICES, {"validation": "val"}), metavar="SPLIT",
                   help="val or test (default: test when the data has one, else val); train or all also work")
    s.add_argument("--batch-size", type=int_at_least("--batch-size", 1), default=256, metavar="B", help="images per forward pass (default 256)")
    s.add_argument("--weights", type=choice("weights", ("best", "last")), default="best", metavar="W",
                   help="best (default: checkpoints/best.pt, the weights summary.json's test accuracy is for) or last (the last epoch's)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_evaluate)

    s = subparsers.add_parser(
        "featuremaps",
        help="save the feature maps of one layer for one image as a labelled PNG",
        description="Render every channel of a layer's output for a validation sample (or an image file) as one "
        "PNG: a title (layer, shape, sample, class, prediction), the input image, and the tiles in channel order, "
        "each with its channel number (--bare: the tiles alone). Layer ids are those 'cnn-studio summary' prints.",
    )
    s.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by 'cnn-studio train' or the app")
    s.add_argument("--layer", required=True, metavar="NODE", help="node id of the layer, e.g. c1 or conv_1_1")
    s.add_argument("--sample", type=int_at_least("--sample", 0), default=None, metavar="N", help="sample number in the split (default 0)")
    s.add_argument("--split", type=choice("split", ("val", "test", "train"), {"validation": "val"}), default="val", metavar="SPLIT",
                   help="val (default), test or train")
    s.add_argument("--image", metavar="FILE", help="use this image file instead of a data set sample")
    s.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG file to write")
    s.add_argument("--cmap", type=choice("colour map", CMAPS), default="viridis", metavar="NAME",
                   help="viridis (default), inferno, gray or coolwarm")
    s.add_argument("--shared-scale", action="store_true", help="one colour scale for all channels (default: each its own)")
    s.add_argument("--bare", action="store_true",
                   help="only the tiles, one map unit a pixel or more (no title, input image or channel numbers)")
    s.set_defaults(func=cmd_featuremaps)


# ---- evaluate -------------------------------------------------------------------------------------
def _other_data(args, imodel) -> dict:
    from .cli_train import parse_data_spec

    source, opts = parse_data_spec(args.data)
    d = {"source": source, **opts, "val_fraction": 0.0}
    if args.data_format:
        d["format"] = args.data_format
    old = imodel.info.config.get("data") or {}
    for key in ("resize", "label_column", "seed"):
        if key in old and key not in d:
            d[key] = old[key]
    return d


def _check_classes(imodel, bundle, data_arg: str | None) -> None:
    n_model, n_data = imodel.num_classes, int(bundle.num_classes)
    if n_data > n_model:
        raise UsageError(
            f"the data{' ' + repr(data_arg) if data_arg else ''} has {n_data} classes but the network was trained for {n_model}; "
            "evaluate it on data with the classes it knows"
        )
    names = [str(c) for c in getattr(bundle, "class_names", [])]
    if data_arg and names and names != imodel.class_names[: len(names)]:
        print(f"note: the data's classes ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}) are named differently from the "
              f"network's ({', '.join(imodel.class_names[:6])}{', ...' if len(imodel.class_names) > 6 else ''}); class i is compared with class i",
              file=sys.stderr)


def cmd_evaluate(args) -> int:
    from .inspection.model import InspectModel, evaluate, load_bundle

    _recover(args.run_dir)
    imodel = InspectModel.from_run(args.run_dir, load_data=False, weights=getattr(args, "weights", "best"))
    data = _other_data(args, imodel) if args.data else None
    if args.data_format and not args.data:
        raise UsageError("--data-format needs --data (the run's own data keeps its format)")
    imodel.bundle = load_bundle(imodel.info.config, data, input_shape=imodel.input_shape)
    _check_classes(imodel, imodel.bundle, args.data)
    split = args.split
    if split == "all":
        split = "train" if args.data else None
        if split is None:
            raise UsageError("--split all works with --data (another data set); for the run's data use val or test")
    if split is None:
        split = imodel.default_split(prefer_test=True)
        if args.data and split != "test":
            split = "train"  # another data set without a test split: all of it
    if split is None:
        raise UsageError("the data set has no samples to evaluate on")
    result = evaluate(imodel, split, batch_size=args.batch_size)
    shown_split = "all" if (args.data and split == "train") else split
    out = result.to_json()
    out["split"] = shown_split
    if args.json:
        out["run_dir"] = str(args.run_dir)
        out["checkpoint"] = imodel.info.checkpoint
        out["weights"] = imodel.info.weights
        out["weights_epoch"] = imodel.info.weights_epoch
        out["class_names"] = imodel.class_names
        print(json.dumps(out))
        return 0
    _print_report(imodel, out, args)
    return 0


def _recover(run_dir: str) -> None:
    """Finish the bookkeeping a crash interrupted (best.pt, metrics.csv, summary.json) before reading the run."""
    if os.path.isdir(run_dir):
        from .training.recovery import recover_run

        for note in recover_run(run_dir):
            print(f"note: {note}", file=sys.stderr)


def _weights_text(info) -> str:
    """"best (epoch 7)" / "last (epoch 10)": the words every view uses for the weights shown."""
    epoch = info.weights_epoch
    return f"{info.weights or 'unknown'}{f' (epoch {epoch})' if epoch is not None else ''}"


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _print_report(imodel, out: dict, args) -> None:
    titles = {"val": "validation", "test": "test", "train": "training", "all": "whole"}
    where = f"data '{args.data}'" if args.data else "the run's data"
    ckpt = os.path.basename(imodel.info.checkpoint or "")
    print(f"run: {args.run_dir}")
    print(f"weights: {_weights_text(imodel.info)} ({ckpt})")
    print(f"evaluated on the {titles.get(out['split'], out['split'])} split of {where}: {out['samples']:,} samples")
    print(f"accuracy: {_pct(out['accuracy'])}")
    print()
    rows = [("class", "precision", "recall", "f1", "support")]
    for d in out["per_class"]:
        rows.append((str(d["class"]), _pct(d["precision"]), _pct(d["recall"]), _pct(d["f1"]), f"{d['support']:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(widths[0]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    cm = out["confusion_matrix"]
    n = len(cm)
    names = [str(d["class"]) for d in out["per_class"]]
    print("confusion matrix (rows: true class, columns: predicted class)")
    label_w = max(len(f"{i} {names[i]}") for i in range(n))
    cell_w = max(3, max(len(str(v)) for r in cm for v in r), len(str(n - 1)))
    print(" " * label_w + "  " + " ".join(str(j).rjust(cell_w) for j in range(n)))
    for i in range(n):
        print(f"{i} {names[i]}".ljust(label_w) + "  " + " ".join(str(v).rjust(cell_w) for v in cm[i]))


# ---- featuremaps ----------------------------------------------------------------------------------
def _run_label(run_dir: str, imodel) -> str:
    """The run folder's name and the checkpoint the figure shows."""
    ckpt = os.path.basename(imodel.info.checkpoint or "") or "checkpoint"
    return f"{os.path.basename(os.path.normpath(str(run_dir)))}, {ckpt}"


def cmd_featuremaps(args) -> int:
    from .inspection.model import InspectModel, load_bundle
    from .inspection import channel_grid, feature_maps, save_png

    if args.image and args.sample is not None:
        raise UsageError("give either --sample N or --image FILE, not both")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise UsageError(f"cannot write '{args.output}': the folder '{out_dir}' does not exist")
    imodel = InspectModel.from_run(args.run_dir, load_data=False)
    if not imodel.has_node(args.layer):
        layers = imodel.layer_nodes()
        listed = ", ".join(layers[:12]) + (", ..." if len(layers) > 12 else "")
        raise UsageError(f"the network has no layer '{args.layer}' with an output to show; layers: {listed}")
    if args.image:
        x = imodel.load_image(args.image)
        what = os.path.basename(args.image)
        sample_line = f"image {what}"
    else:
        imodel.bundle = load_bundle(imodel.info.config, input_shape=imodel.input_shape)
        n = args.sample or 0
        x, label = imodel.sample(args.split, n)
        split = {'val': 'validation'}.get(args.split, args.split)
        what = f"{split} sample {n} (class {imodel.class_name(label)})"
        sample_line = f"{split} sample {n} \u00b7 class {imodel.class_name(label)}"
    maps = feature_maps(imodel.model, imodel.normalize(x), args.layer)
    shape = "x".join(map(str, maps.shape))
    if args.bare:
        rgb = channel_grid(maps, shared=args.shared_scale, cmap=args.cmap)
    else:
        import numpy as np

        from .inspection.figure import featuremap_figure

        idx, p = imodel.predict(x, k=1)
        scaled = "one colour scale for all channels" if args.shared_scale else "each channel scaled on its own"
        title = [f"{args.layer} \u00b7 output {shape} ({_run_label(args.run_dir, imodel)})",
                 f"{sample_line} \u00b7 predicted {imodel.class_name(int(idx[0]))} ({100 * float(p[0]):.0f}%) \u00b7 {args.cmap}, {scaled}"]
        caption = "input " + "x".join(map(str, tuple(x.shape)))
        rgb, _ = featuremap_figure(maps, np.asarray(x), title, shared=args.shared_scale, cmap=args.cmap, input_caption=caption)
    save_png(rgb, args.output)
    count = maps.shape[0] if maps.ndim == 3 else 1
    print(f"wrote {args.output}: {args.layer} ({shape}) for {what}; {count} tile{'s' if count != 1 else ''}, {rgb.shape[1]}x{rgb.shape[0]} px")
    return 0
