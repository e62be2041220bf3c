"""Layers that merge branches."""
from __future__ import annotations

from ..errors import LayerError
from ..layers import fmt_shape, Inference, LayerSpec, Param, register, Shape


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

