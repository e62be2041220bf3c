"""Blocks in the app (issue 13): the actions Group into block (Ctrl+G), Ungroup (Ctrl+Shift+G),
Make unique, Rename block and Save block to library, the small name dialog they use, and the links
between the canvas (block_item.py), the Inspector (layers inside a block) and the palette's
"My blocks" section. Every change is one undo step (block_commands.py); a refusal shows the
engine's one-line message in the status bar and changes nothing.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout

from ..core import block_library
from ..core.block_spec import BLOCK_TYPE, block_name_problem
from ..core.errors import GraphEditError, StudioError
from . import block_commands as bc


class NameDialog(QDialog):
    """A small window asking for a block name; OK is disabled (with the reason shown) while the
    name is not valid. Non-modal (``open``), so tests type into it like a user."""

    chosen = Signal(str)

    def __init__(self, title: str, prompt: str, default: str, taken=(), parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.taken = set(taken)
        self.edit = QLineEdit(default, self)
        self.edit.selectAll()
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(prompt, self))
        lay.addWidget(self.edit)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self._check(default)
        self.setMinimumWidth(360)

    def _check(self, text: str) -> None:
        text = text.strip()
        problem = block_name_problem(text) if text else "type a name"
        if problem is None and text in self.taken:
            problem = f"a block named '{text}' already exists; choose another name"
        self.problem.setText(problem or "")
        self.problem.setVisible(bool(problem))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def accept(self) -> None:
        if not self.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled():
            return
        super().accept()
        self.chosen.emit(self.edit.text().strip())


class BlocksFeature(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: NameDialog | None = None
        act = window._act
        self.act_group = act("&Group into block…", self.group, "Ctrl+G", "Make the selected layers one block (a named sub-network)")
        self.act_ungroup = act("U&ngroup block", self.ungroup, "Ctrl+Shift+G", "Put the selected block's layers back in its place")
        self.act_unique = act("Make block uni&que", self.make_unique, None, "Give the selected block its own copy of its definition")
        self.act_rename = act("Rena&me block…", self.rename, None, "Rename the selected block's definition (every use)")
        self.act_save = act("Save block to &library…", self.save_to_library, None, "Keep the selected block in My blocks, for any network")
        self.act_expand = act("E&xpand/collapse block", self.toggle_expanded, None, "Show or hide the selected block's inside on the canvas")
        self.act_edit_inside = act("&Edit block inside", self.edit_inside, None,
                                   "Open the selected block's definition on the canvas to add, delete, move and rewire its layers (Enter; Esc goes back up)")
        self.actions = [self.act_group, self.act_ungroup, self.act_unique, self.act_rename, self.act_save, self.act_expand, self.act_edit_inside]
        m = window.network_menu.addMenu("&Blocks")
        m.addActions(self.actions)
        window.edit_menu.addSeparator()
        window.edit_menu.addAction(self.act_group)
        window.edit_menu.addAction(self.act_ungroup)
        ctx = list(getattr(window.view, "context_actions", []) or [])
        window.view.context_actions = ctx + [None, self.act_group, self.act_ungroup, self.act_unique, self.act_expand, self.act_edit_inside]
        window.scene.inner_selected.connect(self._on_scene_inner_selected)
        window.document.graph.events.connect("block_changed", self._on_graph_block_changed)
        window.selection_changed.connect(self._update_actions)
        window.document.analysis_changed.connect(self._update_actions)
        window.palette_widget.set_library(self.library_entries())
        self._update_actions()

    # ------------------------------------------------------------------ helpers
    @property
    def graph(self):
        return self.window.document.graph

    def _selected_block(self) -> str | None:
        ids = self.window.selected_node_ids()
        if len(ids) == 1 and ids[0] in self.graph.nodes and self.graph.nodes[ids[0]].type == BLOCK_TYPE:
            return ids[0]
        return None

    def _refused(self) -> bool:
        if not self.window.editing_enabled:
            self.window.show_message("The network is locked while it is in use (e.g. training)")
            return True
        return False

    def _update_actions(self, *_) -> None:
        on = self.window.editing_enabled
        block = self._selected_block()
        self.act_group.setEnabled(on and len(self.window.selected_node_ids()) >= 1)
        for a in (self.act_ungroup, self.act_unique, self.act_rename):
            a.setEnabled(on and block is not None)
        self.act_save.setEnabled(block is not None)
        self.act_expand.setEnabled(block is not None)
        self.act_edit_inside.setEnabled(self.window.scene.selected_block_path() is not None)

    def _ask(self, title: str, prompt: str, default: str, then, taken=()) -> NameDialog:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = NameDialog(title, prompt, default, taken, self.window)
        self.dialog.chosen.connect(then)
        self.dialog.finished.connect(lambda *_: (self.window.activateWindow(), self.window.view.setFocus()))
        self.dialog.open()
        self.dialog.edit.setFocus()
        return self.dialog

    # ------------------------------------------------------------------ actions
    def group(self) -> NameDialog | None:
        if self._refused():
            return None
        ids = self.window.selected_node_ids()
        if not ids:
            self.window.show_message("Select the layers to group into a block first")
            return None
        try:  # check before asking: a selection the engine refuses gets its message at once
            bc.group_command(self.graph, ids, bc.default_block_name(self.graph))
        except GraphEditError as e:
            self.window.show_message(str(e))
            return None
        return self._ask("Group into block", f"Name of the new block ({len(ids)} layers):", bc.default_block_name(self.graph),
                         lambda name: self.group_as(ids, name), taken=self.graph.blocks.names())

    def group_as(self, ids: list[str], name: str) -> str | None:
        result = self.window.document.try_edit(lambda: bc.group_command(self.graph, ids, name))
        if result is None:
            return None
        self.window.select_nodes([result[1]])
        return result[1]

    def ungroup(self) -> bool:
        inst = self._selected_block()
        if self._refused() or inst is None:
            return False
        result = self.window.document.try_edit(lambda: bc.ungroup_command(self.graph, inst))
        if result is None:
            return False
        self.window.select_nodes(list(result[1].values()))
        return True

    def make_unique(self) -> str | None:
        inst = self._selected_block()
        if self._refused() or inst is None:
            return None
        result = self.window.document.try_edit(lambda: bc.make_unique_command(self.graph, inst))
        if result is None:
            return None
        self.window.select_nodes([inst])
        self.window.show_message(f"'{inst}' now has its own block '{result[1]}'")
        return result[1]

    def rename(self) -> NameDialog | None:
        inst = self._selected_block()
        if self._refused() or inst is None:
            return None
        old = self.graph.nodes[inst].config["block"]
        return self._ask("Rename block", f"New name of block '{old}' (every use):", old, lambda new: self.rename_to(inst, old, new),
                         taken=set(self.graph.blocks.names()) - {old})

    def rename_to(self, inst: str, old: str, new: str) -> bool:
        ok = self.window.document.try_edit(lambda: bc.rename_block_command(self.graph, old, new)) is not None
        if ok:
            self.window.select_nodes([inst])
        return ok

    def save_to_library(self) -> NameDialog | None:
        inst = self._selected_block()
        if inst is None:
            self.window.show_message("Select a block card to save it to the library")
            return None
        name = self.graph.nodes[inst].config["block"]
        return self._ask("Save block to library", "Name in My blocks (a saved block of that name is replaced):", name, lambda new: self.save_as(name, new))

    def save_as(self, name: str, library_name: str) -> bool:
        """Save definition ``name`` to the user library as ``library_name``."""
        g = self.graph
        try:
            if library_name != name:  # the library keys entries by definition name: save a renamed copy
                work = g.copy()
                from ..core.blocks import rename_definition

                if library_name in work.blocks:
                    raise GraphEditError(f"the network has another block named '{library_name}'; choose another name")
                rename_definition(work, name, library_name)
                g = work
            path = block_library.save_block(g, library_name)
        except (StudioError, GraphEditError) as e:
            self.window.show_message(str(e))
            return False
        self.window.palette_widget.set_library(self.library_entries())
        self.window.show_message(f"Saved block '{library_name}' to {path}")
        return True

    def library_entries(self):
        entries, problems = block_library.list_blocks()
        for p in problems:
            self.window.show_message(p)
        return entries

    def edit_inside(self) -> bool:
        """Show the selected block's definition on the canvas for structural editing (canvas/inner_edit.py)."""
        path = self.window.scene.selected_block_path()
        if path is None:
            self.window.show_message("Select one block card to edit its inside")
            return False
        return self.window.scene.enter_block(path)

    def toggle_expanded(self) -> None:
        inst = self._selected_block()
        if inst is not None:
            item = self.window.scene.node_items[inst]
            item.set_expanded(not item.expanded)

    # ------------------------------------------------------------------ links
    def _on_scene_inner_selected(self, block: str, inner_id: str, path: str) -> None:
        self.window.inspector.show_inner(block, inner_id, path)

    def _on_graph_block_changed(self, name: str) -> None:
        try:
            self._refresh_inner_editors(name)
        except RuntimeError:  # the window is gone (the graph may outlive it, as in tests)
            self.window.document.graph.events.disconnect("block_changed", self._on_graph_block_changed)

    def _refresh_inner_editors(self, name: str) -> None:
        ins = self.window.inspector
        if ins.inner is not None and ins.inner[0] == name and not ins._writing and ins.node_id is not None:
            node = ins._graph().nodes.get(ins.node_id)
            if node is not None:  # an undo inside the block: the editors show the values again
                for key, ed in ins.editors.items():
                    ed.set_value(node.config.get(key, ed.param.default))
