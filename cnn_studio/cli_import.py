"""`cnn-studio import`: a network made elsewhere as a CNN Studio project.

    cnn-studio import MODEL.onnx -o NET.cnnstudio [--weights-out W.safetensors | --no-weights] [--input CxHxW] [--name N]
    cnn-studio import FILE.py --class NAME --input CxHxW -o NET.cnnstudio [--weights-out W.safetensors]

An ONNX file (compiler/onnx_import.py) is read with the onnx package, never run as code; its
initialisers are written beside the project as ``NET.safetensors`` (or ``--weights-out``), which
``cnn-studio train NET.cnnstudio --init-from NET.safetensors`` starts from (the command is printed)
and the project's ``meta.initial_weights`` names. Nothing is written when the import fails, and the
weights and the project are written together (the weights file is removed again if the project
cannot be written). A Python file is traced with torch.fx (``cli_export.cmd_import``).
"""
from __future__ import annotations

import os
from pathlib import Path

from .cli import UsageError, parse_shape


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "import",
        help="import a network from an ONNX file, or from PyTorch code (a Python file and an nn.Module class)",
        description="Build a CNN Studio project from an ONNX model (its weights are saved beside the project, "
        "ready for --init-from), or trace an nn.Module class with torch.fx. An ONNX file is only read; a Python "
        "file is RUN, as importing it would: only use Python files you trust.",
    )
    s.add_argument("file", metavar="MODEL.onnx|FILE.py", help="ONNX model, or Python file that defines the class")
    s.add_argument("-o", "--output", required=True, metavar="OUT.cnnstudio", help="project file to write")
    s.add_argument("--weights-out", metavar="W.safetensors",
                   help="where to write the weights (.safetensors or .pt); ONNX default: beside the project, <OUT>.safetensors")
    s.add_argument("--no-weights", action="store_true", help="ONNX: write the project only")
    s.add_argument("--input", metavar="CxHxW", help="input shape, e.g. 1x28x28 (Python: required; ONNX: only when the file leaves it open)")
    s.add_argument("--class", dest="class_name", metavar="NAME", help="Python: the nn.Module class, buildable with no arguments")
    s.add_argument("--name", help="network name (default: the model's or class name)")
    s.add_argument("--from-operators", action="store_true",
                   help="ONNX: build the network from the file's operators even when the file carries the CNN Studio design "
                        "it was exported from (by default that design, with its blocks, is restored where it provably "
                        "computes the same outputs)")
    s.set_defaults(func=cmd_import)


def cmd_import(args) -> int:
    if str(args.file).lower().endswith(".onnx"):
        return cmd_import_onnx(args)
    from .cli_export import cmd_import as cmd_import_python

    if not str(args.file).lower().endswith(".py"):
        raise UsageError(f"'{args.file}' is not an .onnx or .py file; import an ONNX model (.onnx) or PyTorch code (.py with --class NAME)")
    if not args.class_name:
        raise UsageError("importing Python code needs --class NAME (the nn.Module class); for an ONNX model give a .onnx file")
    if not args.input:
        raise UsageError("importing Python code needs --input CxHxW, e.g. --input 1x28x28")
    if args.no_weights:
        raise UsageError("--no-weights applies to ONNX models; leave out --weights-out instead")
    return cmd_import_python(args)


def cmd_import_onnx(args) -> int:
    from .compiler.export import export_safetensors, export_state_dict
    from .compiler.onnx_import import import_onnx
    from .core.analysis import analyze
    from .core.project import save_project

    if args.class_name:
        raise UsageError("--class applies to Python files; an ONNX model names its own layers")
    out = Path(args.output)
    if out.suffix != ".cnnstudio":
        raise UsageError(f"-o must name a project file ending in .cnnstudio; got '{args.output}'")
    if out.is_dir():
        raise UsageError(f"-o '{args.output}' is a folder; give a file name")
    if args.no_weights and args.weights_out:
        raise UsageError("give --weights-out or --no-weights, not both")
    weights = None if args.no_weights else Path(args.weights_out) if args.weights_out else out.with_suffix(".safetensors")
    if weights is not None and weights.suffix not in (".safetensors", ".pt", ".pth"):
        raise UsageError(f"--weights-out must end in .safetensors or .pt; got '{weights}'")
    if weights is not None and weights.resolve() == out.resolve():
        raise UsageError("--weights-out must differ from the project file")
    shape = parse_shape(args.input) if args.input else None
    imp = import_onnx(args.file, name=args.name, input_shape=shape, design=not getattr(args, "from_operators", False))
    graph = imp.graph
    graph.meta["imported_from"] = os.path.abspath(args.file)
    existed = weights is not None and weights.exists()
    if weights is not None:
        graph.meta["initial_weights"] = os.path.abspath(weights)
        if weights.suffix == ".safetensors":
            export_safetensors(imp.state, weights, {"name": graph.name, "graph": graph.to_config(), "source": Path(args.file).name})
        else:
            export_state_dict(imp.state, weights)
    try:
        save_project(graph, out)
    except BaseException:
        if weights is not None and not existed:
            weights.unlink(missing_ok=True)  # nothing half-imported: no weights without their project
        raise
    a = analyze(graph)
    print(f"imported {Path(args.file).name}: {len(graph.nodes)} nodes, {a.total_params:,} parameters -> {out}")
    if imp.max_diff is not None and imp.max_diff == imp.max_diff:
        print(f"  outputs equal onnxruntime's on a random input (largest difference {imp.max_diff:.2g})")
    for note in imp.notes:
        print(f"  note: {note}")
    if weights is not None:
        print(f"wrote weights to {weights}")
        print(f"  train from them: cnn-studio train {out} --init-from {weights}")
    return 0
