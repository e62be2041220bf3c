"""Bounded time series for live plots. No Qt.

A :class:`Series` keeps at most ``capacity`` (+1 pending) points however long a run goes: when full,
the whole history is decimated by averaging neighbouring pairs (x too) and from then on incoming
points are averaged in groups of the new stride, so resolution stays uniform along the run and
memory stays flat over very long runs.
"""
from __future__ import annotations

import math

import numpy as np


class Series:
    def __init__(self, capacity: int = 4000):
        if capacity < 8 or capacity % 2:
            raise ValueError("capacity must be an even number >= 8")
        self.capacity = capacity
        self._x = np.empty(capacity + 1, dtype=np.float64)
        self._y = np.empty(capacity + 1, dtype=np.float64)
        self._n = 0
        self._stride = 1  # incoming points averaged per stored point
        self._acc = [0.0, 0.0, 0]  # pending group: sum x, sum y, count
        self._last: tuple[float, float] | None = None
        self.total = 0  # points ever appended
        self.version = 0  # bumps on every change, so views redraw only when needed

    def __len__(self) -> int:
        return self._n + (1 if self._acc[2] else 0)

    def append(self, x: float, y: float) -> None:
        acc = self._acc
        acc[0] += x
        acc[1] += y
        acc[2] += 1
        if acc[2] == self._stride:
            if self._n == self.capacity:
                self._compact()
            self._x[self._n] = acc[0] / acc[2]
            self._y[self._n] = acc[1] / acc[2]
            self._n += 1
            self._acc = [0.0, 0.0, 0]
        self._last = (x, y)
        self.total += 1
        self.version += 1

    def extend(self, xs, ys) -> None:
        for x, y in zip(xs, ys):
            self.append(float(x), float(y))

    def _compact(self) -> None:
        """Halve the resolution of the whole history: average neighbouring pairs, double the stride."""
        n = self._n
        self._x[: n // 2] = self._x[:n].reshape(-1, 2).mean(axis=1)
        self._y[: n // 2] = self._y[:n].reshape(-1, 2).mean(axis=1)
        self._n = n // 2
        self._stride *= 2

    def _view(self, arr: np.ndarray, k: int) -> np.ndarray:
        if self._acc[2]:
            arr[self._n] = self._acc[k] / self._acc[2]
            return arr[: self._n + 1]
        return arr[: self._n]

    @property
    def x(self) -> np.ndarray:
        return self._view(self._x, 0)

    @property
    def y(self) -> np.ndarray:
        return self._view(self._y, 1)

    def last(self) -> tuple[float, float] | None:
        """The most recent raw point."""
        return self._last

    def value_at(self, x: float) -> float | None:
        """y of the stored point nearest to x (for the crosshair read-out)."""
        xs, ys = self.x, self.y
        if not len(xs):
            return None
        i = int(np.searchsorted(xs, x))
        cands = [j for j in (i - 1, i) if 0 <= j < len(xs)]
        j = min(cands, key=lambda j: abs(xs[j] - x))
        return float(ys[j])

    def clear(self) -> None:
        self._n = 0
        self._stride = 1
        self._acc = [0.0, 0.0, 0]
        self._last = None
        self.total = 0
        self.version += 1


class Smoother:
    """Exponential moving average with bias correction (TensorBoard-style smoothing)."""

    def __init__(self, weight: float = 0.9):
        self.weight = weight
        self._avg = 0.0
        self._steps = 0

    def __call__(self, value: float) -> float:
        if not math.isfinite(value):
            return value
        self._steps += 1
        self._avg = self.weight * self._avg + (1 - self.weight) * value
        return self._avg / (1 - self.weight**self._steps)

    def reset(self) -> None:
        self._avg = 0.0
        self._steps = 0
