"""Convolutions."""
from __future__ import annotations

from torch import nn

from ...core.layers import pair
from .base import TorchLayer, pad_arg, pair_cfg, register, tup


@register
class Conv2d(TorchLayer):
    type_id = "conv2d"
    module_types = (nn.Conv2d,)

    def build(self, cfg, shapes):
        return nn.Conv2d(
            shapes[0][0],
            cfg["out_channels"],
            pair(cfg["kernel_size"]),
            stride=pair(cfg["stride"]),
            padding=pad_arg(cfg["padding"]),
            dilation=pair(cfg["dilation"]),
            groups=cfg["groups"],
            bias=cfg["bias"],
            padding_mode=cfg["padding_mode"],
        )

    def source(self, cfg, shapes):
        pad = cfg["padding"]
        pad_src = repr(pad) if pad in ("same", "valid") else tup(pad)
        args = [str(int(shapes[0][0])), str(int(cfg["out_channels"])), f"kernel_size={tup(cfg['kernel_size'])}", f"stride={tup(cfg['stride'])}", f"padding={pad_src}"]
        if pair(cfg["dilation"]) != (1, 1):
            args.append(f"dilation={tup(cfg['dilation'])}")
        if cfg["groups"] != 1:
            args.append(f"groups={int(cfg['groups'])}")
        args.append(f"bias={bool(cfg['bias'])!r}")
        if cfg["padding_mode"] != "zeros":
            args.append(f"padding_mode={cfg['padding_mode']!r}")
        return f"nn.Conv2d({', '.join(args)})"

    def from_module(self, mod, ctx):
        pad = mod.padding if isinstance(mod.padding, str) else pair_cfg(mod.padding)
        return {
            "out_channels": mod.out_channels, "kernel_size": pair_cfg(mod.kernel_size), "stride": pair_cfg(mod.stride),
            "padding": pad, "dilation": pair_cfg(mod.dilation), "groups": mod.groups, "bias": mod.bias is not None,
            "padding_mode": mod.padding_mode,
        }
