"""One handler per ONNX operator that becomes catalogue layers (see :mod:`onnx_ops`).

A handler gets the builder, the ONNX node, its input values and its attributes; it adds layers with
``b.layer(...)`` (which checks them against the spec, as the analysis does) or makes its output an
alias of an input, and raises :class:`Unsupported` naming what it cannot map. Layers of newer
catalogue entries (``conv_transpose2d``, ``upsample``, ``zeropad2d`` ...) are used when
``has_spec`` finds them at import time; before that the operator is reported as unsupported.
"""
from __future__ import annotations

import math

import numpy as np

from .onnx_ops import BATCH, Act, Builder, ShapeVal, Unsupported, _vec
from .onnx_probe import available as has_spec
from .onnx_probe import f32

HANDLERS: dict = {}


def handles(*ops: str):
    def deco(fn):
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return deco


def _pair_or_int(v):
    v = [int(x) for x in v]
    return v[0] if v[0] == v[1] else v


def _need_map(a: Act, what: str) -> None:
    if len(a.shape) != 3:
        raise Unsupported(f"{what} on a tensor of {len(a.shape) + 1} axes; CNN Studio's layer takes batch x channels x height x width")


def _pads_2d(at: dict, kernel_eff, strides, in_hw, what: str):
    """(symmetric [h, w] padding, or None, and the (top, left, bottom, right) pads) of a Conv/Pool."""
    auto = at.get("auto_pad", "NOTSET") or "NOTSET"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s in zip(in_hw, kernel_eff, strides):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            small = total // 2
            pads.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        t, l, bt, r = pads[0][0], pads[1][0], pads[0][1], pads[1][1]
    elif auto == "VALID":
        t = l = bt = r = 0
    else:
        p = [int(x) for x in at.get("pads", [0, 0, 0, 0])]
        if len(p) != 4:
            raise Unsupported(f"{what} pads {p}: only 2-D (4 pads) is supported")
        t, l, bt, r = p
    if min(t, l, bt, r) < 0:
        raise Unsupported(f"negative pads {[t, l, bt, r]}")
    return ([t, l] if (t, l) == (bt, r) else None), (t, l, bt, r)


def _zero_pad(b: Builder, n, x: Act, pads) -> Act:
    """A Zero padding layer in front of a Conv whose padding differs between the sides."""
    t, l, bt, r = pads
    if not has_spec("zeropad2d"):
        raise Unsupported(f"padding differs between the sides (top/left {t}/{l}, bottom/right {bt}/{r})")
    return b.layer(n, "zeropad2d", {"left": l, "right": r, "top": t, "bottom": bt}, [x], suffix="_pad")


# ------------------------------------------------------------------ convolution
@handles("Conv")
def _conv(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, "a convolution")
    w = b.const(ins[1] if len(ins) > 1 else None, "weight")
    bias = b.const(ins[2], "bias") if len(ins) > 2 and ins[2] is not None else None
    if w.ndim != 4:
        raise Unsupported(f"a {w.ndim - 2}-D convolution; CNN Studio convolutions are 2-D")
    groups = int(at.get("group", 1))
    out_c, per_group, kh, kw = w.shape
    if per_group * groups != x.shape[0]:
        raise Unsupported(f"its weight {list(w.shape)} with {groups} group(s) does not fit {x.shape[0]} input channels")
    strides = [int(s) for s in at.get("strides", [1, 1])]
    dil = [int(d) for d in at.get("dilations", [1, 1])]
    k_eff = (dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1)
    sym, pads = _pads_2d(at, k_eff, strides, x.shape[1:], "Conv")
    if sym is None:
        x = _zero_pad(b, n, x, pads)
        sym = [0, 0]
    cfg = {"out_channels": int(out_c), "kernel_size": _pair_or_int([kh, kw]), "stride": _pair_or_int(strides),
           "padding": _pair_or_int(sym), "dilation": _pair_or_int(dil), "groups": groups, "bias": bias is not None}
    weights = {"weight": w}
    if bias is not None:
        if bias.shape != (out_c,):
            raise Unsupported(f"bias of shape {list(bias.shape)} for {out_c} filters")
        weights["bias"] = bias
    b.layer(n, "conv2d", cfg, [x], weights, _init_name(n, 1))


