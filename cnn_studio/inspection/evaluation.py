"""Evaluation views: per-sample predictions over a split, confusion matrix and per-class figures."""
from __future__ import annotations

import numpy as np
import torch


def predict_all(model, x_uint8: torch.Tensor, normalize, batch_size: int = 512, device: str | torch.device = "cpu"):
    """Predicted class and its probability for every sample of an in-memory split.

    ``normalize`` maps a uint8 batch to the model's float input (DatasetBundle.normalize)."""
    was_training = model.training
    model.eval()
    preds, confs = [], []
    try:
        with torch.inference_mode():
            for i in range(0, len(x_uint8), batch_size):
                xb = normalize(x_uint8[i : i + batch_size].to(device))
                p = torch.softmax(model(xb).float(), dim=1)
                c, k = p.max(dim=1)
                preds.append(k.cpu())
                confs.append(c.cpu())
    finally:
        model.train(was_training)
    if not preds:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return torch.cat(preds).numpy().copy(), torch.cat(confs).numpy().copy()


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    return np.bincount(labels * num_classes + preds, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class(cm: np.ndarray, class_names: list[str] | None = None) -> list[dict]:
    """Precision, recall (= per-class accuracy), F1 and support for each class."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    out = []
    for i in range(cm.shape[0]):
        precision = tp[i] / predicted[i] if predicted[i] else 0.0
        recall = tp[i] / support[i] if support[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append(
            {
                "class": class_names[i] if class_names else str(i),
                "precision": float(precision),
                "recall": float(recall),
                "accuracy": float(recall),
                "f1": float(f1),
                "support": int(support[i]),
            }
        )
    return out


def summarize(labels: np.ndarray, preds: np.ndarray, num_classes: int, class_names: list[str] | None = None) -> dict:
    cm = confusion_matrix(labels, preds, num_classes)
    total = int(cm.sum())
    return {
        "samples": total,
        "accuracy": float(np.trace(cm) / total) if total else 0.0,
        "per_class": per_class(cm, class_names),
        "confusion_matrix": cm.astype(int).tolist(),
    }


def misclassified(labels: np.ndarray, preds: np.ndarray, confs: np.ndarray, true_class: int | None = None, pred_class: int | None = None) -> np.ndarray:
    """Indices of wrong predictions (optionally of one confusion-matrix cell), most confident first."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    mask = labels != preds if true_class is None or pred_class is None or true_class != pred_class else np.ones_like(labels, bool)
    if true_class is not None:
        mask &= labels == true_class
    if pred_class is not None:
        mask &= preds == pred_class
    idx = np.nonzero(mask)[0]
    return idx[np.argsort(-np.asarray(confs)[idx], kind="stable")]
