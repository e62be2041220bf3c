"""Devices, optimizers and learning-rate schedules from a :class:`TrainConfig`."""
from __future__ import annotations

import torch
from torch import nn

from ..core.errors import StudioError
from .config import TrainConfig

# Schedules stepped after every batch; the others after every epoch.
PER_BATCH_SCHEDULES = ("cosine", "onecycle")


class DeviceError(StudioError):
    """The requested device does not exist on this machine."""


def resolve_device(spec: str = "auto") -> torch.device:
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{spec}' asked for, but CUDA is not available on this machine; use --device cpu (or auto)")
        dev = torch.device(spec)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device '{spec}' does not exist: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0")
        return dev
    if spec == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps' asked for, but Apple Metal (MPS) is not available here; use --device cpu (or auto)")
        return torch.device("mps")
    raise DeviceError(f"unknown device '{spec}'; use auto, cpu, cuda, cuda:N or mps")


def device_string(dev: torch.device) -> str:
    if dev.type == "cuda":
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"cuda:{idx} ({torch.cuda.get_device_name(idx)})"
    return str(dev)


# The attribute freeze.apply_node_options sets on a parameter whose node has a learning-rate
# multiplier other than 1 (Node.lr_mult); build_optimizer puts each multiplier's parameters in a group.
LR_MULT_ATTR = "cnn_studio_lr_mult"


def param_groups(params, lr: float) -> list | list[dict]:
    """``params`` as optimizer param groups, one per learning-rate multiplier in the order they first
    appear, each with ``lr`` = lr x multiplier and its ``lr_mult`` (the checkpoint keeps it). Plain
    parameters (no multiplier anywhere) stay a plain list: one group, as before multipliers existed."""
    params = list(params)
    if not params or isinstance(params[0], dict) or all(getattr(p, LR_MULT_ATTR, 1.0) == 1.0 for p in params):
        return params
    groups: dict[float, list] = {}
    for p in params:
        groups.setdefault(float(getattr(p, LR_MULT_ATTR, 1.0)), []).append(p)
    return [{"params": ps, "lr": lr * m, "lr_mult": m} for m, ps in groups.items()]


def zero_twin(p: torch.Tensor) -> torch.Tensor:
    """A zero tensor shaped like ``p`` that trains and carries its learning-rate multiplier (the
    trainer's dry run of a checkpoint's optimizer state builds the same groups from these)."""
    z = torch.zeros(p.shape, dtype=p.dtype, requires_grad=True)
    if hasattr(p, LR_MULT_ATTR):
        setattr(z, LR_MULT_ATTR, getattr(p, LR_MULT_ATTR))
    return z


def _group_mults(optimizer: torch.optim.Optimizer) -> list[float]:
    return [float(g.get("lr_mult", 1.0)) for g in optimizer.param_groups]


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = param_groups(params, cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise StudioError(f"unknown optimizer '{cfg.optimizer}'")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, batches_per_epoch: int):
    """The torch scheduler for ``cfg.schedule`` (None for constant). cosine and onecycle run per
    batch over ``epochs * batches_per_epoch`` steps (onecycle gets one spare step so the scheduler
    may step after the last batch too); step and plateau run per epoch."""
    total = max(1, cfg.epochs * max(1, batches_per_epoch))
    S = torch.optim.lr_scheduler
    mults = _group_mults(optimizer)
    # per-group values keep each group's learning-rate multiplier (one group: the scalar, as always)
    max_lr = cfg.lr if len(mults) == 1 else [cfg.lr * m for m in mults]
    min_lr = cfg.min_lr if len(mults) == 1 else [cfg.min_lr * m for m in mults]
    if cfg.schedule == "constant":
        return None
    if cfg.schedule == "step":
        return S.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=total, eta_min=cfg.min_lr)
    if cfg.schedule == "onecycle":
        m = cfg.beta1 if cfg.optimizer in ("adam", "adamw") else cfg.momentum
        cycle = m > 0
        return S.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=total + 1, pct_start=cfg.warmup_fraction,
            cycle_momentum=cycle, base_momentum=min(0.85, m) if cycle else 0.85, max_momentum=m if cycle else 0.95,
        )
    if cfg.schedule == "plateau":
        mode = "max" if cfg.monitor == "val_accuracy" else "min"
        return S.ReduceLROnPlateau(optimizer, mode=mode, factor=cfg.gamma, patience=cfg.plateau_patience, min_lr=min_lr, eps=1e-12)
    raise StudioError(f"unknown schedule '{cfg.schedule}'")


def load_scheduler_state(scheduler, state: dict | None, cfg: TrainConfig) -> None:
    """Restore a scheduler; when the run was extended (more epochs) the per-batch schedules keep their
    position but stretch to the new length."""
    if scheduler is None or state is None:
        return
    fresh = scheduler.state_dict()
    state = dict(state)
    # a state saved by another kind of schedule (the settings' schedule changed, or was left out and
    # took the default) has other fields: loading it would fail batches later with a KeyError
    if set(state) != set(fresh):
        raise StudioError(
            f"the checkpoint's learning-rate schedule state does not fit schedule '{cfg.schedule}'; "
            "resume with the schedule the run was trained with (its config.json says which)"
        )
    if cfg.schedule == "cosine":
        state["T_max"] = fresh["T_max"]
    elif cfg.schedule == "onecycle":
        state["total_steps"] = fresh["total_steps"]
        state["_schedule_phases"] = fresh["_schedule_phases"]
    scheduler.load_state_dict(state)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The run's learning rate: the first group's, divided by its multiplier (a group of multiplier 1
    has the run's rate; cosine's min_lr floor is shared by all groups, so near it this is approximate)."""
    group = optimizer.param_groups[0]
    return float(group["lr"]) / float(group.get("lr_mult", 1.0))


def trainable_parameters(model: nn.Module):
    return [p for p in model.parameters() if p.requires_grad]
