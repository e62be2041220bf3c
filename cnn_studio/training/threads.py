"""Auto CPU threads: time real training batches at a few thread counts and keep the fastest.

With one OpenMP thread per core, every parallel region of a batch waits for the slowest thread; when
another program is busy on one of the cores, that thread is preempted for a whole scheduler slice and
training collapses (2 cores beside one busy process: ~190 samples/s at 2 threads, ~3,000 at 1).
Load averages say how busy the machine was, not how fast *this* process will run, so the policy
measures: :class:`ThreadTuner` starts at 1 thread, times short windows of the run's own batches at
each candidate count up the ladder ("probe"), keeps the fastest, and re-checks

* at every epoch start (the holder against its neighbours on the ladder). A count that lost is not
  timed again before the run has trained ``lost / budget`` more seconds, where ``lost`` is what its
  last window cost against the winner: under contention one batch at too many threads can take 30x
  as long, and this keeps re-checks at about ``budget`` (5 %) of the training time however short the
  epochs are; and
* mid-epoch, when the holder's samples/s falls well below (rises well above) what it did when
  chosen: a busy program started (stopped), so the next smaller (larger) count is timed.

Where /proc/stat can be read, :class:`CpuMeter` says how many cores other processes left free, and
a count above that is not timed at all (the costly probe is skipped, not just made rare).

The class has no clock and no torch: the trainer passes the time and the sample count at batch ends
and gets back when it wants to be called next; ``apply(n)`` changes the thread count. That keeps the
decision logic testable on synthetic timings. Thread counts change float rounding only (oneDNN and
MKL split their sums by thread), so Auto runs agree to rounding, not bit for bit; a run that must be
bitwise repeatable sets a fixed count (or ``deterministic``, which pins Auto).
"""
from __future__ import annotations

import math
import os
import time
from typing import Callable


def ladder(max_threads: int) -> list[int]:
    """Candidate counts, largest first: max, max/2, max/4, ..., 1 (2 cores: [2, 1]). The tuner
    climbs them smallest first."""
    n = max(1, int(max_threads))
    out = []
    while n >= 1:
        if n not in out:
            out.append(n)
        if n == 1:
            break
        n = max(1, n // 2)
    return out


class CpuMeter:
    """Cores other processes kept busy since the previous reading (Linux: /proc/stat).

    All CPUs' busy time (user, nice, system, irq, softirq, steal) minus this process's own CPU
    time (``os.times()``: every thread of it, OpenMP spin-waits included), over the wall time.
    ``free()`` is the host's CPU count minus that; None where /proc/stat cannot be read or less
    than ``min_s`` passed (too few clock ticks to tell). ``read_stat``, ``own_seconds`` and ``clock``
    are there for tests.
    """

    def __init__(self, stat_path: str = "/proc/stat", *, min_s: float = 0.25, read_stat: Callable[[], str] | None = None,
                 own_seconds: Callable[[], float] | None = None, clock: Callable[[], float] = time.monotonic):
        self._read_stat = read_stat or (lambda: open(stat_path, encoding="ascii").read())
        self._own = own_seconds or (lambda: (lambda t: t.user + t.system)(os.times()))
        self._clock = clock
        self.min_s = min_s
        try:
            self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
            self._tick_s = 0.01
        self._prev = self._sample()

    def _sample(self) -> tuple[float, float, float, int] | None:
        try:
            lines = self._read_stat().splitlines()
            f = [int(v) for v in lines[0].split()[1:]]
            ncpu = sum(1 for ln in lines[1:] if ln.startswith("cpu"))
        except (OSError, ValueError, IndexError):
            return None
        if len(f) < 7 or ncpu < 1:
            return None
        busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)  # user nice system irq softirq steal
        return self._clock(), busy * self._tick_s, self._own(), ncpu

    def free(self) -> float | None:
        """Cores free of other processes since the previous call (or since this meter was made)."""
        prev = self._prev
        if prev is None:
            return None
        cur = self._sample()
        if cur is None:
            self._prev = None
            return None
        wall = cur[0] - prev[0]
        if wall < self.min_s:
            return None
        self._prev = cur
        others = max(0.0, (cur[1] - prev[1]) - (cur[2] - prev[2])) / wall
        return max(0.0, cur[3] - others)


