"""The layer catalogue: one frozen spec per layer type, registered under a stable type id.

A spec holds the layer's parameters (type, default, range, one-line help), a teaching description,
and ``infer(config, input_shapes)``, which returns the output shape, parameter counts, MACs and the
sliding window the receptive-field analysis needs, or raises :class:`LayerError` naming the field and
a fix. The compiler maps the same type id to a torch module; nothing else describes a layer.

This module holds the machinery (Param, LayerSpec, the registry, shape helpers); the specs
themselves live in :mod:`cnn_studio.core.catalogue`, one module per palette group, imported once at
the end of this module so every ``get_spec``/``all_specs`` caller sees the whole catalogue.

Shapes never include the batch axis: ``(C, H, W)`` for images and feature maps, ``(F,)`` for flat
vectors. MACs count multiply-accumulates of convolutions and fully-connected layers per sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import LayerError

Shape = tuple[int, ...]

CATEGORIES = (
    "Input",
    "Convolution",
    "Pooling",
    "Resampling & reshape",
    "Activation",
    "Normalization & regularization",
    "Fully connected",
    "Merge",
    "Output / loss",
)


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A typed layer parameter.

    kind is one of ``int``, ``float``, ``bool``, ``choice``, ``pair`` (an int, or [h, w]; None
    allowed when ``optional``) and ``padding`` (like pair, or one of ``choices`` such as "same").
    """

    name: str
    kind: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def check(self, value: Any) -> Any:
        """Return the value in canonical form, or raise LayerError naming this field."""
        if value is None:
            if self.optional:
                return None
            raise LayerError("a value is required", f"set {self.name}", self.name)
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise LayerError(f"expects true or false, got {value!r}", f"set {self.name} to true or false", self.name)
        if kind == "int":
            return self._check_int(value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise LayerError(f"expects a number, got {value!r}", f"enter a number for {self.name}", self.name)
            value = float(value)
            self._check_range(value)
            return value
        if kind == "choice":
            if value not in self.choices:
                raise LayerError(
                    f"{value!r} is not one of {', '.join(self.choices)}", f"pick one of {', '.join(self.choices)}", self.name
                )
            return value
        if kind in ("pair", "padding"):
            if kind == "padding" and isinstance(value, str):
                if value in self.choices:
                    return value
                raise LayerError(
                    f"{value!r} is not a valid padding",
                    f"use a number, [h, w], or one of {', '.join(self.choices)}",
                    self.name,
                )
            if isinstance(value, (list, tuple)):
                if len(value) != 2:
                    raise LayerError(f"expects one number or two [h, w], got {list(value)}", f"give {self.name} as n or [h, w]", self.name)
                h, w = (self._check_int(v) for v in value)
                return h if h == w else [h, w]
            return self._check_int(value)
        raise AssertionError(f"unknown parameter kind {kind}")

    def _check_int(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and (not math.isfinite(value) or not value.is_integer())
        ):
            raise LayerError(f"expects a whole number, got {value!r}", f"enter a whole number for {self.name}", self.name)
        value = int(value)
        self._check_range(value)
        return value

    def _check_range(self, value: float) -> None:
        if self.min is not None and value < self.min:
            raise LayerError(f"must be at least {_fmt(self.min)}, got {_fmt(value)}", f"set {self.name} to {_fmt(self.min)} or more", self.name)
        if self.max is not None and value > self.max:
            raise LayerError(f"must be at most {_fmt(self.max)}, got {_fmt(value)}", f"set {self.name} to {_fmt(self.max)} or less", self.name)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def pair(value: Any) -> tuple[int, int]:
    """An int or [h, w] as an (h, w) tuple."""
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    return "x".join(str(s) for s in shape)


# --------------------------------------------------------------------------------------------
# Inference result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A sliding window over the spatial axes, for the receptive-field analysis."""

    kernel: tuple[int, int]  # effective size (dilation included)
    stride: tuple[int, int]  # may be fractional (1/s) for upsampling layers
    padding: tuple[int, int]  # padding before the first element
    dilation: tuple[int, int] = (1, 1)  # spacing of the taps inside the kernel

    def reads(self) -> tuple["Reads", "Reads"] | None:
        """The window as exact per-axis reads (None for a fractional stride: give Inference.reads)."""
        out = []
        for a in (0, 1):
            s, p, d, k = self.stride[a], self.padding[a], self.dilation[a], self.kernel[a]
            if s != int(s) or p != int(p):
                return None
            taps = tuple(m * d - int(p) for m in range((k - 1) // d + 1))
            out.append(Reads(1, int(s), lambda o, s=int(s), taps=taps: tuple(o * s + t for t in taps)))
        return out[0], out[1]


@dataclass(frozen=True)
class Reads:
    """Which input positions (per axis) output position ``o`` reads, for an exact receptive field:
    ``at(o)`` returns them (out-of-range positions are padding), and the pattern repeats:
    ``at(o + period_out)`` is ``at(o)`` shifted by ``period_in`` (a stride-2 conv: 1 and 2; a
    stride-2 transposed conv or a 2x upsampling: 2 and 1)."""

    period_out: int
    period_in: int
    at: Callable[[int], tuple[int, ...]]


@dataclass(frozen=True)
class Inference:
    shape: Shape
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    window: Window | None = None  # None: element-wise (receptive field passes through)
    flattens: bool = False  # output units see the whole spatial extent of the input
    reads: tuple[Reads, Reads] | None = None  # exact per-axis reads when the window cannot say them (upsampling)


# --------------------------------------------------------------------------------------------
# Layer specs and registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSpec:
    type_id: str
    title: str
    category: str
    help: str
    params: tuple[Param, ...]
    infer: Callable[[dict, list[Shape]], Inference]
    inputs: int | str = 1  # number of input ports, or the name of the int parameter that sets it
    role: str = "layer"  # "input", "layer" or "output"
    key_params: tuple[str, ...] = ()
    short: str = ""  # short label for node titles
    has_weights: bool = False
    extra: dict = field(default_factory=dict)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict:
        return {p.name: (list(p.default) if isinstance(p.default, (list, tuple)) else p.default) for p in self.params}

    def num_inputs(self, config: dict) -> int:
        if isinstance(self.inputs, int):
            return self.inputs
        param = self.param(self.inputs)
        try:  # a value the parameter refuses (inf, 1.5, 10**12, text) keeps the default port count
            return int(param.check(config.get(self.inputs, param.default)))
        except LayerError:
            return int(param.default)

    def check_config(self, config: dict) -> tuple[dict, list[LayerError]]:
        """Fill defaults and check every field. Returns the canonical config and all field errors."""
        out: dict = {}
        errors: list[LayerError] = []
        known = {p.name for p in self.params}
        for key in config:
            if key not in known:
                errors.append(
                    LayerError(f"unknown parameter '{key}'", f"remove it; {self.title} takes {', '.join(sorted(known)) or 'no parameters'}", key)
                )
        for p in self.params:
            value = config.get(p.name, p.default)
            try:
                out[p.name] = p.check(value)
            except LayerError as e:
                errors.append(e)
                out[p.name] = p.default
        return out, errors

    def describe(self, config: dict) -> str:
        """Key parameters as a short line, e.g. '16 @ 5x5, s1'."""
        parts = []
        for name in self.key_params:
            if name not in config:
                continue
            v = config[name]
            if isinstance(v, list):
                v = "x".join(str(x) for x in v)
            parts.append(f"{self.param(name).title.lower()} {v}")
        return ", ".join(parts)


_REGISTRY: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    if spec.type_id in _REGISTRY:
        raise ValueError(f"layer type id '{spec.type_id}' is registered twice")
    if spec.category not in CATEGORIES:
        raise ValueError(f"layer '{spec.type_id}' has unknown category '{spec.category}'")
    _REGISTRY[spec.type_id] = spec
    return spec


def get_spec(type_id: str) -> LayerSpec:
    try:
        return _REGISTRY[type_id]
    except KeyError:
        raise KeyError(type_id) from None


def has_spec(type_id: str) -> bool:
    return type_id in _REGISTRY


def all_specs() -> list[LayerSpec]:
    return list(_REGISTRY.values())


# --------------------------------------------------------------------------------------------
# Helpers for infer()
# --------------------------------------------------------------------------------------------
def _one(inputs: list[Shape]) -> Shape:
    return inputs[0]


def _need_map(shape: Shape, what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise LayerError(
            f"expects a feature map (channels x height x width), got a flat vector of {fmt_shape(shape)}",
            f"{what} only works before Flatten; move it earlier or use the 1-D variant",
            None,
        )
    return shape  # type: ignore[return-value]


def _conv_out(size: int, k: int, s: int, p_before: int, p_total: int, ceil: bool = False) -> int:
    span = size + p_total - k
    if ceil:
        out = -(-span // s) + 1
        # PyTorch: the last window must start inside the input or left padding
        if (out - 1) * s >= size + p_before:
            out -= 1
        return out
    return span // s + 1


def _padding_of(value: Any, kernel_eff: tuple[int, int], stride: tuple[int, int], field_name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Return (before, total) padding per axis for an int/pair/'same'/'valid' value."""
    if value == "valid":
        return (0, 0), (0, 0)
    if value == "same":
        if stride != (1, 1):
            raise LayerError("padding 'same' needs stride 1", "set stride to 1 or give the padding as a number", field_name)
        totals = (kernel_eff[0] - 1, kernel_eff[1] - 1)
        return (totals[0] // 2, totals[1] // 2), totals
    ph, pw = pair(value)
    return (ph, pw), (2 * ph, 2 * pw)


def _window_output(shape: tuple[int, int, int], kernel_eff, stride, before, total, field_hint: str, ceil: bool = False):
    _, h, w = shape
    outs = []
    for axis, size in enumerate((h, w)):
        k = kernel_eff[axis]
        if size + total[axis] < k:
            raise LayerError(
                f"kernel {kernel_eff[0]}x{kernel_eff[1]} is larger than its padded input {h + total[0]}x{w + total[1]}",
                "use a smaller kernel, add padding, or remove a pooling layer before it",
                field_hint,
            )
        outs.append(_conv_out(size, k, stride[axis], before[axis], total[axis], ceil))
    if outs[0] < 1 or outs[1] < 1:
        raise LayerError(f"output would be {outs[0]}x{outs[1]}", "use a smaller kernel or stride", field_hint)
    return outs[0], outs[1]




def _identity_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    """Shape unchanged, nothing to learn, element-wise (activations, dropout, identity)."""
    return Inference(_one(inputs))


# Registers every layer type (the specs live in core/catalogue/, one module per palette group).
from . import catalogue as _catalogue  # noqa: E402,F401
