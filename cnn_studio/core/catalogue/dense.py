"""Flatten and the fully-connected layer."""
from __future__ import annotations

from ..errors import LayerError
from ..layers import fmt_shape, Inference, LayerSpec, Param, register, Shape, _one


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

