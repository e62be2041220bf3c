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
from PySide6.QtGui import QAction, QUndoCommand
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFileDialog, QFormLayout, QLabel, QWidget

from ..core.errors import GraphEditError
from ..core.graph import LR_MULT_MAX, check_node_training
from ..core.block_spec import BLOCK_TYPE
from ..core.trainable import instance_paths, locate, param_counts, path_has_weights, path_layer_counts, unfreeze_targets
from . import fmt
from .cursor import wait_cursor

TRAINING_OPTION_MERGE_ID = 7303


Target = tuple  # (definition name or None for the network, node id)


def _targets(node_ids) -> list[Target]:
    ids = [node_ids] if isinstance(node_ids, (str, tuple)) else list(node_ids)
    return [(None, i) if isinstance(i, str) else (i[0], i[1]) for i in ids]


class SetNodeTrainingCommand(QUndoCommand):
    """One undo step for the Trainable / LR multiplier of one layer or several (a multi-selection, or a
    block made trainable with the layers inside it). A target is a top-level node id or ``(definition,
    inner id)``: a layer inside a block definition, looked up by name at each redo/undo (a structural
    undo rebuilds the definitions, so a held inner graph would be stale). Consecutive multiplier edits
    of the same layers in one editing session (``session``) merge, as the Inspector's parameter edits do."""

    def __init__(self, graph, node_ids, frozen: bool | None = None, lr_mult: float | None = None, session=None) -> None:
        self.graph = graph
        targets = _targets(node_ids)
        if not targets:
            raise GraphEditError("select the layers to change first")
        nodes = [self._graph(b).node(i) for b, i in targets]
        check_node_training(False if frozen is None else frozen, 1.0 if lr_mult is None else lr_mult)
        self.old = {t: (n.frozen, n.lr_mult) for t, n in zip(targets, nodes)}
        self.new = {t: (n.frozen if frozen is None else frozen, n.lr_mult if lr_mult is None else float(lr_mult)) for t, n in zip(targets, nodes)}
        block, first = targets[0]
        who = (f"'{first}'" + (f" in block '{block}'" if block is not None else "")) if len(targets) == 1 else f"{len(targets)} layers"
        what = ("Freeze" if frozen else "Unfreeze") if frozen is not None else "Change learning-rate multiplier of"
        super().__init__(f"{what} {who}")
        self.session = session if lr_mult is not None and frozen is None else None

    def _graph(self, block):
        if block is None:
            return self.graph
        if block not in self.graph.blocks:
            raise GraphEditError(f"there is no block definition '{block}'")
        return self.graph.blocks[block].graph

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
        for (block, nid), (frozen, mult) in self.new.items():
            self._graph(block).set_node_training(nid, frozen, mult)

    def undo(self) -> None:
        for (block, nid), (frozen, mult) in self.old.items():
            self._graph(block).set_node_training(nid, frozen, mult)


