"""The layer palette: every layer type grouped by category, with a search box.

Drag an entry onto the canvas to add it (onto a card to append it, onto a link to insert it);
double-click or press Enter to append it after the selected layer. The drag carries
``application/x-cnnstudio-layer`` with the type id (see :func:`PaletteWidget.mime_for`).

"My blocks" (last section) lists the user block library (core/block_library.py); its entries carry
the type id ``cnnblock:<Name>`` (block_commands.LIBRARY_PREFIX), which the canvas turns into one
block instance, by drag and drop or double-click like any layer.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QLineEdit, QStyle, QStyleOptionViewItem, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from ..core.layers import CATEGORIES, all_specs
from .edits import LAYER_MIME
from .icons import category_icon, layer_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1

# What the palette shows for layers whose catalogue title does not fit its column at 1280x800
# (the two "Global / adaptive … pool" entries both read "Global / adaptiv…"). The full title stays
# the tooltip's heading and a search word; titles and type ids in files are unchanged.
PALETTE_LABELS = {
    "conv_transpose2d": "Transposed conv",
    "separable_conv2d": "Separable conv",
    "adaptive_avgpool2d": "Adaptive avg pool",
    "adaptive_maxpool2d": "Adaptive max pool",
    "mse": "MSE loss",
}


# The same for category headers (bold, so wider still): "Normalization & regularization" was cut
# at any width a left column can spare. The full name is the header's tooltip and a search word.
PALETTE_HEADERS = {
    "Resampling & reshape": "Resize & reshape",
    "Normalization & regularization": "Norm & dropout",
}


def palette_label(spec) -> str:
    """The text of a layer's palette entry: a compact label where the title is too long."""
    return PALETTE_LABELS.get(spec.type_id, spec.title)


def header_label(category: str) -> str:
    """The text of a category's header in the palette."""
    return PALETTE_HEADERS.get(category, category)


def _tooltip(spec) -> str:
    parts = spec.help.split(". ")
    text = ". ".join(parts[:2])
    if not text.endswith("."):
        text += "."
    return f"<b>{spec.title}</b><br>{text}<br><i>Drag onto the canvas; drop on a layer to append, on a link to insert.</i>"


class _Tree(QTreeWidget):
    def fit_width(self, items) -> int:
        """The least width (frame and vertical scroll bar included) at which every one of ``items``
        shows its icon and text in full, measured with this view's style and fonts."""
        opt = QStyleOptionViewItem()
        self.initViewItemOption(opt)
        delegate = self.itemDelegate()
        need = 0
        for it in items:
            depth, p = 0, it.parent()
            while p is not None:
                depth, p = depth + 1, p.parent()
            indent = self.indentation() * (depth + (1 if self.rootIsDecorated() else 0))
            need = max(need, indent + delegate.sizeHint(opt, self.indexFromItem(it)).width())
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        return need + 2 * self.frameWidth() + bar

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME, "text/plain"]

    def mimeData(self, items) -> QMimeData:
        for item in items:
            type_id = item.data(0, TYPE_ROLE)
            if type_id:
                return PaletteWidget.mime_for(type_id)
        return QMimeData()

    def supportedDropActions(self):
        return Qt.DropAction.CopyAction


