"""The input node: an identity module that marks where the image enters."""
from __future__ import annotations

import torch
from torch import nn

from .base import TorchLayer, register


class InputNode(nn.Module):
    """Identity that marks where the image enters (kept so every node has a module)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@register
class Input(TorchLayer):
    """The placeholder of fx import and the forward() argument of exported code: no module there
    (the importer maps a traced ``placeholder`` to it itself)."""

    type_id = "input"

    def build(self, config, shapes):
        return InputNode()

    def source(self, config, shapes):
        return None

    def forward_source(self, config, inputs, call):
        return inputs[0]