class TrainingOptionsBox(QWidget):
    """The Inspector's rows for the selected layers: "Trainable" and "LR multiplier", with a note below
    (a layer inside a shared block definition: every use changes; frozen with a block around it).

    The box works on paths (core/trainable.py): top-level ids, or ``instance/.../layer`` for a layer
    inside a block (the Inspector shows one when its card is clicked in an expanded block). Clicking
    Trainable on (from off or partial) makes every layer at or under the paths train: their own option
    and, for a block instance, every frozen layer inside its definition (which every use of that
    definition shares); clicking it off freezes the selected nodes themselves (a block instance: that
    instance only). One undo step each."""

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None  # the one layer shown (its path), or None (several, or none)
        self.node_ids: list[str] = []  # the paths the options apply to
        self._session = 0
        self._writing = False
        self._read_only = False
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.trainable = QCheckBox("Trainable", self)
        self.trainable.setToolTip("Off: this layer's weights stay as they are while the rest of the network trains "
                                  "(transfer learning); its batch norm keeps its statistics. For a block: on makes every "
                                  "layer inside it train, off freezes this instance of it")
        self.lr_mult = QDoubleSpinBox(self)
        self.lr_mult.setDecimals(4)
        self.lr_mult.setRange(0.0001, LR_MULT_MAX)
        self.lr_mult.setSingleStep(0.1)
        self.lr_mult.setKeyboardTracking(True)
        self.lr_mult.setToolTip("This layer learns at the run's learning rate times this number (0.1: ten times slower, "
                                "typical for pretrained layers being fine-tuned); inside a block it is multiplied by the block's")
        form.addRow("", self.trainable)
        self.lr_label = QLabel("LR multiplier", self)
        form.addRow(self.lr_label, self.lr_mult)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setObjectName("trainingNote")
        form.addRow(self.note)
        self.note.hide()
        # clicked, not toggled: from the partial state (a mixed selection) a click goes to Checked
        # without changing isChecked(), and toggled would not fire
        self.trainable.clicked.connect(self._on_trainable_clicked)
        self.lr_mult.valueChanged.connect(self._on_lr_mult_value_changed)
        self.lr_mult.editingFinished.connect(self._next_session)
        self._handlers = [("node_changed", self._on_graph_node_changed), ("node_removed", self._on_graph_node_removed),
                          ("block_changed", self._on_graph_block_changed)]
        for name, fn in self._handlers:
            document.graph.events.connect(name, fn)
        document.undo_stack.indexChanged.connect(lambda _i: None if self._writing else self._next_session())
        self.hide()

    def close_down(self) -> None:
        for name, fn in self._handlers:
            self.document.graph.events.disconnect(name, fn)
        self._handlers = []

    def show_node(self, node_id: str | None, read_only: bool = False) -> None:
        self.show_nodes([node_id] if node_id is not None else [], read_only)

    def show_nodes(self, node_ids, read_only: bool = False) -> None:
        """The top-level layers the options apply to (a multi-selection sets them all in one step);
        layers without weights to train (input, loss) are left out, and with none left the rows hide."""
        graph = self.document.graph
        self._show([i for i in node_ids if i in graph.nodes and graph.nodes[i].spec.role not in ("input", "output")], read_only)

    def show_inner(self, path: str, read_only: bool = False) -> None:
        """The layer at ``path`` inside a block ("res1/c2"): its options live in the block's definition."""
        self._show([path] if locate(self.document.graph, path) is not None else [], read_only)

    def _show(self, paths: list[str], read_only: bool) -> None:
        self._next_session()
        self.node_ids = list(paths)
        self.node_id = self.node_ids[0] if len(self.node_ids) == 1 else None
        if not self.node_ids:
            self.hide()
            return
        self._read_only = read_only
        self._load()
        self.show()

    def set_read_only(self, on: bool) -> None:
        self._read_only = on
        self._load()

    def _locs(self) -> list:
        graph, a = self.document.graph, self.document.analysis
        return [loc for p in self.node_ids if (loc := locate(graph, p, a)) is not None]

    def _nodes(self) -> list:
        return [loc.node for loc in self._locs()]

    def _load(self) -> None:
        locs = self._locs()
        if not locs:
            return
        graph = self.document.graph
        for w in (self.trainable, self.lr_mult):
            w.blockSignals(True)
        # the state of the layers with weights (inside blocks too); a selection without any (an
        # activation alone) shows its own option
        if not any(path_has_weights(graph, loc.path) for loc in locs):  # a Dropout, an activation: nothing to train
            self.trainable.setText("Trainable")
            self.trainable.setTristate(False)
            self.trainable.setChecked(not all(loc.node.frozen for loc in locs))
            self.lr_mult.setValue(locs[0].node.lr_mult)
            for w in (self.trainable, self.lr_mult):
                w.setEnabled(False)
                w.blockSignals(False)
            what = f"{locs[0].node.spec.title} '{locs[0].node.id}' has" if len(locs) == 1 else "These layers have"
            self.note.setText(f"{what} no weights: Trainable and LR multiplier don't apply.")
            self.note.show()
            return
        frozen, weighted = path_layer_counts(graph, [loc.path for loc in locs], self.document.analysis)
        if weighted == 0:
            frozen, weighted = sum(loc.node.frozen or loc.frozen_by is not None for loc in locs), len(locs)
        all_frozen = frozen == weighted
        self.trainable.setText("Trainable" if weighted <= 1 else f"Trainable ({weighted} layers)")
        if 0 < frozen < weighted:
            self.trainable.setTristate(True)
            self.trainable.setCheckState(Qt.CheckState.PartiallyChecked)
        else:
            self.trainable.setTristate(False)
            self.trainable.setChecked(not all_frozen)
        self.lr_mult.setValue(locs[0].node.lr_mult)
        # a layer frozen by a block instance around it cannot train on its own option: say where to act
        held = [loc for loc in locs if loc.frozen_by is not None]
        locked = len(held) == len(locs)
        self.trainable.setEnabled(not self._read_only and not locked)
        self.lr_mult.setEnabled(not self._read_only and not all_frozen)
        for w in (self.trainable, self.lr_mult):
            w.blockSignals(False)
        notes = []
        if held:
            by = held[0].frozen_by
            notes.append(f"Frozen with block '{by}' around it: make that block trainable (select its card) to train "
                         + ("this layer." if len(held) == 1 else "these layers."))
        # the note names the definition a field really edits (a layer inside one), and only when shared
        edited = {loc.block for loc in locs if loc.block is not None}
        for block in sorted(edited):
            uses = len(instance_paths(graph, block))
            if uses > 1:
                notes.append(f"Applies to all {uses} uses of {block} (its definition is shared; Network > Blocks > "
                             "Make unique to change one alone).")
        if frozen:  # Trainable on also unfreezes layers inside the definitions of selected blocks
            sel = [loc.path for loc in locs]
            for block in sorted({b for b, _ in unfreeze_targets(graph, sel) if b is not None} - edited):
                uses = instance_paths(graph, block)
                if any(not any(p == s or p.startswith(s + "/") for s in sel) for p in uses):  # used elsewhere too
                    notes.append(f"Trainable on also makes the frozen layers inside {block} train in all {len(uses)} of its "
                                 "uses (its definition is shared; Network > Blocks > Make unique to change one alone).")
        self.note.setText(" ".join(notes))
        self.note.setVisible(bool(notes))

    def _next_session(self) -> None:
        self._session += 1

    def _on_graph_node_changed(self, node) -> None:
        # a top-level node: one shown, or an instance around a shown inner layer
        if not self._writing and any(p.split("/", 1)[0] == node.id for p in self.node_ids):
            self._load()

    def _on_graph_block_changed(self, _name: str) -> None:
        if not self._writing and self.node_ids:
            self._load()

    def _on_graph_node_removed(self, node) -> None:
        if any(p.split("/", 1)[0] == node.id for p in self.node_ids):
            self._show([p for p in self.node_ids if p.split("/", 1)[0] != node.id], self._read_only)

    def _push(self, targets, **change) -> None:
        if not targets:
            return
        self._writing = True
        try:
            self.document.try_edit(lambda: SetNodeTrainingCommand(self.document.graph, list(targets), **change))
        finally:
            self._writing = False
        self._load()

    def _own_targets(self) -> list[Target]:
        return [(loc.block, loc.node.id) for loc in self._locs()]

    def _on_trainable_clicked(self, _checked: bool = False) -> None:
        # a click on a partial or unchecked box makes every layer under the selection trainable (a
        # block's inner layers too); a click on a checked one freezes the selected nodes themselves
        on = self.trainable.checkState() != Qt.CheckState.Unchecked
        self._next_session()
        if on:
            self._push(unfreeze_targets(self.document.graph, [loc.path for loc in self._locs()]), frozen=False)
        else:
            self._push(self._own_targets(), frozen=True)

    def _on_lr_mult_value_changed(self, value: float) -> None:
        if any(float(value) != n.lr_mult for n in self._nodes()):
            self._push(self._own_targets(), lr_mult=float(value), session=self._session)


