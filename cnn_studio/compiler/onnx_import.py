"""ONNX model -> CNN Studio graph and weights (``cnn-studio import model.onnx``, File > Open of a .onnx).

:func:`import_onnx` reads the file with the ``onnx`` package (:mod:`onnx_read` checks it first), then
walks its nodes in order and maps each operator onto the layer catalogue (:mod:`onnx_ops`): Conv
(groups, dilation, pads), Gemm and MatMul+Add, the activations, pooling, BatchNormalization,
Dropout, Flatten, a Reshape that flattens, Add, Concat, Identity, and the layers of newer catalogue
entries when their specs exist (``core.layers.has_spec`` is asked at import time). Constants and the
shape arithmetic torch.onnx emits for ``x.view(x.size(0), -1)`` (Shape, Gather, Unsqueeze, Concat
...) are folded while walking, with the batch axis kept symbolic. Initialisers become a state_dict
whose keys are those of the compiled graph, so ``compile_model(graph).load_state_dict(state,
strict=True)`` works.

Nothing is half-imported: every operator that has no layer is collected (by ONNX node name and op
type) and reported in one :class:`OnnxImportError`; then nothing is returned. Node ids come from the
exporter's names where it left them (an initialiser ``features_0.weight`` or a node ``/features_0/Conv``
gives ``features_0``), so a network exported by CNN Studio comes back with its own ids. The result is
checked: the compiled graph with the imported weights is run next to onnxruntime (when installed) on
the same random input, and a difference beyond rounding refuses the import (a misread operator never
becomes a silently different network).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.graph import Graph
from ..core.layout import apply_layout
from .onnx_ops import BATCH, Act, Builder, Unsupported
from .onnx_read import OnnxImportError, attrs, check_order, load_model, opset_of, value_shape
from .onnx_design import restore_design, stored_design

__all__ = ["OnnxImport", "OnnxImportCancelled", "OnnxImportError", "import_onnx", "verify_with_onnxruntime"]

#: outputs of the imported network and onnxruntime may differ by this much (relative to the outputs' scale)
TOLERANCE = 1e-4


class OnnxImportCancelled(OnnxImportError):
    """``cancel`` was set: the import stopped between two steps; nothing was returned."""

    def __init__(self, label: str = "") -> None:
        super().__init__(f"cancelled{f': {label} was not imported' if label else ''}")


@dataclass
class OnnxImport:
    graph: Graph
    state: dict[str, torch.Tensor]
    path: Path
    notes: list[str] = field(default_factory=list)
    max_diff: float | None = None  # largest difference to onnxruntime's outputs (None: not checked)
    log_softmax_dropped: bool = False  # the file ends in LogSoftmax, which the loss layer applies itself


def import_onnx(path: str | os.PathLike, name: str | None = None, input_shape: tuple[int, int, int] | None = None,
                verify: bool = True, cancel=None, progress=None, design: bool = True) -> OnnxImport:
    """Build the graph and weights of an ONNX file; raises :class:`OnnxImportError` with one message
    (also for anything unforeseen in a malformed file: never a traceback).

    For a caller in a worker thread (the app's File > Open): ``cancel`` (a ``threading.Event``) is
    looked at between the steps (reading, every few dozen operators, compiling, the onnxruntime
    check) and stops the import with :class:`OnnxImportCancelled`; ``progress(done, total, message)``
    hears of each step.

    ``design``: a file of CNN Studio's own export carries its design (blocks, frozen layers, dropout);
    it is used where it provably computes what the file's operators do (``onnx_design.py``); False
    keeps the graph read from the operators."""
    try:
        return _import(path, name, input_shape, verify, _Steps(Path(path).name, cancel, progress), design)
    except OnnxImportError:
        raise
    except MemoryError:
        raise OnnxImportError(f"{Path(path).name}: not enough memory to import it") from None
    except RecursionError:
        raise OnnxImportError(f"{Path(path).name}: nested too deeply to import") from None
    except Exception as e:
        raise OnnxImportError(f"{Path(path).name} cannot be imported ({type(e).__name__}: {' '.join(str(e).split())[:200]}); "
                              "the file is malformed, or CNN Studio misreads it") from None


class _Steps:
    """The cancel checks and progress reports of one import (both optional)."""

    TOTAL = 100

    def __init__(self, label: str, cancel, progress) -> None:
        self.label, self.cancel, self.progress = label, cancel, progress

    def __call__(self, done: int, message: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise OnnxImportCancelled(self.label)
        if self.progress is not None:
            self.progress(done, self.TOTAL, message)


def _import(path, name, input_shape, verify, step: _Steps | None = None, design: bool = True) -> OnnxImport:
    """Build the graph and weights of an ONNX file; raises :class:`OnnxImportError` with one message.

    ``input_shape`` (C, H, W) is needed only when the file leaves those axes symbolic.
    ``verify`` compares the result with onnxruntime on a random input (skipped when it is absent)."""
    p = Path(path)
    step = step or _Steps(p.name, None, None)
    step(0, f"reading {p.name}…")
    model = load_model(p)
    label = p.name
    step(10, f"building the network of {label}…")
    check_order(model, label)
    g = model.graph
    init_names = {t.name for t in g.initializer}
    real_inputs = [i for i in g.input if i.name not in init_names]
    if len(real_inputs) != 1:
        listed = ", ".join(f"'{i.name}'" for i in real_inputs) or "none"
        raise OnnxImportError(f"{label}: a CNN Studio network takes one image input, but this model has {len(real_inputs)} ({listed})")
    if len(g.output) != 1:
        raise OnnxImportError(f"{label}: a CNN Studio network has one output, but this model has {len(g.output)} "
                              f"({', '.join(repr(o.name) for o in g.output)})")
    inp = real_inputs[0]
    chw, batch = _input_shape(inp, input_shape, label)
    graph = Graph(name or _network_name(model, p))
    b = Builder(graph, opset_of(model), batch)
    b.pool_hints = _pool_hints(model)
    b.add_input(inp.name, chw)
    for t in g.initializer:  # numbers are read (size-checked) when a node uses them
        b.add_initializer(t)
    consumers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    for o in g.output:
        consumers[o.name] = consumers.get(o.name, 0) + 1
    b.consumers = consumers
    b.graph_output = g.output[0].name
    n_nodes = max(len(g.node), 1)
    for i, n in enumerate(g.node):
        if i % 32 == 31:
            step(10 + 60 * i // n_nodes, f"building the network of {label}: operator {i + 1} of {n_nodes}…")
        if n.domain not in ("", "ai.onnx"):
            b.unsupported(n, f"operator of the '{n.domain}' domain")
            continue
        try:
            b.node(n, attrs(n))
        except Unsupported as e:
            b.unsupported(n, str(e))
        except (ValueError, TypeError, KeyError, IndexError, ArithmeticError) as e:  # malformed attributes or inputs
            b.unsupported(n, f"cannot be read as written ({type(e).__name__}: {' '.join(str(e).split())[:120]})")
    b.unresolved(g.output[0].name)
    if b.problems:
        count = len(b.problems)
        raise OnnxImportError(
            f"{label} cannot be imported: {count} operator{'s' if count > 1 else ''} {'have' if count > 1 else 'has'} no CNN Studio layer "
            f"(nothing was imported):\n" + "\n".join(f"  - {p}" for p in b.problems)
        )
    b.finish(g.output[0].name, label)
    apply_layout(graph)
    result = OnnxImport(graph, b.state, p, list(b.notes), log_softmax_dropped=b.log_softmax_dropped)
    step(70, f"compiling the network of {label}…")
    net = _check_compiles(result, label)
    if verify:
        step(80, f"checking {label} against onnxruntime…")
        result.max_diff = verify_with_onnxruntime(result, model, inp.name, chw, batch, net)
        if result.max_diff is None:
            result.notes.append("not compared with onnxruntime (not installed)")
        if design and stored_design(model) is not None:
            step(90, f"checking the CNN Studio design stored in {label}…")
            restored = restore_design(result, model, inp.name, chw, batch)
            if restored is not None:
                if name:
                    restored.graph.name = name
                return restored
    return result


def _input_shape(inp, given, label: str) -> tuple[tuple[int, int, int], int | None]:
    dims = value_shape(inp)
    if dims is None:
        dims = [None] * 4 if given is not None else None
    if dims is None or len(dims) != 4:
        what = "no shape" if dims is None else f"{len(dims)} axes ({_fmt_dims(dims)})"
        raise OnnxImportError(f"{label}: the input '{inp.name}' has {what}; CNN Studio imports image networks whose input is "
                              "batch x channels x height x width")
    batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
    chw = []
    for axis, d, g in zip(("channels", "height", "width"), dims[1:], given or (None, None, None)):
        if g is not None:
            if isinstance(d, int) and d > 0 and d != g:
                raise OnnxImportError(f"{label}: the input's {axis} is fixed at {d} in the file; --input gave {g}")
            chw.append(int(g))
        elif isinstance(d, int) and d > 0:
            chw.append(d)
        else:
            raise OnnxImportError(f"{label}: the input's {axis} is not fixed in the file ({d!r}); give the input shape "
                                  "(cnn-studio import --input CxHxW)")
    return (chw[0], chw[1], chw[2]), batch


def _fmt_dims(dims) -> str:
    return "x".join("?" if d is None else str(d) for d in dims)


def _pool_hints(model) -> dict[str, tuple[int, int]]:
    """``cnn_studio.adaptive_pools`` of CNN Studio's own export: node id -> the output size of an
    adaptive pooling layer, which the TorchScript exporter writes as a plain pooling whose kernel
    divides the map (VGG's 7x7 -> 7x7 as a 1x1 AveragePool). Only a hint: a pooling becomes the
    adaptive layer only where its kernel and stride give exactly that output (onnx_handlers)."""
    import json

    for prop in model.metadata_props:
        if prop.key == "cnn_studio.adaptive_pools":
            try:
                raw = json.loads(prop.value)
            except ValueError:
                return {}
            hints = {}
            if isinstance(raw, dict):
                for k, v in list(raw.items())[:10_000]:
                    v = [v, v] if isinstance(v, int) else v
                    if isinstance(k, str) and isinstance(v, list) and len(v) == 2 and all(type(d) is int and 0 < d < 1 << 20 for d in v):
                        hints[k] = (v[0], v[1])
            return hints
    return {}


def _network_name(model, p: Path) -> str:
    for prop in model.metadata_props:
        if prop.key == "cnn_studio.name" and prop.value.strip():
            return prop.value.strip()[:200]
    gname = (model.graph.name or "").strip()
    if gname and gname not in ("main_graph", "torch_jit", "torch-jit-export", "main"):
        return gname[:200]
    return p.stem[:200] or "imported"


def _check_compiles(result: OnnxImport, label: str):
    """The graph compiles and the weights fit it exactly; returns the compiled network holding the
    imported weights (built on the meta device and given the imported tensors, so a large network
    is not initialised twice). A failure here is a CNN Studio bug, said as one line."""
    from ..core.errors import StudioError
    from .model import compile_model

    try:
        with torch.device("meta"):
            model = compile_model(result.graph)
        model.load_state_dict(result.state, strict=True, assign=True)
    except StudioError as e:
        raise OnnxImportError(f"{label}: the imported network is not valid ({e})") from None
    except RuntimeError as e:
        raise OnnxImportError(f"{label}: the imported weights do not fit the imported network ({' '.join(str(e).split())[:300]})") from None
    return model


def verify_with_onnxruntime(result: OnnxImport, model, input_name: str, chw, batch: int | None, net=None) -> float | None:
    """Largest |difference| between the compiled graph and onnxruntime on one random input; raises
    OnnxImportError when it is beyond rounding. None when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from .model import compile_model

    n = batch or 2
    x = torch.Generator().manual_seed(0)
    inp = torch.randn((n, *chw), generator=x)
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        ref = sess.run(None, {input_name: inp.numpy()})[0]
    except Exception as e:  # the file does not run in onnxruntime either: say so, keep the import
        result.notes.append(f"not compared with onnxruntime (it cannot run this file: {' '.join(str(e).split())[:160]})")
        return float("nan")
    if net is None:
        net = compile_model(result.graph)
        net.load_state_dict(result.state, strict=True)
    net.eval()
    with torch.no_grad():
        out = net(inp)
        if result.log_softmax_dropped:
            out = torch.log_softmax(out, dim=1)
    ref_t = torch.from_numpy(np.asarray(ref, dtype=np.float32))
    if tuple(ref_t.shape) != tuple(out.shape):
        raise OnnxImportError(f"{result.path.name}: the imported network's output is {tuple(out.shape)} but onnxruntime's is "
                              f"{tuple(ref_t.shape)}; this operator combination is misread by CNN Studio (nothing was imported)")
    diff = float((out - ref_t).abs().max()) if out.numel() else 0.0
    scale = max(1.0, float(ref_t.abs().max()) if ref_t.numel() else 1.0)
    if not diff <= TOLERANCE * scale:
        raise OnnxImportError(f"{result.path.name}: the imported network's outputs differ from onnxruntime's by up to {diff:.3g}; "
                              "CNN Studio misreads an operator of this file, so nothing was imported (please report it)")
    return diff


__all__ += ["BATCH", "Act"]
