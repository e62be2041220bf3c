"""The option dialogs of File > Export and File > Import > PyTorch code. Each returns plain values
(``result()``); :class:`~.feature.ExchangeFeature` opens them through small methods tests replace."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

# format -> (menu text, file suffix, file filter); the suffixes are compiler.export.SUFFIXES (a
# test checks), kept here so building the menu does not import torch
FORMATS = {
    "python": ("&PyTorch Code (.py)…", ".py", "Python files (*.py)"),
    "torchscript": ("&TorchScript…", ".pt", "TorchScript archives (*.pt *.ts)"),
    "onnx": ("&ONNX…", ".onnx", "ONNX models (*.onnx)"),
    "state_dict": ("&state_dict (.pt)…", ".pt", "PyTorch weights (*.pt *.pth)"),
    "safetensors": ("Safe&tensors…", ".safetensors", "safetensors files (*.safetensors)"),
}
OPSETS = (13, 14, 15, 16, 17, 18, 19, 20)
SHAPE_RE = re.compile(r"^\s*(\d+)\s*[x×,]\s*(\d+)\s*[x×,]\s*(\d+)\s*$", re.I)


def _path_row(parent: QWidget, edit: QLineEdit, browse) -> QWidget:
    row = QWidget(parent)
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    b = QPushButton("Browse…", row)
    b.clicked.connect(browse)
    lay.addWidget(b)
    return row


class ExportDialog(QDialog):
    """Where to write, which weights, and the format's options (ONNX opset, training script)."""

    def __init__(self, fmt: str, offers: list[tuple[str, str, bool]], default_kind: str, default_path: str, parent=None) -> None:
        super().__init__(parent)
        self.fmt = fmt
        self.setWindowTitle(f"Export as {FORMATS[fmt][0].replace('&', '').rstrip('…')}")
        form = QFormLayout()
        self.path_edit = QLineEdit(default_path, self)
        form.addRow("File:", _path_row(self, self.path_edit, self._browse))
        self.weights = QComboBox(self)
        for kind, text, enabled in offers:
            self.weights.addItem(text, kind)
            if not enabled:
                self.weights.model().item(self.weights.count() - 1).setEnabled(False)
        i = self.weights.findData(default_kind)
        self.weights.setCurrentIndex(max(i, 0))
        form.addRow("Weights:", self.weights)
        self.opset = QComboBox(self)
        self.opset.addItem("Automatic (17, else 18)", None)
        for o in OPSETS:
            self.opset.addItem(str(o), o)
        if fmt == "onnx":
            form.addRow("ONNX opset:", self.opset)
        self.script = QCheckBox("Also write the training script (train_<name>.py)", self)
        if fmt == "python":
            form.addRow("", self.script)
        self.verify = QCheckBox("Check the written file against the app's model", self)
        self.verify.setChecked(True)
        form.addRow("", self.verify)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def _browse(self) -> None:
        _, suffix, filt = FORMATS[self.fmt]
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(), f"{filt};;All files (*)")
        if path:
            if not Path(path).suffix:
                path += suffix
            self.path_edit.setText(path)

    def result_request(self):
        from .ops import ExportRequest

        return ExportRequest(
            self.fmt, self.path_edit.text().strip(), self.weights.currentData(),
            opset=self.opset.currentData() if self.fmt == "onnx" else None,
            with_training_script=self.fmt == "python" and self.script.isChecked(),
            verify=self.verify.isChecked(),
        )


def module_classes(path: str) -> list[str]:
    """Names of the classes a Python file defines at top level, read without running it."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    return [n.name for n in tree.body if isinstance(n, ast.ClassDef)]


class ImportCodeDialog(QDialog):
    """A Python file, the nn.Module class in it, and the input shape to trace it with."""

    def __init__(self, start_dir: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch code")
        self.start_dir = start_dir
        form = QFormLayout()
        self.path_edit = QLineEdit(self)
        self.path_edit.editingFinished.connect(self._fill_classes)
        form.addRow("Python file:", _path_row(self, self.path_edit, self._browse))
        self.class_box = QComboBox(self)
        self.class_box.setEditable(True)
        form.addRow("Class:", self.class_box)
        self.shape_edit = QLineEdit("3x32x32", self)
        self.shape_edit.setToolTip("channels x height x width of one input image, e.g. 1x28x28")
        form.addRow("Input shape:", self.shape_edit)
        note = QLabel("Importing runs the file, as Python's import does: only import code you trust.", self)
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Python file", self.start_dir, "Python files (*.py);;All files (*)")
        if path:
            self.path_edit.setText(path)
            self._fill_classes()

    def _fill_classes(self) -> None:
        current = self.class_box.currentText()
        self.class_box.clear()
        self.class_box.addItems(module_classes(self.path_edit.text().strip()))
        if current:
            self.class_box.setCurrentText(current)

    def result_values(self) -> tuple[str, str, str]:
        return self.path_edit.text().strip(), self.class_box.currentText().strip(), self.shape_edit.text().strip()
