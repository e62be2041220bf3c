"""The layer catalogue: one frozen spec per layer type, registered under a stable type id.

A spec holds the layer's parameters (type, default, range, one-line help), a teaching description,
and ``infer(config, input_shapes)``, which returns the output shape, parameter counts, MACs and the
sliding window the receptive-field analysis needs, or raises :class:`LayerError` naming the field and
a fix. The compiler maps the same type id to a torch module; nothing else describes a layer.

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
    stride: tuple[int, int]
    padding: tuple[int, int]  # padding before the first element


@dataclass(frozen=True)
class Inference:
    shape: Shape
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    window: Window | None = None  # None: element-wise (receptive field passes through)
    flattens: bool = False  # output units see the whole spatial extent of the input


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


# --------------------------------------------------------------------------------------------
# The layers
# --------------------------------------------------------------------------------------------
def _infer_input(cfg: dict, inputs: list[Shape]) -> Inference:
    return Inference((cfg["channels"], cfg["height"], cfg["width"]))


register(
    LayerSpec(
        "input",
        "Input",
        "Input",
        "Holds the image that enters the network: channels (1 for gray, 3 for colour) x height x width. "
        "Every other shape in the network follows from this one.",
        (
            Param("channels", "int", 3, "Colour channels of the image: 1 for grayscale, 3 for RGB.", 1, 4096),
            Param("height", "int", 32, "Image height in pixels.", 1, 8192),
            Param("width", "int", 32, "Image width in pixels.", 1, 8192),
        ),
        _infer_input,
        inputs=0,
        role="input",
        key_params=(),
        short="Input",
    )
)


def _check_padding_mode(mode: str, before: tuple[int, int], total: tuple[int, int], h: int, w: int) -> None:
    """Refuse what torch's F.pad refuses for the non-zero modes, on the padding of each side
    (for 'same' the sides can differ: total k-1 split as floor before, the rest after).
    reflect mirrors without repeating the edge, so each side must be smaller than the input;
    circular wraps around, so each side may be at most the input size; replicate takes any."""
    if mode not in ("reflect", "circular"):
        return
    sides = (max(before[0], total[0] - before[0]), max(before[1], total[1] - before[1]))
    too_big = (lambda p, n: p >= n) if mode == "reflect" else (lambda p, n: p > n)
    if too_big(sides[0], h) or too_big(sides[1], w):
        need = "larger than" if mode == "reflect" else "at least"
        raise LayerError(
            f"{mode} padding of {sides[0]}x{sides[1]} per side needs an input {need} {sides[0]}x{sides[1]}, but it gets {h}x{w}",
            "use zeros or replicate padding, less padding or a smaller kernel, or place it where the map is larger",
            "padding_mode",
        )


def _infer_conv(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Convolution")
    out_c, groups = cfg["out_channels"], cfg["groups"]
    k = pair(cfg["kernel_size"])
    s = pair(cfg["stride"])
    d = pair(cfg["dilation"])
    if c % groups:
        raise LayerError(f"{c} input channels cannot be split into {groups} groups", "set groups to a divisor of the input channels", "groups")
    if out_c % groups:
        raise LayerError(f"{out_c} output channels cannot be split into {groups} groups", "set out channels to a multiple of groups", "out_channels")
    k_eff = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    before, total = _padding_of(cfg["padding"], k_eff, s, "padding")
    _check_padding_mode(cfg["padding_mode"], before, total, h, w)
    ho, wo = _window_output((c, h, w), k_eff, s, before, total, "kernel_size")
    per_out = (c // groups) * k[0] * k[1]
    params = out_c * per_out + (out_c if cfg["bias"] else 0)
    macs = out_c * ho * wo * per_out
    return Inference((out_c, ho, wo), params, 0, macs, Window(k_eff, s, before))


register(
    LayerSpec(
        "conv2d",
        "Convolution",
        "Convolution",
        "Slides a set of small learnable filters over the input; each filter makes one activation map that "
        "lights up where its pattern appears. Each output unit sees only a local patch (local connectivity) "
        "and every position shares the same filter weights (weight sharing), so it needs few parameters.",
        (
            Param("out_channels", "int", 16, "Number of filters, i.e. activation maps this layer produces.", 1, 65536, label="Filters"),
            Param("kernel_size", "pair", 3, "Filter size in pixels: n for n x n, or [h, w].", 1, 255, label="Kernel"),
            Param("stride", "pair", 1, "Step between filter positions; 2 halves the map size.", 1, 255),
            Param("padding", "padding", 0, "Zeros added around the input: a number, [h, w], 'same' (keep size) or 'valid' (none).", 0, 255, choices=("same", "valid")),
            Param("dilation", "pair", 1, "Spacing between filter taps; widens the receptive field without extra weights.", 1, 64),
            Param("groups", "int", 1, "Split channels into independent groups (set to the channel count for depthwise).", 1, 65536),
            Param("bias", "bool", True, "Add a learnable offset per filter (usually off when BatchNorm follows)."),
            Param("padding_mode", "choice", "zeros", "How the border is filled.", choices=("zeros", "reflect", "replicate", "circular")),
        ),
        _infer_conv,
        key_params=("out_channels", "kernel_size", "stride", "padding"),
        short="Conv",
        has_weights=True,
    )
)


def _pool_infer(cfg: dict, inputs: list[Shape], dilation: bool = False) -> Inference:
    c, h, w = _need_map(_one(inputs), "Pooling")
    k = pair(cfg["kernel_size"])
    s = pair(cfg["stride"]) if cfg["stride"] is not None else k
    p = pair(cfg["padding"])
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise LayerError(f"padding {p[0]}x{p[1]} is more than half the kernel {k[0]}x{k[1]}", "use padding of at most half the kernel size", "padding")
    ho, wo = _window_output((c, h, w), k, s, p, (2 * p[0], 2 * p[1]), "kernel_size", cfg["ceil_mode"])
    return Inference((c, ho, wo), 0, 0, 0, Window(k, s, p))


_POOL_PARAMS = (
    Param("kernel_size", "pair", 2, "Size of the region summarised into one value.", 1, 255, label="Kernel"),
    Param("stride", "pair", None, "Step between regions; empty means equal to the kernel (no overlap).", 1, 255, optional=True),
    Param("padding", "pair", 0, "Padding around the input, at most half the kernel.", 0, 127),
    Param("ceil_mode", "bool", False, "Round the output size up, so a partial region at the border still counts."),
)

register(
    LayerSpec(
        "maxpool2d",
        "Max pooling",
        "Pooling",
        "Keeps the strongest response in each region, shrinking the activation maps: fewer computations, "
        "some tolerance to small shifts, and no weights to learn.",
        _POOL_PARAMS,
        _pool_infer,
        key_params=("kernel_size", "stride"),
        short="MaxPool",
    )
)
register(
    LayerSpec(
        "avgpool2d",
        "Average pooling",
        "Pooling",
        "Replaces each region by its average: a smooth down-sampling of the activation maps with no weights to learn.",
        _POOL_PARAMS,
        _pool_infer,
        key_params=("kernel_size", "stride"),
        short="AvgPool",
    )
)


def _adaptive_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Adaptive pooling")
    oh, ow = pair(cfg["output_size"])
    kernel = []
    stride = []
    for size, out in ((h, oh), (w, ow)):
        # largest window PyTorch uses: start=floor(i*size/out), end=ceil((i+1)*size/out)
        kernel.append(max(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out)))
        stride.append(max(1, size // out))
    return Inference((c, oh, ow), 0, 0, 0, Window((kernel[0], kernel[1]), (stride[0], stride[1]), (0, 0)))


_ADAPTIVE_PARAMS = (Param("output_size", "pair", 1, "Output map size; 1 gives one value per channel (global pooling).", 1, 1024),)
register(
    LayerSpec(
        "adaptive_avgpool2d",
        "Global / adaptive avg pool",
        "Pooling",
        "Averages each activation map down to a fixed size, whatever the input size; at 1x1 it is global "
        "average pooling, which replaces large fully-connected layers in modern CNNs.",
        _ADAPTIVE_PARAMS,
        _adaptive_infer,
        key_params=("output_size",),
        short="AdaptAvg",
    )
)
register(
    LayerSpec(
        "adaptive_maxpool2d",
        "Global / adaptive max pool",
        "Pooling",
        "Takes the maximum of each activation map down to a fixed size, whatever the input size.",
        _ADAPTIVE_PARAMS,
        _adaptive_infer,
        key_params=("output_size",),
        short="AdaptMax",
    )
)


def _identity_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    return Inference(_one(inputs))


def _activation(type_id: str, title: str, help_text: str, params: tuple[Param, ...] = (), key=()) -> None:
    register(LayerSpec(type_id, title, "Activation", help_text, params, _identity_infer, key_params=key, short=title))


_activation("relu", "ReLU", "max(0, x) on every value: cheap non-linearity that lets stacked layers model complex patterns. Units whose input stays negative stop learning ('dying ReLU').")
_activation(
    "leaky_relu",
    "Leaky ReLU",
    "Like ReLU but lets a small slope through for negative values, so no unit dies.",
    (Param("negative_slope", "float", 0.01, "Slope for negative inputs.", 0.0, 1.0),),
    ("negative_slope",),
)
_activation("tanh", "Tanh", "Squashes values into [-1, 1]; zero-centred but saturates, which can make gradients vanish in deep stacks.")
_activation("sigmoid", "Sigmoid", "Squashes values into [0, 1]; saturates at both ends, so gradients vanish in deep stacks.")
_activation(
    "gelu",
    "GELU",
    "Smooth ReLU weighted by the Gaussian CDF, used in modern networks.",
    (Param("approximate", "choice", "none", "Exact form or the faster tanh approximation.", choices=("none", "tanh")),),
)
_activation(
    "elu",
    "ELU",
    "Exponential for negative inputs, identity for positive: smooth and with a mean closer to zero than ReLU.",
    (Param("alpha", "float", 1.0, "Value the output approaches for very negative inputs (negated).", 0.0, 100.0),),
)
_activation("silu", "SiLU (Swish)", "x * sigmoid(x): smooth, non-monotonic activation used in EfficientNet.")


def _softmax_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    return Inference(_one(inputs))


register(
    LayerSpec(
        "softmax",
        "Softmax",
        "Activation",
        "Turns scores into probabilities that sum to 1 (over the channels or features). Not needed before a "
        "Cross-entropy loss, which applies it itself.",
        (),
        _softmax_infer,
        short="Softmax",
    )
)


def _bn_batch_stats_check(cfg: dict, values_per_channel: int) -> None:
    """torch normalises with the batch's own statistics in training, and always when
    track_running_stats is off; it then needs more than one value per channel in the batch
    ("Expected more than 1 value per channel when training"). With one value per channel per image
    (a 1x1 map, or any flat vector) and no running statistics, a single image can never be
    evaluated (predict, inspect): refuse that. With running statistics, evaluation uses them and
    works for any batch; training batches of one are the trainer's business (it never makes one)."""
    if values_per_channel == 1 and not cfg["track_running_stats"]:
        raise LayerError(
            "without running statistics it normalises over the batch, and it sees one value per channel "
            "per image here, so a single image cannot be evaluated (torch: 'Expected more than 1 value per channel')",
            "turn on track_running_stats, or place it where the feature map is larger than 1x1",
            "track_running_stats",
        )


