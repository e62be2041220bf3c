"""The inspector: edits the selected layer's parameters and shows what the analysis knows about it.

One editor per parameter kind (int, float, bool, choice, pair, padding), ranges from the layer
spec. A change applies at once and re-analyses; consecutive changes of one field (spin-box ticks,
typing digits) merge into ONE undo step through ``SetConfigCommand.mergeWith``: every push carries
the merge key ``(node id, field, session)``, and the session number moves on when the editor
finishes editing (Enter, focus out), when the selection changes, and on any undo/redo, so two
separate edits of the same field stay two steps. The inspector writes inside ``_writing`` so it does
not re-read its own echo from ``node_changed``.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.layers import Param
from . import fmt, theme
from .commands import RenameNodeCommand, SetConfigCommand
from .document import Document
from .icons import layer_icon
from .transfer import TrainingOptionsBox

INT_MIN, INT_MAX = -(2**31) + 1, 2**31 - 1


def _int_range(p: Param) -> tuple[int, int]:
    lo = int(p.min) if p.min is not None else INT_MIN
    hi = int(p.max) if p.max is not None else INT_MAX
    return max(lo, INT_MIN), min(hi, INT_MAX)


class Editor(QWidget):
    """Base of the parameter editors: ``value()``, ``set_value()``, signals ``edited(value)`` and
    ``finished()`` (end of an editing session)."""

    edited = Signal(object)
    finished = Signal()

    def __init__(self, param: Param, parent=None) -> None:
        super().__init__(parent)
        self.param = param
        self._lay = QHBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(4)
        self.setToolTip(param.help)

    def value(self):
        raise NotImplementedError

    def set_value(self, v) -> None:
        raise NotImplementedError


class _Spin(QSpinBox):
    def __init__(self, lo: int, hi: int, special: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setRange(lo - (1 if special else 0), hi)
        if special:
            self.setSpecialValueText(special)
        self.setKeyboardTracking(True)
        self.setAccelerated(True)
        self.setMinimumWidth(64)


class IntEditor(Editor):
    def __init__(self, param: Param, parent=None) -> None:
        super().__init__(param, parent)
        lo, hi = _int_range(param)
        self.spin = _Spin(lo, hi, "none" if param.optional else None, self)
        self._lay.addWidget(self.spin)
        self.spin.valueChanged.connect(lambda _v: self.edited.emit(self.value()))
        self.spin.editingFinished.connect(self.finished)

    def value(self):
        v = self.spin.value()
        return None if (self.param.optional and v == self.spin.minimum()) else v

    def set_value(self, v) -> None:
        self.spin.blockSignals(True)
        if v is None:
            self.spin.setValue(self.spin.minimum())
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            self.spin.setValue(int(v))
        self.spin.blockSignals(False)


class _FloatSpin(QDoubleSpinBox):
    """A double spin box that shows values compactly (1e-05, 0.5) and accepts any float text."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setKeyboardTracking(True)
        self.setMinimumWidth(80)

    def textFromValue(self, v: float) -> str:
        return f"{v:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip() or 0)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        from PySide6.QtGui import QValidator

        t = text.strip()
        if t in ("", "-", ".", "-.", "e", "E") or t.lower().endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate, text, pos
        try:
            v = float(t)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        if not math.isfinite(v):
            return QValidator.State.Invalid, text, pos
        if v < self.minimum() or v > self.maximum():
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos


class FloatEditor(Editor):
    def __init__(self, param: Param, parent=None) -> None:
        super().__init__(param, parent)
        self.spin = _FloatSpin(self)
        lo = param.min if param.min is not None else -1e9
        hi = param.max if param.max is not None else 1e9
        self.spin.setRange(lo, hi)
        self.spin.setSingleStep(0.01 if hi <= 1.0 else 0.1)
        self._lay.addWidget(self.spin)
        self.spin.valueChanged.connect(lambda _v: self.edited.emit(self.value()))
        self.spin.editingFinished.connect(self.finished)

    def value(self):
        return float(self.spin.value())

    def set_value(self, v) -> None:
        self.spin.blockSignals(True)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            self.spin.setValue(float(v))
        self.spin.blockSignals(False)


class BoolEditor(Editor):
    def __init__(self, param: Param, parent=None) -> None:
        super().__init__(param, parent)
        self.box = QCheckBox(self)
        self._lay.addWidget(self.box)
        self._lay.addStretch(1)
        self.box.toggled.connect(lambda _v: (self.edited.emit(self.value()), self.finished.emit()))

    def value(self):
        return self.box.isChecked()

    def set_value(self, v) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(v))
        self.box.blockSignals(False)


