"""The weight gradient of a convolution whose output map is a few pixels, as one matrix product.

oneDNN computes a convolution's weight gradient with kernels tuned for maps of many pixels; where
the output is tiny (ResNet-18's layer4 at 64x64 input and VGG-11's last block at 32x32 give 2x2
maps) and the weights are large, that gradient is most of the layer's step. Measured on a 2-core
Xeon with AMX (batch 64, 3x3, channels last): 512->512 channels at 2x2, bf16 16.6 ms against
2.6 ms as im2col and one matrix product; fp32 13.1 ms against 5.2 ms; at 4x4 the two are even and
at 8x8 and more the product loses (the im2col copy grows with the map). In the whole training
step, ResNet-18 at 64x64 in channels_last bf16 went from 227 to 177-186 ms and VGG-11 at 32x32 from
416 to 374 ms; the losses agree to the fourth decimal (the same bf16 products, summed in another
order).

:func:`install` gives each eligible ``nn.Conv2d`` of a model an instance ``_conv_forward`` (the
method ``Conv2d.forward`` calls) that runs :class:`_SmallMapConv` when the output has at most
``SMALL_MAP_PIXELS`` pixels, on the CPU, while gradients are recorded, and the module's own
convolution otherwise: forward and input gradient stay oneDNN's, only the weight (and bias)
gradient is computed here. Under CPU autocast it casts as autocast does (input, weight and bias to
the autocast dtype, output in it). Parameters, ``state_dict`` and module classes are untouched, so
checkpoints, exports and inspection see the same network; tracing, scripting, compiling and ONNX
export take the module's own path. :func:`uninstall` removes it. The Trainer installs it for every
new run (recorded as ``speed.small_map_grads`` and kept on resume, so a resumed run computes what
the first session did; a run recorded before it trains without). Qt-free.
"""
from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

#: output maps of at most this many pixels (2x2) take the matrix-product weight gradient
SMALL_MAP_PIXELS = 4
_ATTR = "_conv_forward"


class _SmallMapConv(torch.autograd.Function):
    """conv2d (groups 1, dilation 1, zero padding) whose backward computes the input gradient with
    ATen's convolution_backward and the weight gradient as unfold + one matrix product."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, list(ctx.stride), list(ctx.padding), [1, 1], False, [0, 0], 1,
                [True, False, False])[0]
        if need_w:
            grad_w = weight_grad_by_product(x, grad, weight.shape, ctx.stride, ctx.padding)
        if need_b and ctx.has_bias:
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None


def weight_grad_by_product(x: torch.Tensor, grad: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """A convolution's weight gradient (groups 1, dilation 1, zero padding) from its input ``x`` and output
    gradient ``grad``, as unfold + one matrix product (``benchmarks/small_maps.py`` times it against oneDNN's)."""
    n, c = x.shape[:2]
    out_c, _, kh, kw = weight_shape
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)  # n, c*kh*kw, pixels
    g = grad.reshape(n, out_c, -1).transpose(0, 1).reshape(out_c, -1)  # out_c, n*pixels
    return (g @ cols.transpose(0, 1).reshape(c * kh * kw, -1).t()).reshape(out_c, c, kh, kw)


def eligible(conv: nn.Module) -> bool:
    """A plain 2-D convolution the matrix-product gradient covers."""
    return (type(conv) is nn.Conv2d and conv.groups == 1 and tuple(conv.dilation) == (1, 1)
            and conv.padding_mode == "zeros" and not isinstance(conv.padding, str))


def _output_pixels(conv: nn.Conv2d, x: torch.Tensor) -> int:
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    return max(0, (x.shape[-2] + 2 * ph - kh) // sh + 1) * max(0, (x.shape[-1] + 2 * pw - kw) // sw + 1)


def _plain_path() -> bool:
    """Whether the module's own convolution must run: no gradient to compute, or a tracer, scripter,
    compiler or exporter looking at the network."""
    if not torch.is_grad_enabled() or torch.jit.is_scripting() or torch.jit.is_tracing():
        return True
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and getattr(compiler, "is_compiling", lambda: False)():
        return True
    onnx = getattr(torch, "onnx", None)
    return bool(onnx is not None and getattr(onnx, "is_in_onnx_export", lambda: False)())


def _cpu_autocast_dtype() -> torch.dtype | None:
    """The CPU autocast dtype when CPU autocast is on, else None (torch's per-device calls where it has
    them, its older CPU-only ones before)."""
    try:
        return torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
    except TypeError:  # a torch before 2.4
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None


def _conv_forward(self: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
    # (the common case, a map of many pixels, leaves on the arithmetic alone: this runs for every convolution)
    if x.dim() != 4 or _output_pixels(self, x) > SMALL_MAP_PIXELS or x.device.type != "cpu" \
            or not (x.requires_grad or weight.requires_grad) or _plain_path():
        return nn.Conv2d._conv_forward(self, x, weight, bias)
    dt = _cpu_autocast_dtype()
    if dt is not None:  # cast as autocast casts a convolution, then compute without it
        x, weight = x.to(dt), weight.to(dt)
        bias = bias.to(dt) if bias is not None else None
        with torch.autocast("cpu", enabled=False):
            return _SmallMapConv.apply(x, weight, bias, tuple(self.stride), tuple(self.padding))
    if not (x.dtype == weight.dtype and x.is_floating_point()):
        return nn.Conv2d._conv_forward(self, x, weight, bias)
    return _SmallMapConv.apply(x, weight, bias, tuple(self.stride), tuple(self.padding))


def install(model: nn.Module) -> int:
    """Give every eligible convolution of ``model`` the matrix-product weight gradient for small output
    maps (see the module docstring); returns how many convolutions took it. Idempotent."""
    n = 0
    for m in model.modules():
        if eligible(m):
            setattr(m, _ATTR, types.MethodType(_conv_forward, m))
            n += 1
    return n


def uninstall(model: nn.Module) -> None:
    """Undo :func:`install`: every convolution back to its class's own method."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and _ATTR in vars(m):
            delattr(m, _ATTR)


def installed(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) and _ATTR in vars(m) for m in model.modules())