def _bn2d_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "BatchNorm2d")
    _bn_batch_stats_check(cfg, h * w)
    return Inference((c, h, w), 2 * c if cfg["affine"] else 0, 2 * c if cfg["track_running_stats"] else 0)


def _bn1d_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    if len(shape) != 1:
        raise LayerError(
            f"expects a flat vector, got a feature map of {fmt_shape(shape)}",
            "use Batch norm 2D for feature maps, or add a Flatten before it",
            None,
        )
    f = shape[0]
    _bn_batch_stats_check(cfg, 1)
    return Inference(shape, 2 * f if cfg["affine"] else 0, 2 * f if cfg["track_running_stats"] else 0)


_BN_PARAMS = (
    Param("eps", "float", 1e-5, "Small constant added to the variance for numerical stability.", 1e-12, 1.0),
    Param("momentum", "float", 0.1, "How fast the running mean and variance follow each batch.", 0.0, 1.0),
    Param("affine", "bool", True, "Learn a scale and shift per channel after normalising."),
    Param("track_running_stats", "bool", True, "Keep running statistics for evaluation."),
)
register(
    LayerSpec(
        "batchnorm2d",
        "Batch norm 2D",
        "Normalization & regularization",
        "Normalises each channel over the batch to zero mean and unit variance, then rescales: steadier "
        "training, higher usable learning rates and a mild regularising effect.",
        _BN_PARAMS,
        _bn2d_infer,
        short="BN2d",
        has_weights=True,
    )
)
register(
    LayerSpec(
        "batchnorm1d",
        "Batch norm 1D",
        "Normalization & regularization",
        "Batch normalisation for flat feature vectors (after Flatten or Linear).",
        _BN_PARAMS,
        _bn1d_infer,
        short="BN1d",
        has_weights=True,
    )
)