class ChoiceEditor(Editor):
    def __init__(self, param: Param, parent=None) -> None:
        super().__init__(param, parent)
        self.combo = QComboBox(self)
        self.combo.addItems(list(param.choices))
        self._lay.addWidget(self.combo)
        self.combo.currentTextChanged.connect(lambda _t: (self.edited.emit(self.value()), self.finished.emit()))

    def value(self):
        return self.combo.currentText()

    def set_value(self, v) -> None:
        self.combo.blockSignals(True)
        i = self.combo.findText(str(v))
        if i < 0 and v is not None:
            self.combo.addItem(str(v))  # show an invalid value as it is; the analysis flags it
            i = self.combo.count() - 1
        self.combo.setCurrentIndex(i)
        self.combo.blockSignals(False)


class PairEditor(Editor):
    """n, or [h, w] when the h×w toggle is on; optional values show 'auto' (None)."""

    def __init__(self, param: Param, parent=None, lo: int | None = None) -> None:
        super().__init__(param, parent)
        plo, hi = _int_range(param)
        lo = plo if lo is None else lo
        special = ("= kernel" if param.name == "stride" else "auto") if param.optional else None
        self.h = _Spin(lo, hi, special, self)
        self.w = _Spin(lo, hi, None, self)
        self.split = QToolButton(self)
        self.split.setText("h×w")
        self.split.setCheckable(True)
        self.split.setToolTip("Give height and width separately")
        self.times = QLabel("×", self)
        for wdg in (self.h, self.times, self.w, self.split):
            self._lay.addWidget(wdg)
        self.w.setVisible(False)
        self.times.setVisible(False)
        self.h.valueChanged.connect(self._on_h_value_changed)
        self.w.valueChanged.connect(lambda _v: self.edited.emit(self.value()))
        self.h.editingFinished.connect(self.finished)
        self.w.editingFinished.connect(self.finished)
        self.split.toggled.connect(self._on_split_toggled)

    def _is_none(self) -> bool:
        return self.param.optional and self.h.value() == self.h.minimum()

    def _on_h_value_changed(self, _v) -> None:
        if not self.split.isChecked():
            self.w.blockSignals(True)
            self.w.setValue(max(self.h.value(), self.w.minimum()))
            self.w.blockSignals(False)
        self.edited.emit(self.value())

    def _on_split_toggled(self, on: bool) -> None:
        self.w.setVisible(on)
        self.times.setVisible(on)
        if not on and self.w.value() != self.h.value():
            self.w.blockSignals(True)
            self.w.setValue(self.h.value())
            self.w.blockSignals(False)
            self.edited.emit(self.value())
            self.finished.emit()

    def value(self):
        if self._is_none():
            return None
        h, w = self.h.value(), self.w.value()
        if self.split.isChecked() and h != w:
            return [h, w]
        return h

    def set_value(self, v) -> None:
        for wdg in (self.h, self.w, self.split):
            wdg.blockSignals(True)
        if v is None:
            self.h.setValue(self.h.minimum())
            self.split.setChecked(False)
        elif isinstance(v, (list, tuple)) and len(v) == 2:
            self.h.setValue(int(v[0]))
            self.w.setValue(int(v[1]))
            self.split.setChecked(int(v[0]) != int(v[1]))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            self.h.setValue(int(v))
            self.w.setValue(int(v))
            self.split.setChecked(False)
        self.w.setVisible(self.split.isChecked())
        self.times.setVisible(self.split.isChecked())
        for wdg in (self.h, self.w, self.split):
            wdg.blockSignals(False)


class PaddingEditor(Editor):
    """A number / [h, w], or one of the named paddings ('same', 'valid')."""

    NUMBER = "number"

    def __init__(self, param: Param, parent=None) -> None:
        super().__init__(param, parent)
        self.mode = QComboBox(self)
        self.mode.addItems([self.NUMBER, *param.choices])
        self.pair = PairEditor(param, self)
        self._lay.addWidget(self.mode)
        self._lay.addWidget(self.pair, 1)
        self.mode.currentTextChanged.connect(self._on_mode_changed)
        self.pair.edited.connect(lambda _v: self.edited.emit(self.value()))
        self.pair.finished.connect(self.finished)

    def _on_mode_changed(self, _t) -> None:
        self.pair.setEnabled(self.mode.currentText() == self.NUMBER)
        self.edited.emit(self.value())
        self.finished.emit()

    def value(self):
        m = self.mode.currentText()
        return self.pair.value() if m == self.NUMBER else m

    def set_value(self, v) -> None:
        self.mode.blockSignals(True)
        if isinstance(v, str):
            i = self.mode.findText(v)
            self.mode.setCurrentIndex(max(i, 0))
        else:
            self.mode.setCurrentIndex(0)
            self.pair.set_value(v)
        self.pair.setEnabled(self.mode.currentText() == self.NUMBER)
        self.mode.blockSignals(False)