@handles("ConvTranspose")
def _conv_t(b: Builder, n, ins, at):
    if not has_spec("conv_transpose2d"):
        raise Unsupported("needs a transposed convolution layer")
    x = b.act(ins[0])
    _need_map(x, "a transposed convolution")
    w = b.const(ins[1], "weight")
    bias = b.const(ins[2], "bias") if len(ins) > 2 and ins[2] is not None else None
    if w.ndim != 4:
        raise Unsupported("a transposed convolution that is not 2-D")
    groups = int(at.get("group", 1))
    in_c, per_group, kh, kw = w.shape
    if in_c != x.shape[0]:
        raise Unsupported(f"its weight {list(w.shape)} does not fit {x.shape[0]} input channels")
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", "", None) or "output_shape" in at:
        raise Unsupported("auto_pad or output_shape on a transposed convolution (give pads and output_padding)")
    p = [int(v) for v in at.get("pads", [0, 0, 0, 0])]
    if len(p) != 4 or (p[0], p[1]) != (p[2], p[3]):
        raise Unsupported(f"pads {p} that differ between the sides")
    cfg = {"out_channels": int(per_group * groups), "kernel_size": _pair_or_int([kh, kw]),
           "stride": _pair_or_int(at.get("strides", [1, 1])), "padding": _pair_or_int(p[:2]),
           "output_padding": _pair_or_int(at.get("output_padding", [0, 0])), "dilation": _pair_or_int(at.get("dilations", [1, 1])),
           "groups": groups, "bias": bias is not None}
    weights = {"weight": w}
    if bias is not None:
        weights["bias"] = bias
    b.layer(n, "conv_transpose2d", cfg, [x], weights, _init_name(n, 1))


def _init_name(n, i: int) -> str | None:
    return n.input[i] if len(n.input) > i else None


# ------------------------------------------------------------------ fully connected
def _flat(a: Act, what: str) -> int:
    if len(a.shape) != 1:
        raise Unsupported(f"{what} on a tensor of shape {'x'.join(map(str, a.shape))} (add the Flatten before it)")
    return a.shape[0]


@handles("Gemm")
def _gemm(b: Builder, n, ins, at):
    x = b.act(ins[0])
    f_in = _flat(x, "a Gemm")
    w = b.const(ins[1], "weight")
    if at.get("transA", 0):
        raise Unsupported("transA=1 (the input transposed)")
    if w.ndim != 2:
        raise Unsupported(f"weight of {w.ndim} axes")
    if not at.get("transB", 0):
        w = w.T
    if w.shape[1] != f_in:
        raise Unsupported(f"weight {list(w.shape)} does not fit {f_in} input features")
    if at.get("alpha", 1.0) != 1.0:
        w = w * float(at.get("alpha", 1.0))
    weights = {"weight": w}
    if len(ins) > 2 and ins[2] is not None:
        c = b.const(ins[2], "bias").astype(np.float32) * float(at.get("beta", 1.0))
        weights["bias"] = _bias_vector(c, w.shape[0])
    cfg = {"out_features": int(w.shape[0]), "bias": "bias" in weights}
    b.layer(n, "linear", cfg, [x], weights, _init_name(n, 1))


def _bias_vector(c: np.ndarray, out: int) -> np.ndarray:
    if c.size == 1:
        return np.full((out,), float(c.reshape(-1)[0]), dtype=np.float32)
    if c.size == out and c.shape[-1] == out:
        return c.reshape(out)
    raise Unsupported(f"bias of shape {list(c.shape)} for {out} outputs")


@handles("MatMul")
def _matmul(b: Builder, n, ins, at):
    x = b.act(ins[0], "first input")
    f_in = _flat(x, "a MatMul")
    w = b.const(ins[1], "second input")
    if w.ndim != 2 or w.shape[0] != f_in:
        raise Unsupported(f"a MatMul with {list(w.shape)} on {f_in} features (only vector x matrix)")
    b.layer(n, "linear", {"out_features": int(w.shape[1]), "bias": False}, [x], {"weight": w.T}, _init_name(n, 1))