class PaletteWidget(QWidget):
    layer_activated = Signal(str)  # double-click / Enter on an entry

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("palette")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.set_filter)
        self.tree = _Tree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(20, 20))
        self.tree.setIndentation(12)
        self.tree.setRootIsDecorated(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.tree.setUniformRowHeights(True)
        self.tree.itemActivated.connect(self._on_tree_item_activated)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.categories: dict[str, QTreeWidgetItem] = {}
        self._populate()
        self.library: QTreeWidgetItem | None = None
        self.library_items: dict[str, QTreeWidgetItem] = {}
        self._fit_width()

    def _fit_width(self) -> None:
        """The palette is never narrower than its longest catalogue entry or header needs (a dock,
        a saved layout or the user's drag cannot cut them). The names of saved blocks do not count:
        a long one is elided, its tooltip names it."""
        self.tree.setMinimumWidth(self.tree.fit_width(list(self.categories.values()) + [it for it in self.items.values()]))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange) and hasattr(self, "items"):
            self._fit_width()

    @staticmethod
    def mime_for(type_id: str) -> QMimeData:
        mime = QMimeData()
        mime.setData(LAYER_MIME, type_id.encode("utf-8"))
        mime.setText(type_id)
        return mime

    def _populate(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        specs = all_specs()
        for cat in CATEGORIES:
            members = [s for s in specs if s.category == cat]
            if not members:
                continue
            top = QTreeWidgetItem([header_label(cat)])
            top.setIcon(0, category_icon(cat))
            top.setFont(0, bold)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            top.setToolTip(0, cat)
            self.tree.addTopLevelItem(top)
            self.categories[cat] = top
            for spec in members:
                it = QTreeWidgetItem([palette_label(spec)])
                it.setIcon(0, layer_icon(spec.type_id))
                it.setData(0, TYPE_ROLE, spec.type_id)
                it.setToolTip(0, _tooltip(spec))
                it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                it.setData(0, Qt.ItemDataRole.UserRole + 2, " ".join((palette_label(spec), spec.title, spec.type_id, spec.short, cat, spec.help)).lower())
                top.addChild(it)
                self.items[spec.type_id] = it
            top.setExpanded(True)

    def set_library(self, entries) -> None:
        """Show the user library's entries (``LibraryEntry`` list) under "My blocks"."""
        from .block_commands import LIBRARY_PREFIX

        self.library_items = {}
        if not entries:  # no section at all until something is saved
            if self.library is not None:
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(self.library))
                self.library = None
            return
        if self.library is None:
            bold = QFont(self.font())
            bold.setBold(True)
            self.library = QTreeWidgetItem(["My blocks"])
            self.library.setFont(0, bold)
            self.library.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.library.setToolTip(0, "Blocks you saved (Network > Blocks > Save block to library); drag one onto the canvas")
            self.tree.addTopLevelItem(self.library)  # not in self.categories: those are the layer catalogue's
        self.library.takeChildren()
        self.library_items = {}
        for e in entries:
            it = QTreeWidgetItem([e.name])
            it.setData(0, TYPE_ROLE, LIBRARY_PREFIX + e.name)
            uses = f"; uses {', '.join(e.uses)}" if e.uses else ""
            it.setToolTip(0, f"<b>{e.name}</b> (saved block)<br>{e.layers} layers, {e.inputs} input{'s' if e.inputs != 1 else ''}{uses}<br>"
                             "<i>Drag onto the canvas or double-click: it becomes one block card.</i>")
            it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            it.setData(0, Qt.ItemDataRole.UserRole + 2, f"{e.name} block my blocks saved".lower())
            self.library.addChild(it)
            self.library_items[e.name] = it
        self.library.setExpanded(True)

    def set_filter(self, text: str) -> None:
        words = text.lower().split()
        first_visible = None
        for top in list(self.categories.values()) + ([self.library] if self.library is not None else []):
            any_visible = False
            for i in range(top.childCount()):
                it = top.child(i)
                hay = it.data(0, Qt.ItemDataRole.UserRole + 2)
                title = it.text(0).lower()
                visible = all(w in hay for w in words)
                it.setHidden(not visible)
                if visible:
                    any_visible = True
                    if first_visible is None or (words and title.startswith(words[0]) and not first_visible.text(0).lower().startswith(words[0])):
                        first_visible = it
            top.setHidden(not any_visible)
            if words and any_visible:
                top.setExpanded(True)
        if words and first_visible is not None:
            self.tree.setCurrentItem(first_visible)

    def visible_types(self) -> list[str]:
        return [t for t, it in self.items.items() if not it.isHidden() and not it.parent().isHidden()]

    def _on_tree_item_activated(self, item, _col) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.layer_activated.emit(type_id)

    def _on_search_return_pressed(self) -> None:
        item = self.tree.currentItem()
        if item is not None and not item.isHidden() and item.data(0, TYPE_ROLE):
            self.layer_activated.emit(item.data(0, TYPE_ROLE))