EDITORS = {"int": IntEditor, "float": FloatEditor, "bool": BoolEditor, "choice": ChoiceEditor, "pair": PairEditor, "padding": PaddingEditor}


def make_editor(param: Param, parent=None) -> Editor:
    return EDITORS[param.kind](param, parent)


class InspectorWidget(QScrollArea):
    rename_done = Signal(str, str)  # old id, new id

    def __init__(self, document: Document, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.document = document
        self.node_id: str | None = None
        self.selection: list[str] = []
        self.inner: tuple[str, str] | None = None  # (definition, instance path) while a layer inside a block is shown
        self.editors: dict[str, Editor] = {}
        self.read_only = False
        self._writing = False
        self._session = 0
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._body = QWidget()
        self.setWidget(self._body)
        self._outer = QVBoxLayout(self._body)
        self._outer.setContentsMargins(10, 8, 10, 8)
        self._outer.setSpacing(8)

        # header
        head = QHBoxLayout()
        self.icon = QLabel(self._body)
        self.icon.setFixedSize(QSize(24, 24))
        self.title = QLabel(self._body)
        f = QFont(self.title.font())
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        head.addWidget(self.icon)
        head.addWidget(self.title, 1)
        self._outer.addLayout(head)

        self.id_edit = QLineEdit(self._body)
        self.id_edit.setToolTip("The layer's id: letters, digits and _; it names the layer in code, files and messages")
        self.id_edit.editingFinished.connect(self._on_id_edit_editing_finished)
        self.params_form = QFormLayout()
        self.params_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.params_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.params_form.addRow("Id", self.id_edit)
        self._outer.addLayout(self.params_form)
        self.training_box = TrainingOptionsBox(document, self._body)  # Trainable, LR multiplier (transfer.py)
        self._outer.addWidget(self.training_box)

        self.issues_label = QLabel(self._body)
        self.issues_label.setWordWrap(True)
        self.issues_label.setTextFormat(Qt.TextFormat.RichText)
        self._outer.addWidget(self.issues_label)

        self.stats = QLabel(self._body)
        self.stats.setTextFormat(Qt.TextFormat.RichText)
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._outer.addWidget(self.stats)

        self.help = QLabel(self._body)
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.RichText)
        self.help.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self._outer.addWidget(self.help)
        self._outer.addStretch(1)

        self._handlers = [("node_changed", self._on_graph_node_changed), ("node_removed", self._on_graph_node_removed), ("graph_reset", self._on_graph_reset)]
        for name, fn in self._handlers:
            document.graph.events.connect(name, fn)
        document.analysis_changed.connect(self._on_document_analysis_changed)
        document.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        self.show_node(None)

    def close_down(self) -> None:
        self.training_box.close_down()
        for name, fn in self._handlers:
            self.document.graph.events.disconnect(name, fn)
        self._handlers = []

    # ------------------------------------------------------------------ what is shown
    def _graph(self):
        """The graph the shown layer lives in: the network, or a block definition's inner graph."""
        if self.inner is not None and self.inner[0] in self.document.graph.blocks:
            return self.document.graph.blocks[self.inner[0]].graph
        return self.document.graph

    def show_inner(self, block: str, inner_id: str, path: str) -> None:
        """Show (and edit) layer ``inner_id`` of definition ``block``; every use of it changes."""
        self.inner = (block, path)
        self.selection = []
        self.show_node(inner_id)

    def set_selection(self, ids: list[str]) -> None:
        self.inner = None
        self.selection = list(ids)
        self.show_node(ids[0] if len(ids) == 1 else None)

    def show_node(self, node_id: str | None) -> None:
        self._session += 1
        graph = self._graph()
        if node_id is not None and node_id not in graph.nodes:
            node_id = None
            self.inner = None
        self.node_id = node_id
        self._clear_editors()
        if self.inner is not None and node_id is not None:  # a layer inside a block: its definition's options
            self.training_box.show_inner(self.inner[1], self.read_only)
        else:
            self.training_box.show_nodes([node_id] if node_id is not None else self.selection, self.read_only)
        if node_id is None:
            self._show_nothing()
            return
        node = graph.nodes[node_id]
        spec = node.spec
        self.icon.setPixmap(layer_icon(spec.type_id).pixmap(QSize(24, 24)))
        self.icon.show()
        title = f"Block {node.config.get('block', '')}" if spec.type_id == "block" else spec.title  # its definition's name
        self.title.setText(title + (f"  (in block {self.inner[0]})" if self.inner is not None else ""))
        self.id_edit.show()
        self.params_form.labelForField(self.id_edit).show()
        self.id_edit.setText(node_id)
        for p in spec.params:
            ed = make_editor(p, self._body)
            ed.set_value(node.config.get(p.name, p.default))
            ed.setEnabled(not self.read_only)
            ed.edited.connect(lambda v, _name=p.name: self._on_editor_edited(_name, v))
            ed.finished.connect(self._on_editor_finished)
            label = QLabel(p.title, self._body)
            label.setToolTip(p.help)
            self.params_form.addRow(label, ed)
            self.editors[p.name] = ed
        # "settings", not "parameters": the info rows below count the layer's weights as Parameters;
        # a block's settings are its inner layers' (the block rows below), so it says nothing here
        if not spec.params and spec.type_id != "block":
            self.params_form.addRow(QLabel("<i>This layer has no settings.</i>", self._body))
        self.id_edit.setReadOnly(self.read_only)
        self.help.setText(f"<p style='color:{self.palette().placeholderText().color().name()}'>{_esc(spec.help)}</p>")
        self._update_info()

    def _clear_editors(self) -> None:
        while self.params_form.rowCount() > 1:
            self.params_form.removeRow(1)
        self.editors.clear()

    def _show_nothing(self) -> None:
        self.icon.hide()
        self.id_edit.hide()
        self.params_form.labelForField(self.id_edit).hide()
        n = len(self.selection)
        if n > 1:
            a = self.document.analysis
            from ..core.trainable import path_param_counts

            params = path_param_counts(self.document.graph, [i for i in self.selection if i in a.nodes], a)
            macs = sum(a.nodes[i].macs for i in self.selection if i in a.nodes)
            self.title.setText(f"{n} layers selected")
            self.stats.setText(f"Together: {params.text()}; {fmt.count(macs)} MACs")
        else:
            self.title.setText("No layer selected")
            self.stats.setText("")
        self.issues_label.setText("")
        self.help.setText(
            "<p>Select a layer on the canvas to edit its parameters here.</p>"
            "<p>Drag layers from the palette: drop on a layer to append after it, on a link to insert "
            "into it, on empty canvas for a free layer. Connect layers by dragging from an output port "
            "(bottom of a card) to an input port (top).</p>"
        )

    def _update_info(self) -> None:
        if self.node_id is None:
            if len(self.selection) > 1:
                self._show_nothing()
            return
        a = self.document.analysis
        info = a.nodes.get(self.node_id)
        issues = a.issues_for(self.node_id)
        if self.inner is not None:  # inside a block: the instance's inner analysis, along the path
            info, parts = None, self.inner[1].split("/")
            infos = a.nodes
            for k, part in enumerate(parts):
                info = infos.get(part) if infos is not None else None
                infos = info.block.nodes if info is not None and info.block is not None and k < len(parts) - 1 else None
            issues = list(getattr(info, "issues", None) or [])
        c = theme.colours()
        if issues:
            rows = []
            for i in issues:
                colour = c.error if i.severity == "error" else c.warning
                rows.append(f"<p style='color:{colour.name()}; margin:0'><b>{i.severity.capitalize()}:</b> {_esc(i.message)}" + (f"; {_esc(i.fix)}" if i.fix else "") + "</p>")
            self.issues_label.setText("".join(rows))
            self.issues_label.show()
        else:
            self.issues_label.setText("")
            self.issues_label.hide()
        if info is None:
            self.stats.setText("")
            return
        shapes = info.input_shapes
        if not shapes and self.inner is None:  # failed layers record none: show what arrives at each input port
            srcs = [a.nodes.get(e.src) for e in self.document.graph.in_edges(self.node_id)]
            shapes = [s.output_shape for s in srcs if s is not None and s.output_shape is not None]
        ins = ", ".join(fmt.shape(s) for s in shapes) or "-"
        rows = [
            ("Input", ins),
            ("Output", fmt.shape(info.output_shape) if info.output_shape else "?"),
            ("Parameters", _params_row(self.document.graph, a, self.inner[1] if self.inner is not None else self.node_id, info)),
            ("MACs", f"{fmt.full(info.macs)} ({fmt.count(info.macs)})" if info.macs else "0"),
            ("Receptive field", fmt.rf_long(info)),
            ("Activations", fmt.mem(info.activation_bytes)),
        ]
        self.stats.setText("<table cellspacing='0' cellpadding='1'>" + "".join(f"<tr><td style='padding-right:10px'><b>{k}</b></td><td>{_esc(v)}</td></tr>" for k, v in rows) + "</table>")

    # ------------------------------------------------------------------ model -> widgets
    def _on_graph_node_changed(self, node) -> None:
        if self._writing or node.id != self.node_id:
            return
        for name, ed in self.editors.items():
            ed.set_value(node.config.get(name, ed.param.default))

    def _on_graph_node_removed(self, node) -> None:
        if node.id == self.node_id and not self._writing:
            self.node_id = None
            self.selection = [s for s in self.selection if s != node.id]
            self._clear_editors()
            self._show_nothing()

    def _on_graph_reset(self) -> None:
        self.inner = None
        self.selection = []
        self.show_node(None)

    def _on_document_analysis_changed(self, _a) -> None:
        self._update_info()

    def _on_undo_stack_index_changed(self, _i) -> None:
        if not self._writing:
            self._session += 1

    # ------------------------------------------------------------------ widgets -> model
    def _on_editor_edited(self, name: str, value) -> None:
        if self.node_id is None or self.read_only:
            return
        node = self._graph().nodes.get(self.node_id)
        if node is None:
            return
        if node.config.get(name) == value and type(node.config.get(name)) is type(value):
            return
        cfg = dict(node.config)
        cfg[name] = value
        self._writing = True
        try:
            if self.inner is not None:  # inside a block definition (block_commands.py)
                from .block_commands import InnerSetConfigCommand

                block = self.inner[0]
                self.document.try_edit(lambda: InnerSetConfigCommand(self.document.graph, block, self.node_id, cfg, merge_key=(block, self.node_id, name, self._session)))
            else:
                self.document.try_edit(lambda: SetConfigCommand(self.document.graph, self.node_id, cfg, merge_key=(self.node_id, name, self._session)))
        finally:
            self._writing = False

    def _on_editor_finished(self) -> None:
        self._session += 1

    def _on_id_edit_editing_finished(self) -> None:
        if self.node_id is None:
            return
        new = self.id_edit.text().strip()
        old = self.node_id
        if new == old or self.read_only:
            self.id_edit.setText(old)
            return
        inner = self.inner
        self._writing = True
        try:
            if inner is not None:  # a layer inside a block: renamed in its definition, ports kept on it
                ok = self.document.try_edit(lambda: _inner_rename_command(self.document.graph, inner[0], old, new))
            else:
                ok = self.document.try_edit(lambda: RenameNodeCommand(self.document.graph, old, new))
        finally:
            self._writing = False
        if ok is None:
            self.id_edit.setText(old)
            return
        if inner is not None:
            self.show_inner(inner[0], new, inner[1])
            return
        self.node_id = new
        self.selection = [new]
        self.rename_done.emit(old, new)
        self.show_node(new)

    def set_read_only(self, on: bool) -> None:
        self.read_only = on
        for ed in self.editors.values():
            ed.setEnabled(not on)
        self.id_edit.setReadOnly(on)
        self.training_box.set_read_only(on)


