"""A one-file HTML report of a run: settings and results, the network table (core.analysis), loss and
accuracy curves drawn as inline SVG from metrics.csv, the confusion matrix and per-class figures the
run stored in summary.json (test split, else validation), a few feature maps as inline PNG, and (with
the weights loaded for those) per-class ROC AUC / average precision and ROC curves of that split.

The file is self-contained (no scripts, no external links, no matplotlib). Every string that comes
from a file (project and node names, class names, notes, paths, messages) goes through
:func:`html.escape`, so a hostile name shows as text and never becomes markup.

Feature maps need the weights: the run's best (else last) checkpoint is loaded through
:meth:`InspectModel.from_run` (``torch.load(weights_only=True)``); when that or the data set is not
available the section says why and the rest of the report is still written.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import time
from pathlib import Path

from ..core.errors import StudioError
from ..core.runs import RunInfo, _Bad, _read_json, is_run_folder, read_metrics, read_run

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
MAX_MAP_LAYERS = 2
MAX_CLASSES_SHOWN = 60  # a confusion matrix larger than this is summarised, not drawn


class ReportError(StudioError):
    """The report cannot be made; str() says why and what to do."""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pct(v) -> str:
    return f"{100 * v:.2f}%" if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else "\u2013"


def _secs(v) -> str:
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return "\u2013"
    v = float(v)
    return f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min" if v < 7200 else f"{v / 3600:.1f} h"


def _table(header: list[str], rows: list[list], cls: str = "") -> str:
    out = [f'<table class="{esc(cls)}"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ---- curves as SVG ------------------------------------------------------------------------------
def line_chart(series: list[tuple[str, list[tuple[float, float]]]], title: str, y_label: str, width: int = 460, height: int = 260,
               y_range: tuple[float, float] | None = None, x_label: str = "epoch", x_range: tuple[float, float] | None = None) -> str:
    """An SVG line chart of ``series`` [(label, [(x, y), ...])], with axes, ticks and a legend.
    x ticks are whole numbers (epochs) unless ``x_range`` is given (then five even steps)."""
    pts = [(x, y) for _, s in series for x, y in s if math.isfinite(x) and math.isfinite(y)]
    left, right, top, bottom = 56, 12, 28, 40
    w, h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
             f'<title>{esc(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    if not pts:
        parts.append(f'<text x="{left}" y="{top + h / 2}" font-size="12">no epochs recorded</text></svg>')
        return "".join(parts)
    x0, x1 = x_range if x_range else (min(p[0] for p in pts), max(p[0] for p in pts))
    y0, y1 = y_range if y_range else (min(p[1] for p in pts), max(p[1] for p in pts))
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    sx = lambda x: left + (x - x0) / (x1 - x0) * w  # noqa: E731
    sy = lambda y: top + h - (min(max(y, y0), y1) - y0) / (y1 - y0) * h  # noqa: E731
    parts.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        yy = sy(yv)
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end">{yv:.3g}</text>')
    xt = sorted({(x0 + (x1 - x0) * i / 4) if x_range else round(x0 + (x1 - x0) * i / 4) for i in range(5)})
    for xv in xt:
        parts.append(f'<text x="{sx(xv):.1f}" y="{top + h + 14}" font-size="10" text-anchor="middle">{xv:g}</text>')
    parts.append(f'<text x="{left + w / 2}" y="{height - 6}" font-size="11" text-anchor="middle">{esc(x_label)}</text>'
                 f'<text x="12" y="{top + h / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 {top + h / 2})">{esc(y_label)}</text>')
    for k, (label, s) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        good = [(x, y) for x, y in s if math.isfinite(x) and math.isfinite(y)]
        if not good:
            continue
        d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in good)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{d}"/>')
        if len(good) == 1:
            parts.append(f'<circle cx="{sx(good[0][0]):.1f}" cy="{sy(good[0][1]):.1f}" r="3" fill="{colour}"/>')
        ly = top + 12 + 14 * k
        parts.append(f'<line x1="{left + w - 120}" x2="{left + w - 104}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/>'
                     f'<text x="{left + w - 100}" y="{ly + 4}" font-size="11">{esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _curves(rows: list[dict]) -> str:
    def s(key):
        return [(float(r["epoch"]), float(r[key])) for r in rows if r.get(key) is not None]

    loss = line_chart([("train", s("train_loss")), ("validation", s("val_loss"))], "Loss", "loss")
    acc = line_chart([("train", s("train_accuracy")), ("validation", s("val_accuracy"))], "Accuracy", "accuracy", y_range=(0.0, 1.0))
    return f'<div class="charts">{loss}{acc}</div>'


# ---- sections -----------------------------------------------------------------------------------
def _overview(info: RunInfo, config: dict) -> str:
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    rows = [
        ["Status", info.status], ["Started", info.started_text], ["Training time", _secs(info.duration)],
        ["Network", f"{info.network or '?'} ({info.params:,} parameters)" if info.params is not None else info.network or "?"],
        ["Data set", info.dataset or "?"],
        ["Optimizer", f"{info.optimizer or '?'}, lr {info.lr if info.lr is not None else '?'}, batch {info.batch_size or '?'}"],
        ["Epochs", f"{info.epochs_done if info.epochs_done is not None else '?'} of {info.epochs if info.epochs is not None else '?'}"],
        ["Stopped by", info.stop_text or "\u2013"],
        ["Best validation accuracy", _pct(info.best_val_accuracy) + (f" (epoch {info.best_epoch})" if info.best_epoch else "")],
        ["Test accuracy", _pct(info.test_accuracy) + (f" ({info.test_weights} weights, epoch {info.test_epoch})" if info.test_weights else "")],
        ["Folder", info.path],
    ]
    if info.message:
        rows.insert(1, ["Message", info.message])
    out = "<h2>Overview</h2>" + _table(["", ""], rows, "kv")
    if info.note:
        out += f'<h3>Note</h3><p class="note">{esc(info.note)}</p>'
    if train:
        out += "<h3>Training settings</h3>" + _table(["Setting", "Value"], [[k, json.dumps(v)] for k, v in sorted(train.items())], "kv")
    data = config.get("data")
    if isinstance(data, dict):
        flat = [[k, json.dumps(v)] for k, v in sorted(data.items()) if k != "augment"]
        aug = data.get("augment")
        if isinstance(aug, dict):
            on = [f"{k}={json.dumps(v)}" for k, v in sorted(aug.items()) if v not in (False, None, 0, 0.0)]
            flat.append(["augment", ", ".join(on) or "none"])
        out += "<h3>Data settings</h3>" + _table(["Setting", "Value"], flat, "kv")
    return out


def _trainer_notes(summary: dict) -> str:
    notes = summary.get("notes")
    notes = [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []
    if not notes:
        return ""
    return "<h3>What the trainer noted</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes[:50]) + "</ul>"


def _network(config: dict) -> str:
    graph = config.get("graph")
    if not isinstance(graph, dict):
        return "<h2>Network</h2><p>config.json holds no network.</p>"
    try:
        from ..core.analysis import analyze
        from ..core.layers import fmt_shape, get_spec, has_spec
        from ..core.project import FORMAT, VERSION, document_to_graph

        g = document_to_graph({**graph, "format": FORMAT, "version": VERSION}, source="the run's network")
        a = analyze(g)
    except Exception as e:  # shown, not fatal: the rest of the report stands
        return f"<h2>Network</h2><p>The network cannot be analysed: {esc(e)}</p>"
    rows = []
    for nid in a.order:
        n = a.nodes[nid]
        title = get_spec(n.type).title if n.type and has_spec(n.type) else n.type
        rows.append([nid, title, fmt_shape(n.output_shape), f"{n.params:,}", f"{n.macs:,}"])
    head = (f"<h2>Network: {esc(g.name)}</h2><p>input {esc(fmt_shape(a.input_shape))}, output {esc(fmt_shape(a.output_shape))}, "
            f"{a.total_params:,} parameters ({a.trainable_params:,} trainable), {a.total_macs:,} MACs per sample</p>")
    return head + _table(["Layer", "Type", "Output", "Parameters", "MACs"], rows, "net")


def _per_class(summary: dict, class_names: list[str]) -> str:
    cm, split = summary.get("test_confusion_matrix"), "test"
    if not _is_matrix(cm):
        cm, split = summary.get("val_confusion_matrix"), "validation"
    if not _is_matrix(cm):
        return "<h2>Per class</h2><p>The run stored no evaluation (no confusion matrix in summary.json).</p>"
    n = len(cm)
    names = [class_names[i] if i < len(class_names) else str(i) for i in range(n)]
    total = sum(sum(r) for r in cm)
    out = [f"<h2>Per class ({esc(split)} split, {total:,} samples)</h2>"]
    rows = []
    for i in range(n):
        tp = cm[i][i]
        support = sum(cm[i])
        predicted = sum(cm[r][i] for r in range(n))
        rec = tp / support if support else None
        prec = tp / predicted if predicted else None
        f1 = 2 * prec * rec / (prec + rec) if prec and rec else (0.0 if prec is not None and rec is not None else None)
        rows.append([names[i], f"{support:,}", _pct(prec), _pct(rec), _pct(f1)])
    out.append(_table(["Class", "Samples", "Precision", "Recall", "F1"], rows, "net"))
    if n > MAX_CLASSES_SHOWN:
        out.append(f"<p>The confusion matrix has {n} classes; it is not drawn (at most {MAX_CLASSES_SHOWN}).</p>")
        return "".join(out)
    out.append(f'<h3>Confusion matrix ({esc(split)})</h3><p class="small">rows: true class, columns: predicted; shade: share of the row</p>')
    t = ['<table class="cm"><thead><tr><th></th>' + "".join(f"<th>{esc(c)}</th>" for c in names) + "</tr></thead><tbody>"]
    for i in range(n):
        row_total = sum(cm[i]) or 1
        cells = []
        for j in range(n):
            f = cm[i][j] / row_total
            colour = f"rgba(31,119,180,{f:.3f})"
            fg = "#fff" if f > 0.55 else "#000"
            cells.append(f'<td style="background:{colour};color:{fg}">{cm[i][j]}</td>')
        t.append(f"<tr><th>{esc(names[i])}</th>{''.join(cells)}</tr>")
    t.append("</tbody></table>")
    out.append("".join(t))
    return "".join(out)


def _is_matrix(cm) -> bool:
    if not isinstance(cm, list) or not cm or len(cm) > 1000:
        return False
    n = len(cm)
    return all(isinstance(r, list) and len(r) == n and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in r) for r in cm)


def _png_base64(rgb) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _feature_maps(run_path: Path) -> str:
    head = "<h2>Feature maps</h2>"
    try:
        import numpy as np

        from . import channel_grid, feature_maps
        from .maps import conv_layers
        from .model import InspectModel, load_bundle

        im = InspectModel.from_run(run_path, load_data=False)
        im.bundle = load_bundle(im.info.config, input_shape=im.input_shape)
        split = "val" if len(getattr(im.bundle.val, "y", ())) else "test"
        x, label = im.sample(split, 0)
        idx, p = im.predict(x, k=1)
        parts = [f"<p>{esc({'val': 'validation'}.get(split, split))} sample 0, class {esc(im.class_name(int(label)))}, "
                 f"predicted {esc(im.class_name(int(idx[0])))} ({100 * float(p[0]):.0f}%); weights: {esc(Path(im.info.checkpoint or '').name)}</p>"]
        img = np.asarray(x)
        from .render import image_to_rgb

        parts.append(f'<figure><img alt="input" src="data:image/png;base64,{_png_base64(_upscale(image_to_rgb(img)))}"/><figcaption>input</figcaption></figure>')
        for nid in conv_layers(im.model)[:MAX_MAP_LAYERS]:
            maps = feature_maps(im.model, im.normalize(x), nid)
            rgb = channel_grid(maps, cmap="viridis")
            shape = "x".join(map(str, maps.shape))
            parts.append(f'<figure><img alt="{esc(nid)}" src="data:image/png;base64,{_png_base64(_upscale(rgb))}"/>'
                         f"<figcaption>{esc(nid)} ({esc(shape)})</figcaption></figure>")
        return head + "".join(parts) + _roc(im)
    except (StudioError, OSError, ValueError, RuntimeError, KeyError, IndexError, TypeError, AttributeError, ImportError) as e:
        return head + f"<p>Not available: {esc(e)}</p>"


MAX_ROC_SAMPLES = 20_000  # a larger split is not evaluated for the report (cnn-studio evaluate --json has the figures)
MAX_ROC_CURVES = 6  # classes drawn; the table lists all
ROC_POINTS = 200  # points per drawn curve at most


def _thin(x, y) -> list[tuple[float, float]]:
    import numpy as np

    k = max(1, int(np.ceil(len(x) / ROC_POINTS)))
    idx = sorted(set(range(0, len(x), k)) | {len(x) - 1})
    return [(float(x[i]), float(y[i])) for i in idx]


def _roc(im) -> str:
    """ROC AUC and average precision per class on the test split (else validation), one class
    against the rest, with the ROC curves of the first classes; evaluated with the loaded weights."""
    from .evaluation import macro_mean
    from .model import evaluate

    head = "<h2>ROC and precision-recall (one class against the rest)</h2>"
    split = im.default_split(prefer_test=True)
    if split is None:
        return head + "<p>Not available: the data has no split to evaluate on.</p>"
    n = len(im.labels(split))
    title = {"val": "validation"}.get(split, split)
    if n > MAX_ROC_SAMPLES:
        return head + f"<p>Not computed: the {esc(title)} split has {n:,} samples (the report evaluates at most {MAX_ROC_SAMPLES:,}); use cnn-studio evaluate --json.</p>"
    try:
        curves = evaluate(im, split).curves()
    except (StudioError, RuntimeError, ValueError) as e:  # the feature maps above still stand
        return head + f"<p>Not available: {esc(e)}</p>"

    def num(v):
        return f"{v:.3f}" if v == v else "\u2013"  # nan: a class without samples

    rows = [[c["class"], f"{c['positives']:,}", num(c["auc"]), num(c["ap"])] for c in curves]
    rows.append(["macro mean", f"{n:,}", num(macro_mean(c["auc"] for c in curves)), num(macro_mean(c["ap"] for c in curves))])
    drawn = [c for c in curves if c["positives"]][:MAX_ROC_CURVES]
    chart = line_chart([(c["class"], _thin(c["fpr"], c["tpr"])) for c in drawn], f"ROC ({title}, {n:,} samples)", "true positive rate",
                       y_range=(0.0, 1.0), x_label="false positive rate", x_range=(0.0, 1.0))
    more = f'<p class="small">the first {len(drawn)} of {len(curves)} classes are drawn</p>' if len(drawn) < len(curves) else ""
    return head + f'<p class="small">{esc(title)} split, {esc(Path(im.info.checkpoint or "").name)} weights</p>' + \
        _table(["Class", "Samples", "ROC AUC", "Average precision"], rows, "net") + f'<div class="charts">{chart}</div>' + more


def _upscale(rgb, target: int = 256):
    import numpy as np

    h, w = rgb.shape[:2]
    k = max(1, min(8, target // max(h, w, 1)))
    return np.ascontiguousarray(np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)) if k > 1 else np.ascontiguousarray(rgb)


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}
table.net td:nth-child(n+4){text-align:right}table.cm td{text-align:right;min-width:28px}table.kv td:first-child{font-weight:600}
.charts svg{margin-right:16px}figure{display:inline-block;margin:0 16px 16px 0;vertical-align:top}img{image-rendering:pixelated}
.note{white-space:pre-wrap;background:#f6f6f6;padding:8px}.small{font-size:12px;color:#666}"""