def _dropout2d_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    return Inference(_need_map(_one(inputs), "Dropout2d"))


_P = (Param("p", "float", 0.5, "Probability of zeroing a unit during training.", 0.0, 1.0, label="Drop probability"),)
register(
    LayerSpec(
        "dropout",
        "Dropout",
        "Normalization & regularization",
        "During training, zeroes each unit with probability p so the network cannot rely on any single "
        "unit (less co-adaptation, less overfitting). Does nothing at evaluation time.",
        _P,
        _identity_infer,
        key_params=("p",),
        short="Dropout",
    )
)
register(
    LayerSpec(
        "dropout2d",
        "Spatial dropout",
        "Normalization & regularization",
        "Drops whole activation maps (channels) at once, the dropout that suits convolutional features.",
        _P,
        _dropout2d_infer,
        key_params=("p",),
        short="Dropout2d",
    )
)


def _flatten_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    n = 1
    for s in shape:
        n *= s
    return Inference((n,), flattens=len(shape) == 3)


register(
    LayerSpec(
        "flatten",
        "Flatten",
        "Fully connected",
        "Unrolls the activation maps into one long vector so fully-connected layers can read them.",
        (),
        _flatten_infer,
        short="Flatten",
    )
)


def _linear_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    if len(shape) != 1:
        raise LayerError(f"expects a flat input, got {fmt_shape(shape)}", "add a Flatten before it", None)
    f_in, f_out = shape[0], cfg["out_features"]
    params = f_in * f_out + (f_out if cfg["bias"] else 0)
    return Inference((f_out,), params, 0, f_in * f_out)


