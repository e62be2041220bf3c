"""Multi-process training with DistributedDataParallel, launched by ``torchrun``.

    torchrun --nproc_per_node=2 -m cnn_studio train lenet5 --data shapes --distributed

``init_distributed()`` joins the process group from the torchrun environment (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT): gloo on the CPU, nccl on CUDA (device ``cuda:LOCAL_RANK``).
:class:`DistributedTrainer` is a :class:`Trainer` that overrides its seams only, so the
single-process hot loop is unchanged:

* ``_wrap_model``: DDP; a gradient hook weights each rank's mean gradient by its share of the global
  batch, so an uneven last batch gives the same gradient as one process would.
* ``_make_train_iterator``: every rank draws the same global permutation from the same seeded
  generator (so checkpoints and ``--resume`` stay exact) and takes every ``world``-th sample of each
  global batch (``--batch-size`` is the global batch; per rank: global / world).
* ``_reduce``: all-reduce (sum) of the epoch's loss sum, correct and sample counts.
* ``_evaluate``: each rank scores a contiguous shard; loss sums, top-5 counts and the confusion
  matrix are all-reduced, so every rank sees the global metrics (and takes the same decisions).
* the loss function all-reduces a [loss not finite, stop requested] flag each batch, so a NaN on one
  rank or a Ctrl+C on one process stops all ranks at the same batch.
* files (run folder, checkpoints, metrics.csv, summary.json) and console output: rank 0 only.
"""
from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..core.errors import StudioError
from .metrics import empty_metrics, evaluate, metrics_from_counts
from .trainer import Trainer

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(StudioError):
    """Distributed training cannot start (not launched by torchrun, bad batch size...)."""


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device


def torchrun_env() -> dict | None:
    """The torchrun variables, or None when this process was not started by torchrun."""
    if any(v not in os.environ for v in ENV_VARS):
        return None
    try:
        return {"rank": int(os.environ["RANK"]), "world_size": int(os.environ["WORLD_SIZE"]),
                "local_rank": int(os.environ["LOCAL_RANK"])}
    except ValueError:
        return None


def _pick_device(device: str | None, local_rank: int) -> torch.device:
    d = (device or "auto").strip().lower()
    if d in ("auto", "cuda", "gpu") and torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DistributedError(f"--device {device}: CUDA is not available")
        return torch.device("cuda", local_rank)  # one GPU per process: cuda:LOCAL_RANK
    if d in ("auto", "cpu"):
        return torch.device("cpu")
    raise DistributedError(f"--distributed trains on cpu or cuda, not '{device}'")


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the process group from the torchrun environment (gloo on CPU, nccl on CUDA)."""
    env = torchrun_env()
    if env is None:
        raise DistributedError(
            "--distributed needs the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); "
            "launch with: torchrun --nproc_per_node=N -m cnn_studio train ... --distributed"
        )
    dev = _pick_device(device, env["local_rank"])
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", rank=env["rank"], world_size=env["world_size"])
    return DistInfo(env["rank"], env["world_size"], env["local_rank"], backend, dev)


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_session(device: str | None = None):
    """``with distributed_session(args.device) as info: ...``; the group is destroyed on exit, errors too."""
    info = init_distributed(device)
    try:
        yield info
    finally:
        shutdown_distributed()


# ---- sampler -------------------------------------------------------------------------------------
class ShardedBatchIterator:
    """This rank's share of each global batch: the same ``BatchIterator`` permutation on every rank
    (same generator state), samples ``rank, rank + world, ...`` of each global batch.

    ``len()`` is the number of global batches. ``on_batch(n_local, n_global)`` is called before each
    batch is yielded (the trainer sets the gradient weight from it)."""

    def __init__(self, inner, rank: int, world_size: int, on_batch=None):
        self.inner = inner
        self.rank, self.world_size = rank, world_size
        self.on_batch = on_batch

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self):
        return self.iter_from(0)

    def iter_from(self, start_batch: int):
        inner = self.inner
        nb = len(inner)
        if not 0 <= start_batch <= nb:
            from ..data.errors import DataError

            raise DataError(f"cannot start at batch {start_batch!r}; an epoch has batches 0..{nb - 1}")
        order = inner._order()  # the global permutation: one draw per epoch, as in one process
        return self._batches(order, start_batch, nb)

    def _batches(self, order, start, nb):
        inner, g, r, w = self.inner, self.inner.batch_size, self.rank, self.world_size
        local = [order[b * g:(b + 1) * g][r::w] for b in range(start, nb)]
        sizes = [min(g, len(order) - b * g) for b in range(start, nb)]
        split = inner.split
        if split.x is not None:
            x, y = inner._tensors()
            copy = x.device != inner.device
            for idx, n_global in zip(local, sizes):
                idx = idx.to(x.device)
                xb, yb = x.index_select(0, idx), y.index_select(0, idx)
                if copy:
                    xb, yb = xb.to(inner.device, non_blocking=True), yb.to(inner.device, non_blocking=True)
                if self.on_batch is not None:
                    self.on_batch(int(idx.numel()), n_global)
                yield xb, yb
            return
        if inner._loader is None:
            inner._make_loader()
        inner._sampler.batches = [idx.tolist() for idx in local]
        for (xb, yb), idx, n_global in zip(inner._loader, local, sizes):
            if inner.device.type != "cpu":
                xb, yb = xb.to(inner.device, non_blocking=True), yb.to(inner.device, non_blocking=True)
            if self.on_batch is not None:
                self.on_batch(int(idx.numel()), n_global)
            yield xb, yb.to(torch.int64)


# ---- gradient hook and agreeing loss ---------------------------------------------------------------
class _GradWeight:
    """State of the DDP comm hook: this rank's share of the current global batch."""

    def __init__(self, world_size: int):
        self.weight = 1.0 / world_size


