"""File > New: an empty network or a template from the gallery, with its input, parameter count
and MACs from the analysis (recomputed when the input shape or class count changes)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core import templates
from ..core.analysis import analyze
from ..core.errors import StudioError
from ..core.graph import Graph
from . import fmt
from .icons import app_icon, layer_icon

EMPTY = "__empty__"
NAME_ROLE = Qt.ItemDataRole.UserRole + 1


def template_stats(name: str, shape=None, classes=None) -> tuple[str, Graph | None]:
    try:
        g = templates.build(name, shape, classes)
    except StudioError as e:
        return str(e), None
    a = analyze(g)
    if not a.ok:
        return f"not valid for this input: {a.errors[0]}", g
    return f"{fmt.full(a.total_params)} parameters · {fmt.count(a.total_macs)} MACs · {len(g.nodes)} layers", g


def empty_network(shape=(3, 32, 32)) -> Graph:
    """Input wired to a loss, ready to be filled from the palette: each layer dropped on the Input
    (or on the last layer) lands in front of the loss."""
    g = Graph("untitled")
    c, h, w = shape
    g.add_node("input", {"channels": c, "height": h, "width": w}, (0.0, 0.0), "input")
    g.add_node("cross_entropy", {}, (0.0, 110.0), "loss")
    g.connect("input", "loss")
    return g


class NewNetworkDialog(QDialog):
    def __init__(self, parent=None, shape=(3, 32, 32), classes: int = 10) -> None:
        super().__init__(parent)
        self.setWindowTitle("New network")
        self.setWindowIcon(app_icon())
        self.resize(720, 460)
        self.list = QListWidget(self)
        self.list.setIconSize(QSize(24, 24))
        self.list.setSpacing(2)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        empty = QListWidgetItem(layer_icon("input"), "Empty network\nAn Input wired to a Cross-entropy loss; drop layers from the palette in between.")
        empty.setData(NAME_ROLE, EMPTY)
        self.list.addItem(empty)
        for name in templates.names():
            item = QListWidgetItem(layer_icon("conv2d"), "")
            item.setData(NAME_ROLE, name)
            self.list.addItem(item)
        self.c = QSpinBox(self)
        self.h = QSpinBox(self)
        self.w = QSpinBox(self)
        for s, v in zip((self.c, self.h, self.w), shape):
            s.setRange(1, 4096)
            s.setValue(v)
        self.classes = QSpinBox(self)
        self.classes.setRange(1, 1_000_000)
        self.classes.setValue(classes)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        form = QFormLayout()
        row = QHBoxLayout()
        for i, s in enumerate((self.c, self.h, self.w)):
            if i:
                row.addWidget(QLabel("×", self))
            row.addWidget(s)
        row.addStretch(1)
        wrap = QWidget(self)
        wrap.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Input (C × H × W)", wrap)
        form.addRow("Classes", self.classes)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.create_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Start from an empty network or a classic architecture:</b>", self))
        lay.addWidget(self.list, 1)
        lay.addLayout(form)
        lay.addWidget(self.info)
        lay.addWidget(buttons)
        for s in (self.c, self.h, self.w, self.classes):
            s.valueChanged.connect(self._refresh)
        self.list.currentRowChanged.connect(lambda _r: self._refresh())
        self.list.itemDoubleClicked.connect(lambda _i: self.accept())
        self.list.setCurrentRow(0)
        self._refresh()

    def shape(self) -> tuple[int, int, int]:
        return (self.c.value(), self.h.value(), self.w.value())

    def _refresh(self) -> None:
        shape, classes = self.shape(), self.classes.value()
        for i in range(1, self.list.count()):
            item = self.list.item(i)
            name = item.data(NAME_ROLE)
            t = templates.get(name)
            stats, _ = template_stats(name, shape, classes)
            item.setText(f"{name} — {t.summary}\n{stats}")
        cur = self.list.currentItem()
        name = cur.data(NAME_ROLE) if cur is not None else EMPTY
        problem = ""
        if name != EMPTY:
            try:  # a template refuses an input it does not fit, naming the smallest it does
                templates.build(name, shape, classes)
            except StudioError as e:
                problem = str(e)
        # Create stays off while the chosen template cannot be built, and the reason shows here
        self.create_button.setEnabled(not problem)
        self.info.setText(problem or ("" if cur is None else "Input and class count apply to the chosen network."))

    def selected_name(self) -> str:
        cur = self.list.currentItem()
        return cur.data(NAME_ROLE) if cur is not None else EMPTY

    def accept(self) -> None:
        if self.create_button.isEnabled():  # a double click on a template that does not fit does nothing
            super().accept()

    def build(self) -> Graph:
        name = self.selected_name()
        if name == EMPTY:
            return empty_network(self.shape())
        return templates.build(name, self.shape(), self.classes.value())
