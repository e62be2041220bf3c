"""Transfer learning in the app: per-layer Trainable / LR multiplier (in the Inspector, undoable),
frozen layers marked on the canvas, trainable and frozen parameter counts for the status bar, and
Network > Initialise from weights… (the engine's key report shown first, in a dialog with Apply and
Cancel; Apply makes the next run of this document start from those weights).

The options live on the graph's nodes (``Node.frozen``, ``Node.lr_mult``); the trainer applies them
(training/freeze.py). Nothing here imports torch until the weights report is asked for.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QUndoCommand
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFileDialog, QFormLayout, QLabel, QWidget

from ..core.graph import LR_MULT_MAX, check_node_training
from ..core.trainable import parameter_counts
from . import fmt

TRAINING_OPTION_MERGE_ID = 7303


class SetNodeTrainingCommand(QUndoCommand):
    """One undo step for a layer's Trainable / LR multiplier; consecutive multiplier edits of one layer
    in one editing session (``session``) merge, as the Inspector's parameter edits do."""

    def __init__(self, graph, node_id: str, frozen: bool | None = None, lr_mult: float | None = None, session=None) -> None:
        node = graph.node(node_id)
        new = check_node_training(node.frozen if frozen is None else frozen, node.lr_mult if lr_mult is None else lr_mult)
        what = ("Freeze" if new[0] else "Unfreeze") if frozen is not None and frozen != node.frozen else "Change learning-rate multiplier of"
        super().__init__(f"{what} '{node_id}'")
        self.graph, self.node_id = graph, node_id
        self.old, self.new = (node.frozen, node.lr_mult), new
        self.session = session if lr_mult is not None and frozen is None else None

    def id(self) -> int:
        return TRAINING_OPTION_MERGE_ID if self.session is not None else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetNodeTrainingCommand) or other.session is None or (other.node_id, other.session) != (self.node_id, self.session):
            return False
        self.new = other.new
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.graph.set_node_training(self.node_id, *self.new)

    def undo(self) -> None:
        self.graph.set_node_training(self.node_id, *self.old)


class TrainingOptionsBox(QWidget):
    """The Inspector's rows for the selected layer: "Trainable" and "LR multiplier"."""

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self._session = 0
        self._writing = False
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.trainable = QCheckBox("Trainable", self)
        self.trainable.setToolTip("Off: this layer's weights stay as they are while the rest of the network trains "
                                  "(transfer learning); its batch norm keeps its statistics")
        self.lr_mult = QDoubleSpinBox(self)
        self.lr_mult.setDecimals(4)
        self.lr_mult.setRange(0.0001, LR_MULT_MAX)
        self.lr_mult.setSingleStep(0.1)
        self.lr_mult.setKeyboardTracking(True)
        self.lr_mult.setToolTip("This layer learns at the run's learning rate times this number (0.1: ten times slower, "
                                "typical for pretrained layers being fine-tuned)")
        form.addRow("", self.trainable)
        self.lr_label = QLabel("LR multiplier", self)
        form.addRow(self.lr_label, self.lr_mult)
        self.trainable.toggled.connect(self._on_trainable_toggled)
        self.lr_mult.valueChanged.connect(self._on_lr_mult_value_changed)
        self.lr_mult.editingFinished.connect(self._next_session)
        document.graph.events.connect("node_changed", self._on_graph_node_changed)
        document.undo_stack.indexChanged.connect(lambda _i: None if self._writing else self._next_session())
        self.hide()

    def close_down(self) -> None:
        self.document.graph.events.disconnect("node_changed", self._on_graph_node_changed)

    def show_node(self, node_id: str | None, read_only: bool = False) -> None:
        self._next_session()
        graph = self.document.graph
        node = graph.nodes.get(node_id) if node_id is not None else None
        if node is None or node.spec.role in ("input", "output"):
            self.node_id = None
            self.hide()
            return
        self.node_id = node_id
        self._load(node)
        self.set_read_only(read_only)
        self.show()

    def set_read_only(self, on: bool) -> None:
        self.trainable.setEnabled(not on)
        node = self.document.graph.nodes.get(self.node_id) if self.node_id else None
        self.lr_mult.setEnabled(not on and node is not None and not node.frozen)

    def _load(self, node) -> None:
        for w in (self.trainable, self.lr_mult):
            w.blockSignals(True)
        self.trainable.setChecked(not node.frozen)
        self.lr_mult.setValue(node.lr_mult)
        self.lr_mult.setEnabled(self.trainable.isEnabled() and not node.frozen)
        for w in (self.trainable, self.lr_mult):
            w.blockSignals(False)

    def _next_session(self) -> None:
        self._session += 1

    def _on_graph_node_changed(self, node) -> None:
        if node.id == self.node_id and not self._writing:
            self._load(node)

    def _push(self, **change) -> None:
        if self.node_id is None:
            return
        self._writing = True
        try:
            self.document.try_edit(lambda: SetNodeTrainingCommand(self.document.graph, self.node_id, **change))
        finally:
            self._writing = False
        node = self.document.graph.nodes.get(self.node_id)
        if node is not None:
            self._load(node)

    def _on_trainable_toggled(self, on: bool) -> None:
        self._next_session()
        self._push(frozen=not on)

    def _on_lr_mult_value_changed(self, value: float) -> None:
        node = self.document.graph.nodes.get(self.node_id) if self.node_id else None
        if node is not None and float(value) != node.lr_mult:
            self._push(lr_mult=float(value), session=self._session)


