"""The Data panel as a user drives it: pick a source (or drop a folder on the window), see samples
with labels, class counts and size, switch augmentation on and see augmented samples change."""
import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent


def _folder(tmp_path, classes=("cat", "dog", "owl"), per=6):
    root = tmp_path / "pets"
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per + k):
            Image.fromarray((rng.random((20, 24, 3)) * 255).astype(np.uint8)).save(root / name / f"{i}.png")
    return root


def test_preview_shows_samples_counts_and_size(window, qtbot, tmp_path):
    panel = window.training.data_panel
    panel.set_source(str(_folder(tmp_path)))
    panel.target_shape = (3, 32, 32)
    with qtbot.waitSignal(panel.loaded, timeout=60_000) as blocker:
        qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    summary = blocker.args[0]
    assert summary["class_names"] == ["cat", "dog", "owl"]
    assert sum(summary["sizes"].values()) == 6 + 7 + 8
    assert summary["shape"] == (3, 32, 32)
    assert panel.preview.count() == min(24, summary["sizes"]["train"])
    assert {panel.preview.item(i).text() for i in range(panel.preview.count())} <= {"cat", "dog", "owl"}
    assert "3 classes" in panel.info.text() and "32x32" in panel.info.text()
    assert panel.aug_preview.count() == min(8, panel.preview.count())


def test_augmentation_preview_changes_with_the_toggles(window, qtbot, tmp_path):
    panel = window.training.data_panel
    panel.set_source(str(_folder(tmp_path)))
    panel.target_shape = (3, 32, 32)
    with qtbot.waitSignal(panel.loaded, timeout=60_000):
        panel.load_preview()

    def icons():
        return [panel.aug_preview.item(i).icon().pixmap(56, 56).toImage() for i in range(panel.aug_preview.count())]

    plain = icons()
    panel.hflip.setChecked(True)
    panel.aug_on["rotate"].setChecked(True)
    qtbot.waitUntil(lambda: panel.aug_preview.count() and icons() != plain, timeout=5000)
    assert panel.config_dict()["augment"]["hflip"] is True and panel.config_dict()["augment"]["rotate"] > 0
    assert window.graph.training["data"]["augment"]["hflip"] is True  # saved with the project


def test_a_bad_source_says_what_is_wrong(window, qtbot, tmp_path):
    panel = window.training.data_panel
    panel.set_source(str(tmp_path / "nowhere"))
    with qtbot.waitSignal(panel.loaded, timeout=30_000, raising=False):
        panel.load_preview()
    qtbot.waitUntil(lambda: not panel.loading, timeout=30_000)
    assert "nowhere" in panel.info.text() and "exist" in panel.info.text()
    assert panel.load_button.isEnabled()


def test_dropping_a_folder_on_the_window_imports_it(window, qtbot, tmp_path):
    folder = _folder(tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    panel = window.training.data_panel
    with qtbot.waitSignal(panel.loaded, timeout=60_000):
        ev = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        window.dropEvent(ev)
    assert panel.source.text() == str(folder)
    assert window.graph.to_config()["nodes"]  # the network is untouched


def test_device_box_lists_what_this_machine_has(window, qtbot):
    s = window.training.panel.settings
    probe = s.probe_devices()
    qtbot.waitUntil(lambda: probe.isFinished(), timeout=60_000)
    qtbot.waitUntil(lambda: s.device.findData("cpu") >= 0, timeout=5000)
    import torch

    keys = [s.device.itemData(i) for i in range(s.device.count())]
    assert keys[:2] == ["auto", "cpu"]
    assert ("cuda:0" in keys) == torch.cuda.is_available()


def test_a_source_that_does_not_exist_is_said_beside_the_field_and_f5_opens_no_dialog(window, qtbot, tmp_path):
    """Typing a path that does not exist: the message appears under the Source field when it is
    entered, the old preview is cleared, and F5 points at the field instead of a dialog."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    panel = window.training.data_panel
    window.training.data_dock.raise_()
    panel.load_preview()
    qtbot.waitUntil(lambda: panel.preview.count() > 0, timeout=60_000)
    missing = tmp_path / "no_such_folder"
    qtbot.mouseClick(panel.source, Qt.MouseButton.LeftButton)
    panel.source.selectAll()
    QTest.keyClicks(panel.source, str(missing))
    QTest.keyClick(panel.source, Qt.Key.Key_Return)
    assert panel.source_error.isVisibleTo(panel) and "does not exist" in panel.source_error.text()
    assert str(missing) in panel.source_error.text()
    assert panel.preview.count() == 0 and panel.summary is None  # the old data's samples are gone
    n = len(window.answers.informed)
    QTest.keyClick(window, Qt.Key.Key_F5)
    assert len(window.answers.informed) == n and not window.training.panel.running  # no dialog, no run
    assert "does not exist" in window.statusBar().currentMessage()
    # Built-in clears the message
    qtbot.mouseClick(panel.builtin, Qt.MouseButton.LeftButton)
    assert not panel.source_error.isVisibleTo(panel)
    # undo (the source edits merge into one step) shows the first source again, and is checked again
    panel.source.setText(str(missing))
    panel._source_entered()
    window.document.undo_stack.undo()
    assert panel.source.text() == "shapes" and not panel.source_error.isVisibleTo(panel)
