"""The Runs dock (issue 12), driven as a user does it: it lists runs made by tiny trainings and by
hand-made folders (a corrupt one and one from a newer version show their status), filters by
typing, sorts by clicking a header; a double-click shows the run in every view, also in a fresh
window; rename, note and star persist in the run folder; two selected runs overlay their curves
with a legend and their settings side by side; Continue trains a run to more epochs from the GUI
and gives the same bits as an uninterrupted run; Open network puts the run's network on the canvas."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from cnn_studio.app.visibility import on_screen
from cnn_studio.core.graph import Graph, chain

TINY = dict(source="shapes", shapes_train=240, shapes_test=60, height=16, width=16, val_fraction=0.25, seed=0)
TRAIN = dict(batch_size=32, schedule="constant", num_threads=1, device="cpu", optimizer="adam")


def tiny_graph(name="tiny", out_channels=6, shape=(3, 16, 16)) -> Graph:
    g = Graph(name)
    chain(g, [
        ("input", {"channels": shape[0], "height": shape[1], "width": shape[2]}, "input"),
        ("conv2d", {"out_channels": out_channels, "kernel_size": 3, "padding": 1}, "conv"),
        ("relu", {}, "relu"),
        ("maxpool2d", {"kernel_size": 4}, "pool"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": 10}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


def train_run(root: Path, name="tiny", epochs=1, lr=3e-3, out_channels=6) -> Path:
    """A finished tiny run folder, as the command line writes it."""
    from cnn_studio.data import DataConfig
    from cnn_studio.training import TrainConfig, Trainer, new_run_path

    run = new_run_path(name, root)
    Trainer(tiny_graph(name, out_channels), DataConfig(**TINY), TrainConfig(epochs=epochs, lr=lr, **TRAIN), run_dir=run).fit()
    return run


@pytest.fixture
def runs_root(_studio_home):
    return Path(_studio_home) / "runs"


def _scan(window, qtbot):
    feat = window.runs
    n = feat.scans
    feat.refresh()
    qtbot.waitUntil(lambda: feat.scans > n, timeout=30_000)
    return feat


def _show_dock(window, qtbot):
    window.runs.dock.show()
    window.runs.dock.raise_()
    QApplication.processEvents()
    qtbot.waitUntil(lambda: window.runs.view.table.isVisible(), timeout=5000)


def _cell(view, path, col=0) -> str:
    r = view.proxy_row_of(str(path))
    return view.proxy.index(r, col).data()


def _click_row(qtbot, view, path, modifier=Qt.KeyboardModifier.NoModifier, double=False):
    r = view.proxy_row_of(str(path))
    assert r >= 0, path
    view.table.scrollTo(view.proxy.index(r, 0))
    pos = view.row_rect_center(str(path))
    if double:  # a view takes a double-click only on the row it was pressed on, as a real one is
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, modifier, pos)
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, modifier, pos)
    else:
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, modifier, pos)


def _press(qtbot, view, action):
    button = view.toolbar.widgetForAction(action)
    assert button is not None and button.isEnabled(), action.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _hand_made(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    bad = root / "broken-20260101-000000"
    bad.mkdir()
    (bad / "config.json").write_text("{ not json", encoding="utf-8")
    newer = root / "future-20260101-000001"
    newer.mkdir()
    (newer / "config.json").write_text(json.dumps({"run_format": 99, "name": "future", "cnn_studio_version": "9.0"}), encoding="utf-8")
    return bad, newer


def test_lists_tiny_runs_and_hand_made_folders_filters_and_sorts(make_window, qtbot, runs_root):
    a = train_run(runs_root, "alpha", lr=1e-3)
    b = train_run(runs_root, "beta", lr=5e-3)
    bad, newer = _hand_made(runs_root)
    cut = runs_root / "cut-20260101-000002"  # a run killed before it wrote anything but its checkpoints folder
    (cut / "checkpoints").mkdir(parents=True)
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    view = feat.view
    assert view.model.rowCount() == 5
    assert view.status.text() == "5 runs"
    assert _cell(view, a) == a.name  # no rename yet: the folder's name
    assert _cell(view, a, 3).startswith("alpha ·")  # network name and size
    assert _cell(view, a, 4) == "shapes"
    assert "adam" in _cell(view, b, 5) and "lr 0.005" in _cell(view, b, 5) and "batch 32" in _cell(view, b, 5)
    assert _cell(view, a, 6) == "1/1" and _cell(view, a, 7).endswith("%") and _cell(view, a, 8).endswith("%")
    assert _cell(view, a, 9) == "finished"
    assert _cell(view, bad, 9).startswith("corrupt: config.json is not valid JSON")
    assert _cell(view, newer, 9).startswith("newer version")
    assert _cell(view, cut, 9) == "incomplete: config.json is missing"

    # filter by typing
    qtbot.keyClicks(view.filter_edit, "beta")
    assert view.proxy.rowCount() == 1 and view.proxy_row_of(str(b)) == 0
    view.filter_edit.clear()
    qtbot.keyClicks(view.filter_edit, "corrupt")
    assert view.proxy.rowCount() == 1 and view.proxy_row_of(str(bad)) == 0
    view.filter_edit.clear()
    assert view.proxy.rowCount() == 5

    # sort by clicking the Name header: alphabetical, then reversed
    header = view.table.horizontalHeader()
    x = header.sectionViewportPosition(0) + header.sectionSize(0) // 2
    from PySide6.QtCore import QPoint

    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
    names = [view.proxy.index(r, 0).data() for r in range(5)]
    first = sorted(names, key=str.lower)
    assert names in (first, first[::-1])
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
    again = [view.proxy.index(r, 0).data() for r in range(5)]
    assert again == names[::-1]

    # a corrupt row cannot be continued (no checkpoint) nor shown: one clear message, nothing else changes
    _click_row(qtbot, view, bad)
    assert not view.act_continue.isEnabled() and view.act_show.isEnabled()
    _click_row(qtbot, view, a)
    assert view.act_continue.isEnabled()
    _click_row(qtbot, view, bad, double=True)
    assert len(w.answers.informed) == 1 and "no weights to show" in w.answers.informed[-1][1]
    assert w.state.source.kind == "nothing"


def test_double_click_shows_the_run_everywhere_also_in_a_fresh_window(make_window, qtbot, runs_root):
    run = train_run(runs_root, "shown", epochs=2)
    for _ in range(2):  # the second window is a fresh start: the run is still there and opens
        w = make_window()
        feat = _scan(w, qtbot)
        _show_dock(w, qtbot)
        _click_row(qtbot, feat.view, run, double=True)
        assert w.state.source.run_dir == str(run) and w.state.source.weights == "best"
        qtbot.waitUntil(lambda: w.state.source.status == "ready", timeout=60_000)
        plots = w.training.panel.plots
        assert list(plots.curve_data("loss_val")[0]) == [1, 2]  # its curves fill the Training curves view
        assert run.name in w.inspect.evaluation.source_banner.text()  # the views say which run they show
        w._closing_ok = True
        w.close()

    # Last weights, when chosen
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    feat.view.weights_combo.setCurrentIndex(feat.view.weights_combo.findData("last"))
    _click_row(qtbot, feat.view, run, double=True)
    assert w.state.source.weights == "last"
    qtbot.waitUntil(lambda: w.state.source.status == "ready", timeout=60_000)


def test_rename_note_and_star_persist_in_the_run_folder(make_window, qtbot, runs_root):
    run = train_run(runs_root, "meta")
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    view = feat.view
    feat.ask_text = lambda title, label, text: "my best try"
    feat.ask_note = lambda title, label, text: "lr too high?\nretry"
    _click_row(qtbot, view, run)
    n = feat.scans
    _press(qtbot, view, view.act_rename)
    qtbot.waitUntil(lambda: feat.scans > n, timeout=30_000)
    _click_row(qtbot, view, run)
    n = feat.scans
    _press(qtbot, view, view.act_note)
    qtbot.waitUntil(lambda: feat.scans > n, timeout=30_000)
    _click_row(qtbot, view, run)
    n = feat.scans
    _press(qtbot, view, view.act_star)
    qtbot.waitUntil(lambda: feat.scans > n, timeout=30_000)
    meta = json.loads((run / "run_meta.json").read_text())
    assert meta["name"] == "my best try" and meta["note"] == "lr too high?\nretry" and meta["star"] is True
    assert _cell(view, run) == "\u2605 my best try"
    qtbot.keyClicks(view.filter_edit, "retry")  # the note is searched too
    assert view.proxy.rowCount() == 1
    w._closing_ok = True
    w.close()

    w2 = make_window()
    feat2 = _scan(w2, qtbot)
    assert _cell(feat2.view, run) == "\u2605 my best try"
    # star again: unstarred
    _show_dock(w2, qtbot)
    _click_row(qtbot, feat2.view, run)
    n = feat2.scans
    _press(qtbot, feat2.view, feat2.view.act_star)
    qtbot.waitUntil(lambda: feat2.scans > n, timeout=30_000)
    assert json.loads((run / "run_meta.json").read_text())["star"] is False
    assert _cell(feat2.view, run) == "my best try"


def test_two_selected_runs_overlay_their_curves_and_settings(make_window, qtbot, runs_root):
    a = train_run(runs_root, "small", epochs=2, lr=1e-3, out_channels=4)
    b = train_run(runs_root, "wide", epochs=2, lr=5e-3, out_channels=8)
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    view = feat.view
    _click_row(qtbot, view, a)
    assert not view.act_compare.isEnabled()
    _click_row(qtbot, view, b, modifier=Qt.KeyboardModifier.ControlModifier)
    assert sorted(view.selected_paths()) == sorted([str(a), str(b)])
    _press(qtbot, view, view.act_compare)
    cmp = feat.compare
    assert feat.compare_dock.isVisible()
    for col in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        curves = cmp.curves(col)
        assert len(curves) == 2, col
        assert sorted(cmp.legend_names(col)) == sorted([view.model.rows[view.model.row_of(str(p))].name for p in (a, b)])
        colours = {c.opts["pen"].color().name() for c in curves}
        assert len(colours) == 2  # one colour per run
        assert all(len(c.getData()[0]) == 2 for c in curves)  # two epochs each
    t = cmp.table
    labels = [t.verticalHeaderItem(r).text() for r in range(t.rowCount())]
    assert t.columnCount() == 2 and labels
    diff = " ".join(cmp.diff_rows).lower()
    assert "lr" in diff  # the learning rates differ and are highlighted
    assert not [r for r in cmp.diff_rows if "batch" in r.lower()]  # the same batch size is not highlighted
    text = cmp.network_diff.toPlainText()
    assert "conv" in text and "out_channels" in text  # which layer and parameter of the networks differ


def test_continue_a_run_to_more_epochs_gives_the_same_bits_as_an_uninterrupted_run(make_window, qtbot, runs_root, tmp_path):
    import torch

    one = train_run(runs_root, "cont", epochs=1)
    straight = train_run(tmp_path / "ref", "cont", epochs=2)
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    view = feat.view
    asked = []
    feat.ask_epochs = lambda title, label, value, minimum: asked.append((value, minimum)) or 2
    _click_row(qtbot, view, one)
    panel = w.training.panel
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as blocker:
        _press(qtbot, view, view.act_continue)
        assert panel.running and w.state.running
    assert asked and asked[0][1] == 2  # at least one more epoch than done
    summary = blocker.args[0]
    assert summary["stop_reason"] == "finished" and summary["epochs_completed"] == 2
    a = torch.load(one / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the row follows: two epochs done, and the views show the continued run
    qtbot.waitUntil(lambda: _cell(view, one, 6) == "2/2", timeout=30_000)
    assert w.state.source.run_dir == str(one)
    # asking for no more epochs than done is one clear message (once the worker has released the run
    # folder: run_finished comes a moment before the trainer's lock is gone; Continue reads the run's
    # state then, not the list's last scan, which may have seen it locked)
    from cnn_studio.training.rundir import RunDir

    qtbot.waitUntil(lambda: not RunDir(one).is_locked(), timeout=30_000)
    feat.ask_epochs = lambda *a: 2
    _click_row(qtbot, view, one)
    assert not feat.continue_run(str(one), epochs=2)
    assert "ask for more than 2" in w.answers.informed[-1][1]


def test_open_the_network_of_a_run_as_a_new_document(make_window, qtbot, runs_root):
    run = train_run(runs_root, "netrun", out_channels=5)
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    w.append_layer("relu")  # an unsaved change: asked first
    w.answers.replies.append(QMessageBox.StandardButton.Discard)
    _click_row(qtbot, feat.view, run)
    _press(qtbot, feat.view, feat.view.act_open_network)
    assert w.answers.asked and w.answers.asked[-1][0] == "Unsaved changes"
    assert w.graph.name == "netrun" and w.graph.nodes["conv"].config["out_channels"] == 5
    assert w.document.path is None and not w.document.modified
    assert w.state.source.run_dir == str(run)


def test_delete_moves_to_trash_or_deletes_after_a_confirmation(make_window, qtbot, runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # a trash of the test's own, if Qt uses one
    run = train_run(runs_root, "gone")
    keep = train_run(runs_root, "kept")
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    w.answers.replies.append(QMessageBox.StandardButton.No)
    _click_row(qtbot, feat.view, run)
    trashed = feat.move_to_trash
    feat.move_to_trash = lambda p: False  # no trash here: a confirmation first; No keeps it
    _press(qtbot, feat.view, feat.view.act_delete)
    assert run.is_dir() and w.answers.asked[-1][0] == "Delete runs"
    w.answers.replies.append(QMessageBox.StandardButton.Yes)
    feat.move_to_trash = trashed  # Qt's trash where it works, else the confirmation (answered Yes)
    _click_row(qtbot, feat.view, run)
    n = feat.scans
    _press(qtbot, feat.view, feat.view.act_delete)
    qtbot.waitUntil(lambda: feat.scans > n, timeout=30_000)
    assert not run.exists() and keep.is_dir()
    assert feat.view.model.row_of(str(run)) < 0 and feat.view.model.row_of(str(keep)) >= 0


def test_a_run_written_by_another_process_appears_by_itself(make_window, qtbot, runs_root):
    runs_root.mkdir(parents=True, exist_ok=True)
    w = make_window()
    feat = _scan(w, qtbot)
    assert feat.view.model.rowCount() == 0
    run = train_run(runs_root, "cli")  # as `cnn-studio train` would, while the window is open
    qtbot.waitUntil(lambda: feat.view.model.row_of(str(run)) >= 0 and _cell(feat.view, run, 9) == "finished", timeout=15_000)


def test_the_apps_run_shows_live_in_the_list(make_window, qtbot, tmp_path):
    from test_training_ui import _npz, _setup

    w = make_window(tiny_graph("live", shape=(1, 12, 12)))  # the data's own shape: nothing to convert
    feat = _scan(w, qtbot)
    tr = _setup(w, _npz(tmp_path, n=640, shape=(1, 12, 12)), epochs=2, batch=16)
    tr.panel.settings.threads.setValue(1)
    qtbot.keyClick(w, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: tr.panel.worker is not None and tr.panel.worker.trainer is not None and tr.panel.worker.trainer.state.global_step > 0, timeout=120_000)
    with qtbot.waitSignal(tr.panel.worker.paused_changed, timeout=10_000):  # holds the run (and its folder's lock)
        qtbot.mouseClick(tr.panel.pause_button, Qt.MouseButton.LeftButton)
    run = tr.panel.run_dir
    feat.refresh()
    assert _cell(feat.view, run, 9) == "running"
    with qtbot.waitSignal(tr.panel.run_finished, timeout=120_000):
        qtbot.mouseClick(tr.panel.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _cell(feat.view, run, 9) == "finished" and _cell(feat.view, run, 6) == "2/2", timeout=15_000)


def test_the_open_projects_runs_are_listed_beside_it(make_window, qtbot, tmp_path, runs_root):
    home_run = train_run(runs_root, "athome")
    project = tmp_path / "proj" / "mynet.cnnstudio"
    project.parent.mkdir()
    beside = train_run(project.parent / "mynet_runs", "mynet")
    w = make_window()
    feat = _scan(w, qtbot)
    assert feat.view.model.row_of(str(home_run)) >= 0 and feat.view.model.row_of(str(beside)) < 0
    n = feat.scans
    assert w.save_as(str(project))  # the project now has a path: its runs folder is listed too
    qtbot.waitUntil(lambda: feat.scans > n, timeout=10_000)
    assert feat.view.model.row_of(str(beside)) >= 0 and feat.view.model.row_of(str(home_run)) >= 0
    assert Path(w.training.run_root()) == project.parent / "mynet_runs"


def test_a_run_another_process_is_writing_follows_by_itself(make_window, qtbot, runs_root):
    from cnn_studio.training.rundir import RunDir

    run = train_run(runs_root, "elsewhere")
    summary = (run / "summary.json").read_bytes()
    (run / "summary.json").unlink()  # as while the command line still trains it
    rd = RunDir(run)
    assert rd.try_lock()
    try:
        w = make_window()
        feat = _scan(w, qtbot)
        assert _cell(feat.view, run, 9) == "running"
        assert feat._poll.isActive()  # its row is re-read every few seconds
    finally:
        rd.unlock()
    (run / "summary.json").write_bytes(summary)  # the run ended
    qtbot.waitUntil(lambda: _cell(feat.view, run, 9) == "finished", timeout=15_000)
    assert not feat._poll.isActive()


def test_enter_on_a_selected_row_shows_it(make_window, qtbot, runs_root):
    run = train_run(runs_root, "enter")
    w = make_window()
    feat = _scan(w, qtbot)
    _show_dock(w, qtbot)
    _click_row(qtbot, feat.view, run)
    qtbot.keyClick(feat.view.table, Qt.Key.Key_Return)
    assert w.state.source.run_dir == str(run)
    qtbot.waitUntil(lambda: w.state.source.status == "ready", timeout=60_000)


def test_a_hidden_runs_list_is_scanned_when_its_tab_comes_forward_not_each_epoch(window, qtbot, runs_root):
    feat = _scan(window, qtbot)
    panel = window.training.panel
    window.training.curves_dock.raise_()  # as Train leaves it: the curves in front, Runs behind
    qtbot.waitUntil(lambda: not on_screen(feat.view), timeout=5000)
    n = feat.scans
    panel.epoch_done.emit({"epoch": 1})
    # no scan for a list nobody can see: none done, none scheduled, the list marked stale
    assert feat.scans == n and not feat._debounce.isActive() and feat._stale
    _show_dock(window, qtbot)
    qtbot.waitUntil(lambda: feat.scans > n, timeout=10_000)  # stale: scanned as its tab comes forward
    # in front, each epoch updates it (the live run's row)
    n = feat.scans
    panel.epoch_done.emit({"epoch": 2})
    qtbot.waitUntil(lambda: feat.scans > n, timeout=10_000)