def _weighted_allreduce(state: _GradWeight, bucket):
    buf = bucket.buffer()
    buf.mul_(state.weight)  # mean over the local batch * n_local / n_global, summed over ranks = global mean
    fut = dist.all_reduce(buf, async_op=True).get_future()
    return fut.then(lambda f: f.value()[0])


class _AgreeingLoss:
    """The training loss plus one all-reduce per batch of [loss not finite, stop requested].

    Any rank's NaN/inf turns every rank's loss into NaN (all ranks take the trainer's NaN path at the
    same batch); any rank's stop request sets every rank's stop flag (all stop after this batch). On
    an accelerator the NaN flag stays on the device; the stop flag is read every ``stop_every`` batches."""

    def __init__(self, base: nn.Module, trainer: DistributedTrainer, stop_every: int):
        self.base = base
        self.trainer = trainer
        self.stop_every = stop_every
        self._n = 0

    def __call__(self, scores, target):
        loss = self.base(scores, target)
        t = self.trainer
        flags = torch.stack([(~torch.isfinite(loss.detach())).to(torch.float32),
                             torch.tensor(1.0 if t._local_stop.is_set() else 0.0, device=loss.device)])
        dist.all_reduce(flags)
        self._n += 1
        if loss.device.type == "cpu" or self._n % self.stop_every == 0:
            if float(flags[1]) > 0:
                t._stop.set()
                t._wake.set()
        return loss + torch.where(flags[0] > 0, float("nan"), 0.0).to(loss.dtype)