# ------------------------------------------------------------------ merge
@handles("Add")
def _add(b: Builder, n, ins, at):
    a, c = ins
    if isinstance(a, Act) and isinstance(c, Act):
        b.layer(n, "add", {"inputs": 2}, [a, c])
        return
    x, k = (a, c) if isinstance(a, Act) else (c, a)
    k = b.const(k, "second input")
    typ, cfg = b.producer(x)
    # MatMul + Add and Conv + Add of a per-feature constant: the bias of that layer
    if typ in ("linear", "conv2d") and not cfg.get("bias") and b.sole_use(_out_name(b, x)):
        out = x.shape[0]
        want = (out,) if typ == "linear" else (out, 1, 1)
        if k.size == out and tuple(k.shape[-len(want):]) == want and all(d == 1 for d in k.shape[:-len(want)]):
            b.graph.set_param(x.node, "bias", True)
            b.state[f"{x.node}.bias"] = _tensor_f(k.reshape(out))
            b.alias(n, x)
            return
    if b.affine_open.get(x.node) == "shift" and _fold_affine(b, x, k, "bias"):
        b.alias(n, x)
        return
    raise Unsupported("adding a constant (only a bias right after a MatMul or Conv is supported)")


def _fold_affine(b: Builder, x: Act, k: np.ndarray, key: str) -> bool:
    """The Mul (weight) and Add (bias) of per-channel constants after a norm layer matched without
    them become its affine parameters."""
    c = x.shape[0]
    if k.size != c or any(d != 1 for d in k.shape[:-3]) or tuple(k.shape[-3:]) not in ((c, 1, 1),):
        return False
    if key == "weight":
        b.graph.set_param(x.node, "affine", True)
        b.state[f"{x.node}.weight"] = _tensor_f(k.reshape(c))
        b.state[f"{x.node}.bias"] = _tensor_f(np.zeros(c, np.float32))
        b.affine_open[x.node] = "shift"
    else:
        if not b.sole_use(_out_name(b, x)):  # the scaled values are read elsewhere too: not a bias
            return False
        b.state[f"{x.node}.bias"] = _tensor_f(k.reshape(c))
        b.affine_open[x.node] = "done"
    return True


def _tensor_f(arr):
    import torch

    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32).copy())


def _out_name(b: Builder, a: Act) -> str:
    made = b._made_by.get(a.node)
    return made.output[0] if made is not None else ""


@handles("Sum")
def _sum(b: Builder, n, ins, at):
    acts = [b.act(v) for v in ins]
    if len(acts) == 1:
        b.alias(n, acts[0])
        return
    if len(acts) > 16:
        raise Unsupported("more than 16 inputs")
    b.layer(n, "add", {"inputs": len(acts)}, acts)


@handles("Concat")
def _concat(b: Builder, n, ins, at):
    acts = [b.act(v) for v in ins]
    rank = len(acts[0].shape) + 1
    axis = int(at.get("axis", 1))
    if axis < 0:
        axis += rank
    if axis != 1:
        raise Unsupported(f"concatenation along axis {at.get('axis')} (CNN Studio concatenates channels, axis 1)")
    if len(acts) == 1:
        b.alias(n, acts[0])
        return
    if len(acts) > 16:
        raise Unsupported("more than 16 inputs")
    b.layer(n, "concat", {"inputs": len(acts)}, acts)


@handles("Mul")
def _mul(b: Builder, n, ins, at):
    a, c = ins
    if not (isinstance(a, Act) and isinstance(c, Act)):
        x, k = (a, c) if isinstance(a, Act) else (c, a)
        if isinstance(x, Act) and b.affine_open.get(x.node) == "scale" and _fold_affine(b, x, b.const(k, "factor"), "weight"):
            b._made_by[x.node] = n  # its output is now this node's
            b.alias(n, x)
            return
        raise Unsupported("multiplying by a constant")
    # x * sigmoid(x) is SiLU (the TorchScript exporter writes it so)
    for x, s in ((a, c), (c, a)):
        made = b._made_by.get(s.node)
        if made is not None and b.graph.nodes[s.node].type == "sigmoid" and b.graph.in_edges(s.node)[0].src == x.node \
                and b.sole_use(made.output[0]):
            b.graph.remove_node(s.node)
            b.layer(n, "silu", {}, [x])
            return
    if not has_spec("multiply"):
        raise Unsupported("needs a Multiply layer")
    b.layer(n, "multiply", {"inputs": 2}, [a, c])


