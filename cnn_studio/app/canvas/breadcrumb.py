"""The bar at the top of the canvas while a block's inside is edited (inner_edit.py):
"Network > Layer1 > Basic64", each level a button that goes back up to it, what is being edited and
how many uses share it, Make unique (when shared) and Done (Esc)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from ..block_commands import shared_count


class BreadcrumbBar(QFrame):
    def __init__(self, scene, parent=None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.setObjectName("blockBreadcrumb")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.lay = QHBoxLayout(self)
        self.lay.setContentsMargins(6, 2, 6, 2)
        self.lay.setSpacing(4)
        self.crumbs: list[QToolButton] = []
        self.info = QLabel(self)
        self.unique = QToolButton(self)
        self.unique.setText("Make unique")
        self.unique.setToolTip("Give this use its own copy of the block, so edits here change no other use")
        self.unique.clicked.connect(lambda: self.scene.make_unique_here())
        self.done = QToolButton(self)
        self.done.setText("Done (Esc)")
        self.done.setToolTip("Go back up one level")
        self.done.clicked.connect(lambda: self.scene.leave_block())
        scene.edit_path_changed.connect(self.refresh)
        scene.document.analysis_changed.connect(self._on_document_analysis_changed)
        self.hide()

    def _on_document_analysis_changed(self, _analysis) -> None:
        if self.isVisible():  # "shared by N" after an undo of Make unique
            self.refresh()

    def refresh(self, *_) -> None:
        while self.lay.count():
            w = self.lay.takeAt(0).widget()
            if w is not None and w not in (self.info, self.unique, self.done):
                w.deleteLater()
        self.crumbs = []
        levels = self.scene.edit_levels() if self.scene.edit_path else None
        if not levels:
            self.hide()
            return
        names = ["Network"] + [name for name, _ in levels]
        for depth, text in enumerate(names):
            if depth:
                sep = QLabel("\u203a", self)
                self.lay.addWidget(sep)
            b = QToolButton(self)
            b.setText(text)
            b.setAutoRaise(True)
            b.setToolTip("Go up to the network" if depth == 0 else f"Edit block '{text}' (instance '{levels[depth - 1][1]}')")
            b.setEnabled(depth < len(names) - 1)
            b.clicked.connect(lambda _=False, d=depth: self.scene.leave_to(d))
            self.lay.addWidget(b)
            self.crumbs.append(b)
        name = levels[-1][0]
        n = shared_count(self.scene.top, name)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setText(f"  editing <b>{name}</b>, " + (f"shared by {n} uses" if n > 1 else "used once"))
        self.info.setToolTip(f"An edit here changes all {n} uses of block '{name}'; Make unique gives this use its own copy first"
                             if n > 1 else f"Only this use has block '{name}'")
        self.lay.addWidget(self.info, 1)
        self.lay.addWidget(self.unique)
        self.unique.setVisible(n > 1)
        self.lay.addWidget(self.done)
        self.show()
        self.raise_()
