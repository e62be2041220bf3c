"""The network canvas: :class:`CanvasScene` mirrors the graph, :class:`CanvasView` shows it."""
from .items import EdgeItem, NodeItem, PortItem
from .scene import CanvasScene
from .view import CanvasView

__all__ = ["CanvasScene", "CanvasView", "NodeItem", "EdgeItem", "PortItem"]