# ------------------------------------------------------------------ activations
def _simple(op: str, type_id: str, cfg_of=lambda at: {}):
    @handles(op)
    def h(b: Builder, n, ins, at):
        b.layer(n, type_id, cfg_of(at), [b.act(ins[0])])

    return h


_simple("Relu", "relu")
_simple("Sigmoid", "sigmoid")
_simple("Tanh", "tanh")
_simple("LeakyRelu", "leaky_relu", lambda at: {"negative_slope": f32(at.get("alpha", 0.01))})
_simple("Elu", "elu", lambda at: {"alpha": f32(at.get("alpha", 1.0))})
_simple("Gelu", "gelu", lambda at: {"approximate": at.get("approximate", "none")})
_simple("HardSwish", "hardswish")


@handles("Clip")
def _clip(b: Builder, n, ins, at):
    x = b.act(ins[0])
    lo = at.get("min")
    hi = at.get("max")
    if len(ins) > 1 and ins[1] is not None:
        lo = float(np.asarray(b.const(ins[1], "min")).reshape(-1)[0])
    if len(ins) > 2 and ins[2] is not None:
        hi = float(np.asarray(b.const(ins[2], "max")).reshape(-1)[0])
    if lo == 0 and hi == 6 and has_spec("relu6"):
        b.layer(n, "relu6", {}, [x])
    elif lo == 0 and (hi is None or hi == math.inf or hi >= 3.4e38):
        b.layer(n, "relu", {}, [x])
    else:
        raise Unsupported(f"a Clip to [{lo}, {hi}] (ReLU is [0, inf]{', ReLU6 [0, 6]' if has_spec('relu6') else ''})")


def _softmax_axis(b: Builder, x: Act, at: dict, op: str) -> None:
    rank = len(x.shape) + 1
    default = -1 if b.opset >= 13 else 1
    axis = int(at.get("axis", default))
    if axis < 0:
        axis += rank
    if axis != 1:
        raise Unsupported(f"{op} over axis {at.get('axis', default)}; CNN Studio's softmax is over the channels/features (axis 1)")
    if b.opset < 13 and rank > 2:
        raise Unsupported(f"{op} of opset {b.opset} flattens the axes after 1; re-export at opset 13 or newer")


