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

from ..core.errors import GraphEditError
from ..core.graph import LR_MULT_MAX, check_node_training
from ..core.trainable import frozen_layer_counts, parameter_counts
from . import fmt

TRAINING_OPTION_MERGE_ID = 7303


class SetNodeTrainingCommand(QUndoCommand):
    """One undo step for the Trainable / LR multiplier of one layer or several (a multi-selection);
    consecutive multiplier edits of the same layers in one editing session (``session``) merge, as
    the Inspector's parameter edits do."""

    def __init__(self, graph, node_ids, frozen: bool | None = None, lr_mult: float | None = None, session=None) -> None:
        ids = [node_ids] if isinstance(node_ids, str) else list(node_ids)
        nodes = [graph.node(i) for i in ids]
        if not nodes:
            raise GraphEditError("select the layers to change first")
        check_node_training(False if frozen is None else frozen, 1.0 if lr_mult is None else lr_mult)
        self.old = {n.id: (n.frozen, n.lr_mult) for n in nodes}
        self.new = {n.id: (n.frozen if frozen is None else frozen, n.lr_mult if lr_mult is None else float(lr_mult)) for n in nodes}
        who = f"'{ids[0]}'" if len(ids) == 1 else f"{len(ids)} layers"
        what = ("Freeze" if frozen else "Unfreeze") if frozen is not None else "Change learning-rate multiplier of"
        super().__init__(f"{what} {who}")
        self.graph = graph
        self.session = session if lr_mult is not None and frozen is None else None

    def id(self) -> int:
        return TRAINING_OPTION_MERGE_ID if self.session is not None else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetNodeTrainingCommand) or other.session is None or other.session != self.session or set(other.new) != set(self.new):
            return False
        self.new = other.new
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        for nid, (frozen, mult) in self.new.items():
            self.graph.set_node_training(nid, frozen, mult)

    def undo(self) -> None:
        for nid, (frozen, mult) in self.old.items():
            self.graph.set_node_training(nid, frozen, mult)


class TrainingOptionsBox(QWidget):
    """The Inspector's rows for the selected layer: "Trainable" and "LR multiplier"."""

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None  # the one layer shown, or None (several, or none)
        self.node_ids: list[str] = []
        self._session = 0
        self._writing = False
        self._read_only = False
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
        # clicked, not toggled: from the partial state (a mixed selection) a click goes to Checked
        # without changing isChecked(), and toggled would not fire
        self.trainable.clicked.connect(self._on_trainable_clicked)
        self.lr_mult.valueChanged.connect(self._on_lr_mult_value_changed)
        self.lr_mult.editingFinished.connect(self._next_session)
        document.graph.events.connect("node_changed", self._on_graph_node_changed)
        document.graph.events.connect("node_removed", self._on_graph_node_removed)
        document.undo_stack.indexChanged.connect(lambda _i: None if self._writing else self._next_session())
        self.hide()

    def close_down(self) -> None:
        self.document.graph.events.disconnect("node_changed", self._on_graph_node_changed)
        self.document.graph.events.disconnect("node_removed", self._on_graph_node_removed)

    def show_node(self, node_id: str | None, read_only: bool = False) -> None:
        self.show_nodes([node_id] if node_id is not None else [], read_only)

    def show_nodes(self, node_ids, read_only: bool = False) -> None:
        """The layers the options apply to (a multi-selection sets them all in one step); layers without
        weights to train (input, loss) are left out, and with none left the rows hide."""
        self._next_session()
        graph = self.document.graph
        nodes = [graph.nodes[i] for i in node_ids if i in graph.nodes and graph.nodes[i].spec.role not in ("input", "output")]
        self.node_ids = [n.id for n in nodes]
        self.node_id = self.node_ids[0] if len(self.node_ids) == 1 else None
        if not nodes:
            self.hide()
            return
        self._read_only = read_only
        self._load()
        self.show()

    def set_read_only(self, on: bool) -> None:
        self._read_only = on
        self._load()

    def _nodes(self) -> list:
        graph = self.document.graph
        return [graph.nodes[i] for i in self.node_ids if i in graph.nodes]

    def _load(self) -> None:
        nodes = self._nodes()
        if not nodes:
            return
        for w in (self.trainable, self.lr_mult):
            w.blockSignals(True)
        # the state of the layers with weights (inside blocks too); a selection without any (an
        # activation alone) shows its own option
        frozen, weighted = frozen_layer_counts(self.document.graph, [n.id for n in nodes], self.document.analysis)
        if weighted == 0:
            frozen, weighted = sum(n.frozen for n in nodes), len(nodes)
        all_frozen = frozen == weighted
        self.trainable.setText("Trainable" if weighted <= 1 else f"Trainable ({weighted} layers)")
        if 0 < frozen < weighted:
            self.trainable.setTristate(True)
            self.trainable.setCheckState(Qt.CheckState.PartiallyChecked)
        else:
            self.trainable.setTristate(False)
            self.trainable.setChecked(not all_frozen)
        self.lr_mult.setValue(nodes[0].lr_mult)
        self.trainable.setEnabled(not self._read_only)
        self.lr_mult.setEnabled(not self._read_only and not all_frozen)
        for w in (self.trainable, self.lr_mult):
            w.blockSignals(False)

    def _next_session(self) -> None:
        self._session += 1

    def _on_graph_node_changed(self, node) -> None:
        if node.id in self.node_ids and not self._writing:
            self._load()

    def _on_graph_node_removed(self, node) -> None:
        if node.id in self.node_ids:
            self.show_nodes([i for i in self.node_ids if i != node.id], self._read_only)

    def _push(self, **change) -> None:
        if not self.node_ids:
            return
        self._writing = True
        try:
            self.document.try_edit(lambda: SetNodeTrainingCommand(self.document.graph, list(self.node_ids), **change))
        finally:
            self._writing = False
        self._load()

    def _on_trainable_clicked(self, _checked: bool = False) -> None:
        # a click on a partial box makes every selected layer trainable; else it follows the box
        on = self.trainable.checkState() != Qt.CheckState.Unchecked
        self._next_session()
        self._push(frozen=not on)

    def _on_lr_mult_value_changed(self, value: float) -> None:
        if any(float(value) != n.lr_mult for n in self._nodes()):
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
        try:
            item = self.window.scene.node_items.get(node.id)
            if item is not None:
                item.set_frozen(node.frozen, node.lr_mult)
        except RuntimeError:  # the window's C++ side is gone (closing): nothing left to mark
            pass

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
