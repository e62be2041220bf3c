"""Reading an ONNX file safely, for :mod:`onnx_import`.

The ``onnx`` package parses the protobuf (no hand-written reader). Nothing a file announces is
believed before it is checked: the file must be a self-contained model (weights stored in other
files are refused, so no path from the file is ever opened), every initialiser's announced size must
match the bytes it carries before numpy sees it, dimensions are bounded, and the node list must be
in an order where each node reads only what is already there (which also rules out cycles). Each
problem is one :class:`OnnxImportError` line naming it and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import StudioError

#: the largest file read (protobuf's own limit is 2 GiB)
MAX_FILE_BYTES = 2**31 - 1
#: the largest dimension and element count of one initialiser (a bigger claim is a corrupt file)
MAX_DIM = 2**31 - 1
MAX_ELEMENTS = 2**30

INSTALL = 'pip install onnx onnxruntime (or: pip install "cnn-studio[export]")'


class OnnxImportError(StudioError):
    """An ONNX file cannot be imported as it is; the message names why and what to do."""


def require_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise OnnxImportError(f"opening ONNX files needs the onnx package, which is not installed; install it with {INSTALL}") from None
    return onnx


def load_model(path: str | os.PathLike):
    """The parsed ``ModelProto`` of ``path``, checked to be a self-contained, readable model."""
    onnx = require_onnx()
    p = Path(path)
    name = p.name
    if not p.exists():
        raise OnnxImportError(f"'{p}' does not exist; check the path")
    if not p.is_file():
        raise OnnxImportError(f"'{p}' is not a file")
    size = p.stat().st_size
    if size == 0:
        raise OnnxImportError(f"'{name}' is empty, not an ONNX model")
    if size > MAX_FILE_BYTES:
        raise OnnxImportError(f"'{name}' is {size / 2**30:.1f} GiB; ONNX files larger than 2 GiB keep their weights in separate files, which CNN Studio does not read")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise OnnxImportError(f"cannot read '{name}': {e.strerror or e}") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # DecodeError, RuntimeError of a truncated message, ...
        raise OnnxImportError(f"'{name}' is not a readable ONNX model ({_short(e)}); it may be truncated or another kind of file") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise OnnxImportError(f"'{name}' holds no ONNX graph; it is not an ONNX model, or an empty one")
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    external += [n.name or n.op_type for n in model.graph.node for a in n.attribute
                 if a.type == onnx.AttributeProto.TENSOR and a.t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise OnnxImportError(
            f"'{name}' keeps weights in separate files ({', '.join(external[:4])}{' ...' if len(external) > 4 else ''}); CNN Studio reads "
            "self-contained ONNX files only and never follows paths a file names: save it with its weights inside "
            "(onnx.save(model, path, save_as_external_data=False))"
        )
    return model


def opset_of(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


def _short(e: BaseException, n: int = 160) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:n] + ("..." if len(text) > n else "")


def tensor_array(t, where: str) -> np.ndarray:
    """An initialiser or Constant tensor as a numpy array, its announced size checked first."""
    from onnx import TensorProto, numpy_helper

    dims = list(t.dims)
    if any(d < 0 or d > MAX_DIM for d in dims):
        raise OnnxImportError(f"{where}: dimensions {dims} are out of range; the file is corrupt")
    count = 1
    for d in dims:
        count *= d
    if count > MAX_ELEMENTS:
        raise OnnxImportError(f"{where}: {count:,} values ({'x'.join(map(str, dims))}) is more than CNN Studio reads in one tensor ({MAX_ELEMENTS:,})")
    sizes = {TensorProto.FLOAT: 4, TensorProto.DOUBLE: 8, TensorProto.FLOAT16: 2, TensorProto.BFLOAT16: 2,
             TensorProto.INT64: 8, TensorProto.INT32: 4, TensorProto.INT16: 2, TensorProto.INT8: 1,
             TensorProto.UINT8: 1, TensorProto.BOOL: 1}
    if t.data_type not in sizes:
        raise OnnxImportError(f"{where}: tensor type {TensorProto.DataType.Name(t.data_type) if t.data_type in TensorProto.DataType.values() else t.data_type} is not supported")
    if t.HasField("raw_data"):
        have = len(t.raw_data)
        if have != count * sizes[t.data_type]:
            raise OnnxImportError(f"{where}: announces {'x'.join(map(str, dims)) or 'a scalar'} but carries {have:,} bytes; the file is corrupt or truncated")
    else:
        fields = {TensorProto.FLOAT: "float_data", TensorProto.DOUBLE: "double_data", TensorProto.INT64: "int64_data"}
        field = fields.get(t.data_type, "int32_data")
        have = len(getattr(t, field))
        if t.data_type in (TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.INT16, TensorProto.INT8, TensorProto.UINT8, TensorProto.BOOL, TensorProto.INT32):
            field = "int32_data"
            have = len(t.int32_data)
        if have != count:
            raise OnnxImportError(f"{where}: announces {count:,} values but carries {have:,}; the file is corrupt or truncated")
    try:
        arr = numpy_helper.to_array(t)
    except Exception as e:
        raise OnnxImportError(f"{where}: cannot be read ({_short(e)})") from None
    if arr.dtype == np.float16 or str(arr.dtype) == "bfloat16":
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def attrs(node) -> dict[str, Any]:
    """A node's attributes as Python values (tensors as arrays, after the size check)."""
    from onnx import AttributeProto, helper

    out: dict[str, Any] = {}
    for a in node.attribute:
        where = f"node '{node.name or node.op_type}' attribute '{a.name}'"
        if a.type == AttributeProto.TENSOR:
            out[a.name] = tensor_array(a.t, where)
        elif a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
            out[a.name] = "<graph>"
        else:
            try:
                v = helper.get_attribute_value(a)
            except Exception as e:
                raise OnnxImportError(f"{where} cannot be read ({_short(e)})") from None
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, list):
                v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
            out[a.name] = v
    return out


def check_order(model, name: str) -> None:
    """Every node reads only graph inputs, initialisers or outputs of nodes before it (ONNX requires
    the node list to be sorted so); a node that reads something nobody makes is named, and a cycle
    shows up as a node that reads an output made later."""
    g = model.graph
    known = {i.name for i in g.input} | {t.name for t in g.initializer} | {""}
    made_by: dict[str, str] = {}
    for n in g.node:
        for o in n.output:
            if o:
                made_by.setdefault(o, n.name or n.op_type)
    for n in g.node:
        label = f"'{n.name}' ({n.op_type})" if n.name else f"a {n.op_type} node"
        for i in n.input:
            if i not in known:
                if i in made_by:
                    raise OnnxImportError(
                        f"{name}: node {label} reads '{i}', which {made_by[i]!r} makes only later: the nodes are not in order, "
                        "or they form a cycle; a network must flow one way (re-export it, or sort it with onnx's tools)"
                    )
                raise OnnxImportError(f"{name}: node {label} reads '{i}', which no node, graph input or initialiser provides; "
                                      "the file is incomplete (a missing weight?)")
        known.update(o for o in n.output if o)
    for o in g.output:
        if o.name not in known:
            raise OnnxImportError(f"{name}: the graph output '{o.name}' is made by no node; the file is incomplete")


def value_shape(vi) -> list[int | str | None] | None:
    """The dims of a ValueInfo: ints, symbolic names, or None when unknown; None for no tensor type."""
    t = vi.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims
