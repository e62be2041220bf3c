"""``BatchIterator``: batches of (uint8 x, int64 y) from a split, reproducible from a torch.Generator."""
from __future__ import annotations

import math
import os
import queue
import threading

import torch

from .errors import DataError

_DEVICE_COPY_LIMIT = 2 << 30  # in-memory splits up to 2 GiB are copied to the target device once


class _EpochBatches(torch.utils.data.Sampler):
    """Batch sampler whose batches are set for each epoch (so persistent workers can be kept)."""

    def __init__(self):
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class BatchIterator:
    """Iterates a ``Split`` in batches of ``(x uint8 NCHW, y int64)`` on ``device``.

    The order of an epoch is drawn from ``generator`` (``torch.randperm``) when iteration starts
    (``iter()`` or ``iter_from``), so saving the generator state before an epoch and restoring it
    later reproduces the epoch exactly; ``iter_from(k)`` yields that epoch from batch ``k`` on.
    In-memory splits are indexed with whole index tensors (no per-sample Python work) and copied to
    the device once. Streaming splits run through a torch DataLoader with ``num_workers`` processes
    (default: CPUs - 1, at most 4) fed the same index batches.

    For CUDA, batches copied from host memory go through pinned (page-locked) buffers with
    non-blocking copies, and a prefetch thread prepares the next ``prefetch`` batches while the GPU
    trains on the current one. On the CPU neither helps (the copy is the work), so both are off.
    """

    def __init__(self, split, batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None,
                 drop_last: bool = False, device="cpu", num_workers: int | None = None):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise DataError(f"batch size must be a whole number of at least 1, got {batch_size!r}")
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.device = torch.device(device)
        if num_workers is None:
            num_workers = max(0, min(4, (os.cpu_count() or 1) - 1))
        self.num_workers = num_workers
        cuda = self.device.type == "cuda"
        self.pin_memory = cuda  # page-locked host buffers: asynchronous host-to-GPU copies
        self.prefetch = 2 if cuda else 0  # batches prepared ahead by a thread (0: none)
        self._data = None
        self._loader = None
        self._sampler = None

    def __len__(self) -> int:
        n = len(self.split)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> torch.Tensor:
        n = len(self.split)
        if self.shuffle:
            return torch.randperm(n, generator=self.generator)
        return torch.arange(n)

    def _tensors(self):
        if self._data is None:
            x, y = self.split.x, self.split.y
            if self.device.type != "cpu" and x.numel() <= _DEVICE_COPY_LIMIT:
                x, y = x.to(self.device), y.to(self.device)
            self._data = (x, y)
        return self._data

    def _make_loader(self):
        self._sampler = _EpochBatches()
        self._loader = torch.utils.data.DataLoader(
            self.split.dataset, batch_sampler=self._sampler, num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda", persistent_workers=self.num_workers > 0,
        )

    def __iter__(self):
        return self.iter_from(0)

    def iter_from(self, start_batch: int):
        """Draw this epoch's order now and iterate it from batch ``start_batch`` (0-based) on."""
        nb = len(self)
        if not isinstance(start_batch, int) or not 0 <= start_batch <= nb:
            raise DataError(f"cannot start at batch {start_batch!r}; an epoch has batches 0..{nb - 1}")
        order = self._order()  # drawn here, in the caller's thread: the order never depends on the prefetch
        if self.split.x is not None:
            batches = self._memory_batches(order, start_batch, nb)
        else:
            batches = self._stream_batches(order, start_batch, nb)
        return _prefetched(batches, self.prefetch) if self.prefetch > 0 else batches

    def _memory_batches(self, order, start, nb):
        x, y = self._tensors()
        order = order.to(x.device)
        bs = self.batch_size
        copy = x.device != self.device
        for b in range(start, nb):
            idx = order[b * bs:(b + 1) * bs]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            if copy:
                if self.pin_memory:
                    xb, yb = xb.pin_memory(), yb.pin_memory()
                xb = xb.to(self.device, non_blocking=True)
                yb = yb.to(self.device, non_blocking=True)
            yield xb, yb

    def _stream_batches(self, order, start, nb):
        if self._loader is None:
            self._make_loader()
        bs = self.batch_size
        self._sampler.batches = [order[b * bs:(b + 1) * bs].tolist() for b in range(start, nb)]
        for xb, yb in self._loader:
            if self.device.type != "cpu":
                xb = xb.to(self.device, non_blocking=True)
                yb = yb.to(self.device, non_blocking=True)
            yield xb, yb.to(torch.int64)


_DONE = object()


def _prefetched(batches, depth: int):
    """Iterate ``batches`` in a helper thread, ``depth`` items ahead; same items, same order. An
    error in the thread is raised here; closing this generator (the loop stopped) ends the thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in batches:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as e:  # noqa: BLE001 - handed to the consuming thread
            put(e)
        finally:
            close = getattr(batches, "close", None)
            if close is not None and stop.is_set():
                close()

    t = threading.Thread(target=work, name="cnn-studio-prefetch", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join()
