"""The Feature maps view's training timeline: a slider over the per-epoch snapshots (rightmost: now),
the epoch it points at, and "Follow training". One row, shown only once a run sent snapshots, and
placed above the maps so a short dock never hides it."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QWidget


class Timeline(QWidget):
    moved = Signal()  # the position changed (by the user or by following)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._epochs: list[int] = []
        tl = QHBoxLayout(self)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(QLabel("Training timeline:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("How the maps of this input changed from epoch to epoch (rightmost: now)")
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.valueChanged.connect(self._on_slider_changed)
        tl.addWidget(self.slider, 1)
        self.epoch_label = QLabel("now")
        self.epoch_label.setMinimumWidth(110)
        self.epoch_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        tl.addWidget(self.epoch_label)
        self.follow_check = QCheckBox("Follow training")
        self.follow_check.setToolTip("Jump to the newest maps as they arrive")
        self.follow_check.setChecked(True)
        self.follow_check.toggled.connect(self._on_follow_check_toggled)
        tl.addWidget(self.follow_check)
        self.setVisible(False)

    def set_epochs(self, epochs: list[int]) -> None:
        """The epochs there are snapshots of; the slider follows the newest while following."""
        self._epochs = list(epochs)
        self.setVisible(bool(epochs))
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(epochs))
        if self.follow_check.isChecked():
            self.slider.setValue(len(epochs))
        self.slider.blockSignals(False)
        self._update_label()

    def epoch(self) -> int | None:
        """The snapshot epoch the slider points at; None for now."""
        v = self.slider.value()
        return self._epochs[v] if 0 <= v < len(self._epochs) else None

    def show_epoch(self, epoch: int | None) -> None:
        pos = len(self._epochs) if epoch is None else self._epochs.index(epoch)
        self.follow_check.setChecked(epoch is None)
        self.slider.setValue(pos)
        self._on_slider_changed(pos)

    def _update_label(self) -> None:
        e, epochs = self.epoch(), self._epochs
        if e is None:
            self.epoch_label.setText("now" + (f" (after epoch {epochs[-1]})" if epochs and epochs[-1] > 0 else ""))
        else:
            self.epoch_label.setText(f"epoch {e} of {epochs[-1]}" if e > 0 else "before training")

    @Slot(int)
    def _on_slider_changed(self, value: int) -> None:
        if value < len(self._epochs) and self.follow_check.isChecked():
            self.follow_check.blockSignals(True)
            self.follow_check.setChecked(False)
            self.follow_check.blockSignals(False)
        self._update_label()
        self.moved.emit()

    @Slot(bool)
    def _on_follow_check_toggled(self, on: bool) -> None:
        if on:
            self.slider.setValue(len(self._epochs))
