"""``cnn-studio predict`` and ``cnn-studio explain``: ask a trained run about your own pictures.

    cnn-studio predict RUN IMAGE... [--top 5] [--json] [--weights best|last]
    cnn-studio explain RUN IMAGE --method {gradcam,saliency,ig,occlusion} [--target CLASS]
                       [--layer NODE] [--weights best|last] -o OUT.png

Images are prepared exactly as in training (inspection/preprocess.py through InspectModel: the
run's channels, size and resize method, then its mean and std). ``explain`` writes one PNG: a title
(method, class, layer, run), the input as the network sees it, the map, and the map over the input.
Integrated Gradients and occlusion come from Captum (``pip install 'cnn-studio[explain]'``).
Bad input (a run folder, an image, a class or layer that does not exist) exits with 2 and one line.
"""
from __future__ import annotations

import json
import os

from .cli import UsageError, choice, int_at_least

PANEL_PX = 192  # the longer side of each picture in the explain figure


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "predict",
        help="classify image files with a trained run: the top classes and their probabilities",
        description="Classify image files with the best weights of a run folder (--weights last: the last epoch's). "
        "Each image is converted to the network's input as in training.",
    )
    s.add_argument("run_dir", metavar="RUN", help="run folder written by 'cnn-studio train' or the app")
    s.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, BMP, GIF, TIFF, WebP)")
    s.add_argument("--top", type=int_at_least("--top", 1), default=5, metavar="K", help="classes to list per image (default 5)")
    s.add_argument("--weights", type=choice("weights", ("best", "last")), default="best", metavar="W",
                   help="best (default: checkpoints/best.pt) or last (the last epoch's)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_predict)

    s = subparsers.add_parser(
        "explain",
        help="save where in an image the evidence for a class lies (Grad-CAM, saliency, Integrated Gradients, occlusion)",
        description="Explain one image's class with an attribution map and save it as a PNG: the input, the map and "
        "the map over the input. gradcam: the chosen layer's feature maps weighed by their gradients; saliency: "
        "|d score / d pixel|; ig: Integrated Gradients from the mean colour; occlusion: how much the class score drops "
        "when a patch is covered. ig and occlusion need Captum (pip install 'cnn-studio[explain]').",
    )
    s.add_argument("run_dir", metavar="RUN", help="run folder written by 'cnn-studio train' or the app")
    s.add_argument("image", metavar="IMAGE", help="image file to explain")
    s.add_argument("--method", type=choice("method", ("gradcam", "saliency", "ig", "occlusion"),
                                           {"grad-cam": "gradcam", "integrated-gradients": "ig", "integrated_gradients": "ig"}),
                   default="gradcam", metavar="M", help="gradcam (default), saliency, ig or occlusion")
    s.add_argument("--target", metavar="CLASS", help="class to explain, by name or number (default: the top-1 prediction)")
    s.add_argument("--layer", metavar="NODE", help="Grad-CAM only: the layer whose feature maps are used "
                   "(default: the deepest with maps larger than 1x1)")
    s.add_argument("--weights", type=choice("weights", ("best", "last")), default="best", metavar="W",
                   help="best (default) or last")
    s.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG file to write")
    s.set_defaults(func=cmd_explain)


# ---- shared -----------------------------------------------------------------------------------------
def _load(run_dir: str, weights: str):
    from .cli_inspect import _recover
    from .inspection.model import InspectModel

    if not os.path.isdir(run_dir):
        raise UsageError(f"run folder '{run_dir}' does not exist; give a folder 'cnn-studio train' or the app wrote")
    _recover(run_dir)
    return InspectModel.from_run(run_dir, load_data=False, weights=weights)


def _weights_text(info) -> str:
    epoch = info.weights_epoch
    return f"{info.weights or 'unknown'}{f' (epoch {epoch})' if epoch is not None else ''}"


def _read_images(imodel, paths: list[str]) -> list:
    """Every image converted to the network's input; the first that cannot be read stops it all."""
    return [imodel.load_image(p) for p in paths]  # ImageReadError names the file: one line, exit 2


# ---- predict ----------------------------------------------------------------------------------------
def cmd_predict(args) -> int:
    imodel = _load(args.run_dir, args.weights)
    xs = _read_images(imodel, args.images)
    k = min(args.top, imodel.num_classes)
    results = []
    for path, x in zip(args.images, xs):
        idx, p = imodel.predict(x, k)
        results.append({"image": path, "top": [{"index": int(i), "class": imodel.class_name(int(i)), "probability": float(v)}
                                               for i, v in zip(idx, p)]})
    if args.json:
        print(json.dumps({"run_dir": str(args.run_dir), "checkpoint": imodel.info.checkpoint, "weights": imodel.info.weights,
                          "weights_epoch": imodel.info.weights_epoch, "class_names": imodel.class_names, "predictions": results}))
        return 0
    c, h, w = imodel.input_shape
    print(f"run: {args.run_dir}  (weights {_weights_text(imodel.info)}; images converted to {c}x{h}x{w})")
    width = max(len(t["class"]) for r in results for t in r["top"])
    for r in results:
        print()
        print(r["image"])
        for rank, t in enumerate(r["top"], 1):
            print(f"  {rank}. {t['class'].ljust(width)}  {100 * t['probability']:6.2f}%")
    return 0


# ---- explain ----------------------------------------------------------------------------------------
def _target(imodel, text: str | None, x) -> int:
    if text is None:
        idx, _ = imodel.predict(x, 1)
        return int(idx[0])
    names = imodel.class_names
    if text in names:
        return names.index(text)
    lowered = [n.lower() for n in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    try:
        i = int(text)
    except ValueError:
        i = None
    if i is not None and 0 <= i < imodel.num_classes:
        return i
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise UsageError(f"the network has no class '{text}'; give a name ({shown}) or a number from 0 to {imodel.num_classes - 1}")


def default_layer(imodel) -> str | None:
    """The deepest layer with feature maps larger than 1x1 (a 1x1 map says nothing about where)."""
    layers = imodel.conv_layers()
    spatial = [n for n in layers if imodel.node_shape(n)[1] * imodel.node_shape(n)[2] > 1]
    return (spatial or layers or [None])[-1]


def _layer(imodel, args) -> str | None:
    if args.method != "gradcam":
        if args.layer:
            raise UsageError(f"--layer is for Grad-CAM; {args.method} explains the input pixels directly (leave --layer out)")
        return None
    layers = imodel.conv_layers()
    if args.layer is None:
        layer = default_layer(imodel)
        if layer is None:
            raise UsageError("this network has no layer with feature maps, so Grad-CAM cannot be used; try --method saliency, ig or occlusion")
        return layer
    if args.layer not in layers:
        listed = ", ".join(layers[:12]) + (", ..." if len(layers) > 12 else "")
        why = "has no layer" if not imodel.has_node(args.layer) else "cannot use layer"
        raise UsageError(f"Grad-CAM {why} '{args.layer}'" + (f": it needs one with feature maps ({listed})" if layers else
                                                             ": this network has no layer with feature maps"))
    return args.layer


def explain_figure(x, heat, title: list[str]):
    """(H, W, 3) uint8: two title lines over three panels (input, map, map over the input)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from .inspection.figure import BACKGROUND, MUTED, TEXT, _font
    from .inspection.render import colormap_lut, image_to_rgb, overlay

    rgb = image_to_rgb(np.asarray(x))
    h, w = rgb.shape[:2]
    up = max(1, PANEL_PX // max(h, w))
    lut = colormap_lut("inferno")
    heat_rgb = np.ascontiguousarray(lut[np.clip(np.rint(heat * 255), 0, 255).astype(np.int32)])
    panels = [(rgb, "input"), (heat_rgb, "map"), (overlay(rgb, heat, alpha=0.6, cmap="inferno"), "map over the input")]
    tfont, lfont = _font(16), _font(12)
    margin, gap, title_h, label_h = 12, 12, 2 * 22 + 6, 18
    pw, ph = w * up, h * up
    width = max(margin * 2 + 3 * pw + 2 * gap, margin * 2 + max(int(tfont.getlength(t)) + 1 for t in title))
    canvas = Image.new("RGB", (width, margin + title_h + label_h + ph + margin), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(title):
        draw.text((margin, margin + i * 22), line, fill=TEXT if i == 0 else MUTED, font=tfont)
    y = margin + title_h
    for j, (img, label) in enumerate(panels):
        x0 = margin + j * (pw + gap)
        draw.text((x0, y), label, fill=MUTED, font=lfont)
        canvas.paste(Image.fromarray(np.ascontiguousarray(img.repeat(up, 0).repeat(up, 1))), (x0, y + label_h))
    return np.asarray(canvas)


def cmd_explain(args) -> int:
    from .inspection.attributions import METHOD_TITLES
    from .inspection.render import save_png

    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise UsageError(f"cannot write '{args.output}': the folder '{out_dir}' does not exist")
    if not args.output.lower().endswith(".png"):  # the figure is written as PNG; another suffix would lie about it
        raise UsageError(f"explain writes a PNG image; name the output file with .png (got '{os.path.basename(args.output)}')")
    imodel = _load(args.run_dir, args.weights)
    layer = _layer(imodel, args)
    (x,) = _read_images(imodel, [args.image])
    target = _target(imodel, args.target, x)
    heat = imodel.explain(x, args.method, target, layer)
    idx, p = imodel.predict(x, imodel.num_classes)
    prob = float(p[list(idx).index(target)])
    name = imodel.class_name(target)
    method = METHOD_TITLES[args.method] + (f" at {layer}" if layer else "")
    run = os.path.basename(os.path.normpath(str(args.run_dir)))
    title = [f"{method} for class {name} ({100 * prob:.1f}%)",
             f"{os.path.basename(args.image)} \u00b7 predicted {imodel.class_name(int(idx[0]))} ({100 * float(p[0]):.1f}%) \u00b7 "
             f"{run}, {_weights_text(imodel.info)} weights"]
    rgb = explain_figure(x, heat, title)
    save_png(rgb, args.output)
    empty = "" if heat.max() > 0 else "; nothing in the image speaks for this class by this method (the map is empty)"
    print(f"wrote {args.output}: {method} for class {name} ({100 * prob:.1f}%) of {args.image}, {rgb.shape[1]}x{rgb.shape[0]} px{empty}")
    return 0
