"""Torch side of Multiply (issue 13): element-wise product with broadcasting (an SE gate)."""
from __future__ import annotations

import operator

import torch
from torch import nn

from .base import Signature, TorchLayer, register


class Multiply(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


@register
class MultiplyLayer(TorchLayer):
    type_id = "multiply"
    signatures = (
        Signature(("input", "other"), {}, functions=(operator.mul, operator.imul, torch.mul), methods=("mul", "mul_")),
    )

    def build(self, cfg, shapes):
        return Multiply()

    def source(self, cfg, shapes):
        return None

    def forward_source(self, cfg, inputs, call):
        return " * ".join(inputs)

    def from_call(self, a, ctx):
        x, other = a["input"], a["other"]
        if not ctx.is_tensor(x) or not ctx.is_tensor(other):
            ctx.unsupported("multiplying by a constant (only tensor * tensor)")
        sx, so = ctx.shape(x), ctx.shape(other)
        if sx is None or so is None or len(sx) != len(so) or sx[0] != so[0]:
            ctx.unsupported("multiplying tensors of different ranks or batch sizes")
        return {"inputs": 2}

    def call_inputs(self, a, ctx):
        return [a["input"], a["other"]]
