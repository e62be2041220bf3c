"""Editing the network, out of the main window (as Orange's scheme editor owns its actions and undo):
:class:`NetworkEditor` owns Undo/Redo, Cut/Copy/Paste/Duplicate/Delete, Select All, Auto Layout and
"append a layer", keeps their enabled state in step with the selection, the undo stack and the
lock (``window.set_editing_enabled``), and talks to the canvas scene. The window hosts it (menus,
toolbar, context menu) and keeps thin delegates (``window.undo``, ``window.copy`` ...).
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QStyle

from .edits import NODES_MIME, parse_payload, payload_to_json


class NetworkEditor(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        S = QStyle.StandardPixmap
        K = QKeySequence.StandardKey
        act = window._act
        # undo/redo: our own actions (not createUndoAction) so a locked network cannot be undone;
        # the menu shows "Undo <command>", the toolbar the short icon text
        stack = window.document.undo_stack
        self.act_undo = act("&Undo", self.undo, K.Undo, icon=S.SP_ArrowBack)
        redo_keys = {QKeySequence(K.Redo).toString(), "Ctrl+Shift+Z", "Ctrl+Y"} - {""}
        self.act_redo = act("&Redo", self.redo, sorted(redo_keys), icon=S.SP_ArrowForward)
        for a, name, can, changed in ((self.act_undo, "Undo", stack.canUndoChanged, stack.undoTextChanged), (self.act_redo, "Redo", stack.canRedoChanged, stack.redoTextChanged)):
            a.setIconText(name)
            a.setEnabled(False)
            can.connect(lambda on, a=a: a.setEnabled(bool(on) and self.window.editing_enabled))
            changed.connect(lambda text, a=a, n=name: (a.setText(f"&{n} {text}".strip()), a.setToolTip(f"{n} {text}".strip())))
        self.act_cut = act("Cu&t", self.cut, K.Cut, "Cut the selected layers")
        self.act_copy = act("&Copy", self.copy, K.Copy, "Copy the selected layers (with their links)")
        self.act_paste = act("&Paste", self.paste, K.Paste, "Paste layers")
        self.act_duplicate = act("D&uplicate", self.duplicate, "Ctrl+D", "Duplicate the selected layers")
        self.act_delete = act("&Delete", self.delete_selection, [QKeySequence(K.Delete).toString() or "Del", "Backspace"], "Delete the selected layers and links")
        self.act_select_all = act("Select &All", self.select_all, K.SelectAll)
        self.act_layout = act("Auto &Layout", self.auto_layout, "Ctrl+L", "Arrange the layers top to bottom (one undo step)")
        # Esc goes up a level from a block's inside wherever the focus is in the window (Inspector,
        # palette search...), enabled only while a block is entered so Esc means nothing new
        # elsewhere. A window shortcut does not fire while a popup, completer, menu or dialog is
        # active (they are other windows), so those keep their own Esc.
        self.escape_up = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        self.escape_up.setContext(Qt.ShortcutContext.WindowShortcut)
        self.escape_up.setEnabled(False)
        self.escape_up.activated.connect(self.go_up)
        window.scene.edit_path_changed.connect(lambda path: self.escape_up.setEnabled(bool(path)))

    @property
    def scene(self):
        return self.window.scene

    # ------------------------------------------------------------------ undo
    def undo(self) -> None:
        if self.window.editing_enabled:
            self.window.document.undo_stack.undo()

    def redo(self) -> None:
        if self.window.editing_enabled:
            self.window.document.undo_stack.redo()

    def update_undo_actions(self) -> None:
        stack = self.window.document.undo_stack
        on = self.window.editing_enabled
        self.act_undo.setEnabled(on and stack.canUndo())
        self.act_redo.setEnabled(on and stack.canRedo())

    # ------------------------------------------------------------------ clipboard and selection
    def delete_selection(self) -> bool:
        return self.scene.delete_selection()

    def select_all(self) -> None:
        self.scene.select_nodes(list(self.scene.node_items))

    def copy(self) -> bool:
        payload = self.scene.copy_payload()
        if payload is None:
            return False
        text = payload_to_json(payload)
        mime = QMimeData()
        mime.setData(NODES_MIME, QByteArray(text.encode("utf-8")))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        n = len(payload["nodes"])
        self.window.show_message(f"Copied {n} layer{'s' if n != 1 else ''}")
        return True

    def cut(self) -> bool:
        return self.copy() and self.delete_selection()

    def paste(self) -> list[str]:
        mime = QGuiApplication.clipboard().mimeData()
        raw = None
        if mime is not None and mime.hasFormat(NODES_MIME):
            raw = bytes(mime.data(NODES_MIME)).decode("utf-8", "replace")
        elif mime is not None and mime.hasText():
            raw = mime.text()
        if not raw:
            self.window.show_message("The clipboard holds no CNN Studio layers")
            return []
        try:
            payload = parse_payload(raw)
        except Exception as e:  # GraphEditError: damaged or foreign clipboard content
            self.window.show_message(str(e))
            return []
        return self.scene.paste_payload(payload)

    def duplicate(self) -> list[str]:
        payload = self.scene.copy_payload()
        if payload is None:
            return []
        return self.scene.paste_payload(payload)

    # ------------------------------------------------------------------ levels
    @staticmethod
    def _pending_editor(widget) -> QLineEdit | None:
        """The focused text field with a typed change not yet taken (not a search field), if any."""
        edit = widget if isinstance(widget, QLineEdit) else (widget.findChild(QLineEdit) if isinstance(widget, QAbstractSpinBox) else None)
        if edit is None or edit.isReadOnly() or edit.isClearButtonEnabled() or not edit.isModified():
            return None
        return edit

    def go_up(self) -> bool:
        """Esc: cancel a link being drawn; else let a field with a pending edit take it (focus goes
        to the canvas, so the field commits through editingFinished, as on any focus change, and
        the next Esc goes up); else leave the entered block for the level above."""
        scene = self.scene
        if not scene.edit_path:
            return False
        if scene._link is not None:
            scene._cancel_link()
            return False
        view = self.window.view
        edit = self._pending_editor(QApplication.focusWidget())
        if edit is not None:
            edit.setModified(False)
            view.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return False
        scene.leave_block()
        view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True

    # ------------------------------------------------------------------ layers
    def auto_layout(self) -> bool:
        ok = self.scene.auto_layout()
        if ok:
            QTimer.singleShot(0, self.window.fit_readable)
        return ok

    def append_layer(self, type_id: str) -> str | None:
        """Palette double-click / Enter: append after the selected layer, else before the loss,
        else as a free layer in view."""
        w = self.window
        if not w.editing_enabled:
            return None
        sel = w.selected_node_ids()
        scene = self.scene
        if scene.edit_path:  # inside a block (canvas/inner_edit.py)
            return scene.inner_append(type_id)
        if len(sel) == 1:
            item = scene.node_items[sel[0]]
            return scene.drop_layer(type_id, item.pos())
        out = w.graph.output_node()
        if out is not None:
            return scene.drop_layer(type_id, scene.node_items[out.id].pos())
        return scene.drop_layer(type_id, w.view.visible_scene_rect().center())

    def update_edit_actions(self, *_) -> None:
        w = self.window
        has_sel = bool(self.scene.selectedItems())
        has_nodes = bool(self.scene.selected_node_ids())
        on = w.editing_enabled
        self.act_delete.setEnabled(on and has_sel)
        self.act_cut.setEnabled(on and has_nodes)
        self.act_copy.setEnabled(has_nodes)
        self.act_duplicate.setEnabled(on and has_nodes)
        w.act_revert.setEnabled(on and w.document.path is not None)
        self.update_undo_actions()