def _params_row(graph, analysis, path: str, info) -> str:
    """The Parameters row: the total and, when not all of it trains, its parts that add up
    (trainable, frozen, buffers; frozen by the layer's own option or a block around it, inner
    layers of a block instance included: core/trainable.py)."""
    from ..core.trainable import ParamCounts, path_param_counts

    c = path_param_counts(graph, [path], analysis)
    if c.total != info.params:  # the path no longer leads to this info: its own numbers
        c = ParamCounts(info.trainable, 0, info.non_trainable)
    return fmt.full(c.total) + (f": {c.parts()}" if c.frozen or c.buffers else "")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inner_rename_command(graph, block: str, old: str, new: str):
    """One undo step renaming layer ``old`` of definition ``block`` (every use of it): the inner id is
    the module name in every instance, so state_dict keys follow. Refusals are GraphEditError."""
    from ..core import blocks
    from ..core.errors import GraphEditError
    from .block_commands import _snapshot

    if block not in graph.blocks or old not in graph.blocks[block].graph.nodes:
        raise GraphEditError(f"block '{block}' has no layer '{old}'")
    macro, _ = _snapshot(graph, f"Rename '{old}' to '{new}' in block '{block}'",
                         lambda g: blocks.rename_inner_node(g, block, old, new))
    return macro
