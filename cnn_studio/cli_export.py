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
        source = source_from_run(args.model, shape, args.classes)
    else:
        source = source_from_graph(load_model_arg(args.model, shape, args.classes), seed=args.seed)
    kwargs = {"opset": args.opset} if args.opset is not None else {}
    result = export(source, args.format, args.output, with_training_script=args.with_training_script, **kwargs)
    for f in result.files:
        print(f"wrote {f}")
    for note in result.notes:
        print(f"  {note}")
    return 0


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