@handles("Softmax")
def _softmax(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _softmax_axis(b, x, at, "Softmax")
    b.layer(n, "softmax", {}, [x])


@handles("LogSoftmax")
def _log_softmax(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _softmax_axis(b, x, at, "LogSoftmax")
    if n.output[0] != b.graph_output or len(x.shape) != 1:
        raise Unsupported("LogSoftmax inside the network (only a final one before the loss can be left to Cross-entropy)")
    b.log_softmax_dropped = True
    b.notes.append("the final LogSoftmax is left out: the Cross-entropy loss applies it itself, and the class ranking is the same")
    b.alias(n, x)


# ------------------------------------------------------------------ pooling
@handles("MaxPool", "AveragePool")
def _pool(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, "pooling")
    k = [int(v) for v in at.get("kernel_shape", [])]
    if len(k) != 2:
        raise Unsupported(f"kernel {k}: only 2-D pooling")
    if any(int(d) != 1 for d in at.get("dilations", [1, 1])):
        raise Unsupported("dilated pooling")
    strides = [int(s) for s in at.get("strides", [1, 1])]
    sym, pads = _pads_2d(at, k, strides, x.shape[1:], n.op_type)
    if sym is None:
        raise Unsupported(f"padding that differs between the sides ({list(pads)})")
    avg = n.op_type == "AveragePool"
    if avg and any(sym) and not at.get("count_include_pad", 0):
        raise Unsupported("average pooling that leaves the zero padding out of the average (count_include_pad=0)")
    hint = b.pool_hints.get(b._pick_id(n, None))
    if hint is not None and not any(sym) and strides == k and all(x.shape[1 + i] == hint[i] * k[i] for i in (0, 1)):
        # CNN Studio's own export of an adaptive pooling whose output divides the map: that layer again
        b.layer(n, "adaptive_avgpool2d" if avg else "adaptive_maxpool2d", {"output_size": _pair_or_int(hint)}, [x])
        return
    cfg = {"kernel_size": _pair_or_int(k), "stride": _pair_or_int(strides), "padding": _pair_or_int(sym),
           "ceil_mode": bool(at.get("ceil_mode", 0))}
    b.layer(n, "avgpool2d" if avg else "maxpool2d", cfg, [x])


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, n.op_type)
    b.layer(n, "adaptive_avgpool2d" if n.op_type == "GlobalAveragePool" else "adaptive_maxpool2d", {"output_size": 1}, [x])


def _module_class(n) -> str:
    """The torch module class a node was exported from, where the dynamo exporter recorded it (its
    ``namespace`` metadata ends ``.../name: torch.nn.modules.pooling.AdaptiveAvgPool2d/op: aten...``);
    '' otherwise."""
    for prop in n.metadata_props:
        if prop.key == "namespace":
            kinds = [seg.split(":", 1)[1].strip() for seg in prop.value.split("/") if ":" in seg]
            mods = [k for k in kinds if k and not k.startswith("aten.")]
            return mods[-1].rsplit(".", 1)[-1] if mods else ""
    return ""


@handles("ReduceMean", "ReduceMax")
def _reduce(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, n.op_type)
    axes = [int(a) for a in at["axes"]] if "axes" in at else (_vec(b.const(ins[1], "axes")) if len(ins) > 1 and ins[1] is not None else [])
    axes = sorted(a + 4 if a < 0 else a for a in axes)
    if axes != [2, 3]:
        raise Unsupported(f"a reduction over axes {axes} (only over height and width, axes 2 and 3)")
    keep = bool(at.get("keepdims", 1))
    mean = n.op_type == "ReduceMean"
    if keep and _module_class(n) == ("AdaptiveAvgPool2d" if mean else "AdaptiveMaxPool2d"):
        # the dynamo exporter writes adaptive pooling to 1x1 as this reduction; its node names the module
        b.layer(n, "adaptive_avgpool2d" if mean else "adaptive_maxpool2d", {"output_size": 1}, [x])
        return
    if mean and has_spec("mean_hw"):
        b.layer(n, "mean_hw", {"keepdim": keep}, [x])
        return
    pooled = b.layer(n, "adaptive_avgpool2d" if mean else "adaptive_maxpool2d", {"output_size": 1}, [x])
    if not keep:
        b.layer(n, "flatten", {}, [pooled])


# ------------------------------------------------------------------ normalisation, dropout
@handles("BatchNormalization")
def _bn(b: Builder, n, ins, at):
    x = b.act(ins[0])
    if at.get("training_mode", 0):
        raise Unsupported("batch norm in training mode (export the model in eval mode)")
    scale, bias, mean, var = (b.const(v, w).astype(np.float32) for v, w in zip(ins[1:5], ("scale", "bias", "mean", "variance")))
    c = x.shape[0]
    if any(t.shape != (c,) for t in (scale, bias, mean, var)):
        raise Unsupported(f"statistics whose shapes do not match {c} channels")
    kind = "batchnorm2d" if len(x.shape) == 3 else "batchnorm1d" if len(x.shape) == 1 else None
    if kind is None:
        raise Unsupported(f"batch norm on a tensor of {len(x.shape) + 1} axes")
    momentum = 1.0 - f32(at.get("momentum", 0.9))
    cfg = {"eps": f32(at.get("epsilon", 1e-5)), "momentum": f32(min(1.0, max(0.0, momentum)))}
    weights = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var, "num_batches_tracked": np.array(0)}
    b.layer(n, kind, cfg, [x], weights, _init_name(n, 1))


@handles("Dropout")
def _dropout(b: Builder, n, ins, at):
    x = b.act(ins[0])
    ratio = at.get("ratio", 0.5)
    if len(ins) > 1 and ins[1] is not None:
        ratio = float(np.asarray(b.const(ins[1], "ratio")).reshape(-1)[0])
    if len(n.output) > 1 and n.output[1] and b.consumers.get(n.output[1], 0):
        raise Unsupported("its mask output is used")
    b.layer(n, "dropout", {"p": f32(ratio)}, [x])


@handles("Identity")
def _identity(b: Builder, n, ins, at):
    b.alias(n, ins[0])


