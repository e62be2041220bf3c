"""Where the Feature maps view's maps come from during and after a run, kept apart from its widgets.

:class:`SnapshotStore` (no Qt) holds what training sent: per-epoch snapshots (float16, within a
memory budget, with the input they were taken of) and the newest live maps of each layer. It
belongs to one run: the view empties it when the shown source becomes another run or nothing.
"""
from __future__ import annotations

import numpy as np

SNAPSHOT_BUDGET_BYTES = 256 * 2**20


class SnapshotStore:
    def __init__(self, budget_bytes: int = SNAPSHOT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self.snapshots: dict[int, tuple[dict, object]] = {}  # epoch -> (node -> float16 maps, input)
        self.live: dict[str, np.ndarray] = {}
        self.live_time = 0.0
        self.snapshot_time = 0.0

    def clear(self) -> None:
        self.snapshots.clear()
        self.live.clear()
        self.live_time = self.snapshot_time = 0.0

    def __bool__(self) -> bool:
        return bool(self.snapshots or self.live)

    def epochs(self) -> list[int]:
        return sorted(self.snapshots)

    def has_node(self, node: str) -> bool:
        return node in self.live or any(node in maps for maps, _ in self.snapshots.values())

    def nodes(self) -> list[str]:
        """Every layer training sent maps of, in the order they first came."""
        seen: dict[str, None] = {}
        for e in sorted(self.snapshots):
            for k in self.snapshots[e][0]:
                seen.setdefault(k)
        for k in self.live:
            seen.setdefault(k)
        return list(seen)

    def add(self, epoch: int, maps: dict, pinned, now: float) -> None:
        """``epoch >= 0``: a snapshot for the timeline; ``-1``: a live refresh."""
        if epoch < 0:
            for k, v in maps.items():
                self.live[k] = np.asarray(v, dtype=np.float32)
            self.live_time = now
            return
        stored = {k: np.asarray(v).astype(np.float16) for k, v in maps.items()}
        self.snapshots[int(epoch)] = (stored, pinned)
        self.snapshot_time = now
        self.trim()

    def trim(self) -> None:
        """Within the budget: drop every other inner epoch, oldest first (keeps the first and last)."""
        def size() -> int:
            return sum(a.nbytes for maps, _ in self.snapshots.values() for a in maps.values())

        while size() > self.budget_bytes and len(self.snapshots) > 2:
            del self.snapshots[self.epochs()[1]]

    def at(self, epoch: int, node: str) -> tuple[np.ndarray | None, object]:
        """(maps of ``node`` at ``epoch`` or None, the input they were taken of)."""
        maps, x = self.snapshots[epoch]
        m = maps.get(node)
        return (np.asarray(m, dtype=np.float32) if m is not None else None), x

    def now(self, node: str | None) -> tuple[np.ndarray | None, str]:
        """The newest maps of ``node`` from training: ("live" or "snapshot"), or (None, "")."""
        if node is None:
            return None, ""
        live = self.live.get(node)
        snap = None
        for e in sorted(self.snapshots, reverse=True):
            maps = self.snapshots[e][0]
            if node in maps:
                snap = maps[node]
                break
        if live is not None and (snap is None or self.live_time >= self.snapshot_time):
            return live, "live"
        if snap is not None:
            return np.asarray(snap, dtype=np.float32), "snapshot"
        return None, ""
