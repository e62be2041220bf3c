"""Torch side of the convolutions added in issue 13: transposed convolution and the
depthwise-separable convolution (one node, two convolutions)."""
from __future__ import annotations

import torch
from torch import nn

from ...core.layers import pair
from .base import TorchLayer, pad_arg, pair_cfg, register, tup


@register
class ConvTranspose2d(TorchLayer):
    type_id = "conv_transpose2d"
    module_types = (nn.ConvTranspose2d,)

    def build(self, cfg, shapes):
        return nn.ConvTranspose2d(
            shapes[0][0],
            cfg["out_channels"],
            pair(cfg["kernel_size"]),
            stride=pair(cfg["stride"]),
            padding=pair(cfg["padding"]),
            output_padding=pair(cfg["output_padding"]),
            groups=cfg["groups"],
            bias=cfg["bias"],
            dilation=pair(cfg["dilation"]),
        )

    def source(self, cfg, shapes):
        args = [str(int(shapes[0][0])), str(int(cfg["out_channels"])), f"kernel_size={tup(cfg['kernel_size'])}", f"stride={tup(cfg['stride'])}"]
        if pair(cfg["padding"]) != (0, 0):
            args.append(f"padding={tup(cfg['padding'])}")
        if pair(cfg["output_padding"]) != (0, 0):
            args.append(f"output_padding={tup(cfg['output_padding'])}")
        if cfg["groups"] != 1:
            args.append(f"groups={int(cfg['groups'])}")
        args.append(f"bias={bool(cfg['bias'])!r}")
        if pair(cfg["dilation"]) != (1, 1):
            args.append(f"dilation={tup(cfg['dilation'])}")
        return f"nn.ConvTranspose2d({', '.join(args)})"

    def from_module(self, mod, ctx):
        if mod.padding_mode != "zeros":
            ctx.unsupported(f"padding_mode={mod.padding_mode!r} (transposed convolutions pad with zeros)")
        if isinstance(mod.padding, str):
            ctx.unsupported(f"padding={mod.padding!r}")
        return {
            "out_channels": mod.out_channels, "kernel_size": pair_cfg(mod.kernel_size), "stride": pair_cfg(mod.stride),
            "padding": pair_cfg(mod.padding), "output_padding": pair_cfg(mod.output_padding), "dilation": pair_cfg(mod.dilation),
            "groups": mod.groups, "bias": mod.bias is not None,
        }


class SeparableConv2d(nn.Module):
    """A depthwise k x k convolution (one filter per channel, groups = channels) followed by a
    pointwise 1x1 convolution that mixes the channels; state_dict keys ``depthwise.weight``,
    ``pointwise.weight`` (and ``.bias`` of each when bias is on)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, bias: bool = False):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=in_channels, bias=bias)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


@register
class SeparableConv(TorchLayer):
    """Exported code needs nothing but torch: the node is an ``nn.ModuleDict`` holding the two
    convolutions (the same state_dict keys as :class:`SeparableConv2d`), applied in forward()."""

    type_id = "separable_conv2d"
    module_types = (SeparableConv2d,)

    def build(self, cfg, shapes):
        return SeparableConv2d(
            shapes[0][0], cfg["out_channels"], pair(cfg["kernel_size"]), stride=pair(cfg["stride"]),
            padding=pad_arg(cfg["padding"]), dilation=pair(cfg["dilation"]), bias=cfg["bias"],
        )

    def source(self, cfg, shapes):
        c = int(shapes[0][0])
        pad = cfg["padding"]
        pad_src = repr(pad) if pad in ("same", "valid") else tup(pad)
        dil = f", dilation={tup(cfg['dilation'])}" if pair(cfg["dilation"]) != (1, 1) else ""
        bias = bool(cfg["bias"])
        return (
            f"nn.ModuleDict({{'depthwise': nn.Conv2d({c}, {c}, kernel_size={tup(cfg['kernel_size'])}, stride={tup(cfg['stride'])}, "
            f"padding={pad_src}{dil}, groups={c}, bias={bias!r}), "
            f"'pointwise': nn.Conv2d({c}, {int(cfg['out_channels'])}, kernel_size=(1, 1), bias={bias!r})}})"
        )

    def forward_source(self, cfg, inputs, call):
        return f"{call}['pointwise']({call}['depthwise']({inputs[0]}))"

    def from_module(self, mod, ctx):
        dw, pw = mod.depthwise, mod.pointwise
        pad = dw.padding if isinstance(dw.padding, str) else pair_cfg(dw.padding)
        return {
            "out_channels": pw.out_channels, "kernel_size": pair_cfg(dw.kernel_size), "stride": pair_cfg(dw.stride),
            "padding": pad, "dilation": pair_cfg(dw.dilation), "bias": dw.bias is not None,
        }