register(
    LayerSpec(
        "linear",
        "Fully connected",
        "Fully connected",
        "Connects every input value to every output unit with its own weight: combines the extracted "
        "features into class scores. Parameters grow with inputs x outputs, which is why CNNs put it last.",
        (
            Param("out_features", "int", 10, "Number of output units (the class count for the last layer).", 1, 1 << 20, label="Units"),
            Param("bias", "bool", True, "Add a learnable offset per unit."),
        ),
        _linear_infer,
        key_params=("out_features",),
        short="FC",
        has_weights=True,
    )
)


def _merge_inputs_param() -> Param:
    return Param("inputs", "int", 2, "Number of incoming branches.", 2, 16)


def _add_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    first = inputs[0]
    for i, s in enumerate(inputs[1:], start=1):
        if s != first:
            raise LayerError(
                f"inputs must have the same shape, got {fmt_shape(first)} on input 1 and {fmt_shape(s)} on input {i + 1}",
                "make the branches match (e.g. a 1x1 convolution with stride on the shortcut)",
                None,
            )
    return Inference(first)


def _concat_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    first = inputs[0]
    for i, s in enumerate(inputs[1:], start=1):
        if len(s) != len(first) or s[1:] != first[1:]:
            raise LayerError(
                f"inputs must agree on all but the channel axis, got {fmt_shape(first)} on input 1 and {fmt_shape(s)} on input {i + 1}",
                "make the branches the same height and width (or both flat)",
                None,
            )
    return Inference((sum(s[0] for s in inputs),) + tuple(first[1:]))


register(
    LayerSpec(
        "add",
        "Add (residual)",
        "Merge",
        "Adds its inputs element-wise: the skip connection of residual networks, which lets gradients flow "
        "through very deep stacks.",
        (_merge_inputs_param(),),
        _add_infer,
        inputs="inputs",
        short="Add",
    )
)
register(
    LayerSpec(
        "concat",
        "Concatenate",
        "Merge",
        "Stacks its inputs along the channel axis, as in Inception and DenseNet blocks.",
        (_merge_inputs_param(),),
        _concat_infer,
        inputs="inputs",
        short="Concat",
    )
)


def _ce_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    if len(shape) != 1:
        raise LayerError(
            f"expects one score per class (a flat vector), got {fmt_shape(shape)}",
            "end the network with Flatten and a Fully connected layer with one unit per class",
            None,
        )
    if shape[0] < 2:
        raise LayerError("needs at least 2 class scores, got 1", "set the last Fully connected layer to the number of classes", None)
    return Inference(shape)


def _mse_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    return Inference(_one(inputs))


register(
    LayerSpec(
        "cross_entropy",
        "Cross-entropy loss",
        "Output / loss",
        "The loss layer for classification: applies softmax to the class scores and measures how far the "
        "predicted probabilities are from the true class. Training minimises it by backpropagation.",
        (Param("label_smoothing", "float", 0.0, "Spread this much probability over the other classes to soften targets.", 0.0, 0.99),),
        _ce_infer,
        role="output",
        short="CrossEntropy",
    )
)
register(
    LayerSpec(
        "mse",
        "Mean squared error loss",
        "Output / loss",
        "The loss layer for regression: the mean of the squared differences between predictions and targets.",
        (),
        _mse_infer,
        role="output",
        short="MSE",
    )
)