@handles("InstanceNormalization")
def _instance_norm(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, "instance norm")
    scale, bias = (b.const(v, w).astype(np.float32) for v, w in zip(ins[1:3], ("scale", "bias")))
    if not has_spec("instancenorm2d"):
        raise Unsupported("needs an Instance norm layer")
    affine = not (np.all(scale == 1) and np.all(bias == 0))
    weights = {"weight": scale, "bias": bias} if affine else {}
    b.layer(n, "instancenorm2d", {"eps": f32(at.get("epsilon", 1e-5)), "affine": affine}, [x], weights, _init_name(n, 1))


@handles("GroupNormalization")
def _group_norm(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, "group norm")
    if not has_spec("groupnorm"):
        raise Unsupported("needs a Group norm layer")
    scale, bias = (b.const(v, w).astype(np.float32) for v, w in zip(ins[1:3], ("scale", "bias")))
    c = x.shape[0]
    if scale.shape != (c,) or bias.shape != (c,):
        raise Unsupported(f"scale/bias per group ({list(scale.shape)}); re-export at opset 21 or newer (per channel)")
    b.layer(n, "groupnorm", {"num_groups": int(at.get("num_groups", 1)), "eps": f32(at.get("epsilon", 1e-5)), "affine": True},
            [x], {"weight": scale, "bias": bias}, _init_name(n, 1))


@handles("LayerNormalization")
def _layer_norm(b: Builder, n, ins, at):
    x = b.act(ins[0])
    if not has_spec("layernorm"):
        raise Unsupported("needs a Layer norm layer")
    axis = int(at.get("axis", -1))
    rank = len(x.shape) + 1
    if (axis + rank if axis < 0 else axis) != 1:
        raise Unsupported(f"normalising from axis {axis} (CNN Studio's Layer norm covers all of C, H, W: axis 1)")
    scale = b.const(ins[1], "scale").astype(np.float32)
    bias = b.const(ins[2], "bias").astype(np.float32) if len(ins) > 2 and ins[2] is not None else np.zeros_like(scale)
    if scale.shape != x.shape:
        raise Unsupported(f"scale of shape {list(scale.shape)} for a tensor of {list(x.shape)}")
    b.layer(n, "layernorm", {"eps": f32(at.get("epsilon", 1e-5)), "affine": True}, [x], {"weight": scale, "bias": bias}, _init_name(n, 1))


# ------------------------------------------------------------------ reshaping
@handles("Flatten")
def _flatten(b: Builder, n, ins, at):
    x = b.act(ins[0])
    axis = int(at.get("axis", 1))
    rank = len(x.shape) + 1
    if axis < 0:
        axis += rank
    if axis != 1:
        raise Unsupported(f"Flatten from axis {at.get('axis')} (only from axis 1, keeping the batch)")
    if len(x.shape) == 1:
        b.alias(n, x)
        return
    b.layer(n, "flatten", {}, [x])


