"""Merges of several inputs: element-wise sum and channel concatenation. They have a module (so
every node has one) but export as a plain expression in forward()."""
from __future__ import annotations

import operator

import torch
from torch import nn

from .base import Signature, TorchLayer, register


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


@register
class AddLayer(TorchLayer):
    type_id = "add"
    signatures = (
        Signature(("input", "other", "alpha"), {"alpha": 1}, functions=(operator.add, operator.iadd, torch.add), methods=("add", "add_")),
    )

    def build(self, cfg, shapes):
        return Add()

    def source(self, cfg, shapes):
        return None

    def forward_source(self, cfg, inputs, call):
        return " + ".join(inputs)

    def from_call(self, a, ctx):
        other = a.get("other")
        if a.get("alpha", 1) != 1:
            ctx.unsupported("alpha != 1")
        if not ctx.is_tensor(other) or not ctx.is_tensor(a["input"]):
            ctx.unsupported("adding a constant (only tensor + tensor of the same shape)")
        if ctx.rank(a["input"]) != ctx.rank(other) or ctx.output_shape != ctx.shape(other):
            ctx.unsupported("adding tensors of different shapes (broadcasting)")
        return {"inputs": 2}

    def call_inputs(self, a, ctx):
        return [a["input"], a["other"]]


@register
class ConcatLayer(TorchLayer):
    type_id = "concat"
    signatures = (
        Signature(("tensors", "dim"), {"dim": 0},
                  functions=(torch.cat, getattr(torch, "concat", None), getattr(torch, "concatenate", None))),
    )

    def build(self, cfg, shapes):
        return Concat()

    def source(self, cfg, shapes):
        return None

    def forward_source(self, cfg, inputs, call):
        return f"torch.cat([{', '.join(inputs)}], dim=1)"

    def from_call(self, a, ctx):
        tensors = a["tensors"]
        if not isinstance(tensors, (list, tuple)) or len(tensors) < 2:
            ctx.unsupported("needs a list of at least two tensors")
        if len(tensors) > 16:
            ctx.unsupported("more than 16 inputs")
        r = ctx.rank(tensors[0])
        if a["dim"] not in (1, 1 - r):
            ctx.unsupported(f"concatenation along dim {a['dim']} (only the channel axis, dim=1)")
        return {"inputs": len(tensors)}

    def call_inputs(self, a, ctx):
        return list(a["tensors"])
