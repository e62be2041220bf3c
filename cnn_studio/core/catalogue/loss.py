"""Loss (output) layers: not part of the forward pass; the trainer builds the criterion."""
from __future__ import annotations

from ..errors import LayerError
from ..layers import fmt_shape, Inference, LayerSpec, Param, register, Shape, _one


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
