"""The HTML report's ROC / precision-recall section: per-class AUC and average precision of the
test split with the run's weights (the engine's figures), ROC curves as inline SVG, and a split
too large to evaluate is said, not computed."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app_inspect"))

from inspect_helpers import TINY_DATA, make_run

from cnn_studio.inspection import report
from cnn_studio.inspection.model import InspectModel, evaluate


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from cnn_studio.data import DataConfig, load_dataset

    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_STUDIO_HOME", str(tmp_path_factory.mktemp("report_home")))
    bundle = load_dataset(DataConfig(**TINY_DATA))
    yield make_run(tmp_path_factory.mktemp("report") / "tiny", bundle, dict(TINY_DATA), steps=20)
    mp.undo()


def test_report_lists_each_classes_auc_and_draws_roc_curves(run):
    html = report.build_report(run)
    assert "ROC and precision-recall (one class against the rest)" in html
    im = InspectModel.from_run(run)
    curves = evaluate(im, "test").curves()
    section = html[html.index("ROC and precision-recall"):]
    for c in curves:
        assert f"<td>{c['class']}</td><td>{c['positives']:,}</td><td>{c['auc']:.3f}</td><td>{c['ap']:.3f}</td>" in section
    assert "macro mean" in section and "false positive rate" in section
    assert section.count("<polyline") == min(report.MAX_ROC_CURVES, sum(1 for c in curves if c["positives"]))
    assert "the first 6 of 10 classes are drawn" in section


def test_a_split_too_large_is_not_evaluated(run, monkeypatch):
    monkeypatch.setattr(report, "MAX_ROC_SAMPLES", 10)
    html = report.build_report(run)
    assert "Not computed: the test split has 64 samples (the report evaluates at most 10)" in html
    assert "data:image/png;base64," in html  # the feature maps are still there
    monkeypatch.setattr(report, "MAX_ROC_SAMPLES", 10_000)

    def broken(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("cnn_studio.inspection.model.evaluate", broken)
    html = report.build_report(run)
    assert "ROC and precision-recall" in html and "Not available: out of memory" in html
    assert "data:image/png;base64," in html
