"""File > Export and File > Import in the window (issue 12), triggered from the menus with the file
dialogs answered by the test: each format is written, reloaded and checked against the model (the
verification message names the largest output difference), ONNX runs in onnxruntime at the opset
asked for, the trained weights of the run the views show go along, cancelling leaves nothing
half-done, PyTorch code opens as a new document (after the unsaved-changes question) with its
weights, an unsupported module lists every unsupported operation, weights that do not fit get a
report of the keys, and the training curves save as PNG and CSV."""
from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from cnn_studio.app.exchange.ops import FRESH, IMPORTED, RUN, ExportRequest
from cnn_studio.core.graph import Graph, chain

torch = pytest.importorskip("torch")

TINY = dict(source="shapes", shapes_train=160, shapes_test=40, height=16, width=16, val_fraction=0.25, seed=0)
TRAIN = dict(batch_size=32, schedule="constant", num_threads=1, device="cpu", optimizer="adam")
Btn = QMessageBox.StandardButton
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")


def tiny_graph(name="tiny", out_channels=6) -> Graph:
    g = Graph(name)
    chain(g, [
        ("input", {"channels": 3, "height": 16, "width": 16}, "input"),
        ("conv2d", {"out_channels": out_channels, "kernel_size": 3, "padding": 1}, "conv"),
        ("batchnorm2d", {}, "bn"),
        ("relu", {}, "relu"),
        ("maxpool2d", {"kernel_size": 4}, "pool"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": 10}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished 2-epoch run folder of tiny_graph, as the command line writes it."""
    from cnn_studio.data import DataConfig
    from cnn_studio.training import TrainConfig, Trainer, new_run_path

    run = new_run_path("tiny", tmp_path_factory.mktemp("runs"))
    Trainer(tiny_graph(), DataConfig(**TINY), TrainConfig(epochs=2, lr=3e-3, **TRAIN), run_dir=run).fit()
    return run


def _fresh_model(graph):
    from cnn_studio.compiler.export import source_from_graph

    return source_from_graph(graph, seed=0).model()


def _x(shape=(3, 16, 16), n=3):
    g = torch.Generator().manual_seed(7)
    return torch.randn(n, *shape, generator=g)


def _export(w, qtbot, fmt, path, weights=FRESH, **kw):
    """File > Export > fmt with the options dialog answered; waits for the written, checked file."""
    feat = w.exchange
    seen = {}

    def ask(f, offers, default, default_path):
        seen.update(fmt=f, offers=offers, default=default, default_path=default_path)
        return ExportRequest(fmt, str(path), weights, **kw)

    feat.ask_export = ask
    n = len(w.answers.informed)
    feat.export_actions[fmt].trigger()
    qtbot.waitUntil(lambda: not feat.busy and len(w.answers.informed) > n, timeout=120_000)
    return seen, w.answers.informed[-1]


def _show_run(w, qtbot, run, weights="best"):
    w.state.show_run(str(run), weights)
    qtbot.waitUntil(lambda: w.state.source.status == "ready", timeout=60_000)


def test_the_file_menu_has_import_and_export_of_every_format(make_window):
    from cnn_studio.app.exchange.dialogs import FORMATS
    from cnn_studio.compiler.export import FORMATS as ENGINE_FORMATS, SUFFIXES

    w = make_window(tiny_graph())
    texts = [a.text() for a in w.file_menu.actions()]
    assert texts.index("&Import") < texts.index("&Export") < texts.index("&Quit")
    assert [a.text() for a in w.exchange.export_menu.actions()] == [FORMATS[f][0] for f in ENGINE_FORMATS] + ["", "Run &Report (HTML)…"]
    assert {f: FORMATS[f][1] for f in ENGINE_FORMATS} == SUFFIXES  # the menu's suffixes are the engine's


@pytest.mark.parametrize("fmt", ["torchscript", "state_dict", "safetensors", "python"])
def test_export_untrained_writes_a_file_that_reloads_to_the_same_outputs(make_window, qtbot, tmp_path, fmt):
    from cnn_studio.app.exchange.dialogs import FORMATS

    graph = tiny_graph()
    w = make_window(graph)
    path = tmp_path / f"tiny{FORMATS[fmt][1]}"
    seen, (title, text) = _export(w, qtbot, fmt, path, FRESH)
    assert seen["default"] == FRESH  # no run shown: untrained is offered first
    assert [o[2] for o in seen["offers"]] == [True, False, False]  # nothing imported, no run
    assert title == "Exported", text
    assert "largest output difference" in text and "✔" in text
    assert path.is_file()
    ref_model = _fresh_model(graph)
    x = _x()
    with torch.no_grad():
        ref = ref_model(x)
        if fmt == "torchscript":
            out = torch.jit.load(str(path))(x)
        elif fmt in ("state_dict", "safetensors"):
            from safetensors.torch import load_file

            state = torch.load(str(path), weights_only=True) if fmt == "state_dict" else load_file(str(path))
            m = _fresh_model(tiny_graph())
            for p in m.parameters():
                p.data.zero_()
            m.load_state_dict(state, strict=True)
            out = m(x)
        else:  # python: the module loads and builds; with the app's weights it gives the app's outputs
            import importlib.util

            spec = importlib.util.spec_from_file_location("exported_tiny_test", str(path))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            m = mod.Tiny()
            m.load_state_dict(ref_model.state_dict(), strict=True)
            out = m.eval()(x)
            assert not path.with_suffix(".pt").exists()  # untrained: no weights file
    assert torch.allclose(out, ref, atol=1e-5)
    assert w.exchange.last_outcome.verification.max_diff <= 1e-4


def test_onnx_at_the_chosen_opset_runs_in_onnxruntime_with_the_runs_weights(make_window, qtbot, tmp_path, tiny_run):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from cnn_studio.compiler.export import source_from_run

    w = make_window(tiny_graph())
    _show_run(w, qtbot, tiny_run)
    path = tmp_path / "tiny.onnx"
    seen, (title, text) = _export(w, qtbot, "onnx", path, RUN, opset=16)
    assert seen["default"] == RUN and tiny_run.name in seen["offers"][2][1]  # the run shown is offered
    assert title == "Exported", text
    assert "onnxruntime" in text and "largest output difference" in text
    assert next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx")) == 16
    x = _x()
    (out,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})
    with torch.no_grad():
        ref = source_from_run(tiny_run, weights="best").model()(x)
        fresh = _fresh_model(tiny_graph())(x)
    assert torch.allclose(torch.from_numpy(out), ref, atol=1e-4)
    assert not torch.allclose(ref, fresh, atol=1e-3)  # the trained weights went along, not fresh ones


def test_trained_python_export_with_training_script_runs_in_a_fresh_python(make_window, qtbot, tmp_path, tiny_run):
    w = make_window(tiny_graph())
    _show_run(w, qtbot, tiny_run, "last")
    path = tmp_path / "tinynet.py"
    _, (title, text) = _export(w, qtbot, "python", path, RUN, with_training_script=True)
    assert title == "Exported", text
    assert "fresh Python" in text and "tinynet.pt" in text
    assert (tmp_path / "tinynet.pt").is_file() and (tmp_path / "train_tinynet.py").is_file()
    ckpt = torch.load(str(tiny_run / "checkpoints" / "last.pt"), weights_only=True)["model"]
    written = torch.load(str(tmp_path / "tinynet.pt"), weights_only=True)
    assert all(torch.equal(written[k], v) for k, v in ckpt.items() if k in written)  # the last weights, as shown


def test_a_broken_export_says_what_failed(make_window, qtbot, tmp_path, monkeypatch):
    """A file that does not reload as it should: the check says so (here the code cannot run)."""
    import cnn_studio.compiler.export as engine

    real = engine.generate_python
    monkeypatch.setattr(engine, "generate_python", lambda *a, **k: real(*a, **k) + "\nraise RuntimeError('broken on purpose')\n")
    w = make_window(tiny_graph())
    _, (title, text) = _export(w, qtbot, "python", tmp_path / "bad.py", FRESH)
    assert title == "Exported, but the check failed"
    assert "broken on purpose" in text and "✖" in text


def test_cancel_in_the_progress_dialog_stops_the_export(make_window, qtbot, tmp_path):
    w = make_window(tiny_graph())
    feat = w.exchange
    path = tmp_path / "cancelled.py"
    feat.ask_export = lambda *a: ExportRequest("python", str(path), FRESH)
    feat.export_actions["python"].trigger()
    dlg = feat.progress
    assert dlg is not None and dlg.isVisible()
    button = next(b for b in dlg.findChildren(QPushButton) if b.text() == "Cancel")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not feat.busy, timeout=60_000)
    QApplication.processEvents()
    assert feat.progress is None
    # cancelled before or after the file was written: never reported as a checked export
    if w.answers.informed:
        title, text = w.answers.informed[-1]
        assert "check was cancelled" in text and "✔" not in text
    else:
        assert not path.exists() and "cancelled" in w.statusBar().currentMessage()


MODULE = '''
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(torch.flatten(x, 1))


class Weird(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        x = torch.sin(self.conv(x))
        x = torch.cumsum(x, dim=1)
        return self.fc(torch.flatten(x, 1))
'''


def _import_code(w, qtbot, path, cls, shape):
    feat = w.exchange
    feat.ask_import_code = lambda: (str(path), cls, shape)
    n = len(w.answers.informed)
    gen = w.state.generation
    feat.act_import_code.trigger()
    qtbot.waitUntil(lambda: not feat.busy, timeout=60_000)
    QApplication.processEvents()
    return w.state.generation != gen, w.answers.informed[n:]


def test_import_code_opens_a_new_document_after_the_unsaved_question_and_keeps_its_weights(make_window, qtbot, tmp_path):
    src = tmp_path / "mynet.py"
    src.write_text(textwrap.dedent(MODULE), encoding="utf-8")
    w = make_window(tiny_graph())
    w.append_layer("relu")  # an unsaved change
    assert w.document.modified
    w.answers.replies = [Btn.Cancel]  # first: keep the current network
    opened, _ = _import_code(w, qtbot, src, "Net", "1x8x8")
    assert not opened and w.answers.asked[-1][0] == "Unsaved changes" and "conv" in w.graph.nodes and w.graph.name == "tiny"
    w.answers.replies = [Btn.Discard]
    opened, informed = _import_code(w, qtbot, src, "Net", "1x8x8")
    assert opened and not informed
    assert w.graph.name == "Net" and w.document.modified and w.document.path is None
    types = [n.type for n in w.graph.nodes.values()]
    assert types.count("conv2d") == 1 and "linear" in types and w.analysis.ok
    assert tuple(w.analysis.input_shape) == (1, 8, 8)
    assert "Net" in w.windowTitle()
    # the module's weights came along: an export with them writes exactly those
    state, origin = w.exchange.attached_weights()
    assert "mynet.py" in origin and "conv.weight" in state
    out_path = tmp_path / "net.safetensors"
    seen, (title, text) = _export(w, qtbot, "safetensors", out_path, IMPORTED)
    assert seen["default"] == IMPORTED and seen["offers"][1][2]
    assert title == "Exported", text
    from safetensors.torch import load_file

    written = load_file(str(out_path))
    assert set(written) == set(state) and all(torch.equal(written[k], state[k]) for k in state)
    # another document drops them
    w.answers.new_graph = tiny_graph("other")
    w.answers.replies = [Btn.Discard]
    w.new_file()
    assert w.exchange.attached_weights() is None


def test_an_unsupported_module_lists_every_unsupported_operation(make_window, qtbot, tmp_path):
    src = tmp_path / "weird.py"
    src.write_text(textwrap.dedent(MODULE), encoding="utf-8")
    w = make_window(tiny_graph())
    before = w.graph.to_config()
    opened, informed = _import_code(w, qtbot, src, "Weird", "1x8x8")
    assert not opened and w.graph.to_config() == before  # nothing imported half-way
    (title, text), = informed
    assert title == "Cannot import this module"
    assert "2 unsupported operations" in text and "sin" in text and "cumsum" in text
    assert text.count("•") == 2
    # a class that is not there, and bad input, get one clear message each
    _, informed = _import_code(w, qtbot, src, "Missing", "1x8x8")
    assert "'Missing' is not defined" in informed[-1][1] and "Net" in informed[-1][1]
    w.exchange.ask_import_code = lambda: (str(src), "Net", "8 by 8")
    w.exchange.act_import_code.trigger()
    assert "is not an input shape" in w.answers.informed[-1][1] and not w.exchange.busy


def _import_weights(w, qtbot, path):
    feat = w.exchange
    feat.get_weights_path = lambda: str(path)
    n = len(w.answers.informed)
    feat.act_import_weights.trigger()
    qtbot.waitUntil(lambda: not feat.busy and len(w.answers.informed) > n, timeout=60_000)
    return w.answers.informed[-1]


def test_weights_import_reports_matched_missing_and_mismatched_keys(make_window, qtbot, tmp_path):
    w = make_window(tiny_graph())
    other = _fresh_model(tiny_graph(out_channels=8)).state_dict()  # conv and bn of another width
    other.pop("fc.bias")
    other["extra.weight"] = torch.zeros(2)
    bad = tmp_path / "other.pt"
    torch.save(other, str(bad))
    title, text = _import_weights(w, qtbot, bad)
    assert title == "Weights do not fit this network"
    rep = w.exchange.last_report
    assert rep.missing == ["fc.bias"] and rep.unexpected == ["extra.weight"]
    assert any(m.startswith("conv.weight: file 8x3x3x3, network 6x3x3x3") for m in rep.mismatched)
    assert f"{len(rep.matched)} matched, 1 missing, 1 unexpected, {len(rep.mismatched)} with a different shape" in text
    assert "fc.bias" in text and "extra.weight" in text and "conv.weight" in text
    assert w.exchange.attached_weights() is None  # nothing imported

    # torchvision-style keys of the same network fit, and are then offered for export
    good = {k: v + 1 for k, v in _fresh_model(tiny_graph()).state_dict().items()}
    path = tmp_path / "good.pt"
    torch.save({"model": {"module." + k: v for k, v in good.items()}}, str(path))
    title, text = _import_weights(w, qtbot, path)
    assert title == "Weights imported" and f"{len(good)} matched, 0 missing" in text
    state, origin = w.exchange.attached_weights()
    assert origin == "good.pt" and all(torch.equal(state[k], good[k]) for k in good)
    seen, (title, text) = _export(w, qtbot, "torchscript", tmp_path / "good.ts", IMPORTED)
    assert seen["default"] == IMPORTED and title == "Exported", text


def test_curves_save_as_csv_and_png(make_window, qtbot, tmp_path, tiny_run):
    w = make_window(tiny_graph())
    _show_run(w, qtbot, tiny_run)
    plots = w.training.panel.plots
    assert plots.act_save_png in plots.actions() and plots.act_save_csv in plots.actions()
    assert all(plots.act_save_csv in p.vb.menu.actions() for p in plots.plots.values())
    csv_path, png_path = tmp_path / "curves.csv", tmp_path / "curves.png"
    paths = iter([str(csv_path), str(png_path)])
    plots.get_save_path = lambda *a: next(paths)
    plots.act_save_csv.trigger()
    plots.act_save_png.trigger()
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["series", "epoch", "value"]
    with open(tiny_run / "metrics.csv", newline="", encoding="utf-8") as f:
        metrics = list(csv.DictReader(f))
    got = {(r[0], float(r[1])): float(r[2]) for r in rows[1:]}
    assert len(metrics) == 2
    for m in metrics:
        e = float(m["epoch"])
        assert got[("loss_val", e)] == pytest.approx(float(m["val_loss"]))
        assert got[("acc_train", e)] == pytest.approx(float(m["train_accuracy"]))
    img = QImage(str(png_path))
    assert not img.isNull() and img.width() >= plots.width() - 1
    # a folder that cannot be written: one message, no crash
    errors = []
    plots.report_error = lambda title, text: errors.append(text)
    assert not plots.save_csv(str(tmp_path / "missing" / "c.csv")) and "choose a folder" in errors[0]


def test_run_report_from_the_export_menu(make_window, qtbot, tmp_path, tiny_run):
    w = make_window(tiny_graph())
    feat = w.exchange
    feat.get_report_path = lambda default: (_ for _ in ()).throw(AssertionError("no run: no file asked"))
    feat.act_report.trigger()  # nothing shown yet: one message, no file dialog
    assert w.answers.informed[-1][0] == "No run to report"
    _show_run(w, qtbot, tiny_run)
    out = tmp_path / "report.html"
    asked = []
    feat.get_report_path = lambda default: asked.append(default) or str(out)
    feat.act_report.trigger()
    qtbot.waitUntil(lambda: not feat.busy and w.answers.informed[-1][0] != "No run to report", timeout=60_000)
    assert w.answers.informed[-1][0] == "Report written", w.answers.informed[-1]
    assert asked[0].endswith(f"{tiny_run.name}-report.html")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and tiny_run.name in text and "<svg" in text


def test_the_export_dialog_gives_what_was_typed_and_chosen(qtbot, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox

    from cnn_studio.app.exchange.dialogs import ExportDialog

    offers = [(FRESH, "untrained", True), (IMPORTED, "imported: none", False), (RUN, "trained: run r1, best weights", True)]
    dlg = ExportDialog("onnx", offers, FRESH, str(tmp_path / "a.onnx"))
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    assert not dlg.weights.model().item(1).isEnabled()  # nothing imported: not choosable
    dlg.path_edit.selectAll()
    qtbot.keyClicks(dlg.path_edit, str(tmp_path / "typed.onnx"))
    dlg.weights.setFocus()
    qtbot.keyClick(dlg.weights, Qt.Key.Key_End)  # the run
    dlg.opset.setFocus()
    qtbot.keyClick(dlg.opset, Qt.Key.Key_Home)
    for _ in range(3):
        qtbot.keyClick(dlg.opset, Qt.Key.Key_Down)  # Automatic, 13, 14, 15
    qtbot.mouseClick(dlg.verify, Qt.MouseButton.LeftButton, pos=QPoint(8, dlg.verify.height() // 2))  # on its box: off
    box = dlg.findChild(QDialogButtonBox)
    qtbot.mouseClick(box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert dlg.result() == ExportDialog.DialogCode.Accepted
    req = dlg.result_request()
    assert (req.fmt, req.path, req.weights, req.opset, req.verify) == ("onnx", str(tmp_path / "typed.onnx"), RUN, 15, False)
    assert not req.with_training_script
    py = ExportDialog("python", offers, RUN, str(tmp_path / "a.py"))
    qtbot.addWidget(py)
    py.script.setChecked(True)
    r = py.result_request()
    assert r.with_training_script and r.opset is None and r.weights == RUN


def test_the_import_dialog_lists_the_files_classes_without_running_it(qtbot, tmp_path):
    from cnn_studio.app.exchange.dialogs import ImportCodeDialog

    src = tmp_path / "mods.py"
    src.write_text(textwrap.dedent(MODULE) + "\nraise SystemExit('must not run')\n", encoding="utf-8")
    dlg = ImportCodeDialog(str(tmp_path))
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.path_edit.setFocus()
    qtbot.keyClicks(dlg.path_edit, str(src))
    qtbot.keyClick(dlg.path_edit, Qt.Key.Key_Return)
    assert [dlg.class_box.itemText(i) for i in range(dlg.class_box.count())] == ["Net", "Weird"]
    dlg.shape_edit.selectAll()
    qtbot.keyClicks(dlg.shape_edit, "1x8x8")
    assert dlg.result_values() == (str(src), "Net", "1x8x8")


def test_bad_export_requests_get_one_clear_message_and_write_nothing(make_window, qtbot, tmp_path):
    w = make_window(tiny_graph())
    feat = w.exchange
    for path, weights, want in (
        (tmp_path / "no such folder" / "a.pt", FRESH, "does not exist; choose an existing folder"),
        (tmp_path, FRESH, "is a folder; give a file name"),
        (tmp_path / "a.pt", RUN, "No run with saved weights is shown"),
        (tmp_path / "a.pt", IMPORTED, "No weights were imported"),
    ):
        feat.ask_export = lambda *a, p=path, k=weights: ExportRequest("state_dict", str(p), k)
        feat.export_actions["state_dict"].trigger()
        assert not feat.busy and w.answers.informed[-1] == ("Cannot export", w.answers.informed[-1][1])
        assert want in w.answers.informed[-1][1]
    w.graph.remove_node("flatten")  # fc no longer gets a vector: the network has errors
    w.document.refresh()
    assert not w.analysis.ok
    feat.ask_export = lambda *a: ExportRequest("state_dict", str(tmp_path / "a.pt"), FRESH)
    feat.export_actions["state_dict"].trigger()
    assert "error" in w.answers.informed[-1][1] and "Issues" in w.answers.informed[-1][1]
    assert list(tmp_path.iterdir()) == []
