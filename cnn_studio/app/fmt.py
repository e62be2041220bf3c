"""Number and shape formatting shared by the canvas, inspector, summary and status bar."""
from __future__ import annotations

from ..core.layers import fmt_shape


def count(n: int | None) -> str:
    """12,345 -> '12.3K'; short form for node cards and the status bar."""
    if n is None:
        return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            v = n / div
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return str(n)


def full(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def shape(s) -> str:
    return fmt_shape(s) if s is not None else "?"


def rf(info) -> str:
    r = getattr(info, "rf", None)
    if r is None:
        return "-"
    return f"{r.size[0]}x{r.size[1]}" if r.size[0] != r.size[1] else f"{r.size[0]}x{r.size[0]}"


def rf_long(info) -> str:
    r = getattr(info, "rf", None)
    if r is None:
        return "-"
    return f"{r.size[0]}x{r.size[1]} px, step {r.jump[0]}x{r.jump[1]}"


def mem(nbytes: int) -> str:
    if nbytes >= 2**20:
        return f"{nbytes / 2**20:.2f} MiB"
    if nbytes >= 2**10:
        return f"{nbytes / 2**10:.1f} KiB"
    return f"{nbytes} B"
