"""The Runs dock's widget: a filter line, the weights to show (best or last), the table (sortable by
clicking a header, several rows selectable) and the run actions in a tool bar and a context menu.

It holds no logic of its own: :class:`~cnn_studio.app.runs.attach.RunsFeature` connects the actions.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu,
                               QTableView, QToolBar, QVBoxLayout, QWidget)

from .model import INFO_ROLE, RunsFilterProxy, RunsTableModel, run_path


class RunsView(QWidget):
    run_activated = Signal(str)  # a row double-clicked (or Enter): its run folder
    selection_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = RunsTableModel(self)
        self.proxy = RunsFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("runsFilter")
        self.filter_edit.setPlaceholderText("Filter runs (name, network, data, note…)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(QLabel("Show"))
        self.weights_combo = QComboBox()
        self.weights_combo.addItem("Best weights", "best")
        self.weights_combo.addItem("Last weights", "last")
        self.weights_combo.setToolTip("Which checkpoint of a run the views load when you open it")
        top.addWidget(self.weights_combo)
        lay.addLayout(top)

        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        mk = self._action
        self.act_show = mk("Show", "Show this run's curves and weights in every view (double-click)")
        self.act_compare = mk("Compare", "Overlay the curves of the selected runs and compare their settings")
        self.act_continue = mk("Continue…", "Train this run to more epochs (as cnn-studio train --resume)")
        self.act_train_from = mk("Train from weights", "Train the current network from this run's weights (its best.pt; "
                                 "every key and shape must fit)")
        self.act_open_network = mk("Open network", "Open the network of this run on the canvas, as a new document")
        self.act_star = mk("Star", "Star or unstar the selected runs")
        self.act_rename = mk("Rename…", "Give this run another name (kept in its folder)")
        self.act_note = mk("Note…", "Write a note on this run (kept in its folder)")
        self.act_delete = mk("Delete", "Move the selected run folders to the trash")
        self.act_refresh = mk("Refresh", "List the run folders again")
        for a in (self.act_show, self.act_compare, self.act_continue, self.act_train_from, self.act_open_network, None, self.act_star, self.act_rename, self.act_note, self.act_delete, None, self.act_refresh):
            if a is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(a)
        lay.addWidget(self.toolbar)

        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_context_menu)
        # activated: a double-click, or Enter on the current row (doubleClicked as well would show twice)
        self.table.activated.connect(self._on_table_double_clicked)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection_changed())
        lay.addWidget(self.table, 1)
        self.status = QLabel("")
        self.status.setObjectName("runsStatus")
        lay.addWidget(self.status)
        self._on_selection_changed()

    def _action(self, text: str, tip: str) -> QAction:
        a = QAction(text, self)
        a.setToolTip(tip)
        a.setStatusTip(tip)
        return a

    # ------------------------------------------------------------------ rows
    def set_rows(self, rows: list) -> None:
        """Show a new scan, keeping the selection (by run folder) and the current row."""
        keep = self.selected_paths()
        current = self.current_path()
        self.model.set_rows(rows)
        self.select_paths(keep, current=current)
        self.table.resizeColumnsToContents()
        self._on_selection_changed()

    def weights(self) -> str:
        return self.weights_combo.currentData() or "best"

    def selected_infos(self) -> list:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(INFO_ROLE) for r in rows]

    def selected_paths(self) -> list[str]:
        return [run_path(i) for i in self.selected_infos()]

    def current_path(self) -> str | None:
        idx = self.table.currentIndex()
        info = idx.siblingAtColumn(0).data(INFO_ROLE) if idx.isValid() else None
        return run_path(info) if info is not None else None

    def proxy_row_of(self, path: str) -> int:
        src = self.model.row_of(path)
        if src < 0:
            return -1
        return self.proxy.mapFromSource(self.model.index(src, 0)).row()

    def select_paths(self, paths, current: str | None = None) -> None:
        sm = self.table.selectionModel()
        sm.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for p in paths:
            r = self.proxy_row_of(p)
            if r >= 0:
                sm.select(self.proxy.index(r, 0), flags)
        cur = current if current is not None else (paths[0] if paths else None)
        if cur is not None and self.proxy_row_of(cur) >= 0:
            sm.setCurrentIndex(self.proxy.index(self.proxy_row_of(cur), 0), QItemSelectionModel.SelectionFlag.NoUpdate)

    def row_rect_center(self, path: str):
        """Viewport point of a run's first cell (tests click it)."""
        r = self.proxy_row_of(path)
        return self.table.visualRect(self.proxy.index(r, 0)).center()

    # ------------------------------------------------------------------ slots
    def _on_selection_changed(self) -> None:
        n = len(self.table.selectionModel().selectedRows())
        one = n == 1
        for a in (self.act_show, self.act_continue, self.act_train_from, self.act_open_network, self.act_rename, self.act_note):
            a.setEnabled(one)
        infos = self.selected_infos() if one else []
        # Continue needs a last checkpoint and a run that is not going (RunInfo.can_resume)
        self.act_continue.setEnabled(one and bool(getattr(infos[0], "can_resume", False)))
        self.act_compare.setEnabled(n >= 2)
        self.act_star.setEnabled(n >= 1)
        self.act_delete.setEnabled(n >= 1)
        self.selection_changed.emit()

    def _on_table_double_clicked(self, index) -> None:
        info = index.siblingAtColumn(0).data(INFO_ROLE) if index.isValid() else None
        if info is not None:
            self.run_activated.emit(run_path(info))

    def _on_table_context_menu(self, pos) -> None:
        menu = self.context_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        for a in (self.act_show, self.act_compare, self.act_continue, self.act_train_from, self.act_open_network, None, self.act_star, self.act_rename, self.act_note, None, self.act_delete):
            if a is None:
                menu.addSeparator()
            else:
                menu.addAction(a)
        return menu
