"""The app state (app/state.py): one source for every view, whose events fire only on a real
change, and the transitions New/Open/Revert, run start, live, end, failure and show_run."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.app.state import AppState, ViewSource


class _Doc:
    """Just what AppState reads of a Document: graph_replaced, the graph's name."""

    def __init__(self, qobject_signal_holder):
        self.graph_replaced = qobject_signal_holder.graph_replaced
        self.graph = type("G", (), {"name": "net"})()

    def display_name(self):
        return self.graph.name


@pytest.fixture
def doc():
    from PySide6.QtCore import QObject, Signal

    class Holder(QObject):
        graph_replaced = Signal()

    h = Holder()
    d = _Doc(h)
    d._holder = h
    return d


def _record(state):
    got = []
    state.source_changed.connect(lambda s: got.append(("source", s)))
    state.document_changed.connect(lambda d: got.append(("document", d)))
    state.running_changed.connect(lambda r: got.append(("running", r)))
    return got


def _run_dir(tmp_path, name="run1", summary=None, ckpt=True):
    d = tmp_path / name
    (d / "checkpoints").mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"name": "lenet5"}))
    if ckpt:
        (d / "checkpoints" / "best.pt").write_bytes(b"")
    if summary is not None:
        (d / "summary.json").write_text(json.dumps(summary))
    return str(d)


def test_setting_an_equal_source_fires_nothing(doc):
    state = AppState(doc)
    got = _record(state)
    assert not state.set_source(ViewSource.nothing("net"))  # equal to the initial one
    assert got == []
    src = ViewSource("run", "net", "/r", "best", "loading")
    assert state.set_source(src)
    assert not state.set_source(ViewSource("run", "net", "/r", "best", "loading"))  # equal value
    assert [k for k, _ in got] == ["source"]


def test_models_compare_by_identity(doc):
    state = AppState(doc)
    got = _record(state)
    a, b = object(), object()
    base = ViewSource("run", "net", "/r", "best", "ready")
    from cnn_studio.app.state import _with_model

    state.set_source(_with_model(base, a))
    state.set_source(_with_model(base, a))
    state.set_source(_with_model(base, b))
    assert [s.imodel for _, s in got] == [a, b]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["nothing", "live", "run"]), st.sampled_from(["", "/a", "/b"]),
                          st.sampled_from(["", "best", "last"]), st.sampled_from(["", "loading", "ready"])), max_size=12))
def test_source_changed_fires_exactly_on_each_real_change(steps):
    from PySide6.QtCore import QObject, Signal

    class Holder(QObject):
        graph_replaced = Signal()

    h = Holder()
    state = AppState(_Doc(h))
    got = []
    state.source_changed.connect(got.append)
    expected = []
    current = state.source
    for kind, run, weights, status in steps:
        src = ViewSource(kind, "net", run or None, weights, status)
        state.set_source(src)
        if src != current:
            expected.append(src)
            current = src
    assert got == expected
    assert state.source == current


def test_document_replaced_shows_nothing_of_the_old_run(doc, tmp_path):
    state = AppState(doc)
    run = _run_dir(tmp_path)
    state.show_run(run)
    got = _record(state)
    doc.graph.name = "tinyvgg"
    doc.graph_replaced.emit()  # what Document.replace emits on New, Open, Revert, Recover
    assert [k for k, _ in got] == ["document", "source"]
    assert state.source.kind == "nothing" and state.source.network == "tinyvgg"
    assert "Train this network" in state.source.describe()
    assert state.generation == 1


def test_a_failed_start_leaves_the_source_as_it_was(doc, tmp_path):
    state = AppState(doc)
    run = _run_dir(tmp_path, summary={"epochs_completed": 2})
    state.show_run(run)
    before = state.source
    got = _record(state)
    state.run_starting(str(tmp_path / "run2"))
    state.run_failed("the data has 3 classes")
    assert state.source is before
    assert got == [("running", True), ("running", False)]


def test_a_run_goes_live_then_shows_its_saved_weights_once_loaded(doc, tmp_path):
    calls = []
    state = AppState(doc, loader=lambda run_dir, weights, done, failed: calls.append((run_dir, weights, done, failed)))
    got = _record(state)
    run = _run_dir(tmp_path, summary={"epochs_completed": 1})
    start_model = object()
    state.run_starting(run)
    state.run_live(run, start_model)
    assert state.source.kind == "live" and state.source.imodel is start_model and state.running
    state.run_ended({"epochs_completed": 1, "run_dir": run})
    assert state.source.kind == "run" and state.source.status == "loading" and state.source.imodel is None
    assert state.source.same_run(ViewSource("live", "net", run))
    assert calls and calls[0][:2] == (run, "best")
    trained = type("M", (), {"info": type("I", (), {"checkpoint": f"{run}/checkpoints/best.pt"})()})()
    calls[0][2](trained)
    assert state.source.status == "ready" and state.source.imodel is trained and state.source.weights == "best"
    assert "best weights" in state.source.describe() and "run1" in state.source.describe()
    kinds = [(k, getattr(v, "kind", v)) for k, v in got]
    assert kinds == [("running", True), ("source", "live"), ("running", False), ("source", "run"), ("source", "run")]


def test_a_load_that_comes_after_another_choice_is_dropped(doc, tmp_path):
    calls = []
    state = AppState(doc, loader=lambda run_dir, weights, done, failed: calls.append(done))
    a, b = _run_dir(tmp_path, "a"), _run_dir(tmp_path, "b")
    state.show_run(a)
    state.show_run(b, "last")
    calls[0](object())  # run a finished loading late
    assert state.source.run_dir == b and state.source.imodel is None
    with pytest.raises(ValueError):
        state.show_run(a, "newest")


def test_a_load_that_fails_says_why(doc, tmp_path):
    calls = []
    state = AppState(doc, loader=lambda run_dir, weights, done, failed: calls.append(failed))
    state.show_run(_run_dir(tmp_path))
    calls[0]("checkpoint is corrupt")
    assert state.source.status == "failed" and "corrupt" in state.source.describe()


def test_a_run_stopped_before_its_first_epoch_says_so_and_shows_no_model(doc, tmp_path):
    calls = []
    state = AppState(doc, loader=lambda *a: calls.append(a))
    run = _run_dir(tmp_path, ckpt=False)
    state.run_starting(run)
    state.run_live(run, object())
    state.run_ended({"epochs_completed": 0, "stop_reason": "stopped_by_user", "run_dir": run})
    assert not calls and state.source.imodel is None and not state.running
    assert state.source.status == "stopped" and "before the first epoch" in state.source.describe()
