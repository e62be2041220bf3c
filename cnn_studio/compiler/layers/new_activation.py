"""Torch side of ReLU6 and Hardswish (issue 13)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .base import ActivationLayer, Signature, register


@register
class ReLU6(ActivationLayer):
    type_id = "relu6"
    module = nn.ReLU6
    module_types = (nn.ReLU6,)
    signatures = (Signature(("input", "inplace"), {"inplace": False}, functions=(F.relu6,)),)


@register
class Hardswish(ActivationLayer):
    type_id = "hardswish"
    module = nn.Hardswish
    module_types = (nn.Hardswish,)
    signatures = (Signature(("input", "inplace"), {"inplace": False}, functions=(F.hardswish,)),)
