"""The key report of Network > Initialise from weights…, shown before anything is applied: how many
tensors of the file match the network by name and shape, and each that does not (another shape,
missing from the file, unused), with Apply and Cancel."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout


class InitWeightsDialog(QDialog):
    def __init__(self, report, parent=None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle("Initialise from weights")
        lay = QVBoxLayout(self)
        name = Path(report.path).name
        if report.fits:
            head = f"<b>{name}</b> fits this network: every one of its {report.total} tensors matches by name and shape."
        elif report.matched:
            head = (f"<b>{name}</b>: {report.counts()}.<br>Apply loads the {len(report.matched)} matching tensors; "
                    "the layers listed below keep their initial values (a classifier for another class count, say).")
        else:
            head = f"<b>{name}</b>: none of its tensors fits this network by name and shape; there is nothing to apply."
        self.summary = QLabel(head, self)
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setPlainText("\n".join(report.lines(limit=200)[1:]))  # the path is in the title line above
        lay.addWidget(self.details, 1)
        note = QLabel("Applied weights are used by the next run of this network (F5); the project file is not changed.", self)
        note.setWordWrap(True)
        lay.addWidget(note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Cancel, self)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.apply_button.setEnabled(bool(report.matched))
        self.apply_button.clicked.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.resize(560, 380)
