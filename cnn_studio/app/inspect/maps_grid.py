"""The Feature maps view's grid: every channel of one layer's output as a tile of one image (the
``channel_grid`` RGB, one pyqtgraph ImageItem), its title, the hover readout, the selected tile's
outline and channel numbers; plus the colours of one enlarged channel. Rendering only: which maps
to show is the view's business."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from ...inspection.tiles import GridGeometry
from .widgets import SELECT, ImageCanvas, caption, set_rect

CMAPS = ("viridis", "inferno", "gray", "coolwarm")


def _render():
    from ...inspection import render

    return render


def one_line(label) -> None:
    """A label that never wraps nor widens its layout: long text ends in an ellipsis, the tooltip says all.
    (A wrapped status line in the scrolling dock grew tall and pushed the tiles down.)"""
    label.setWordWrap(False)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    if hasattr(label, "_refit"):  # a Caption: shorten with an ellipsis rather than cut mid-word
        label.elide = True
        label.setText(label.text())


class MapGrid(QWidget):
    tile_clicked = Signal(int)  # channel index

    def __init__(self, parent=None, placeholder: str = "Pick a layer to see its feature maps") -> None:
        super().__init__(parent)
        self.maps: np.ndarray | None = None  # what the grid shows (float32 (C, h, w) or (F,))
        self.geometry: GridGeometry | None = None
        self.grid_rgb: np.ndarray | None = None
        self.cmap = "viridis"
        self.shared = False
        rl = QVBoxLayout(self)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(3)
        self.title = caption("", bold=True)
        one_line(self.title)
        rl.addWidget(self.title)
        self.canvas = ImageCanvas(placeholder=placeholder, min_size=96)
        self.select_rect = self.canvas.add_rect(SELECT, 2.0)
        self.canvas.clicked.connect(self._on_canvas_clicked)
        self.canvas.hovered.connect(self._on_canvas_hovered)
        rl.addWidget(self.canvas, 1)
        self.readout = caption(" ")
        one_line(self.readout)
        rl.addWidget(self.readout)

    # ------------------------------------------------------------------ showing
    def clear(self, placeholder: str | None = None) -> None:
        self.maps = None
        self.grid_rgb = None
        self.geometry = None
        self.canvas.set_rgb(None)
        self.select_rect.setVisible(False)
        self.title.setText("")
        self.title.setToolTip("")
        if placeholder is not None:
            self.canvas.set_placeholder(placeholder)

    def set_maps(self, maps: np.ndarray) -> None:
        self.maps = maps
        self.render()

    def render(self) -> bool:
        """Draw the maps with the colour map and scaling chosen; False when there are none."""
        maps = self.maps
        if maps is None:
            return False
        geom = GridGeometry.for_maps(maps.shape)
        rgb = _render().channel_grid(maps, shared=self.shared, cmap=self.cmap, pad=geom.pad, upscale=geom.upscale)
        relabel = geom != self.geometry
        self.geometry = geom
        self.grid_rgb = rgb
        self.canvas.set_rgb(rgb)
        if relabel:  # channel numbers on the tiles (shown once the tiles are big enough on screen)
            labels = [] if geom.count < 2 else [(left, top, str(i)) for i in range(geom.count) for top, left in (geom.origin(i),)]
            self.canvas.set_tile_labels(labels, geom.tile_w)
        return True

    def set_title(self, text: str) -> None:
        # live maps re-title the grid each refresh, nearly always with the same text: a tooltip set
        # again is an event and a caption re-fitted (elided) again, for nothing seen
        if text != self.title.text():
            self.title.setText(text)
        if text != self.title.toolTip():
            self.title.setToolTip(text)

    def show_selected(self, c: int | None) -> None:
        g = self.geometry
        if g is None or c is None:
            self.select_rect.setVisible(False)
            return
        top, left = g.origin(c)
        set_rect(self.select_rect, top - 0.5, left - 0.5, top + g.tile_h - 0.5, left + g.tile_w - 0.5)

    def channel_count(self) -> int:
        maps = self.maps
        return 0 if maps is None else (maps.shape[0] if maps.ndim == 3 else 1)

    def channel_values(self, c: int) -> np.ndarray:
        """Channel ``c`` as a 2-D array (a flat layer: its values in the grid's one tile, NaN padded)."""
        maps = self.maps
        if maps.ndim == 1:
            g = self.geometry
            flat = np.full(g.map_h * g.map_w, np.nan, dtype=np.float32)
            flat[: maps.shape[0]] = maps
            return flat.reshape(g.map_h, g.map_w)
        return maps[c]

    def channel_rgb(self, vals: np.ndarray) -> np.ndarray:
        """One enlarged channel in the grid's colours (its own range, or the layer's when shared)."""
        finite = vals[np.isfinite(vals)]
        if self.shared:
            lo, hi = float(np.nanmin(self.maps)), float(np.nanmax(self.maps))
        else:
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        v01 = np.clip((np.nan_to_num(vals, nan=lo) - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(vals)
        lut = _render().colormap_lut(self.cmap)
        return np.ascontiguousarray(lut[np.clip(np.rint(v01 * 255), 0, 255).astype(np.int32)])

    # ------------------------------------------------------------------ events
    @Slot(float, float)
    def _on_canvas_clicked(self, x: float, y: float) -> None:
        g = self.geometry
        if g is None:
            return
        i = g.tile_at(x, y)
        if i is not None:
            self.tile_clicked.emit(i)

    @Slot(float, float)
    def _on_canvas_hovered(self, x: float, y: float) -> None:
        g, maps = self.geometry, self.maps
        i = g.tile_at(x, y) if g is not None and maps is not None and x >= 0 else None
        if i is None:
            self.readout.setText(" ")
            self.canvas.setToolTip("")
            return
        vals = self.channel_values(i)
        u = g.unit_at(i, x, y)
        if maps.ndim == 3:
            text = f"channel {i} · mean {float(vals.mean()):.3g} · max {float(vals.max()):.3g}"
            if u is not None:
                text += f" · unit ({u[0]}, {u[1]}) = {float(vals[u]):.3g}"
        else:
            text = f"{maps.shape[0]} values · mean {float(np.nanmean(vals)):.3g}"
            if u is not None:
                k = u[0] * g.map_w + u[1]
                if k < maps.shape[0]:
                    text += f" · unit {k} = {float(maps[k]):.3g}"
        self.readout.setText(text + " — click to enlarge")
        self.canvas.setToolTip(text)
