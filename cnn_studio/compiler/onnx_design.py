"""The design a CNN Studio ONNX export carries, brought back on import.

ONNX holds operators, not a design: blocks come back expanded, Dropout (absent from an inference
file) and frozen flags are gone. CNN Studio's own export therefore stores the project text of the
network in the file's metadata (``cnn_studio.design``, written by ``compiler/export.py``). On import,
after the file has been read from its operators as any other file, :func:`restore_design` takes that
stored design instead, but only when it provably is the same network: it is parsed by the project
loader (never executed; a hostile text is refused like a hostile project file), every tensor of its
compiled model is found among the file's initialisers by name and shape, and its outputs on a random
input equal onnxruntime's within the import tolerance. Otherwise the import keeps the graph read from
the operators, with a note saying why the stored design was not used. Paths of the exporting machine
(``meta.initial_weights``) are dropped: an opened file never points the app at another file.
"""
from __future__ import annotations

import torch

MAX_DESIGN_CHARS = 32 * 2**20  # a ResNet-50 design is about 60 KB
DROPPED_META = ("initial_weights",)


def stored_design(model) -> str | None:
    """The ``cnn_studio.design`` text of an ONNX model, or None."""
    for prop in model.metadata_props:
        if prop.key == "cnn_studio.design":
            return prop.value
    return None


def restore_design(result, model, input_name: str, chw, batch):
    """An ``OnnxImport`` holding the stored design and the file's weights, checked against
    onnxruntime; None (with a note added to ``result``) when the file has no design or it does not
    compute what the file's operators compute."""
    text = stored_design(model)
    if text is None:
        return None

    def refuse(why: str):
        result.notes.append(f"the CNN Studio design stored in the file was not used ({why}); the network was built from its operators")
        return None

    if len(text) > MAX_DESIGN_CHARS:
        return refuse(f"it is {len(text):,} characters long")
    from ..core.analysis import analyze
    from ..core.errors import StudioError
    from ..core.project import loads

    try:
        design = loads(text, "the stored design")
    except StudioError as e:
        return refuse(str(e))
    for key in DROPPED_META:
        design.meta.pop(key, None)
    a = analyze(design)
    if not a.ok:
        return refuse(f"it has problems: {a.errors[0]}")
    if tuple(a.input_shape or ()) != tuple(chw):
        return refuse(f"its input is {a.input_shape}, the file's is {tuple(chw)}")
    found = _weights_by_name(design, model, result.state)
    if isinstance(found, str):
        return refuse(found)
    net, state = found
    from .onnx_import import OnnxImport, OnnxImportError, verify_with_onnxruntime

    candidate = OnnxImport(design, state, result.path, [n for n in result.notes],
                           log_softmax_dropped=result.log_softmax_dropped)
    try:
        net.load_state_dict(state, strict=True, assign=True)
        diff = verify_with_onnxruntime(candidate, model, input_name, chw, batch, net)
    except OnnxImportError:
        return refuse("its outputs differ from the file's")
    except (StudioError, RuntimeError, ValueError) as e:
        return refuse(f"it does not compile with the file's weights: {' '.join(str(e).split())[:160]}")
    if diff is None or diff != diff:  # no onnxruntime, or it cannot run the file: nothing proves it
        return refuse("it could not be compared with onnxruntime")
    candidate.max_diff = diff
    candidate.notes.append("restored the CNN Studio design stored in the file (blocks, frozen layers, dropout, loss), "
                           f"checked against its operators: outputs within {diff:.2g}")
    return candidate


def _weights_by_name(design, model, flat_state: dict):
    """(the design compiled on the meta device, its state_dict) from what the operator import read
    (its keys are the module paths joined with '_': ``weights.torchvision_key``), else from the
    file's initialisers of the same name; same shapes; or why not (a string)."""
    from onnx import numpy_helper

    from .model import compile_model
    from .weights import torchvision_key

    try:
        with torch.device("meta"):
            net = compile_model(design)
    except Exception as e:  # noqa: BLE001 - a design the compiler refuses is simply not used
        return f"it does not compile: {' '.join(str(e).split())[:160]}"
    inits = {t.name: t for t in model.graph.initializer}
    state, missing = {}, []
    for key, ref in net.state_dict().items():
        if key.endswith("num_batches_tracked"):  # bookkeeping an inference file does not hold
            state[key] = torch.zeros((), dtype=torch.long)
            continue
        read = flat_state.get(torchvision_key(key))
        if read is not None and tuple(read.shape) == tuple(ref.shape):
            state[key] = read.detach().clone().to(ref.dtype)
            continue
        t = inits.get(key)
        if t is None or tuple(t.dims) != tuple(ref.shape):
            missing.append(key)
            continue
        state[key] = torch.from_numpy(numpy_helper.to_array(t).copy()).to(ref.dtype)
    if missing:
        return f"{len(missing)} of its weights are not in the file under their names ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
    return net, state
