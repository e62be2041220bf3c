import math

import pytest
import torch
from torch import nn

from cnn_studio.training import evaluate
from cnn_studio.training.metrics import metrics_from_counts


class Constant(nn.Module):
    """Scores every image the same: class 0 first, then 1, 2, ..."""

    def __init__(self, n):
        super().__init__()
        self.register_buffer("scores", torch.arange(n, 0, -1, dtype=torch.float32))

    def forward(self, x):
        return self.scores.expand(x.shape[0], -1)


def test_evaluate_counts_against_a_known_model(bundle):
    n = bundle.num_classes
    model = Constant(n).train()
    m = evaluate(model, bundle.val, bundle, "cpu", batch_size=7)  # a batch size that leaves a ragged last batch
    y = bundle.val.y
    counts = torch.bincount(y, minlength=n).tolist()
    assert m["count"] == len(y)
    assert m["accuracy"] == pytest.approx(counts[0] / len(y))
    assert m["top5_accuracy"] == pytest.approx(sum(counts[: min(5, n)]) / len(y))
    assert m["class_counts"] == counts
    assert [row[0] for row in m["confusion_matrix"]] == counts  # everything predicted as class 0
    assert all(sum(row[1:]) == 0 for row in m["confusion_matrix"])
    assert m["per_class_accuracy"][0] == (1.0 if counts[0] else None)
    assert all(v == (0.0 if c else None) for v, c in zip(m["per_class_accuracy"][1:], counts[1:]))
    expected = nn.functional.cross_entropy(model.scores.expand(len(y), -1), y).item()
    assert m["loss"] == pytest.approx(expected, rel=1e-5)
    assert model.training  # mode restored


def test_evaluate_of_an_empty_split_is_all_none(bundle):
    class Empty:
        x = bundle.val.x[:0]
        y = bundle.val.y[:0]

    m = evaluate(Constant(bundle.num_classes), Empty(), bundle, "cpu", 8)
    assert m["count"] == 0 and m["accuracy"] is None and m["loss"] is None
    assert m["per_class_accuracy"] == [None] * bundle.num_classes
    assert evaluate(Constant(bundle.num_classes), None, bundle)["count"] == 0


def test_metrics_from_counts():
    m = metrics_from_counts(3.0, 4, 4, [[2, 0], [1, 1]])
    assert m["loss"] == 0.75 and m["accuracy"] == 0.75 and m["per_class_accuracy"] == [1.0, 0.5]
    assert metrics_from_counts(math.inf, 4, 4, [[2, 0], [1, 1]])["loss"] is None
