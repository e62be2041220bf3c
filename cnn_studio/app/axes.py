"""A pyqtgraph axis whose tick labels never run together.

pyqtgraph chooses the major tick spacing from the axis's length alone (at least 2.25 intervals) and
always draws every major label: on a 100 px wide plot (two plots side by side in a 300 px dock) an
axis from 0 to 1 labelled "0 0.2 0.4 0.6 0.8 1.0" in one smear. :class:`ReadableAxis` keeps
pyqtgraph's spacing where its labels fit and otherwise takes the next 1-2-5 step until the widest
label, plus a gap, fits between two ticks. Only the major level is labelled (minor ticks stay as
marks): pyqtgraph's test for drawing minor labels measures how full the axis is, not overlaps.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

LABEL_GAP_CHARS = 2  # the least free space between two labels, in average character widths


def _next_nice(step: float) -> float:
    """The 1-2-5 step after ``step`` (0.2 -> 0.5 -> 1 -> 2 ...)."""
    exp = math.floor(math.log10(step) + 1e-9)
    base = 10.0 ** exp
    m = step / base
    for f in (2.0, 5.0, 10.0):
        if f > m + 1e-9:
            return f * base
    return 20.0 * base


class ReadableAxis(pg.AxisItem):
    def __init__(self, orientation, *args, **kw) -> None:
        super().__init__(orientation, *args, **kw)
        self.setStyle(maxTextLevel=0)

    def _label_metrics(self) -> QFontMetricsF:
        return QFontMetricsF(self.style["tickFont"] or self.font())

    def label_room(self, spacing: float, minVal: float, maxVal: float) -> float:
        """Pixels one label of the ticks ``spacing`` apart takes along the axis, its gap included."""
        fm = self._label_metrics()
        gap = LABEL_GAP_CHARS * fm.averageCharWidth()
        if self.orientation in ("left", "right"):
            return fm.height() + gap / 2
        lo = math.ceil(min(minVal, maxVal) / spacing - 1e-9)
        hi = math.floor(max(minVal, maxVal) / spacing + 1e-9)
        if hi - lo > 200:  # cannot happen for a spacing that fits; keeps a bad call cheap
            return math.inf
        values = [i * spacing for i in range(lo, hi + 1)] or [minVal]
        strings = self.tickStrings(values, self.autoSIPrefixScale * self.scale, spacing)
        return max(fm.horizontalAdvance(s) for s in strings) + gap

    def tickSpacing(self, minVal, maxVal, size):
        levels = super().tickSpacing(minVal, maxVal, size)
        if self._tickSpacing is not None or not levels or size <= 0:
            return levels
        dif = abs(maxVal - minVal)
        major = levels[0][0]
        if not (dif > 0 and major > 0 and math.isfinite(dif)):
            return levels
        px_per_unit = size / dif
        for _ in range(12):  # a few 1-2-5 steps at most; a single label always fits in the end
            if major * px_per_unit >= self.label_room(major, minVal, maxVal) or major >= dif:
                break
            major = _next_nice(major)
        if major == levels[0][0]:
            return levels
        mantissa = round(major / 10.0 ** math.floor(math.log10(major) + 1e-9))
        return [(major, 0), (major / (4 if mantissa == 2 else 5), 0)]  # minor marks: 0.5 -> 0.1, 2 -> 0.5
