"""Files: save / reopen, corrupt files, the unsaved-changes prompt, recent files, autosave and
recovery after a crash, dropping a project file on the window."""
from __future__ import annotations

from pathlib import Path

from app_helpers import Cancel, Discard, No, Save, Yes, drop, drop_mime, node_pos, norm
from PySide6.QtCore import QMimeData, QPoint, QUrl

from cnn_studio.core.project import load_project


def _edit(window):
    drop(window, "dropout", node_pos(window, "flatten"))
    assert window.document.modified


def test_save_close_reopen_roundtrip(make_window, tmp_path):
    w = make_window()
    _edit(w)
    path = tmp_path / "mynet.cnnstudio"
    w.answers.save_path = str(path)
    assert w.save()  # no path yet: Save goes through Save As
    assert path.exists() and not w.document.modified
    assert w.windowTitle().startswith("mynet[*]") and not w.isWindowModified()
    saved = norm(w.graph.to_config())
    assert w.recent_files()[0] == str(path.resolve())
    w.close()
    assert not w.isVisible() and w.answers.asked == []  # clean: no prompt

    w2 = make_window()
    w2.answers.open_path = str(path)
    assert w2.open_file()
    assert norm(w2.graph.to_config()) == saved
    assert w2.document.path == path.resolve() and not w2.document.modified
    assert w2.document.undo_stack.count() == 0
    assert norm(load_project(path).to_config()) == saved
    # recent files live in CNN_STUDIO_HOME/settings.ini (tests never touch the user's settings)
    import os

    assert (Path(os.environ["CNN_STUDIO_HOME"]) / "settings.ini").exists()


def test_corrupt_file_shows_message_and_keeps_work(window, tmp_path):
    _edit(window)
    before = norm(window.graph.to_config())
    bad = tmp_path / "broken.cnnstudio"
    bad.write_text('{"format": "cnn-studio", "version": 2, "nodes": [')
    assert not window.open_file(bad)
    assert len(window.answers.informed) == 1
    title, text = window.answers.informed[0]
    assert "broken.cnnstudio" in text and "truncated" in text
    assert norm(window.graph.to_config()) == before and window.document.modified
    assert window.document.undo_stack.canUndo()
    # a newer format is refused with the loader's message too
    newer = tmp_path / "newer.cnnstudio"
    newer.write_text('{"format": "cnn-studio", "version": 99, "nodes": []}')
    assert not window.open_file(newer)
    assert "newer CNN Studio" in window.answers.informed[-1][1]
    assert norm(window.graph.to_config()) == before


def test_unsaved_changes_prompt_on_close(make_window, tmp_path):
    w = make_window()
    _edit(w)
    w.answers.replies = [Cancel]
    assert not w.close()
    assert w.isVisible() and len(w.answers.asked) == 1
    w.answers.replies = [Save]
    w.answers.save_path = str(tmp_path / "kept.cnnstudio")
    assert w.close()
    assert (tmp_path / "kept.cnnstudio").exists()

    w2 = make_window()
    _edit(w2)
    w2.answers.replies = [Discard]
    assert w2.close()
    assert not w2.isVisible()


def test_new_and_revert(window, tmp_path):
    from cnn_studio.core import templates

    path = tmp_path / "a.cnnstudio"
    window.save_as(path)
    _edit(window)
    window.answers.replies = [Yes]
    assert window.revert()
    assert not window.document.modified and "dropout1" not in window.graph.nodes
    _edit(window)
    window.answers.replies = [Discard]
    window.answers.new_graph = templates.build("tinyvgg", (3, 64, 64), 4)
    assert window.new_file()
    assert "conv_1_1" in window.graph.nodes and window.document.path is None
    assert window.windowTitle().startswith("tinyvgg") and not window.document.modified
    assert set(window.scene.node_items) == set(window.graph.nodes)


def test_drop_project_file_on_window_opens_it(window, tmp_path):
    from cnn_studio.core import templates
    from cnn_studio.core.project import save_project

    path = tmp_path / "dropped.cnnstudio"
    save_project(templates.build("mlp", (1, 28, 28), 10), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop_mime(window, mime, QPoint(300, 300))
    assert "fc1" in window.graph.nodes and window.document.path == path.resolve()


def test_autosave_and_recovery_after_crash(make_window, tmp_path):
    from cnn_studio.app.autosave import find_orphans

    w = make_window()
    _edit(w)
    assert w.recovery.save_now()
    assert w.recovery.file.exists()
    edited = norm(w.graph.to_config())
    # a second window running beside it is not offered its file
    other = make_window()
    assert not other.offer_recovery() and other.answers.asked == []
    # simulate a crash: the session's lock goes (its process died), the recovery file stays
    w.recovery.abandon()
    assert w.recovery.file.exists()

    w2 = make_window()
    w2.answers.replies = [Yes]
    assert w2.offer_recovery()
    assert "Recover" in w2.answers.asked[0][0]
    assert norm(w2.graph.to_config()) == edited
    assert w2.document.modified and w2.isWindowModified()
    assert find_orphans() == []

    # declining deletes the copy
    w2.recovery.save_now()
    w2.recovery.abandon()
    w3 = make_window()
    w3.answers.replies = [No]
    assert not w3.offer_recovery()
    assert find_orphans() == []


def test_clean_save_removes_recovery_file(window, tmp_path):
    _edit(window)
    window.recovery.save_now()
    assert window.recovery.file.exists()
    window.save_as(tmp_path / "x.cnnstudio")
    assert not window.recovery.file.exists()
    # debounced autosave after an edit
    window.recovery._timer.start()
    _edit(window)
    assert window.recovery._debounce.isActive()