def params_status(graph, analysis) -> tuple[str, str]:
    """The status bar's parameter text and tooltip: total, and trainable/frozen when any is frozen."""
    trainable, frozen = parameter_counts(graph, analysis)
    text = f"{fmt.count(analysis.total_params)} params"
    tip = f"{analysis.total_params:,} parameters ({trainable:,} trainable"
    if frozen:
        text += f" ({fmt.count(frozen)} frozen)"
        tip += f", {frozen:,} frozen"
    return text, tip + ")"


class TransferFeature(QObject):
    """Frozen marks on the canvas, and Network > Initialise from weights…"""

    initial_weights_changed = Signal()

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.dialog = None
        self.pending: tuple[int, str, str] | None = None  # (document generation, weights path, one-line report)
        graph = window.graph
        for name in ("node_added", "node_changed"):
            graph.events.connect(name, self._on_graph_node)
        graph.events.connect("graph_reset", self._mark_all)
        window.document.graph_replaced.connect(self._on_document_graph_replaced)
        self.act_init = QAction("&Initialise from weights…", window)
        self.act_init.setToolTip("Start this network's next run from saved weights (a run's checkpoint, a state_dict .pt or "
                                 ".safetensors file, torchvision layout): the matched, missing and mismatched keys are shown first")
        self.act_init.triggered.connect(lambda *_: self.initialise_from_weights())
        window.network_menu.addSeparator()
        window.network_menu.addAction(self.act_init)
        self.status = QLabel(window)
        self.status.setContentsMargins(8, 0, 8, 0)
        self.status.hide()
        window.statusBar().addPermanentWidget(self.status)
        self._mark_all()

    # ---------------------------------------------------------------- canvas marks
    def _on_graph_node(self, node) -> None:
        item = self.window.scene.node_items.get(node.id)
        if item is not None:
            item.set_frozen(node.frozen, node.lr_mult)

    def _mark_all(self) -> None:
        for node in self.window.graph.nodes.values():
            self._on_graph_node(node)

    # ---------------------------------------------------------------- initial weights
    def ask_weights_file(self) -> str | None:
        """The weights to initialise from (tests replace this)."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Initialise from weights", "",
                                              "Weights (*.pt *.pth *.safetensors);;All files (*)")
        return path or None

    def initialise_from_weights(self) -> bool:
        """Ask for a weights file, show the key report; Apply makes the next run start from it."""
        w = self.window
        if not w.analysis.ok:
            w.inform("Cannot initialise from weights", "The network has errors (see Issues); fix them first.")
            return False
        path = self.ask_weights_file()
        if not path:
            return False
        from ..core.errors import StudioError

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            from ..training.init_weights import init_report  # torch loads here, in the GUI thread (see prepare_torch)

            report = init_report(w.graph, path)
        except StudioError as e:
            w.inform("Cannot read these weights", str(e))
            return False
        finally:
            QGuiApplication.restoreOverrideCursor()
        from .init_weights_dialog import InitWeightsDialog

        self.dialog = InitWeightsDialog(report, w)
        generation = w.state.generation
        self.dialog.accepted.connect(lambda: self._apply(generation, report))
        self.dialog.open()
        return True

    def _apply(self, generation: int, report) -> None:
        w = self.window
        if generation != w.state.generation:
            w.inform("Weights not applied", "Another network was opened meanwhile; initialise it again.")
            return
        if not report.matched:
            w.inform("Weights not applied", f"None of the tensors in {Path(report.path).name} fits this network by name and shape.")
            return
        self.pending = (generation, report.path, report.counts())
        name = Path(report.path).name
        self.status.setText(f"Starts from {name}")
        self.status.setToolTip(f"The next run (F5) starts from {report.path}: {report.counts()}; the rest keeps its initial values")
        self.status.show()
        w.show_message(f"Initial weights {name}: {report.counts()}; the next run (F5) starts from them")
        self.initial_weights_changed.emit()

    def initial_weights(self) -> dict:
        """TrainConfig entries for the next run: the applied weights (loaded where they fit), or {}."""
        if self.pending is None or self.pending[0] != self.window.state.generation:
            return {}
        return {"init_from": self.pending[1], "init_partial": True}

    def _on_document_graph_replaced(self) -> None:
        """New, Open, Revert: the weights were applied to the network that was there."""
        if self.pending is not None:
            self.pending = None
            self.status.hide()
            self.initial_weights_changed.emit()
        self._mark_all()
