"""Drawing and re-routing links on the canvas (part of :class:`~.scene.CanvasScene`).

A press on a port starts a rubber-band link (``begin_link``); on an input port that already has a
link, its end is picked up to re-route it or, released over nothing, to remove it. ``finish_link``
turns the gesture into one undo command (``ConnectCommand``, ``DisconnectCommand``, or a Macro of
both for a re-route); inside a block (inner_edit.py) the same gesture runs the block's edits, where
"block input" and "block output" cards stand for the definition's ports.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF

from ...core.graph import Edge
from ..commands import ConnectCommand, DisconnectCommand
from .inner_edit import PSEUDO_OUT
from .items import EdgeItem, LinkDragItem, PortItem


class LinkMixin:
    # ------------------------------------------------------------------ draw a link
    def begin_link(self, port: PortItem, pos: QPointF) -> bool:
        if self._refuse_if_read_only():
            return False
        node = port.node
        link = {"port": port, "rewire": None}
        if port.kind == "out":
            anchor, from_output = node.output_anchor(), True
        else:
            existing = self._edge_into(node.node_id, port.index)
            if existing is not None:  # pick up the end of an existing link to re-route or drop it
                link["rewire"] = existing
                item = self.edge_items.get(existing)
                if item is not None:
                    item.setVisible(False)
                anchor, from_output = self.node_items[existing.src].output_anchor(), True
            else:
                anchor, from_output = node.input_anchor(port.index), False
        self._link = link
        self._link_item = LinkDragItem(anchor, from_output)
        self.addItem(self._link_item)
        self._link_item.set_end(pos)
        return True

    def _link_endpoints(self, pos: QPointF):
        """(src, src_port, dst, dst_port) for the link being drawn if released at pos, or a reason
        string, or None when released over nothing."""
        link = self._link
        target = self.target_at(pos)
        if target is None or isinstance(target, EdgeItem):
            return None
        port: PortItem = link["port"]
        rewire: Edge | None = link["rewire"]
        if port.kind == "out" or rewire is not None:
            src = rewire.src if rewire is not None else port.node.node_id
            if isinstance(target, PortItem):
                if target.kind != "in":
                    return "connect an output to an input port (the top of a card)"
                dst, dst_port = target.node.node_id, target.index
            elif target.node_id == PSEUDO_OUT:  # "block output" (inner_edit.py): its one port
                dst, dst_port = PSEUDO_OUT, 0
            else:
                dst = target.node_id
                free = [p.index for p in target.inputs if self._edge_into(dst, p.index) is None or rewire == self._edge_into(dst, p.index)]
                if not free:
                    if not target.inputs:
                        return f"'{dst}' takes no input"
                    return f"every input of '{dst}' is already connected; disconnect one first"
                dst_port = free[0]
            return src, 0, dst, dst_port
        # from a free input port to an output
        dst, dst_port = port.node.node_id, port.index
        if isinstance(target, PortItem):
            if target.kind != "out":
                return "connect an input to an output port (the bottom of a card)"
            src = target.node.node_id
        else:
            src = target.node_id
            if target.output is None:
                return f"'{src}' has no output"
        return src, 0, dst, dst_port

    def _check(self, ends) -> str | None:
        src, sp, dst, dp = ends
        rewire = self._link["rewire"] if self._link else None
        if self.edit_path:
            return self.inner_check(ends, rewire)
        if rewire is not None and (src, sp, dst, dp) == (rewire.src, rewire.src_port, rewire.dst, rewire.dst_port):
            return None
        existing = self.graph.edge_into(dst, dp)
        if rewire is not None and existing == rewire:
            # the port is only "taken" by the link being moved
            if src == dst:
                return "a node cannot feed itself"
            return "that connection would create a cycle" if self.graph.reaches(dst, src) else None
        return self.graph.can_connect(src, dst, sp, dp)

    def update_link(self, pos: QPointF) -> None:
        if self._link_item is None:
            return
        ends = self._link_endpoints(pos)
        valid = None if ends is None else (False if isinstance(ends, str) else self._check(ends) is None)
        self._link_item.set_end(pos, valid)

    def finish_link(self, pos: QPointF) -> None:
        if self._link is None:
            return
        ends = self._link_endpoints(pos)
        rewire: Edge | None = self._link["rewire"]
        self._cancel_link()
        if ends is None:
            if rewire is not None and self.edit_path:
                self.inner_unlink(rewire)
            elif rewire is not None:  # dragged a link end off into empty space: remove the link
                self.document.try_edit(lambda: DisconnectCommand(self.graph, rewire))
            return
        if isinstance(ends, str):
            self.document.message.emit(f"Cannot connect: {ends}")
            return
        reason = self._check(ends)
        if reason:
            self.document.message.emit(f"Cannot connect '{ends[0]}' to '{ends[2]}': {reason}")
            return
        src, sp, dst, dp = ends
        if self.edit_path:
            self.inner_link(ends, rewire)
            return
        if rewire is not None:
            if (src, sp, dst, dp) == (rewire.src, rewire.src_port, rewire.dst, rewire.dst_port):
                return

            def build():
                from ..commands import Macro

                macro = Macro(f"Reconnect '{src}' to '{dst}'")
                DisconnectCommand(self.graph, rewire, parent=macro)
                ConnectCommand(self.graph, src, dst, sp, dp, parent=macro, check=False)
                return macro

            self.document.try_edit(build)
            return
        self.document.try_edit(lambda: ConnectCommand(self.graph, src, dst, sp, dp))

    def _cancel_link(self) -> None:
        if self._link is not None and self._link.get("rewire") is not None:
            item = self.edge_items.get(self._link["rewire"])
            if item is not None:
                item.setVisible(True)
        if self._link_item is not None:
            self.removeItem(self._link_item)
        self._link = None
        self._link_item = None