def build_report(run_path: str | Path, feature_maps: bool = True) -> str:
    """The report's HTML text. ReportError for a folder that is not a readable run."""
    p = Path(run_path)
    if not is_run_folder(p):
        raise ReportError(f"'{p}' is not a run folder (no config.json or checkpoints/); give a folder written by 'cnn-studio train' or the app")
    info = read_run(p)
    try:
        config = _read_json(p / "config.json", "config.json")
    except _Bad as e:
        raise ReportError(f"cannot make a report of '{p}': {e}") from None
    if config is None:
        raise ReportError(f"cannot make a report of '{p}': config.json is missing")
    if info.state == "newer version":
        raise ReportError(f"cannot make a report of '{p}': {info.message}")
    try:
        summary = _read_json(p / "summary.json", "summary.json") or {}
    except _Bad:
        summary = {}
    names = config.get("class_names") if isinstance(config.get("class_names"), list) else summary.get("class_names")
    names = [str(c) for c in names] if isinstance(names, list) else []
    rows = read_metrics(p)
    body = [f"<h1>{esc(info.name)}</h1>",
            f'<p class="small">CNN Studio run report, made {esc(time.strftime("%Y-%m-%d %H:%M:%S"))}</p>',
            _overview(info, config), _trainer_notes(summary), "<h2>Training curves</h2>", _curves(rows), _network(config), _per_class(summary, names)]
    if feature_maps:
        body.append(_feature_maps(p))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(info.name)} \u2013 CNN Studio run report</title>'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'">'
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(run_path: str | Path, out_path: str | Path, feature_maps: bool = True) -> Path:
    """Write :func:`build_report` to ``out_path`` atomically; ReportError when it cannot be written."""
    from ..core.atomic import atomic_write_bytes

    out = Path(out_path)
    if not out.parent.is_dir() and str(out.parent):
        raise ReportError(f"cannot write '{out}': the folder '{out.parent}' does not exist")
    text = build_report(run_path, feature_maps=feature_maps)
    try:
        atomic_write_bytes(out, text.encode("utf-8"))
    except OSError as e:
        raise ReportError(f"cannot write '{out}': {e.strerror or e}") from None
    return out
