"""Element-wise activation functions."""
from __future__ import annotations

from ..layers import Inference, LayerSpec, Param, register, Shape, _identity_infer, _one


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

_activation(
    "relu6",
    "ReLU6",
    "ReLU capped at 6: min(max(0, x), 6). The cap keeps activations in a small range that survives "
    "low-precision (8-bit) arithmetic on phones, which is why MobileNet uses it.",
)
_activation(
    "hardswish",
    "Hardswish",
    "x * ReLU6(x + 3) / 6: a piecewise-linear stand-in for Swish (x * sigmoid(x)) that needs no "
    "exponential, so it is cheap on mobile hardware; MobileNetV3 uses it in its deeper layers.",
)