def params_status(graph, analysis) -> tuple[str, str]:
    """The status bar's parameter text (total, and frozen when any is) and tooltip: the parts that
    add up (trainable, frozen, buffers), as the Summary's totals line names them."""
    counts = param_counts(graph, analysis)
    text = f"{fmt.count(analysis.total_params)} params"
    if counts.frozen:
        text += f" ({fmt.count(counts.frozen)} frozen)"
    return text, counts.text()


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
        graph.events.connect("block_changed", self._on_graph_block_changed)
        # inner cards are made when a block expands and again when its definition changes: mark them
        # once the scene has them (as canvas/badges.py does for its badges)
        window.scene.changed.connect(self._on_scene_changed)
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
            scene = self.window.scene
            # while a block's inside is shown (canvas/inner_edit.py) the cards are the definition's
            item = None if getattr(scene, "edit_path", None) else scene.node_items.get(node.id)
            if item is not None:
                item.set_frozen(node.frozen, node.lr_mult)
                if node.type == BLOCK_TYPE:
                    self._mark_inner()
        except RuntimeError:  # the window's C++ side is gone (closing): nothing left to mark
            pass

    def _mark_all(self) -> None:
        for node in self.window.graph.nodes.values():
            self._on_graph_node(node)
        self._on_scene_changed()

    def _on_graph_block_changed(self, _name: str) -> None:
        self._on_scene_changed()

    def _on_scene_changed(self, _rects=None) -> None:
        try:
            self._mark_inner()
        except RuntimeError:  # closing
            pass

    def _mark_inner(self) -> None:
        """The cards inside expanded blocks: frozen by their own option (in the definition) or by an
        instance around them, as the trainer applies it (core/trainable.py); a nested block card's
        partly-frozen count follows the same rule."""
        from .canvas.block_item import BlockItem

        graph = self.window.graph

        def walk(item, above: bool) -> None:
            d = graph.blocks.get(item.block_name)
            if d is None:
                return
            for nid, child in item.inner_items.items():
                node = d.graph.nodes.get(nid)
                if node is None:
                    continue
                child.set_frozen(above or node.frozen, node.lr_mult)
                if isinstance(child, BlockItem) and child.inner_items:
                    walk(child, above or node.frozen)

        scene = self.window.scene
        entered = "/".join(getattr(scene, "edit_path", None) or [])
        if entered:  # a block's inside shown as a graph: its cards, frozen also by the entered instance
            loc = locate(graph, entered)
            if loc is None or loc.node.config.get("block") not in graph.blocks:
                return
            shown, above = graph.blocks[loc.node.config["block"]].graph, loc.node.frozen or loc.frozen_by is not None
            for nid, item in scene.node_items.items():
                node = shown.nodes.get(nid)
                if node is not None:
                    item.set_frozen(above or node.frozen, node.lr_mult)
                    if isinstance(item, BlockItem) and item.inner_items:
                        walk(item, above or node.frozen)
            return
        for nid, item in scene.node_items.items():
            node = graph.nodes.get(nid)
            if isinstance(item, BlockItem) and item.inner_items and node is not None:
                walk(item, node.frozen)

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

        try:
            with wait_cursor():
                from ..training.init_weights import init_report  # torch loads here, in the GUI thread (see prepare_torch)

                report = init_report(w.graph, path)
        except StudioError as e:
            w.inform("Cannot read these weights", str(e))
            return False
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
