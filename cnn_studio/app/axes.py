"""A pyqtgraph axis whose tick labels never run together.

pyqtgraph chooses the major tick spacing from the axis's length alone (at least 2.25 intervals) and
always draws every major label: on a 100 px wide plot (two plots side by side in a 300 px dock) an
axis from 0 to 1 labelled "0 0.2 0.4 0.6 0.8 1.0" in one smear. :class:`ReadableAxis` keeps
pyqtgraph's spacing where its labels fit and otherwise takes the next 1-2-5 step until the widest
label, plus a gap, fits between two ticks, and then leaves out any label that would still touch the
one before it (labels are as wide as their text, and pyqtgraph drops a label that reaches past the
axis's ends, so on a very short axis a thinner spacing can leave none). Only the major level is
labelled (minor ticks stay as marks): pyqtgraph's test for drawing minor labels measures how full
the axis is, not overlaps.
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

    def labels_at(self, spacing: float, minVal: float, maxVal: float, size: float) -> list[tuple[float, float, float]]:
        """(value, x, half width) of each label that ticks ``spacing`` apart would draw on a ``size``
        px axis: those within the axis's bounds (pyqtgraph drops the others)."""
        lo, hi = min(minVal, maxVal), max(minVal, maxVal)
        first = math.ceil(lo / spacing - 1e-9)
        last = math.floor(hi / spacing + 1e-9)
        if last - first > 400:  # far too dense to be chosen; keeps a bad call cheap
            return []
        values = [i * spacing for i in range(first, last + 1)]
        if not values:
            return []
        fm = self._label_metrics()
        margin = max(0.0, -self.boundingRect().left())  # how far past its ends a label may reach
        strings = self.tickStrings(values, self.autoSIPrefixScale * self.scale, spacing)
        out = []
        for v, text in zip(values, strings):
            x = (v - lo) / (hi - lo) * size
            half = fm.horizontalAdvance(text) / 2 + 1
            if x - half >= -margin and x + half <= size + margin:
                out.append((v, x, half))
        return out

    def _gap(self) -> float:
        return LABEL_GAP_CHARS * self._label_metrics().averageCharWidth()

    def _fits(self, labels) -> bool:
        gap = self._gap()
        return all(b[1] - b[2] >= a[1] + a[2] + gap for a, b in zip(labels, labels[1:]))

    def tickSpacing(self, minVal, maxVal, size):
        levels = super().tickSpacing(minVal, maxVal, size)
        if self._tickSpacing is not None or not levels or size <= 0 or self.orientation not in ("bottom", "top"):
            return levels
        dif = abs(maxVal - minVal)
        major = levels[0][0]
        if not (dif > 0 and major > 0 and math.isfinite(dif)):
            return levels
        for _ in range(12):  # a few 1-2-5 steps at most
            if self._fits(self.labels_at(major, minVal, maxVal, size)):
                break
            wider = _next_nice(major)
            if not self.labels_at(wider, minVal, maxVal, size):
                break  # none would be drawn at all: keep this spacing, tickValues leaves some out
            major = wider
        if major == levels[0][0]:
            return levels
        mantissa = round(major / 10.0 ** math.floor(math.log10(major) + 1e-9))
        return [(major, 0), (major / (4 if mantissa == 2 else 5), 0)]  # minor marks: 0.5 -> 0.1, 2 -> 0.5

    def tickValues(self, minVal, maxVal, size):
        levels = super().tickValues(minVal, maxVal, size)
        if self.orientation not in ("bottom", "top") or not levels or self._tickLevels is not None:
            return levels
        if not (abs(maxVal - minVal) > 0 and size > 0):
            return levels
        spacing = levels[0][0]
        gap = self._gap()
        kept, last_right = [], -math.inf
        for v, x, half in self.labels_at(spacing, minVal, maxVal, size):
            if x - half >= last_right + gap:  # otherwise it would touch the label before it
                kept.append(v)
                last_right = x + half
        if len(kept) == len(levels[0][1]):
            return levels
        dropped = [v for v in levels[0][1] if all(abs(v - k) > spacing * 1e-6 for k in kept)]
        rest = list(levels[1:])
        if rest:  # a label left out keeps its tick, as a minor one
            rest[0] = (rest[0][0], sorted(list(rest[0][1]) + dropped))
        return [(spacing, kept)] + rest
