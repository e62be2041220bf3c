"""Chains of ONNX operators that have no layer of their own, for :mod:`onnx_ops`.

Exporters write some layers as several operators: adaptive pooling at sizes that do not divide as
Transpose + GatherND + ReduceMean, GELU at opset 17 as Div + Erf + Add + Mul + Mul, GroupNorm as
Reshape + InstanceNormalization + Reshape. A :class:`Probe` follows such a chain from one network
tensor, with a numpy version of each operator; after each step :func:`match_probe` checks, on two
random batches, whether the chain now computes what a catalogue layer computes (to 1e-5), and if so
the chain becomes that layer. Nothing is pattern-matched by name, so reordered or renamed exports
are recognised alike; a chain that never matches is reported node by node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.layers import has_spec
from .modules import BUILDERS


def available(type_id: str) -> bool:
    """The catalogue has this layer and the compiler can build it (asked at import time, so layers
    added later are used as soon as they exist)."""
    return has_spec(type_id) and type_id in BUILDERS


def f32(v) -> float:
    """A float attribute (stored as float32 in ONNX) as the shortest decimal of that float32:
    1e-05, not 9.999999747378752e-06, so configs read as they were written."""
    return float(str(np.float32(v)))



@dataclass
class Probe:
    """Operators with no layer of their own, applied to one network tensor ``src``: exporters write
    adaptive pooling at sizes that do not divide as Transpose + GatherND + ReduceMean. ``fn`` does
    the same in numpy on a batch of ``src``; once the chain computes what a layer computes (checked
    on random inputs), it becomes that layer."""

    src: Any  # the Act it starts from
    fn: Any  # numpy (B, *src.shape) -> array
    nodes: list  # the ONNX nodes of the chain


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _p_transpose(v, at):
    perm = at.get("perm")
    return np.transpose(v[0], perm) if perm is not None else np.transpose(v[0])


def _p_gathernd(v, at):
    x, idx = v[0], np.asarray(v[1]).astype(np.int64)
    if int(at.get("batch_dims", 0)):
        raise ValueError("batch_dims")
    k = idx.shape[-1]
    flat = idx.reshape(-1, k)
    out = x[tuple(flat[:, i] for i in range(k))]
    return out.reshape(idx.shape[:-1] + x.shape[k:])


def _p_reduce(fn):
    def f(v, at):
        axes = at.get("axes")
        if axes is None and len(v) > 1 and v[1] is not None:
            axes = [int(a) for a in np.asarray(v[1]).reshape(-1)]
        axes = tuple(axes) if axes else None
        return fn(v[0], axis=axes, keepdims=bool(at.get("keepdims", 1)))

    return f


def _p_reshape(v, at):
    x = v[0]
    shape = [int(d) for d in np.asarray(v[1]).reshape(-1)]
    shape = [x.shape[i] if d == 0 and not at.get("allowzero", 0) else d for i, d in enumerate(shape)]
    return x.reshape(shape)


def _p_unary(fn):
    return lambda v, at: fn(_t(v[0].astype(np.float32))).numpy()


def _p_binary(fn):
    return lambda v, at: fn(np.asarray(v[0], dtype=np.float32), np.asarray(v[1], dtype=np.float32))


def _p_clip(v, at):
    lo = at.get("min", -np.inf) if len(v) < 2 or v[1] is None else float(np.asarray(v[1]).reshape(-1)[0])
    hi = at.get("max", np.inf) if len(v) < 3 or v[2] is None else float(np.asarray(v[2]).reshape(-1)[0])
    return np.clip(v[0], lo, hi)


def _attr(node, name: str, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _p_instance_norm(v, at):
    x = np.asarray(v[0], dtype=np.float64)
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + float(at.get("epsilon", 1e-5)))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (y * np.asarray(v[1]).reshape(shape) + np.asarray(v[2]).reshape(shape)).astype(np.float32)


PROBE_OPS = {
    "Transpose": _p_transpose, "GatherND": _p_gathernd, "ReduceMean": _p_reduce(np.mean), "ReduceMax": _p_reduce(np.max),
    "Reshape": _p_reshape, "Erf": _p_unary(torch.erf), "Tanh": _p_unary(torch.tanh), "Sigmoid": _p_unary(torch.sigmoid),
    "Sqrt": _p_unary(torch.sqrt), "Relu": _p_unary(torch.relu), "Exp": _p_unary(torch.exp), "Neg": _p_unary(torch.neg),
    "Add": _p_binary(np.add), "Sub": _p_binary(np.subtract), "Mul": _p_binary(np.multiply), "Div": _p_binary(np.divide),
    "Pow": _p_binary(np.power), "Clip": _p_clip, "Identity": lambda v, at: v[0], "InstanceNormalization": _p_instance_norm,
}

#: element-wise layers a chain may turn out to be (type id, config, torch function)
_ELEMENTWISE = (
    ("gelu", {"approximate": "none"}, lambda x: torch.nn.functional.gelu(x)),
    ("gelu", {"approximate": "tanh"}, lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    ("silu", {}, torch.nn.functional.silu),
    ("hardswish", {}, torch.nn.functional.hardswish),
    ("relu6", {}, torch.nn.functional.relu6),
)


def match_probe(p: Probe):
    """(type id, config) of the layer the chain computes, or None. Candidates: the element-wise
    layers above (for a result of the input's shape) and adaptive average/max pooling to the
    result's size; each is checked on two random batches (to 1e-5 relative)."""
    rng = np.random.default_rng(0)
    xs = [(3 * rng.standard_normal((b, *p.src.shape))).astype(np.float32) for b in (2, 3)]
    try:
        with np.errstate(all="ignore"):
            ys = [np.asarray(p.fn(x)) for x in xs]
    except Exception:  # not a complete computation yet (or one numpy refuses)
        return None

    def same(f) -> bool:
        return all(y.shape == x.shape and np.allclose(f(torch.from_numpy(x)).numpy(), y, atol=1e-5, rtol=1e-5) for x, y in zip(xs, ys))

    if all(y.shape == x.shape for x, y in zip(xs, ys)):
        for type_id, cfg, f in _ELEMENTWISE:
            if available(type_id) and same(f):
                return type_id, dict(cfg)
        # GroupNorm as torch.onnx writes it: Reshape to groups, InstanceNormalization, Reshape back
        eps = next((float(_attr(m, "epsilon", 1e-5)) for m in p.nodes if m.op_type == "InstanceNormalization"), None)
        if eps is not None and len(p.src.shape) == 3 and available("groupnorm"):
            c = p.src.shape[0]
            for g in (d for d in range(1, c + 1) if c % d == 0):
                if same(lambda t, g=g: torch.nn.functional.group_norm(t, g, eps=eps)):
                    return "groupnorm", {"num_groups": g, "eps": f32(eps), "affine": False}
        return None
    if len(p.src.shape) != 3 or any(y.ndim != 4 or y.shape[:2] != x.shape[:2] for x, y in zip(xs, ys)):
        return None
    size = (int(ys[0].shape[2]), int(ys[0].shape[3]))
    for type_id, pool in (("adaptive_avgpool2d", torch.nn.functional.adaptive_avg_pool2d),
                          ("adaptive_maxpool2d", torch.nn.functional.adaptive_max_pool2d)):
        if all(np.allclose(pool(torch.from_numpy(x), size).numpy(), y, atol=1e-5) for x, y in zip(xs, ys)):
            return type_id, {"output_size": size[0] if size[0] == size[1] else list(size)}
    return None
