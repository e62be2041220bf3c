"""Evaluation views: per-sample predictions over a split, confusion matrix and per-class figures."""
from __future__ import annotations

import numpy as np
import torch


def predict_all(model, x_uint8: torch.Tensor, normalize, batch_size: int = 512, device: str | torch.device = "cpu", return_probs: bool = False):
    """Predicted class and its probability for every sample of an in-memory split; with
    ``return_probs`` also every class's probability, (N, classes) float32 (for ROC / PR curves).

    ``normalize`` maps a uint8 batch to the model's float input (DatasetBundle.normalize)."""
    was_training = model.training
    model.eval()
    preds, confs, probs = [], [], []
    try:
        with torch.inference_mode():
            for i in range(0, len(x_uint8), batch_size):
                xb = normalize(x_uint8[i : i + batch_size].to(device))
                p = torch.softmax(model(xb).float(), dim=1)
                c, k = p.max(dim=1)
                preds.append(k.cpu())
                confs.append(c.cpu())
                if return_probs:
                    probs.append(p.cpu())
    finally:
        model.train(was_training)
    if not preds:
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        return (*empty, np.zeros((0, 0), dtype=np.float32)) if return_probs else empty
    out = (torch.cat(preds).numpy().copy(), torch.cat(confs).numpy().copy())
    return (*out, torch.cat(probs).numpy().copy()) if return_probs else out


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


# ---- ROC and precision-recall, one class against the rest ------------------------------------------
def _ranked(y_true: np.ndarray, scores: np.ndarray):
    """True and false positives at each distinct score threshold, highest score first."""
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} and {s.size}")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.nonzero(np.diff(s))[0], y.size - 1] if y.size else np.zeros(0, np.int64)  # last index of each threshold
    tps = np.cumsum(y)[last].astype(np.float64)
    fps = (last + 1) - tps
    return tps, fps, s[last]


def roc_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(false positive rate, true positive rate, thresholds, area under the curve) of a binary
    problem: every distinct score is a threshold (predict positive when score >= it), the curve
    starts at (0, 0); the area is the trapezoid rule. nan rates/area when a class has no samples."""
    tps, fps, thr = _ranked(y_true, scores)
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    thr = np.r_[np.inf, thr]
    p, n = tps[-1], fps[-1]
    tpr = tps / p if p > 0 else np.full_like(tps, np.nan)
    fpr = fps / n if n > 0 else np.full_like(fps, np.nan)
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)) if p > 0 and n > 0 else float("nan")  # trapezoids
    return fpr, tpr, thr, auc


def pr_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(precision, recall, thresholds, average precision) as scikit-learn's: lowest threshold
    first (recall falling), ending at (recall 0, precision 1). Average precision is sum_n (R_n - R_n-1) P_n over
    the thresholds (no interpolation). nan when the class has no samples."""
    tps, fps, thr = _ranked(y_true, scores)
    p = tps[-1] if tps.size else 0.0
    if p == 0:
        return np.array([1.0]), np.array([np.nan]), np.zeros(0), float("nan")
    precision = tps / (tps + fps)
    recall = tps / p
    precision, recall, thr = precision[::-1], recall[::-1], thr[::-1]  # lowest threshold first
    precision, recall = np.r_[precision, 1.0], np.r_[recall, 0.0]
    ap = float(-np.sum(np.diff(recall) * precision[:-1]))
    return precision, recall, thr, ap


def one_vs_rest(labels, probs, class_names: list[str] | None = None) -> list[dict]:
    """Per class: ROC (fpr, tpr, auc) and precision-recall (precision, recall, ap) of that class's
    probability against all other classes, with its positives (samples) count."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise ValueError(f"probabilities must be (samples, classes) for {labels.shape[0]} samples, got {probs.shape}")
    out = []
    for k in range(probs.shape[1]):
        y = labels == k
        fpr, tpr, _, auc = roc_curve(y, probs[:, k])
        precision, recall, _, ap = pr_curve(y, probs[:, k])
        out.append({"class": class_names[k] if class_names and k < len(class_names) else str(k), "positives": int(y.sum()),
                    "fpr": fpr, "tpr": tpr, "auc": auc, "precision": precision, "recall": recall, "ap": ap})
    return out


def macro_mean(values) -> float:
    """Mean over the classes that have a value (classes without samples have nan)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    return float(v.mean()) if v.size else float("nan")
