"""Training from saved weights in the app (issue 12): the Runs dock's "Train from weights" starts a
new run of the current network from the selected run's best.pt (recorded as init_from in the run),
and Network > Train from weights file… with a file that does not fit fails the start with the
importer's list of mismatched keys."""
from __future__ import annotations

import json

import torch

from test_runs_dock import _click_row, _press, _scan, _show_dock, runs_root, tiny_graph, train_run  # noqa: F401 (runs_root: a fixture)
from test_training_ui import _npz, _setup


def test_train_the_current_network_from_a_runs_weights(make_window, qtbot, runs_root, tmp_path):
    src = train_run(runs_root, "src")
    w = make_window(tiny_graph("cur"))  # the same layers as the run's network, 3x16x16 like the data
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    tr = _setup(w, _npz(tmp_path, n=160, shape=(3, 16, 16)), epochs=1, batch=32)
    tr.panel.settings.threads.setValue(1)
    view = feat.view
    _click_row(qtbot, view, src)
    with qtbot.waitSignal(tr.panel.run_finished, timeout=120_000) as blocker:
        _press(qtbot, view, view.act_train_from)
        assert tr.panel.running
    summary = blocker.args[0]
    assert summary["stop_reason"] == "finished"
    run = tr.panel.run_dir
    assert run and run != str(src)
    first = torch.load(f"{run}/checkpoints/last.pt", weights_only=True)
    assert first["train"]["init_from"] == str(src)
    assert json.loads(open(f"{run}/config.json", encoding="utf-8").read())["train"]["init_from"] == str(src)
    assert any("initialised from" in n and "best.pt" in n for n in summary["notes"])


def test_a_weights_file_that_does_not_fit_fails_the_start_with_the_key_list(make_window, qtbot, tmp_path):
    w = make_window(tiny_graph("cur"))
    tr = _setup(w, _npz(tmp_path, n=160, shape=(3, 16, 16)), epochs=1, batch=32)
    tr.panel.settings.threads.setValue(1)
    bad = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(4, 3, 3, 3), "conv.bias": torch.zeros(4), "head.weight": torch.zeros(10, 5)}, bad)
    asked = []
    tr.ask_weights_file = lambda: asked.append(1) or str(bad)
    assert tr.act_train_from_file in w.network_menu.actions()
    with qtbot.waitSignal(tr.panel.run_failed, timeout=60_000):
        tr.act_train_from_file.trigger()
    qtbot.waitUntil(lambda: not tr.panel.running, timeout=30_000)
    assert asked
    title, text = w.answers.informed[-1][:2]
    assert "do not fit" in text and "conv.weight: file 4x3x3x3, network 6x3x3x3" in text
    assert "missing (fc.weight; fc.bias)" in text and "unexpected (head.weight)" in text
    assert w.editing_enabled and tr.act_train.isEnabled() and tr.act_train_from_file.isEnabled()
    tr.ask_weights_file = lambda: None  # cancelled: nothing starts
    assert not tr.train_from_file() and not tr.panel.running
