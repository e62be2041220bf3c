"""The one sample picker of the inspection views (Feature maps, Inference, Evaluation): which split of
the shown run's data set, which class, which sample (previous / number / next), and optionally an
image file or a drawing instead.

Each view's ``show_source`` hands it the network of the app state's source (``set_model``), so
every view lists the same splits and classes, those of the run it names, and none of another
network's (an empty, disabled picker while there is nothing to show).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from ...inspection.model import SPLIT_TITLES
from .widgets import tool_button


class SamplePicker(QWidget):
    sample_chosen = Signal(str, int)  # split, index: the user asked for this sample
    split_changed = Signal(str)  # the chosen split (also when only the split is picked)
    open_clicked = Signal()
    draw_toggled = Signal(bool)
    message = Signal(str)  # short feedback ("no sample of this class in this split")

    def __init__(self, parent=None, browse: bool = True, label: str = "Input:", open_text: str | None = "Image file…",
                 open_tip: str = "Feed an image file, converted to the network's channels and size as in training", draw: bool = True) -> None:
        super().__init__(parent)
        self._imodel = None
        self._split: str | None = None
        self._index = 0
        self._filtered: np.ndarray | None = None
        self.browse = browse
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        if label:
            row.addWidget(QLabel(label))
        self.split_combo = QComboBox()
        self.split_combo.setToolTip("Which split of the data set to take samples from")
        self.split_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.split_combo.currentIndexChanged.connect(self._on_split_combo_changed)
        row.addWidget(self.split_combo)
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("Browse only the samples of one class")
        self.class_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.class_combo.currentIndexChanged.connect(self._on_class_combo_changed)
        self.prev_button = tool_button("◀", "Previous sample (of the chosen class)", self._on_prev_button_clicked)
        self.index_spin = QSpinBox()
        self.index_spin.setToolTip("Sample number in the split (0 = first)")
        self.index_spin.setKeyboardTracking(False)
        self.index_spin.setMinimumWidth(70)
        self.index_spin.valueChanged.connect(self._on_index_spin_changed)
        self.next_button = tool_button("▶", "Next sample (of the chosen class)", self._on_next_button_clicked)
        for w in (self.class_combo, self.prev_button, self.index_spin, self.next_button):
            w.setVisible(browse)
            row.addWidget(w)
        self.open_button = QPushButton(open_text or "")
        self.open_button.setToolTip(open_tip)
        self.open_button.clicked.connect(self.open_clicked)
        self.open_button.setVisible(bool(open_text))
        row.addWidget(self.open_button)
        self.draw_button = QPushButton("Draw")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Draw the input with the mouse (for digit-like data)")
        self.draw_button.toggled.connect(self.draw_toggled)
        self.draw_button.setVisible(draw)
        row.addWidget(self.draw_button)
        row.addStretch(1)
        self._update_enabled()

    # ------------------------------------------------------------------ model
    def set_model(self, imodel, prefer_test: bool = False) -> None:
        """List ``imodel``'s splits and classes (None: empty and disabled). Keeps the split and
        sample when the new model has them (the trained model of the run being watched)."""
        if imodel is self._imodel:
            return
        self._imodel = imodel
        for combo in (self.split_combo, self.class_combo):
            combo.blockSignals(True)
            combo.clear()
        if imodel is not None:
            for s in imodel.splits():
                self.split_combo.addItem(SPLIT_TITLES.get(s, s), s)
            self.class_combo.addItem("all classes", None)
            for i, name in enumerate(imodel.class_names):
                self.class_combo.addItem(name, i)
        splits = imodel.splits() if imodel is not None else []
        keep = self._split in splits and self._index < len(imodel.labels(self._split))
        if not keep:
            self._split = imodel.default_split(prefer_test=prefer_test) if imodel is not None else None
            self._index = 0
        i = self.split_combo.findData(self._split) if self._split is not None else -1
        self.split_combo.setCurrentIndex(i)
        for combo in (self.split_combo, self.class_combo):
            combo.blockSignals(False)
        self._apply_filter()
        self._update_enabled()

    def model(self):
        return self._imodel

    def _update_enabled(self) -> None:
        m = self._imodel
        has_data = m is not None and bool(m.splits())
        for w in (self.split_combo, self.class_combo, self.prev_button, self.next_button, self.index_spin):
            w.setEnabled(has_data)
        self.open_button.setEnabled(m is not None)
        self.draw_button.setEnabled(m is not None)

    # ------------------------------------------------------------------ current sample
    @property
    def split(self) -> str | None:
        return self._split

    @property
    def index(self) -> int:
        return self._index

    def set_current(self, split: str, index: int) -> None:
        """Show ``split`` / ``index`` as the current sample (emits nothing)."""
        if split != self._split:
            self._split = split
            i = self.split_combo.findData(split)
            self.split_combo.blockSignals(True)
            self.split_combo.setCurrentIndex(i)
            self.split_combo.blockSignals(False)
            self._apply_filter()
        self._index = int(index)
        self.index_spin.blockSignals(True)
        self.index_spin.setValue(self._index)
        self.index_spin.blockSignals(False)

    def _apply_filter(self) -> None:
        m = self._imodel
        if m is None or self._split is None:
            self._filtered = None
            return
        labels = m.labels(self._split)
        cls = self.class_combo.currentData()
        self._filtered = np.nonzero(labels == cls)[0] if cls is not None else np.arange(len(labels))
        self.index_spin.blockSignals(True)
        self.index_spin.setRange(0, max(0, len(labels) - 1))
        self.index_spin.blockSignals(False)

    def step(self, delta: int, first: bool = False) -> None:
        """Move to the next (``delta`` > 0) or previous sample of the chosen class; ``first``: the
        first one of the class unless the current sample is of it."""
        f = self._filtered
        if f is None or not len(f) or self._split is None:
            if f is not None and not len(f):
                self.message.emit("No sample of this class in this split")
            return
        if first:
            pos = 0 if self._index not in f else int(np.searchsorted(f, self._index))
            if delta == 0 and self._index in f:
                return
        else:
            pos = int(np.searchsorted(f, self._index))
            if delta > 0:
                pos = pos + 1 if pos < len(f) and f[pos] == self._index else pos
            else:
                pos = pos - 1
        pos %= len(f)
        self.sample_chosen.emit(self._split, int(f[pos]))

    # ------------------------------------------------------------------ events
    @Slot(int)
    def _on_split_combo_changed(self, i: int) -> None:
        split = self.split_combo.itemData(i)
        if split and split != self._split:
            self._split = split
            self._apply_filter()
            self.split_changed.emit(split)
            if self.browse:
                f = self._filtered
                if f is not None and self._index in f:  # the same number in the new split
                    self.sample_chosen.emit(split, self._index)
                else:
                    self.step(0, first=True)

    @Slot(int)
    def _on_class_combo_changed(self, i: int) -> None:
        self._apply_filter()
        self.step(0, first=True)

    @Slot()
    def _on_prev_button_clicked(self) -> None:
        self.step(-1)

    @Slot()
    def _on_next_button_clicked(self) -> None:
        self.step(1)

    @Slot(int)
    def _on_index_spin_changed(self, v: int) -> None:
        if self._split is not None and v != self._index:
            self.sample_chosen.emit(self._split, v)
