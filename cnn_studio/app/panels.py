"""The issues list and the per-layer summary table (docks), both fed by ``Document.analysis_changed``."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QListWidget, QListWidgetItem, QStyle, QTableView, QVBoxLayout, QWidget

from ..core.layers import get_spec, has_spec
from . import fmt, theme
from .document import Document
from .icons import layer_icon

NODE_ROLE = Qt.ItemDataRole.UserRole + 1


class IssuesWidget(QWidget):
    """Every error and warning; clicking one selects and centres its layer."""

    node_requested = Signal(str)

    def __init__(self, document: Document, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("issues")
        self.document = document
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setIconSize(QSize(16, 16))
        self.list.setAlternatingRowColors(True)
        self.list.itemClicked.connect(self._on_list_item_clicked)
        self.list.itemActivated.connect(self._on_list_item_clicked)
        self.empty = QLabel("No problems: the network is valid.", self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.list)
        lay.addWidget(self.empty)
        self._last: list | None = None
        document.analysis_changed.connect(self._on_document_analysis_changed)
        self._on_document_analysis_changed(document.analysis)

    def _on_document_analysis_changed(self, analysis) -> None:
        issues = [(i.severity, str(i), i.node_id) for i in analysis.issues]
        issues.sort(key=lambda t: 0 if t[0] == "error" else 1)
        if issues == self._last:
            return
        self._last = issues
        self.list.clear()
        st = self.style()
        icons = {"error": st.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical), "warning": st.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)}
        for severity, text, node_id in issues:
            item = QListWidgetItem(icons.get(severity, icons["warning"]), text)
            item.setData(NODE_ROLE, node_id)
            item.setToolTip(text + ("\n\nClick to show the layer." if node_id else ""))
            self.list.addItem(item)
        self.list.setVisible(bool(issues))
        self.empty.setVisible(not issues)

    def counts(self) -> tuple[int, int]:
        a = self.document.analysis
        return len(a.errors), len(a.warnings)

    def _on_list_item_clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.node_requested.emit(node_id)


COLUMNS = ("Layer", "Type", "Output", "Params", "MACs", "Receptive field")


class SummaryModel(QAbstractTableModel):
    """One row per layer in topological order; refreshes only the rows whose values changed."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[tuple] = []
        self.ids: list[str] = []
        self.paths: list[str] = []  # block-tree paths of the rows ("res1/body/conv")
        self.errors: set[str] = set()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row[col]
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            t = row[6]
            return layer_icon(t) if t else None
        if role == Qt.ItemDataRole.ForegroundRole and self.ids[index.row()] in self.errors:
            return theme.colours().error
        if role == NODE_ROLE:
            return self.ids[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole and col == 3:
            return row[7]
        return None

    def set_analysis(self, analysis, graph=None) -> None:
        # the block tree (core/block_report.py): a block instance's row carries its totals and is
        # followed by its inner layers, indented one level per nesting; a row selects its top-level node
        from ..core.block_report import block_tree

        tree = block_tree(analysis)
        ids = [r.path.split("/")[0] if r.depth else r.path for r in tree]
        paths = [r.path for r in tree]
        rows = []
        for r in tree:
            i = _info_at(analysis, r.path)
            title = r.title if r.block is not None else (get_spec(r.type).title if has_spec(r.type) else r.type)
            params_tip = _params_tip(graph, analysis, r.path, i)
            label = "\u2003" * r.depth + ("\u25be " if r.block is not None else "") + r.id
            rows.append((label, title, fmt.shape(i.output_shape) if i.output_shape else "?", fmt.full(i.params), fmt.count(i.macs) if i.macs else "0", fmt.rf(i), r.type, params_tip))
        self.errors = {i.node_id for i in analysis.errors if i.node_id}
        if ids != self.ids or paths != self.paths:
            self.beginResetModel()
            self.ids, self.rows, self.paths = ids, rows, paths
            self.endResetModel()
            return
        changed = [r for r in range(len(rows)) if rows[r] != self.rows[r]]
        self.rows = rows
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))
        # error colouring may change without the values changing
        self.dataChanged.emit(self.index(0, 0), self.index(max(0, len(rows) - 1), 0), [Qt.ItemDataRole.ForegroundRole])


def _info_at(analysis, path: str):
    """The NodeInfo at a block-tree path ("res1/body/conv")."""
    parts = path.split("/")
    info = analysis.nodes[parts[0]]
    for part in parts[1:]:
        info = info.block.nodes[part]
    return info


class SummaryWidget(QWidget):
    """Per-layer table plus totals."""

    node_requested = Signal(str)

    def __init__(self, document: Document, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("summary")
        self.document = document
        self.model = SummaryModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setIconSize(QSize(14, 14))
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        h.setStretchLastSection(False)
        for col, w in enumerate((160, 160, 100, 90, 80, 110)):
            if col != 1:
                self.table.setColumnWidth(col, w)
        self.table.clicked.connect(self._on_table_clicked)
        self.totals = QLabel(self)
        self.totals.setWordWrap(True)  # one long line set the dock's minimum width (~810 px)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.totals.setContentsMargins(6, 2, 6, 4)
        f = QFont(self.totals.font())
        f.setBold(True)
        self.totals.setFont(f)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.table)
        lay.addWidget(self.totals)
        document.analysis_changed.connect(self._on_document_analysis_changed)
        self._on_document_analysis_changed(document.analysis)

    def _on_document_analysis_changed(self, a) -> None:
        self.model.set_analysis(a, self.document.graph)
        self.totals.setText(totals_text(a, self.document.graph))

    def _on_table_clicked(self, index: QModelIndex) -> None:
        nid = self.model.data(index, NODE_ROLE)
        if nid:
            self.node_requested.emit(nid)


def _params_tip(graph, analysis, path: str, info) -> str:
    """A Summary row's Parameters tooltip: its parts, frozen layers apart (core/trainable.py)."""
    from ..core.trainable import ParamCounts, path_param_counts

    c = path_param_counts(graph, [path], analysis) if graph is not None else ParamCounts(info.trainable, 0, info.non_trainable)
    return c.text() if c.total == info.params else ParamCounts(info.trainable, 0, info.non_trainable).text()


def totals_text(a, graph=None) -> str:
    """The Summary's totals line; its parameters named in parts that add up (core/trainable.py:
    trainable, frozen layers' with the graph, batch norm running statistics)."""
    from ..core.trainable import ParamCounts, param_counts

    counts = param_counts(graph, a) if graph is not None else ParamCounts(a.trainable_params, 0, a.non_trainable_params)
    parts = [
        f"Input {fmt.shape(a.input_shape) if a.input_shape else '-'}",
        f"Output {fmt.shape(a.output_shape) if a.output_shape else '-'}",
        counts.text(),
        f"{fmt.count(a.total_macs)} MACs",
        f"activations {fmt.mem(a.activation_bytes)} per sample",
    ]
    return "  ·  ".join(parts)
