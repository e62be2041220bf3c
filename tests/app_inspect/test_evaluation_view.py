"""EvaluationView: the confusion matrix adds up, clicking a cell shows exactly its samples, the
mistakes come most confident first, runs load and evaluate in the background (with Cancel), and
training epochs update the matrix."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnn_studio.app.inspect.evaluation import EvaluationView


@pytest.fixture
def view(imodel, view_factory, qtbot):
    v = view_factory(EvaluationView, imodel, size=(1000, 760))
    assert v.wait_idle()
    assert v.result is not None
    return v


def test_matrix_counts_add_up_to_the_split(view, imodel, bundle):
    r = view.result
    assert r.split == "test"  # the data has a test split: evaluated there by default
    n = len(bundle.test.y)
    assert int(view.confusion.sum()) == n == r.summary["samples"]
    np.testing.assert_array_equal(view.confusion.sum(axis=1), np.bincount(bundle.test.y.numpy(), minlength=10))
    # the cell labels show the counts
    k = view.confusion.shape[0]
    texts = [t.toPlainText() for t in view._cell_texts]
    assert len(texts) == k * k
    assert sum(int(t.replace(",", "")) for t in texts if t) == n
    assert view.table.rowCount() == 10
    assert f"on {n:,} test samples" in view.summary.text()


def test_clicking_a_cell_shows_exactly_its_samples(view, qtbot):
    r = view.result
    cm = view.confusion
    # the most populated off-diagonal cell (or the diagonal if the model is perfect)
    off = cm.copy()
    np.fill_diagonal(off, -1)
    i, j = np.unravel_index(off.argmax(), off.shape)
    if off[i, j] <= 0:
        i = j = int(np.argmax(np.diag(cm)))
    with qtbot.waitSignal(view.cell_selected, timeout=3000) as sig:
        _click_cell(qtbot, view, i, j)
    assert sig.args == [i, j]
    expected = set(np.nonzero((r.labels == i) & (r.preds == j))[0].tolist())
    assert set(view.gallery_indices) == expected and len(view.gallery_indices) == cm[i, j]
    assert view.gallery.count() == cm[i, j]
    confs = r.confs[view.gallery_indices]
    assert np.all(np.diff(confs) <= 0)


def _click_cell(qtbot, view, i, j):
    from PySide6.QtCore import QPointF

    plot_vb = view.plot.getViewBox()
    scene_pt = plot_vb.mapViewToScene(QPointF(j + 0.5, i + 0.5))
    pos = view.matrix_widget.mapFromScene(scene_pt)
    qtbot.mouseMove(view.matrix_widget.viewport(), pos)
    qtbot.mouseClick(view.matrix_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_mistakes_gallery_is_most_confident_first(view):
    r = view.result
    idx = view.gallery_indices
    wrong = np.nonzero(r.labels != r.preds)[0]
    assert len(wrong) > 0
    assert len(wrong) <= 200 and set(idx) == set(wrong.tolist())  # every mistake, each once
    assert np.all(np.diff(r.confs[idx]) <= 0)
    first = view.gallery.item(0)
    assert f"{100 * r.confs[idx[0]]:.0f}%" in first.text()
    # a class's row in the table narrows the gallery to that class's mistakes
    cls = int(r.labels[wrong[0]])
    row = [view.table.item(k, 0).data(Qt.ItemDataRole.UserRole) for k in range(view.table.rowCount())].index(cls)
    view._on_table_cell_clicked(row, 0)
    assert all(r.labels[i] == cls for i in view.gallery_indices) and view.gallery_indices


def test_gallery_click_reports_the_sample(view, qtbot):
    item = view.gallery.item(0)
    rect = view.gallery.visualItemRect(item)
    with qtbot.waitSignal(view.sample_activated, timeout=3000) as sig:
        qtbot.mouseClick(view.gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == ["test", view.gallery_indices[0]]


def test_epoch_updates_show_the_training_matrix(view_factory, qtbot):
    v = view_factory(EvaluationView)
    v.set_class_names([f"c{i}" for i in range(3)])
    cm = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    v.update_from_epoch({"epoch": 3, "val_accuracy": 0.84, "confusion_matrix": cm})
    np.testing.assert_array_equal(v.confusion, cm)
    assert "epoch 3" in v.summary.text() and "84.00%" in v.summary.text()
    assert v.table.item(1, 2).text() == "70.0%"  # recall of c1 = 7 / 10
    assert v.select_cell(1, 0) == []  # no per-sample predictions during training
    assert "2 mistaken samples" in v.gallery_title.text()
    v.update_from_epoch({"epoch": 4, "train_loss": 0.1})  # no matrix: nothing changes
    np.testing.assert_array_equal(v.confusion, cm)


def test_load_run_in_the_background_and_cancel(run_dir, view_factory, qtbot, inspect_home, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(inspect_home))
    v = view_factory(EvaluationView)
    loaded = []
    v.model_loaded.connect(loaded.append)
    with qtbot.waitSignal(v.evaluation_finished, timeout=30_000) as sig:
        v.load_run(str(run_dir))
        assert v.busy and v.cancel_button.isVisible()  # the GUI thread is free meanwhile
    assert sig.args[0]["split"] == "test" and len(loaded) == 1
    assert not v.busy and not v.cancel_button.isVisible()
    # cancel: while the worker is busy (held by a job that waits), ask to evaluate, then Cancel:
    # no new result, a message, the view usable again
    import threading

    hold = threading.Event()
    v._runner.submit(lambda progress, cancel: hold.wait(10), key="hold")
    old = v.result
    v.evaluate("val")
    assert v.cancel_button.isVisible()
    qtbot.mouseClick(v.cancel_button, Qt.MouseButton.LeftButton)
    hold.set()
    assert v.wait_idle()
    assert v.result is old and "cancel" in v.status.text().lower()
    assert v.eval_button.isEnabled()


def test_bad_run_dir_shows_an_error(view_factory, tmp_path):
    v = view_factory(EvaluationView)
    v.load_run(str(tmp_path / "nope"))
    assert v.wait_idle()
    assert "does not exist" in v.status.text()


def test_save_png(view, tmp_path, qtbot):
    from PIL import Image

    view.get_save_path = lambda *a, **k: str(tmp_path / "cm.png")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    im = Image.open(tmp_path / "cm.png")
    assert im.size[0] > 300 and im.size[1] > 200


def test_a_finished_evaluation_is_not_replaced_by_an_epoch_kept_while_hidden(view, qtbot):
    """The run's last epoch matrix arrives while the tab is hidden, then the run's evaluation
    finishes: bringing the tab forward shows the evaluation, not the older epoch matrix."""
    result = view.result
    view.hide()
    view.update_from_epoch({"epoch": 3, "confusion_matrix": np.eye(result.confusion.shape[0], dtype=int).tolist()})
    view.set_result(result)
    view.show()
    qtbot.waitExposed(view)
    view.on_dock_shown()
    np.testing.assert_array_equal(view.confusion, result.confusion)
    assert "epoch" not in view.summary.text()


def test_the_class_table_fits_a_narrow_view(view, qtbot):
    """In a narrow dock the per-class numbers stay in view: no column is pushed out of the table."""
    from PySide6.QtWidgets import QApplication

    view.resize(760, 500)
    QApplication.processEvents()
    view.set_result(view.result)
    bar = view.tabs.tabBar()
    page = next(i for i in range(bar.count()) if bar.tabText(i) == "Per class")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(page).center())
    QApplication.processEvents()
    assert view.tabs.currentWidget() is view.table and view.gallery.isVisible()  # the mistakes beside it
    hh = view.table.horizontalHeader()
    widths = [hh.sectionSize(i) for i in range(view.table.columnCount())]
    assert sum(widths) <= view.table.viewport().width()
    assert min(widths) > 20