@handles("Reshape")
def _reshape(b: Builder, n, ins, at):
    x = b.act(ins[0])
    target = ins[1]
    if isinstance(target, Act):
        raise Unsupported("its shape is computed by the network")
    dims = list(target) if isinstance(target, ShapeVal) else [int(v) for v in np.asarray(target).reshape(-1)]
    full = [BATCH, *x.shape]
    if not at.get("allowzero", 0):
        dims = [full[i] if d == 0 and i < len(full) else d for i, d in enumerate(dims)]
    if not dims:
        raise Unsupported("a reshape to a scalar")
    first, rest = dims[0], dims[1:]
    total = int(np.prod(x.shape))
    if first != BATCH and not (first == -1 or (b.batch is not None and first == b.batch)):
        raise Unsupported(f"a reshape to {dims} that changes the batch axis")
    if BATCH in rest:
        raise Unsupported(f"a reshape to {dims} that moves the batch axis")
    if first == -1 and -1 in rest:
        raise Unsupported(f"a reshape to {dims} with two inferred axes")
    if -1 in rest:
        known = int(np.prod([d for d in rest if d != -1])) if len(rest) > 1 else 1
        if known <= 0 or total % known:
            raise Unsupported(f"a reshape of {x.shape} to {dims}")
        rest = [total // known if d == -1 else d for d in rest]
    if int(np.prod(rest)) != total:
        raise Unsupported(f"a reshape of {list(x.shape)} to {dims} (the element counts differ)")
    if tuple(rest) == x.shape:
        b.alias(n, x)
    elif len(rest) == 1:
        b.layer(n, "flatten", {}, [x])
    elif has_spec("reshape") and len(rest) == 3:
        b.layer(n, "reshape", {"channels": int(rest[0]), "height": int(rest[1]), "width": int(rest[2])}, [x])
    else:  # maybe the first step of something a layer does (GroupNorm's reshape to groups)
        b.probe(n, ins, at)


@handles("Pad")
def _pad(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, "padding")
    mode = at.get("mode", "constant")
    pads = [int(v) for v in (at["pads"] if "pads" in at else _vec(b.const(ins[1], "pads")))]
    value = 0.0
    if "value" in at:
        value = float(at["value"])
    elif len(ins) > 2 and ins[2] is not None:
        value = float(np.asarray(b.const(ins[2], "value")).reshape(-1)[0])
    if len(ins) > 3 and ins[3] is not None:
        raise Unsupported("a Pad with axes")
    if mode != "constant" or value != 0:
        raise Unsupported(f"{mode} padding with value {value} (only zero padding)")
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
        raise Unsupported(f"pads {pads} (only height and width are padded)")
    if min(pads) < 0:
        raise Unsupported("negative pads (cropping)")
    if not has_spec("zeropad2d"):
        raise Unsupported("needs a Zero padding layer")
    b.layer(n, "zeropad2d", {"top": pads[2], "left": pads[3], "bottom": pads[6], "right": pads[7]}, [x])


@handles("Resize", "Upsample")
def _resize(b: Builder, n, ins, at):
    x = b.act(ins[0])
    _need_map(x, "resizing")
    if not has_spec("upsample"):
        raise Unsupported("needs an Upsample layer")
    mode = at.get("mode", "nearest")
    ctm = at.get("coordinate_transformation_mode", "half_pixel")
    scales = sizes = None
    if n.op_type == "Upsample":
        scales = _vec_f(b.const(ins[1], "scales")) if len(ins) > 1 else list(at.get("scales", []))
    else:
        if len(ins) > 2 and ins[2] is not None and np.asarray(ins[2]).size:
            scales = _vec_f(b.const(ins[2], "scales"))
        if len(ins) > 3 and ins[3] is not None and np.asarray(ins[3]).size:
            sizes = [int(v) for v in _vec(b.const(ins[3], "sizes"))]
    if mode == "nearest":
        if n.op_type == "Resize" and (ctm != "asymmetric" or at.get("nearest_mode", "round_prefer_floor") != "floor"):
            raise Unsupported(f"nearest resizing with {ctm}/{at.get('nearest_mode', 'round_prefer_floor')} (torch's is asymmetric/floor)")
        cfg = {"mode": "nearest"}
    elif mode == "linear":
        if ctm not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
            raise Unsupported(f"linear resizing with coordinate mode {ctm}")
        cfg = {"mode": "bilinear", "align_corners": ctm == "align_corners"}
    else:
        raise Unsupported(f"{mode} resizing (only nearest and bilinear)")
    if sizes is not None:
        if len(sizes) != 4 or sizes[1] != x.shape[0]:
            raise Unsupported(f"resizing to {sizes} (only height and width change)")
        cfg.update({"size": _pair_or_int(sizes[2:4]), "scale_factor": None})
    elif scales is not None and len(scales) == 4 and scales[0] == 1 and scales[1] == 1:
        if any(s != int(s) for s in scales[2:]):
            raise Unsupported(f"a scale of {scales[2:]} that is not a whole number")
        cfg.update({"scale_factor": _pair_or_int([int(s) for s in scales[2:]]), "size": None})
    else:
        raise Unsupported(f"resizing with scales {scales}")
    b.layer(n, "upsample", cfg, [x])


def _vec_f(v) -> list[float]:
    return [float(x) for x in np.asarray(v).reshape(-1)]


@handles("Cast", "CastLike")
def _cast(b: Builder, n, ins, at):
    """A cast of the network's float tensor to float (the dynamo exporter's CastLike) changes nothing."""
    x = b.act(ins[0])
    to = at.get("to") if n.op_type == "Cast" else (np.asarray(ins[1]).dtype if not isinstance(ins[1], Act) else np.float32)
    if to not in (1, np.float32, np.dtype(np.float32)):
        raise Unsupported(f"a cast of the network's values to another type ({to})")
    b.alias(n, x)
