"""Classification metrics: loss, accuracy, top-5 accuracy, per-class accuracy and the confusion matrix.

``evaluate`` is the one place a split is scored; the Trainer (validation, test), the CLI and the app
all call it. Counts are accumulated as tensors on the device and read back once at the end.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def loss_target(loss_type: str, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """What the criterion compares the scores with: class indices, or one-hot rows for MSE."""
    if loss_type == "mse":
        return F.one_hot(y, num_classes).to(torch.float32)
    return y


def empty_metrics(num_classes: int) -> dict:
    return {
        "count": 0, "loss": None, "accuracy": None, "top5_accuracy": None,
        "per_class_accuracy": [None] * num_classes, "class_counts": [0] * num_classes,
        "confusion_matrix": [[0] * num_classes for _ in range(num_classes)],
    }


def metrics_from_counts(loss_sum: float, count: int, top5: int, confusion: list[list[int]]) -> dict:
    """Turn summed loss and counts into the metric dict ``evaluate`` returns (JSON-safe)."""
    n = len(confusion)
    if count == 0:
        return empty_metrics(n)
    correct = sum(confusion[i][i] for i in range(n))
    rows = [sum(r) for r in confusion]
    loss = loss_sum / count
    return {
        "count": count,
        "loss": loss if math.isfinite(loss) else None,
        "accuracy": correct / count,
        "top5_accuracy": top5 / count,
        "per_class_accuracy": [(confusion[i][i] / rows[i]) if rows[i] else None for i in range(n)],
        "class_counts": rows,
        "confusion_matrix": confusion,  # rows: true class, columns: predicted class
    }


def evaluate(
    model: nn.Module,
    split: Any,
    bundle: Any,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    *,
    criterion: nn.Module | None = None,
    amp: bool = False,
) -> dict:
    """Score ``model`` on ``split`` (a split of ``bundle``: ``.x`` uint8 NCHW, ``.y`` int64).

    Returns ``{"count", "loss", "accuracy", "top5_accuracy", "per_class_accuracy" (None for a class
    with no samples), "class_counts", "confusion_matrix" (rows = true class)}``; plain Python numbers.
    Runs under ``torch.inference_mode`` in eval mode and puts the model back in its previous mode.
    """
    from ..data import BatchIterator

    num_classes = int(bundle.num_classes)
    if split is None or len(split.y) == 0:
        return empty_metrics(num_classes)
    device = torch.device(device)
    if criterion is None:
        criterion = model.make_loss() if hasattr(model, "make_loss") else nn.CrossEntropyLoss()
    loss_type = getattr(model, "loss_type", "cross_entropy")
    k = min(5, num_classes)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    top5 = torch.zeros((), dtype=torch.int64, device=device)
    autocast = torch.autocast(device_type="cuda") if (amp and device.type == "cuda") else contextlib.nullcontext()
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast:
            for x, y in BatchIterator(split, batch_size, shuffle=False, generator=None, device=device):
                scores = model(bundle.normalize(x)).float()
                if scores.ndim != 2 or scores.shape[1] != num_classes:
                    raise ValueError(f"the model gives {tuple(scores.shape[1:])} scores per image but the data has {num_classes} classes")
                loss_sum += criterion(scores, loss_target(loss_type, y, num_classes)).double() * y.shape[0]
                confusion += torch.bincount(y * num_classes + scores.argmax(1), minlength=num_classes * num_classes)
                top5 += (scores.topk(k, 1).indices == y[:, None]).any(1).sum()
    finally:
        model.train(was_training)
    cm = confusion.view(num_classes, num_classes).cpu().tolist()
    return metrics_from_counts(float(loss_sum), int(sum(map(sum, cm))), int(top5), cm)
