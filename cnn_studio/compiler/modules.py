"""Type id -> torch module. One builder per layer type of the core catalogue; nothing else here
knows what a layer is. Builders take the canonical config and the input shapes from the analysis."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..core.layers import Shape, pair

Builder = Callable[[dict, list[Shape]], nn.Module]
BUILDERS: dict[str, Builder] = {}


def builder(*type_ids: str):
    def deco(fn: Builder) -> Builder:
        for t in type_ids:
            if t in BUILDERS:
                raise ValueError(f"builder for '{t}' registered twice")
            BUILDERS[t] = fn
        return fn

    return deco


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class InputNode(nn.Module):
    """Identity that marks where the image enters (kept so every node has a module)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _pad_arg(value):
    if value in ("same", "valid"):
        return value
    return pair(value)


@builder("input")
def _input(cfg, shapes):
    return InputNode()


@builder("conv2d")
def _conv(cfg, shapes):
    return nn.Conv2d(
        shapes[0][0],
        cfg["out_channels"],
        pair(cfg["kernel_size"]),
        stride=pair(cfg["stride"]),
        padding=_pad_arg(cfg["padding"]),
        dilation=pair(cfg["dilation"]),
        groups=cfg["groups"],
        bias=cfg["bias"],
        padding_mode=cfg["padding_mode"],
    )


@builder("maxpool2d")
def _maxpool(cfg, shapes):
    stride = pair(cfg["stride"]) if cfg["stride"] is not None else None
    return nn.MaxPool2d(pair(cfg["kernel_size"]), stride=stride, padding=pair(cfg["padding"]), ceil_mode=cfg["ceil_mode"])


@builder("avgpool2d")
def _avgpool(cfg, shapes):
    stride = pair(cfg["stride"]) if cfg["stride"] is not None else None
    return nn.AvgPool2d(pair(cfg["kernel_size"]), stride=stride, padding=pair(cfg["padding"]), ceil_mode=cfg["ceil_mode"])


@builder("adaptive_avgpool2d")
def _adaptive_avg(cfg, shapes):
    return nn.AdaptiveAvgPool2d(pair(cfg["output_size"]))


@builder("adaptive_maxpool2d")
def _adaptive_max(cfg, shapes):
    return nn.AdaptiveMaxPool2d(pair(cfg["output_size"]))


@builder("relu")
def _relu(cfg, shapes):
    return nn.ReLU()


@builder("leaky_relu")
def _leaky(cfg, shapes):
    return nn.LeakyReLU(cfg["negative_slope"])


@builder("tanh")
def _tanh(cfg, shapes):
    return nn.Tanh()


@builder("sigmoid")
def _sigmoid(cfg, shapes):
    return nn.Sigmoid()


@builder("gelu")
def _gelu(cfg, shapes):
    return nn.GELU(approximate=cfg["approximate"])


@builder("elu")
def _elu(cfg, shapes):
    return nn.ELU(cfg["alpha"])


@builder("silu")
def _silu(cfg, shapes):
    return nn.SiLU()


@builder("softmax")
def _softmax(cfg, shapes):
    return nn.Softmax(dim=1)


@builder("batchnorm2d")
def _bn2d(cfg, shapes):
    return nn.BatchNorm2d(shapes[0][0], eps=cfg["eps"], momentum=cfg["momentum"], affine=cfg["affine"], track_running_stats=cfg["track_running_stats"])


@builder("batchnorm1d")
def _bn1d(cfg, shapes):
    return nn.BatchNorm1d(shapes[0][0], eps=cfg["eps"], momentum=cfg["momentum"], affine=cfg["affine"], track_running_stats=cfg["track_running_stats"])


@builder("dropout")
def _dropout(cfg, shapes):
    return nn.Dropout(cfg["p"])


@builder("dropout2d")
def _dropout2d(cfg, shapes):
    return nn.Dropout2d(cfg["p"])


@builder("flatten")
def _flatten(cfg, shapes):
    return nn.Flatten(1)


@builder("linear")
def _linear(cfg, shapes):
    return nn.Linear(shapes[0][0], cfg["out_features"], bias=cfg["bias"])


@builder("add")
def _add(cfg, shapes):
    return Add()


@builder("concat")
def _concat(cfg, shapes):
    return Concat()


# Loss layers: not part of the forward pass; the Trainer builds the criterion with make_loss().
LOSS_TYPES = ("cross_entropy", "mse")


def make_loss(type_id: str, cfg: dict) -> nn.Module:
    if type_id == "cross_entropy":
        return nn.CrossEntropyLoss(label_smoothing=cfg.get("label_smoothing", 0.0))
    if type_id == "mse":
        return nn.MSELoss()
    raise KeyError(type_id)
