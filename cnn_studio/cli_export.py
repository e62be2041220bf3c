"""`cnn-studio export`, and the PyTorch-code half of `cnn-studio import` (registered in cli_import.py).

    cnn-studio export MODEL_OR_RUN_DIR --format {python,torchscript,onnx,state_dict,safetensors} -o PATH
                      [--input CxHxW] [--classes N] [--opset N] [--seed N] [--with-training-script]
    cnn-studio import FILE.py --class NAME --input CxHxW -o OUT.cnnstudio [--weights-out W.safetensors]

torch is imported only when a command runs, so registering these commands costs nothing.
"""
from __future__ import annotations

import os

from .cli import UsageError, load_model_arg, parse_shape

FORMATS = ("python", "torchscript", "onnx", "state_dict", "safetensors")


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "export",
        help="write a network as Python code, TorchScript, ONNX, a state_dict or safetensors",
        description="Export a template, a project or a training run (with its trained weights). "
        "From a template or project the weights are freshly initialised (seeded).",
    )
    s.add_argument("model", metavar="MODEL_OR_RUN_DIR", help="template name, project file (.cnnstudio) or training run folder")
    s.add_argument("--format", "-f", required=True, choices=FORMATS, help="what to write")
    s.add_argument("-o", "--output", required=True, metavar="PATH", help="file to write")
    s.add_argument("--input", metavar="CxHxW", help="input shape, e.g. 3x32x32")
    s.add_argument("--classes", type=int, metavar="N", help="number of classes (templates and projects only)")
    s.add_argument("--opset", type=int, metavar="N", help="ONNX opset (default: 17, or 18 when 17 cannot express the network)")
    s.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the fresh weights of a template or project (default 0)")
    s.add_argument("--with-training-script", action="store_true", help="python format: also write train_<name>.py (image folder, torchrun-ready)")
    s.add_argument("--weights", metavar="W", help="template or project: export these weights (a .pt/.safetensors file or a run "
                   "folder; every key and shape must fit) instead of fresh ones, or of the ones an imported project names")
    s.set_defaults(func=cmd_export)

    # `cnn-studio import` (ONNX models and PyTorch code) is registered by cli_import.py, which calls
    # cmd_import below for a Python file


def cmd_export(args) -> int:
    from .compiler.export import export, source_from_graph, source_from_run

    shape = parse_shape(args.input) if args.input else None
    if args.opset is not None and args.format != "onnx":
        raise UsageError("--opset applies to --format onnx only")
    if args.with_training_script and args.format != "python":
        raise UsageError("--with-training-script applies to --format python only")
    if args.classes is not None and args.classes < 1:
        raise UsageError(f"--classes must be a positive whole number; got {args.classes}")
    if os.path.isdir(args.output):
        raise UsageError(f"-o '{args.output}' is a folder; give a file name")
    if os.path.isdir(args.model):  # a training run folder
        from .cli_inspect import _recover

        _recover(args.model)  # a crash may have left best.pt older than the best epoch
        if args.weights:
            raise UsageError("--weights applies to a template or project; a run folder exports its own trained weights")
        source = source_from_run(args.model, shape, args.classes)
    else:
        graph = load_model_arg(args.model, shape, args.classes)
        source = source_from_graph(graph, seed=args.seed)
        if args.weights:
            _use_weights(source, args.weights, f"from {args.weights}")
        else:
            _use_imported_weights(source)
    kwargs = {"opset": args.opset} if args.opset is not None else {}
    result = export(source, args.format, args.output, with_training_script=args.with_training_script, **kwargs)
    for f in result.files:
        print(f"wrote {f}")
    for note in result.notes:
        print(f"  {note}")
    return 0


def imported_weights(graph):
    """``(path, report, problem)`` for the weights an imported project names (``meta.initial_weights``,
    written by ``cnn-studio import`` or the app's File > Open of an ONNX model): the key report of
    the tensors that fit the network (training/init_weights.py, as the app's start_from_weights
    reads them), or a one-line ``problem`` (the file is gone or unreadable, or nothing fits the
    network any more). ``(None, None, None)`` for a project that names none."""
    from .core.errors import StudioError

    path = (graph.meta or {}).get("initial_weights") if graph is not None else None
    if not isinstance(path, str) or not path:
        return None, None, None
    if not os.path.isfile(path):
        return path, None, f"the imported weights '{path}' (meta.initial_weights) are missing"
    try:
        from .training.init_weights import init_report

        report = init_report(graph, path)
    except StudioError as e:
        return path, None, f"the imported weights '{path}' cannot be read ({e})"
    if not report.matched:
        return path, None, f"none of the imported weights in '{path}' fits the network any more (it was changed)"
    return path, report, None


def _use_imported_weights(source) -> None:
    """Export an imported project with the weights it names: all of them when they fit; the tensors
    that fit when the network was changed since (the rest stay freshly initialised, as in the app).
    A missing or unreadable file leaves the fresh weights and says so in the weights note."""
    path, report, problem = imported_weights(source.graph)
    if path is None:
        return
    if problem is not None:
        source.origin = f"{problem}; {source.origin}"
        return
    state = dict(source.state_dict)
    state.update(report.state)
    source.state_dict = state
    source.trained = True
    source.origin = f"imported from {path}" + ("" if report.fits else f" ({report.counts()}; the rest freshly initialised)")


def _use_weights(source, weights: str, origin: str) -> None:
    from .compiler.importer import import_state_dict
    from .training.init_weights import weights_path

    source.state_dict = import_state_dict(source.graph, weights_path(weights))
    source.trained = True
    source.origin = origin


def cmd_import(args) -> int:
    from .compiler.export import export_safetensors, export_state_dict
    from .compiler.importer import import_module_from_file
    from .core.analysis import analyze
    from .core.project import save_project

    shape = parse_shape(args.input)
    if not args.output.endswith(".cnnstudio"):
        raise UsageError(f"-o must name a project file ending in .cnnstudio; got '{args.output}'")
    if args.weights_out and not args.weights_out.endswith((".safetensors", ".pt", ".pth")):
        raise UsageError(f"--weights-out must end in .safetensors or .pt; got '{args.weights_out}'")
    graph, state = import_module_from_file(args.file, args.class_name, shape, name=args.name)
    save_project(graph, args.output)
    a = analyze(graph)
    print(f"imported {args.class_name}: {len(graph.nodes)} nodes, {a.total_params:,} parameters -> {args.output}")
    if args.weights_out:
        if args.weights_out.endswith(".safetensors"):
            export_safetensors(state, args.weights_out, {"name": graph.name, "graph": graph.to_config(), "input_shape": list(shape)})
        else:
            export_state_dict(state, args.weights_out)
        print(f"wrote weights to {args.weights_out}")
    return 0
