"""Loss layers (role 'output'): the criterion the trainer builds; not part of the forward pass or
of exported model code. fx import always ends the graph in a cross-entropy node itself."""
from __future__ import annotations

from torch import nn

from .base import LossLayer, literal, register


@register
class CrossEntropy(LossLayer):
    type_id = "cross_entropy"
    module_types = (nn.CrossEntropyLoss,)

    def build(self, cfg, shapes):
        return nn.CrossEntropyLoss(label_smoothing=cfg.get("label_smoothing", 0.0))

    def source(self, cfg, shapes):
        return f"nn.CrossEntropyLoss(label_smoothing={literal(cfg.get('label_smoothing', 0.0))})"

    def from_module(self, mod, ctx):
        return {"label_smoothing": float(mod.label_smoothing)}


@register
class MSE(LossLayer):
    type_id = "mse"
    module_types = (nn.MSELoss,)

    def build(self, cfg, shapes):
        return nn.MSELoss()

    def source(self, cfg, shapes):
        return "nn.MSELoss()"

    def from_module(self, mod, ctx):
        return {}
