"""ONNX operators -> catalogue layers, for :mod:`onnx_import`.

:class:`Builder` walks the nodes of a checked ONNX graph in order. Each tensor name holds one of:
an :class:`Act` (a tensor the network computes: the node that makes it and its shape without the
batch axis), a numpy array (an initialiser or a folded constant), or a :class:`ShapeVal` (the
result of shape arithmetic, with the batch axis as the symbol :data:`BATCH`). A node whose inputs
are all constants is folded; otherwise its operator's handler adds layers. A handler that cannot
map a node raises :class:`Unsupported`; the node's outputs then become unknown and nodes that read
them are skipped (not blamed), so every unsupported operator is reported, once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.errors import LayerError
from ..core.graph import Graph, is_valid_id
from ..core.layers import get_spec
from .onnx_probe import PROBE_OPS, Probe, available, match_probe
from .onnx_read import OnnxImportError, tensor_array

BATCH = "N"  # the batch axis in shape arithmetic
_UNKNOWN = object()  # a value downstream of an unsupported node


class Unsupported(Exception):
    """This node has no CNN Studio layer; the message says which part (shown after the node)."""


@dataclass(frozen=True)
class Act:
    node: str  # the graph node that makes it
    shape: tuple[int, ...]  # without the batch axis


class ShapeVal(tuple):
    """A 1-D integer vector from shape arithmetic; items are ints or BATCH."""


_ID_CLEAN = re.compile(r"[^A-Za-z0-9_]")


def sanitize_id(text: str, prefix: str = "") -> str:
    """An ONNX name as a node id: dots, slashes and colons become _, other characters go."""
    s = _ID_CLEAN.sub("", re.sub(r"[./:\-]+", "_", text)).strip("_")
    if not s or s[0].isdigit():
        s = (prefix or "n") + "_" + s
    s = s[:60].rstrip("_") or "node"
    return s if is_valid_id(s) else "node"


def _module_path(scopes: list[str]) -> str:
    """The dotted module path of TorchScript-export scopes. A level is either a child's local name
    (``conv1``) or, below an nn.Sequential, the Sequential's level with the child's index added
    (``layer1`` -> ``layer1.0``; ``conv`` -> ``conv.0`` -> ``conv.0.2``): ``layer1.0.conv1``,
    ``features.1.conv.0.2`` for ``features/features.1/conv/conv.0/conv.0.2``."""
    names: list[str] = []
    prev = ""
    for part in scopes:
        names.append(part[len(prev) + 1:] if prev and part.startswith(prev + ".") else part)
        prev = part
    return ".".join(names)


#: the longest operator chain followed (every layer written as a chain is far shorter)
MAX_CHAIN = 48


class Builder:
    def __init__(self, graph: Graph, opset: int, batch: int | None):
        self.graph = graph
        self.opset = opset
        self.batch = batch  # the input's fixed batch size, if the file fixes one
        self.values: dict[str, Any] = {}
        self._inits: dict[str, Any] = {}  # initialiser protos, read when used
        self.state: dict[str, torch.Tensor] = {}
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.consumers: dict[str, int] = {}
        self.graph_output = ""
        self.log_softmax_dropped = False
        self._made_by: dict[str, Any] = {}  # graph node id -> the ONNX node it came from
        self._blamed: set[int] = set()
        self.pool_hints: dict[str, tuple[int, int]] = {}  # node id -> adaptive pooling's output size (our export)
        self.affine_open: dict[str, str] = {}  # a norm layer matched without affine: "scale", then "shift" to fold

    # ------------------------------------------------------------------ values
    def add_input(self, name: str, chw) -> None:
        self.graph.add_node("input", {"channels": chw[0], "height": chw[1], "width": chw[2]}, node_id="input")
        try:
            self._check_node("input", "input", [], None)
        except Unsupported as e:
            raise OnnxImportError(f"the input '{name}' ({'x'.join(map(str, chw))}) is not an image CNN Studio takes: {e}") from None
        self.values[name] = Act("input", tuple(chw))

    def add_initializer(self, t) -> None:
        self._inits[t.name] = t

    def value(self, name: str):
        if name == "":
            return None
        if name in self.values:
            return self.values[name]
        if name in self._inits:
            arr = tensor_array(self._inits.pop(name), f"initialiser '{name}'")
            self.values[name] = arr
            return arr
        raise OnnxImportError(f"'{name}' is read before it is made")  # check_order rules this out

    def unsupported(self, n, why: str) -> None:
        label = f"'{n.name}' ({n.op_type})" if n.name else f"a {n.op_type} node (unnamed)"
        self.problems.append(f"{label}: {why}" if why else label)
        for o in n.output:
            if o:
                self.values[o] = _UNKNOWN

    # ------------------------------------------------------------------ one node
    def node(self, n, at: dict) -> None:
        ins = [self.value(i) for i in n.input]
        if any(v is _UNKNOWN for v in ins):  # after an unsupported node: only its operator can be judged
            for o in n.output:
                if o:
                    self.values[o] = _UNKNOWN
            for v in ins:
                if isinstance(v, Probe):
                    self._blame(v.nodes)
            if not any(n.op_type in table for table in (_HANDLERS, _FOLD, PROBE_OPS, ("Constant", "Shape"))):
                raise Unsupported("no CNN Studio layer does this")
            return
        op = n.op_type
        if op == "Constant":
            self.values[n.output[0]] = _constant(at)
            return
        if self._probe_wanted(op, ins):
            self.probe(n, ins, at)
            return
        acts = [v for v in ins if isinstance(v, Act)]
        if not acts and op in _FOLD:
            out = _FOLD[op](self, ins, at)
            self.values[n.output[0]] = out
            return
        if op == "Shape" and acts:
            self.values[n.output[0]] = _shape_of(acts[0], at)
            return
        handler = _HANDLERS.get(op)
        if handler is None:
            raise Unsupported("no CNN Studio layer does this")
        extra = [o for o in n.output[1:] if o and self.consumers.get(o, 0)]
        if extra and op not in ("Dropout",):
            raise Unsupported(f"its extra output{'s' if len(extra) > 1 else ''} {', '.join(extra)} {'are' if len(extra) > 1 else 'is'} used")
        handler(self, n, ins, at)

    def _probe_wanted(self, op: str, ins) -> bool:
        """A chain goes on through operators it can evaluate; it starts at an operator with no layer
        of its own applied to one network tensor (and constants), or at Mul/Add of a constant."""
        probes = [v for v in ins if isinstance(v, Probe)]
        acts = [v for v in ins if isinstance(v, Act)]
        if probes:
            return True
        if len(acts) != 1 or op not in PROBE_OPS:
            return False
        if op in ("Mul", "Add"):
            if op == "Add" and self._is_bias_add(acts[0], ins):
                return False
            if self.affine_open.get(acts[0].node) == ("scale" if op == "Mul" else "shift"):
                return False
            return len(ins) == 2 and not isinstance(ins[0 if isinstance(ins[1], Act) else 1], Act)
        return op not in _HANDLERS

    def _is_bias_add(self, x: Act, ins) -> bool:
        typ, cfg = self.producer(x)
        return typ in ("linear", "conv2d") and not cfg.get("bias")

    def probe(self, n, ins, at) -> None:
        """Extend a Probe chain by this node, then see whether it now equals a layer. A chain that
        meets an operator it cannot evaluate is reported node by node (not that operator)."""
        probes = [v for v in ins if isinstance(v, Probe)]
        src = probes[0].src if probes else next(v for v in ins if isinstance(v, Act))
        nodes: list = []
        for v in probes:
            nodes += [m for m in v.nodes if m not in nodes]
        same_src = all(v.src == src for v in probes) and all(v == src for v in ins if isinstance(v, Act))
        if n.op_type not in PROBE_OPS or not same_src or len(nodes) >= MAX_CHAIN:
            self._blame(nodes)
            for o in n.output:
                if o:
                    self.values[o] = _UNKNOWN
            return
        parts = []
        for v in ins:
            if isinstance(v, Probe):
                parts.append(v.fn)
            elif isinstance(v, Act):
                parts.append(lambda x: x)
            elif v is None:
                parts.append(None)
            elif isinstance(v, ShapeVal) and BATCH in v:  # a shape with the batch axis: the batch evaluated
                parts.append(lambda x, v=v: np.array([x.shape[0] if d == BATCH else d for d in v], dtype=np.int64))
            else:
                c = np.asarray(self.const(v, "parameter"))
                parts.append(lambda x, c=c: c)
        step = PROBE_OPS[n.op_type]

        def fn(x, parts=parts, step=step, at=at):
            return step([None if p is None else p(x) for p in parts], at)

        p = Probe(src, fn, nodes + [n])
        self.values[n.output[0]] = p
        match = match_probe(p)
        if match is not None:
            type_id, cfg = match
            out = self.layer(p.nodes[0], type_id, cfg, [src], out_name=n.output[0])
            self.values[n.output[0]] = out
            if cfg.get("affine") is False and self.sole_use(n.output[0]):
                self.affine_open[out.node] = "scale"  # the Mul and Add after it are its weight and bias

    def unresolved(self, output: str) -> None:
        """A chain that ends the graph unmatched: report its nodes."""
        v = self.values.get(output)
        if isinstance(v, Probe):
            self._blame(v.nodes)

    def _blame(self, nodes) -> None:
        for m in nodes:
            if id(m) not in self._blamed:
                self._blamed.add(id(m))
                self.unsupported(m, "no CNN Studio layer does this (nor together with the operators next to it)")

    def alias(self, n, value) -> None:
        self.values[n.output[0]] = value

    def act(self, v, what: str = "input") -> Act:
        if isinstance(v, Probe):
            chain = ", ".join(f"'{m.name or m.op_type}' ({m.op_type})" for m in v.nodes)
            raise Unsupported(f"its {what} comes from {chain}, which compute something no CNN Studio layer does")
        if not isinstance(v, Act):
            raise Unsupported(f"its {what} is a constant, not a tensor the network computes")
        return v

    def const(self, v, what: str) -> np.ndarray:
        if isinstance(v, Act):
            raise Unsupported(f"its {what} is computed by the network; CNN Studio layers need it fixed in the file")
        if isinstance(v, ShapeVal):
            if BATCH in v:
                raise Unsupported(f"its {what} depends on the batch size")
            return np.array(list(v), dtype=np.int64)
        if v is None:
            raise Unsupported(f"its {what} is missing")
        return v

    # ------------------------------------------------------------------ layers
    def layer(self, n, type_id: str, config: dict, inputs: list[Act], weights: dict[str, np.ndarray] | None = None,
              weight_name: str | None = None, suffix: str = "", out_name: str | None = None) -> Act:
        """Add a node of ``type_id`` fed by ``inputs``; its shape comes from the spec (as the
        analysis computes it), the weights become ``<id>.<key>`` entries of the state_dict."""
        if not available(type_id):
            raise Unsupported(f"needs the '{type_id}' layer, which this CNN Studio lacks")
        node_id = self._unique(self._pick_id(n, weight_name)[: 64 - len(suffix)] + suffix)
        self.graph.add_node(type_id, config, node_id=node_id)
        for port, a in enumerate(inputs):
            self.graph.connect(a.node, node_id, 0, port)
        try:
            shape = self._check_node(node_id, type_id, [a.shape for a in inputs], n)
        except Unsupported:
            self.graph.remove_node(node_id)
            raise
        for key, arr in (weights or {}).items():
            self.state[f"{node_id}.{key}"] = _tensor(arr, key)
        self._made_by[node_id] = n
        out = Act(node_id, shape)
        if n is not None:
            self.values[out_name or n.output[0]] = out
        return out

    def _check_node(self, node_id: str, type_id: str, shapes: list, n) -> tuple:
        spec = get_spec(type_id)
        cfg, errors = spec.check_config(self.graph.nodes[node_id].config)
        if errors:
            raise Unsupported(f"{spec.title} cannot take it: {errors[0].field}: {errors[0]}")
        try:
            inf = spec.infer(cfg, shapes)
        except LayerError as e:
            raise Unsupported(f"as a {spec.title} layer: {e}") from None
        return tuple(inf.shape)

    def producer(self, a: Act) -> tuple[str, dict]:
        node = self.graph.nodes[a.node]
        return node.type, node.config

    def sole_use(self, name: str) -> bool:
        return self.consumers.get(name, 0) == 1

    def _pick_id(self, n, weight_name: str | None) -> str:
        """The exporter's name of the module: a weight ``features_0.weight`` -> ``features_0``; a
        node ``/layer1/layer1.0/conv1/Conv`` -> ``layer1_0_conv1``; the dynamo exporter's
        namespace; else the op type."""
        if weight_name and "::" not in weight_name and "." in weight_name:
            return sanitize_id(weight_name.rsplit(".", 1)[0], n.op_type.lower() if n is not None else "")
        if n is None:
            return "node"
        name = n.name or ""
        if name.startswith("/"):
            parts = [p for p in name.split("/") if p][:-1]  # module scopes, then the op
            if parts:
                return sanitize_id(_module_path(parts), n.op_type.lower())
        for prop in n.metadata_props:
            if prop.key == "namespace":
                mods = [seg.split(":", 1)[0].strip() for seg in prop.value.split("/")]
                kinds = [seg.split(":", 1)[1].strip() if ":" in seg else "" for seg in prop.value.split("/")]
                named = [m for m, k in zip(mods, kinds) if m and not k.startswith("aten.")]
                if named:
                    return sanitize_id(named[-1], n.op_type.lower())
        return sanitize_id(n.op_type.lower())

    def _unique(self, base: str) -> str:
        if base not in self.graph.nodes:
            return base
        i = 1
        while f"{base[:58]}_{i}" in self.graph.nodes:
            i += 1
        return f"{base[:58]}_{i}"

    # ------------------------------------------------------------------ the end
    def finish(self, output: str, label: str) -> None:
        v = self.values.get(output)
        if not isinstance(v, Act):
            raise OnnxImportError(f"{label}: the output '{output}' is a constant, not computed from the input")
        if v.node == "input":
            raise OnnxImportError(f"{label}: the output is the input itself; the model has no layers")
        loss = "cross_entropy" if len(v.shape) == 1 and v.shape[0] >= 2 else "mse"
        self.graph.add_node(loss, {}, node_id=self._unique("loss"))
        lid = [k for k in self.graph.nodes if self.graph.nodes[k].type == loss][-1]
        self.graph.connect(v.node, lid)
        if loss == "mse":
            self.notes.append(f"the output is {'x'.join(map(str, v.shape))}, not class scores: a Mean squared error loss was attached")


def _tensor(arr: np.ndarray, key: str) -> torch.Tensor:
    if key == "num_batches_tracked":
        return torch.tensor(int(arr), dtype=torch.long)
    return torch.from_numpy(np.array(arr, dtype=np.float32, order="C", copy=True))  # own, writable memory


# ============================================================================================
# Constants and shape arithmetic
# ============================================================================================
def _constant(at: dict):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in at:
            v = at[key]
            if isinstance(v, np.ndarray):
                return v
            return np.array(v, dtype=np.float32 if "float" in key else np.int64)
    raise Unsupported("a constant of a kind CNN Studio does not read (sparse or string)")


def _shape_of(a: Act, at: dict) -> ShapeVal:
    full = [BATCH, *a.shape]
    start, end = at.get("start", 0), at.get("end", len(full))
    return ShapeVal(full[slice(start, end)])


def _vec(v) -> list:
    if isinstance(v, ShapeVal):
        return list(v)
    arr = np.asarray(v)
    return [int(x) for x in arr.reshape(-1)]


def _is_shapey(ins) -> bool:
    return any(isinstance(v, ShapeVal) for v in ins)


def _axes(b: Builder, ins, at) -> list[int]:
    if "axes" in at:
        return [int(x) for x in at["axes"]]
    if len(ins) > 1 and ins[1] is not None:
        return _vec(ins[1])
    return []


def _f_identity(b, ins, at):
    return ins[0]


def _f_cast(b, ins, at):
    v = ins[0]
    if isinstance(v, ShapeVal):
        return v
    to = at.get("to", 1)
    dt = {1: np.float32, 6: np.int32, 7: np.int64, 11: np.float64, 9: np.bool_, 10: np.float16}.get(to)
    if dt is None:
        raise Unsupported(f"a Cast to ONNX type {to}")
    return np.asarray(v).astype(dt)


def _f_gather(b, ins, at):
    data, idx = ins[0], ins[1]
    axis = at.get("axis", 0)
    if isinstance(data, ShapeVal):
        if axis != 0:
            raise Unsupported("a Gather on shape values along an axis other than 0")
        items = list(data)
        ix = np.asarray(idx)
        picked = [items[int(i)] for i in ix.reshape(-1)]
        return ShapeVal(picked) if ix.ndim else (picked[0] if picked[0] == BATCH else np.array(picked[0], dtype=np.int64))
    return np.take(np.asarray(data), np.asarray(idx).astype(np.int64), axis=axis)


def _f_unsqueeze(b, ins, at):
    v = ins[0]
    if isinstance(v, str) or isinstance(v, ShapeVal):
        if isinstance(v, str):  # the batch symbol as a scalar -> a 1-vector
            return ShapeVal([v])
        return v
    arr = np.asarray(v)
    for ax in sorted(_axes(b, ins, at)):
        arr = np.expand_dims(arr, ax if ax >= 0 else ax + arr.ndim + 1)
    return arr


def _f_squeeze(b, ins, at):
    v = ins[0]
    if isinstance(v, ShapeVal):
        if len(v) == 1:
            return v[0] if v[0] == BATCH else np.array(v[0], dtype=np.int64)
        return v
    arr = np.asarray(v)
    axes = _axes(b, ins, at)
    return np.squeeze(arr, axis=tuple(axes)) if axes else np.squeeze(arr)


def _f_concat(b, ins, at):
    if _is_shapey(ins) or any(isinstance(v, str) for v in ins):
        out: list = []
        for v in ins:
            out.extend([v] if isinstance(v, str) else _vec(v))
        return ShapeVal(out)
    return np.concatenate([np.asarray(v) for v in ins], axis=at.get("axis", 0))


def _f_slice(b, ins, at):
    v = ins[0]
    if "starts" in at:
        starts, ends, axes, steps = at["starts"], at["ends"], at.get("axes"), None
    else:
        starts, ends = _vec(ins[1]), _vec(ins[2])
        axes = _vec(ins[3]) if len(ins) > 3 and ins[3] is not None else None
        steps = _vec(ins[4]) if len(ins) > 4 and ins[4] is not None else None
    if isinstance(v, ShapeVal):
        if (axes and list(axes) != [0]) or len(starts) != 1:
            raise Unsupported("a Slice of shape values along an axis other than 0")
        step = steps[0] if steps else 1
        return ShapeVal(list(v)[slice(_clip(starts[0]), _clip(ends[0]), step)])
    arr = np.asarray(v)
    axes = list(axes) if axes is not None else list(range(len(starts)))
    sl = [slice(None)] * arr.ndim
    for i, ax in enumerate(axes):
        sl[ax] = slice(_clip(starts[i]), _clip(ends[i]), steps[i] if steps else 1)
    return arr[tuple(sl)]


def _clip(v: int) -> int | None:
    return None if abs(v) >= 2**62 else int(v)


def _arith(fn):
    def f(b, ins, at):
        if _is_shapey(ins) or any(isinstance(v, str) for v in ins):
            a, c = ins
            av = _vec(a) if not isinstance(a, str) else [a]
            cv = _vec(c) if not isinstance(c, str) else [c]
            if BATCH in av or BATCH in cv:
                raise Unsupported("arithmetic on the batch size")
            return ShapeVal(int(x) for x in fn(np.array(av), np.array(cv)))
        return fn(np.asarray(ins[0]), np.asarray(ins[1]))

    return f


def _f_expand(b, ins, at):
    data, shape = np.asarray(ins[0]), [int(v) for v in _vec(b.const(ins[1], "shape"))]
    out = np.broadcast_shapes(data.shape, tuple(shape))
    if int(np.prod(out)) > 2**26:
        raise Unsupported(f"expanding a constant to {list(out)}")
    return np.broadcast_to(data, out).copy()


def _f_castlike(b, ins, at):
    return np.asarray(ins[0]).astype(np.asarray(ins[1]).dtype)


def _f_constant_of_shape(b, ins, at):
    shape = [int(v) for v in _vec(b.const(ins[0], "shape"))]
    if any(d < 0 for d in shape) or int(np.prod(shape)) > 2**26:
        raise Unsupported(f"a constant of shape {shape}")
    value = at.get("value")
    fill = np.asarray(value).reshape(-1)[0] if value is not None else np.float32(0)
    return np.full(shape, fill, dtype=np.asarray(fill).dtype)


def _f_transpose(b, ins, at):
    perm = at.get("perm")
    return np.transpose(np.asarray(ins[0]), perm) if perm is not None else np.transpose(np.asarray(ins[0]))


def _f_shape(b, ins, at):
    v = ins[0]
    full = [len(v)] if isinstance(v, ShapeVal) else list(np.asarray(v).shape)
    return np.array(full[slice(at.get("start", 0), at.get("end", len(full)))], dtype=np.int64)


def _f_reshape(b, ins, at):
    data = np.asarray(b.const(ins[0], "data"))
    shape = [int(x) for x in b.const(ins[1], "shape")]
    shape = [data.shape[i] if s == 0 and not at.get("allowzero", 0) else s for i, s in enumerate(shape)]
    return data.reshape(shape)


_FOLD = {
    "Identity": _f_identity, "Cast": _f_cast, "Gather": _f_gather, "Unsqueeze": _f_unsqueeze, "Squeeze": _f_squeeze,
    "Concat": _f_concat, "Slice": _f_slice, "Add": _arith(np.add), "Sub": _arith(np.subtract), "Mul": _arith(np.multiply),
    "Div": _arith(lambda a, c: a // c if a.dtype.kind in "iu" and c.dtype.kind in "iu" else a / c), "Reshape": _f_reshape, "Shape": _f_shape,
    "Expand": _f_expand, "CastLike": _f_castlike, "ConstantOfShape": _f_constant_of_shape, "Transpose": _f_transpose,
}

from .onnx_handlers import HANDLERS as _HANDLERS  # noqa: E402  (the handlers use the helpers above)