# ---- the trainer --------------------------------------------------------------------------------------
class DistributedTrainer(Trainer):
    """A :class:`Trainer` for one process of a torchrun job (the process group must be initialised;
    see :func:`init_distributed`). Same arguments as ``Trainer``; ``config.batch_size`` is global."""

    #: on accelerators the agreed stop flag is read back every this many batches (a host sync)
    stop_check_every = 16

    def __init__(self, *args, **kwargs):
        if not (dist.is_available() and dist.is_initialized()):
            raise DistributedError("DistributedTrainer needs an initialised process group; call init_distributed() first")
        super().__init__(*args, **kwargs)
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self._local_stop = threading.Event()
        self._grad_weight = _GradWeight(self.world_size)
        self._shards: dict = {}

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0

    def fit(self) -> dict:
        summary = super().fit()
        dist.barrier()  # rank 0's files (checkpoint, summary) are complete before any rank goes on, e.g. to resume
        return summary

    # ---- control: a stop is only acted on once all ranks agree (at the next batch) ----------------
    def request_stop(self) -> None:
        self._local_stop.set()
        self._wake.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set() or self._local_stop.is_set()

    # ---- set-up -----------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.config
        if cfg.batch_size % self.world_size:
            raise DistributedError(
                f"the batch size {cfg.batch_size} is the global batch and must be divisible by the {self.world_size} processes; "
                f"e.g. --batch-size {max(self.world_size, cfg.batch_size // self.world_size * self.world_size)}"
            )
        if dist.get_backend() == "nccl":
            dev = f"cuda:{self.local_rank}"
        else:
            if str(cfg.device).lower().startswith(("cuda", "mps")):
                raise DistributedError(f"the process group uses gloo (CPU) but the device is '{cfg.device}'")
            dev = "cpu"
        old_device = cfg.device
        old_every = cfg.metrics_every
        cfg.device = dev
        try:
            super()._setup()
        finally:
            cfg.device = old_device
        if not self._sync_every_batch and old_every <= 0:
            # metrics are read back (and a NaN sum detected) at the same batches on every rank
            cfg.metrics_every = max(1, self.stop_check_every)
        self._base_criterion = self.criterion
        stop_every = 1 if self.device.type == "cpu" else self.stop_check_every
        self.criterion = _AgreeingLoss(self._base_criterion, self, stop_every)
        if self.world_size > 1:
            self.state.notes.append(
                f"distributed: {self.world_size} processes ({dist.get_backend()}), "
                f"{cfg.batch_size // self.world_size} samples per process of each global batch of {cfg.batch_size}"
            )

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel as DDP

        if self.device.type == "cuda":
            ddp = DDP(model, device_ids=[self.device.index], output_device=self.device.index)
        else:
            ddp = DDP(model)
        ddp.register_comm_hook(self._grad_weight, _weighted_allreduce)
        return ddp

    def _make_train_iterator(self, split, batch_size: int, generator: torch.Generator):
        inner = super()._make_train_iterator(split, batch_size, generator)
        rem = len(split.y) % batch_size
        if 0 < rem < self.world_size and not inner.drop_last:
            # a last global batch smaller than the number of processes would leave a rank without samples
            inner.drop_last = True
            self.state.notes.append(
                f"the last {rem} training sample(s) of each epoch are left out (fewer than the {self.world_size} processes)"
            )

        def on_batch(n_local: int, n_global: int) -> None:
            self._grad_weight.weight = n_local / n_global

        return ShardedBatchIterator(inner, self.rank, self.world_size, on_batch)

    # ---- reductions ---------------------------------------------------------------------------------
    def _reduce(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return [float(v) for v in t.cpu().tolist()]

    def _shard(self, split):
        key = id(split)
        if key not in self._shards:
            from ..data.bundle import Split

            n = len(split.y)
            lo, hi = n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size
            idx = torch.arange(lo, hi)
            if split.x is not None:
                part = Split(split.name, split.y[lo:hi], x=split.x[lo:hi])
            else:
                part = Split(split.name, split.y[lo:hi], dataset=torch.utils.data.Subset(split.dataset, idx.tolist()))
            self._shards[key] = (split, part)  # keeps split alive so its id stays unique
        return self._shards[key][1]

    def _evaluate(self, split) -> dict:
        k = int(self.bundle.num_classes)
        part = self._shard(split)
        if len(part.y):
            m = evaluate(self.model, part, self.bundle, self.device, max(self.config.batch_size * 2, 64),
                         criterion=self._base_criterion, amp=self._amp)
        else:
            m = empty_metrics(k)
        count = int(m["count"])
        loss_sum = (m["loss"] * count if m["loss"] is not None else (math.nan if count else 0.0))
        top5 = round(m["top5_accuracy"] * count) if count else 0
        flat = [v for row in m["confusion_matrix"] for v in row]
        total = self._reduce([loss_sum, float(count), float(top5), *map(float, flat)])
        cm = [[round(total[3 + i * k + j]) for j in range(k)] for i in range(k)]
        return metrics_from_counts(total[0], round(total[1]), round(total[2]), cm)

    # ---- checkpoints: the running sums of a stopped epoch are stored summed over all ranks ----------
    def _save_checkpoint(self, epoch: int, batch: int, best: bool) -> None:
        if batch > 0:
            self._global_running = self._reduce([self._run_loss, float(self._run_correct), float(self._run_seen)])
        try:
            super()._save_checkpoint(epoch, batch, best)
        finally:
            self._global_running = None

    _global_running = None

    def _checkpoint_payload(self, epoch: int, batch: int) -> dict:
        payload = super()._checkpoint_payload(epoch, batch)
        if self._global_running is not None:
            loss, correct, seen = self._global_running
            payload["running"] = dict(payload["running"], loss_sum=loss, correct=round(correct), seen=round(seen))
        payload["distributed"] = {"world_size": self.world_size, "backend": dist.get_backend()}
        return payload

    def _restore(self, data: dict) -> None:
        super()._restore(data)
        if self.rank != 0:  # rank 0 carries the stored (global) partial sums; the epoch end adds them up
            self._run_loss, self._run_correct, self._run_seen = 0.0, 0, 0


__all__ = [
    "DistInfo",
    "DistributedError",
    "DistributedTrainer",
    "ShardedBatchIterator",
    "distributed_session",
    "init_distributed",
    "shutdown_distributed",
    "torchrun_env",
]
