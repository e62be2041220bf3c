"""The Feature maps view's enlarged channel: the channel clicked in the grid, drawn large in the
grid's colours with its statistics, and a unit of it whose receptive field is outlined on the input.
A mixin of :class:`~cnn_studio.app.inspect.featuremaps.FeatureMapView`: it uses the view's grid
(``self.grid``), tile canvas, input outline (``rf_rect``), model and layer."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Slot

from .widgets import set_rect


class ChannelSelection:
    def _channel_values(self, c: int) -> np.ndarray:
        return self.grid.channel_values(c)

    def _update_selection(self) -> None:
        c = self.channel
        if self.geometry is None or c is None:
            self.grid.show_selected(None)
            self.tile_canvas.set_rgb(None)
            self.tile_title.setText("Channel")
            self.tile_caption.setText("")
            self.unit_rect.setVisible(False)
            return
        self.grid.show_selected(c)
        vals = self._channel_values(c)
        self.tile_canvas.set_rgb(self.grid.channel_rgb(vals))
        if self.maps.ndim == 3:
            self.tile_title.setText(f"Channel {c} of {self.maps.shape[0]}")
        else:
            self.tile_title.setText(f"All {self.maps.shape[0]} values")
        self._stats_text = f"mean {np.nanmean(vals):.3g} · min {np.nanmin(vals):.3g} · max {np.nanmax(vals):.3g}"
        self.tile_caption.setText(self._stats_text)
        self.tile_caption.setToolTip(self._stats_text)
        if self.unit is not None:
            self._show_unit(*self.unit)

    def select_channel(self, c: int) -> None:
        """Enlarge channel ``c``."""
        if self.maps is None or not 0 <= c < self.grid.channel_count():
            return
        if c != self.channel:
            self.unit = None
            self.unit_rect.setVisible(False)
        self.channel = c
        self._update_selection()
        self.channel_selected.emit(c)

    def select_unit(self, y: int, x: int) -> tuple[int, int, int, int] | None:
        """Select unit (y, x) of the enlarged channel; outlines its receptive field on the input
        and returns the box (top, left, bottom, right) in input pixels (clipped), or None."""
        if self.maps is None or self.channel is None:
            return None
        vals = self._channel_values(self.channel)
        if not (0 <= y < vals.shape[0] and 0 <= x < vals.shape[1]):
            return None
        self.unit = (y, x)
        return self._show_unit(y, x)

    def _show_unit(self, y: int, x: int):
        vals = self._channel_values(self.channel)
        set_rect(self.unit_rect, y - 0.0, x - 0.0, y, x)
        m, node = self._imodel, self._node
        box = None
        flat_index = None
        if self.maps.ndim == 1:
            flat_index = y * vals.shape[1] + x
            if flat_index >= self.maps.shape[0]:
                return None
        if m is not None and node is not None:
            box = m.rf_box(node, 0, 0) if self.maps.ndim == 1 else m.rf_box(node, y, x)
        self.rf = box
        value = vals[y, x]
        where = f"unit {flat_index}" if flat_index is not None else f"unit (row {y}, col {x})"
        text = f"{where} = {value:.4g}"
        if box is not None:
            t, l_, b, r = box
            h, w = m.input_shape[1:]
            self.rf_rect.set_box(t, l_, b, r, h, w)
            size = m.rf_size(node)
            text += f" · sees input rows {t}–{b}, columns {l_}–{r}"
            if size is not None:
                text += f" (receptive field {size[0]}×{size[1]} px"
                if (b - t + 1, r - l_ + 1) != tuple(size):
                    text += ", clipped at the border"
                text += ")"
        else:
            self.rf_rect.setVisible(False)
        full = f"{self._stats_text} · {text}"
        self.tile_caption.setText(full)
        self.tile_caption.setToolTip(full)
        return box

    @Slot(float, float)
    def _on_tile_canvas_clicked(self, x: float, y: float) -> None:
        if self.channel is None:
            return
        self.select_unit(int(math.floor(y)), int(math.floor(x)))