class ThreadTuner:
    """Pick the intra-op thread count of a CPU run from measured samples/s.

    Call :meth:`start_epoch` before an epoch's first batch and :meth:`tick` after a batch whenever
    the time reaches what the previous call returned (both take active seconds, pauses left out,
    and the samples trained since the epoch started). ``log`` holds ``(step, threads, reason)``
    for every change of count; ``rates`` the latest samples/s measured per count.

    The run starts at 1 thread (its first batch, slow everywhere, is not timed) and times the
    ladder upwards: under contention the costly counts are the large ones, and each is timed for one
    window only. window_s: seconds per count in a probe (at least one batch). check_s: seconds
    between the holder's checks outside probes. margin: a challenger must beat the holder by this
    fraction to replace it (noise must not flip the count back and forth). drop / rise: a check
    that finds the holder this fraction below / above its rate times the next smaller / larger
    count at once (a busy program started / stopped). budget: the share of training time re-checks of
    losing counts may cost (a loser waits ``lost seconds / budget`` of training). free_cores: returns the cores other processes left free since its previous
    call (:class:`CpuMeter`), or None when it cannot tell; a count above what is free (rounded
    up) is not timed, because beside a busy program one batch at too many threads can cost as
    much as 30 at the right count.
    """

    def __init__(self, max_threads: int, apply: Callable[[int], None] | None = None, *, window_s: float = 0.3,
                 check_s: float = 1.0, margin: float = 0.1, drop: float = 0.3, rise: float = 0.3, budget: float = 0.05,
                 free_cores: Callable[[], float | None] | None = None):
        self.counts = sorted(ladder(max_threads))  # ascending
        self.current = self.counts[0]  # the count torch is set to now
        self.holder: int | None = None  # the count chosen by the last probe
        self.apply = apply or (lambda n: None)
        self.window_s, self.check_s, self.margin = window_s, check_s, margin
        self.drop, self.rise, self.budget = drop, rise, budget
        self.free_cores = free_cores or (lambda: None)
        self.rates: dict[int, float] = {}
        self.log: list[tuple[int, int, str]] = []
        self.probes = 0
        self.switches = 0  # times a probe chose another count than the holder
        self.skipped_busy = 0  # counts not timed because the cores were not free
        self.free: float | None = None  # the last free-core reading
        self._active = 0.0  # training seconds seen so far (pauses and validation left out)
        self._not_before = {c: 0.0 for c in self.counts}  # a loser is timed again from this _active on
        self._lost_free: dict[int, float | None] = {}  # the free-core reading when it last lost
        self._window_of: dict[int, float] = {}  # seconds each count was timed in this probe
        self._queue: list[int] = []  # counts still to time in the current probe
        self._measured: dict[int, float] = {}  # this probe's rates
        self._ref: float | None = None  # the holder's rate when chosen (smoothed by later checks)
        self._last = 0.0  # time of the previous call
        self._prev = 0  # samples at the previous call
        self._win_s = 0.0  # active seconds in the current window
        self._win_n = 0  # samples in the current window
        self._warm = True  # the run's first batch (allocations, kernel set-up) is not timed
        self._step = 0

    @property
    def probing(self) -> bool:
        return bool(self._queue)

    def _set(self, n: int, reason: str) -> None:
        if n != self.current or not self.log:
            self.current = n
            self.apply(n)
            self.log.append((self._step, n, reason))

    def _open_window(self) -> None:
        self._win_s, self._win_n = 0.0, 0

    def _fits(self, c: int) -> bool:
        """Whether ``c`` threads may be timed: not more than the cores free (rounded up) plus the
        ones this run holds already."""
        if self.free is None or c <= self.current or c <= 1:
            return True
        if c <= math.ceil(self.free - 0.25):
            return True
        self.skipped_busy += 1
        return False

    def _begin_probe(self, others: list[int], holder_rate: float | None = None) -> bool:
        """Time the holder first (a fresh reference under today's load; ``holder_rate`` when it was
        just measured), then the others. False when nothing is left to time."""
        others = [c for c in others if c != self.holder and self._fits(c)]
        first = [self.holder] if self.holder is not None and holder_rate is None else []
        if not others and self.holder is not None:
            return False
        self.probes += 1
        self._measured = {self.holder: holder_rate} if holder_rate is not None else {}
        self._queue = first + others
        self._set(self._queue[0], "probe")
        self._open_window()
        return True

    def _neighbour(self, direction: int) -> list[int]:
        i = self.counts.index(self.holder) + direction
        return [self.counts[i]] if 0 <= i < len(self.counts) else []

    def start_epoch(self, now: float, samples: int = 0, step: int | None = None) -> float:
        """An epoch starts at ``now`` (its sample count at ``samples``, normally 0); returns when the
        next :meth:`tick` is wanted. The time since the last call (validation) is not counted."""
        self._last, self._prev = now, samples
        if step is not None:
            self._step = step
        if not self.log:  # the run's first probe: the whole ladder, smallest count first
            self._set(self.current, "start")
            self._begin_probe(self.counts)
            return now
        if self.probing:  # a probe that did not finish last epoch goes on where it was
            return now
        self.free = self.free_cores()
        due = [c for c in self._neighbour(-1) + self._neighbour(+1) if self._due(c)]
        self._open_window()
        if due and self._begin_probe(due):
            return now
        return now + self.check_s

    def _due(self, c: int) -> bool:
        """Whether ``c`` may be timed again: its wait is over, or the meter says cores came free
        since it lost."""
        lost_free = self._lost_free.get(c)
        if self.free is not None and lost_free is not None and self.free >= lost_free + 0.75:
            self._not_before[c] = 0.0
        return self._active >= self._not_before[c]

    def tick(self, now: float, samples: int, step: int | None = None) -> float:
        """A batch ended at ``now`` with ``samples`` trained this epoch; returns when to call again."""
        self._active += now - self._last
        self._win_s += now - self._last
        self._win_n += samples - self._prev
        self._last, self._prev = now, samples
        if step is not None:
            self._step = step
        if self._warm:
            self._warm = False
            self._open_window()
            return now
        if not self.probing:
            return self._check(now)
        if self._win_s < self.window_s or self._win_n <= 0:
            return now
        c = self._queue.pop(0)
        self._measured[c] = self.rates[c] = self._win_n / self._win_s
        self._window_of[c] = self._win_s
        self._open_window()
        if self._queue and self._queue[0] > self.current:  # going up: only onto cores that are free
            self.free = self.free_cores()
            self._queue = [q for q in self._queue if self._fits(q)]
        if self._queue:
            self._set(self._queue[0], "probe")
            return now
        self._decide()
        return now + self.check_s

    def _check(self, now: float) -> float:
        """Outside probes: compare the holder's samples/s with its rate when chosen."""
        if self._win_s < self.check_s:
            return now + (self.check_s - self._win_s)
        rate = self._win_n / self._win_s
        self._open_window()
        self.rates[self.current] = rate
        ref = self._ref
        if ref is not None and rate < ref * (1.0 - self.drop) and self._begin_probe(self._neighbour(-1), rate):
            return now  # slower: someone took cores; time fewer threads (the holder's rate is this window's)
        if ref is not None and rate > ref * (1.0 + self.rise) and self._neighbour(+1):
            self.free = self.free_cores()
            up = [c for c in self._neighbour(+1) if self._due(c)]
            if up and self._begin_probe(up, rate):
                return now  # faster: cores came free; time more threads
        self._ref = rate if ref is None else 0.5 * (ref + rate)
        return now + self.check_s

    def _decide(self) -> None:
        """End of a probe: keep the holder unless a challenger is clearly faster."""
        m = self._measured
        best = max(m, key=lambda c: (m[c], c))
        held = self.holder
        chosen = held if held in m and m[best] <= m[held] * (1.0 + self.margin) else best
        for c, r in m.items():
            if c != chosen:  # what its window cost against the winner, spread at `budget` over later training
                lost = self._window_of.get(c, 0.0) * max(0.0, 1.0 - r / m[chosen]) if m[chosen] > 0 else 0.0
                self._not_before[c] = self._active + lost / self.budget
                self._lost_free[c] = self.free
        self._window_of = {}
        if held is not None and chosen != held:
            self.switches += 1
        self.holder = chosen
        self._ref = m[chosen]
        self._set(chosen, "chosen")

    def summary(self) -> dict:
        """What the run records: the counts tried and used, and their latest rates."""
        return {
            "policy": "auto",
            "candidates": list(self.counts),
            "current": self.current,
            "probes": self.probes,
            "switches": self.switches,
            "not_timed_cores_busy": self.skipped_busy,
            "train_seconds_seen": round(self._active, 3),
            "changes": [[s, n, r] for s, n, r in self.log],
            "samples_per_sec": {str(c): (round(r, 1) if math.isfinite(r) else None) for c, r in sorted(self.rates.items())},
        }
