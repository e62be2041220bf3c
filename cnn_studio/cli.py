"""`cnn-studio` command line. With no sub-command (or with a project file) it opens the app.

Sub-commands register themselves from small modules (``cli_*.py``) so each part of the engine owns
its command. Bad input exits with status 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Sequence

from .core.errors import StudioError

EXIT_BAD_INPUT = 2


class UsageError(StudioError):
    """Bad command-line input; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message and exits 2: keep it to one line
        raise UsageError(f"{message} (see '{self.prog} --help')")


def int_at_least(name: str, lo: int):
    """argparse type: a whole number >= lo, or a one-line UsageError naming the option."""

    def conv(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise UsageError(f"{name} must be a whole number; got '{text}'") from None
        if v < lo:
            raise UsageError(f"{name} must be at least {lo}; got '{text}'")
        return v

    return conv


def choice(name: str, options: tuple[str, ...], aliases: dict[str, str] | None = None):
    """argparse type: one of ``options`` (case-insensitive; ``aliases`` map other spellings)."""

    def conv(text: str) -> str:
        t = text.strip().lower()
        t = (aliases or {}).get(t, t)
        if t not in options:
            raise UsageError(f"unknown {name} '{text}'; choose one of {', '.join(options)}")
        return t

    return conv


def parse_shape(text: str) -> tuple[int, int, int]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--input must look like CxHxW, e.g. 3x32x32; got '{text}'") from None
    if len(vals) != 3 or any(v < 1 for v in vals):
        raise UsageError(f"--input must be three positive numbers CxHxW, e.g. 3x32x32; got '{text}'")
    return vals  # type: ignore[return-value]


def load_model_arg(model: str, input_shape=None, classes: int | None = None):
    """MODEL is a template name or a project file. Returns a Graph."""
    from .core import templates
    from .core.project import load_project

    if model in templates.names():
        return templates.build(model, input_shape, classes)
    if os.path.exists(model) or model.endswith(".cnnstudio"):
        graph = load_project(model)
        if input_shape is not None or classes is not None:
            reshape_graph(graph, input_shape, classes)
        return graph
    raise UsageError(f"'{model}' is neither a template ({', '.join(templates.names())}) nor an existing project file")


def reshape_graph(graph, input_shape=None, classes: int | None = None) -> list[str]:
    """Set the Input node's shape and the class count: the units of the Fully connected layer feeding
    the loss, inside blocks too (core/adapt.refit_classes, as the app's Fit to data; a block other
    instances share is made unique first). Returns what changed about the classifier, in words."""
    from .core.adapt import refit_classes
    from .core.errors import GraphError

    if input_shape is not None:
        inp = graph.input_node()
        if inp is None:
            raise GraphError("the network has no Input layer")
        c, h, w = input_shape
        graph.set_config(inp.id, {**inp.config, "channels": c, "height": h, "width": w})
    if classes is not None:
        return refit_classes(graph, classes)
    return []


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _fmt_macs(n: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def cmd_templates(args) -> int:
    from .core import templates

    width = max(len(n) for n in templates.names())
    for name in templates.names():
        t = templates.get(name)
        c, h, w = t.default_input
        print(f"{name:<{width}}  {t.summary} (default input {c}x{h}x{w}, {t.default_classes} classes)")
    return 0


def cmd_summary(args) -> int:
    from .core.analysis import analyze
    from .core.layers import fmt_shape

    shape = parse_shape(args.input) if args.input else None
    graph = load_model_arg(args.model, shape, args.classes)
    a = analyze(graph)
    from .core.trainable import param_counts

    counts = param_counts(graph, a)  # frozen layers apart, as the app and `train` count them
    if args.json:
        d = a.to_dict()
        d["name"] = graph.name
        # total_params = trainable_params + frozen_params + non_trainable_params (running statistics)
        d["trainable_params"], d["frozen_params"] = counts.trainable, counts.frozen
        print(json.dumps(d))
        return 0 if a.ok else EXIT_BAD_INPUT
    from .core.block_report import block_tree

    tree = block_tree(a)
    if not a.ok and not any(row.output_shape for row in tree):  # nothing could be worked out: only the reasons
        for issue in a.issues:
            print(f"{issue.severity}: {issue}", file=sys.stderr if issue.severity == "error" else sys.stdout)
        return EXIT_BAD_INPUT
    rows = [("Layer", "Type", "Output", "Params", "MACs", "RF")]
    for row in tree:  # block instances followed by their inner layers, indented
        rf = f"{row.rf.size[0]}x{row.rf.size[1]}" if row.rf else "-"
        rows.append(("  " * row.depth + row.id, row.title, fmt_shape(row.output_shape), _fmt_int(row.params), _fmt_macs(row.macs), rf))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(widths[j]) if j < 3 else c.rjust(widths[j]) for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print(f"Network '{graph.name}': input {fmt_shape(a.input_shape)}, output {fmt_shape(a.output_shape)}")
    print(counts.text())  # "21,417,610 parameters: 21,289,802 trainable, 110,784 frozen, 17,024 buffers (...)", as the app
    print(f"MACs per sample: {_fmt_macs(a.total_macs)} ({_fmt_int(a.total_macs)})")
    print(f"Activation memory per sample: {a.activation_bytes / 2**20:.2f} MiB")
    for issue in a.issues:
        print(f"{issue.severity}: {issue}", file=sys.stderr if issue.severity == "error" else sys.stdout)
    return 0 if a.ok else EXIT_BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cnn-studio", description="Design, train, inspect and export convolutional neural networks.")
    p.add_argument("--version", action="version", version=f"cnn-studio {_version()}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("templates", help="list the built-in network templates")
    s.set_defaults(func=cmd_templates)

    s = sub.add_parser("summary", help="per-layer shapes, parameters, MACs and receptive fields")
    s.add_argument("model", metavar="MODEL", help="template name or project file (.cnnstudio)")
    s.add_argument("--input", metavar="CxHxW", help="input shape, e.g. 3x32x32")
    s.add_argument("--classes", type=int, metavar="N", help="number of classes")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_summary)

    for register in _extra_commands():
        register(sub)

    s = sub.add_parser("gui", help="open the desktop app (the default with no command)")
    s.add_argument("project", nargs="?", help="project file to open")
    s.set_defaults(func=cmd_gui)
    return p


def _extra_commands() -> list[Callable]:
    """Sub-commands owned by other parts of the engine (each module has a register(subparsers))."""
    import importlib

    regs = []
    for mod in ("cli_train", "cli_inspect", "cli_predict", "cli_export", "cli_import", "cli_runs", "cli_stats", "cli_cache"):
        try:
            m = importlib.import_module(f".{mod}", __package__)
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{mod}":
                raise
            continue
        regs.append(m.register)
    return regs


def _version() -> str:
    from . import __version__

    return __version__


def cmd_gui(args) -> int:
    try:
        from .app.main import run_app
    except ImportError as e:
        raise UsageError(f"the desktop app cannot start: {e}; install CNN Studio with its GUI dependencies (pip install -e .)") from None
    return run_app(getattr(args, "project", None))


def main(argv: Sequence[str] | None = None) -> int:
    from .allocator import keep_freed_memory

    keep_freed_memory()  # before torch or Qt start threads (allocator.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (len(argv) == 1 and argv[0].endswith(".cnnstudio")):
        return cmd_gui(argparse.Namespace(project=argv[0] if argv else None))
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except StudioError as e:
        print(f"cnn-studio: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("cnn-studio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
