"""How a run executes its steps: memory format (NCHW or channels_last) and precision (fp32 or bf16
autocast), chosen by a short timed probe or set by the user.

``choose_mode`` times a few training steps of each allowed candidate on deep copies of the model
(each with its own optimizer), with torch's random state saved and restored around the probe, so
the real run starts from exactly the state it would have without the probe. The fastest candidate
wins; a candidate must beat plain NCHW fp32 by ``MIN_GAIN`` to be taken (timing noise on a busy
machine). Under ``precision="auto"`` bf16 is only a candidate on hardware with native bf16 and only
when its losses over the probe's steps stay within ``LOSS_TOLERANCE`` of fp32's.

The choice is cached in ``<studio_home>/speed_cache.json`` keyed by the network, batch, device,
threads, torch version and settings, so the next run of the same network skips the probe.

Qt-free; the decision (:func:`decide`) is pure so it can be tested on synthetic timings and losses.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch import nn

from .config import PRECISIONS, SPEEDS  # noqa: F401 - the settings' choices, one list
#: a candidate must be this much faster than NCHW fp32 to replace it
MIN_GAIN = 1.05
#: bf16 under precision=auto: largest relative difference of its mean probe loss from fp32's
LOSS_TOLERANCE = 0.05
PROBE_STEPS = 4  # timed steps per candidate (after one warm-up step): ~(4 candidates x 5) steps in all
PROBE_SECONDS = 6.0  # timed rounds are cut to about this after the warm-up round
#: no probe when it would take more than this share of the run's steps (a short run cannot repay it)
PROBE_SHARE = 0.1
CACHE_FILE = "speed_cache.json"
CACHE_LIMIT = 200

Candidate = tuple  # (memory_format, precision): ("contiguous" | "channels_last", "fp32" | "bf16")
BASELINE: Candidate = ("contiguous", "fp32")


def label(cand: Candidate) -> str:
    mf, prec = cand
    return f"{'channels_last' if mf == 'channels_last' else 'NCHW'} {prec}"


@dataclass
class SpeedChoice:
    """The mode a run uses and why. source: "setting" (no choice to make), "probe", "reused" (from the
    cache) or "resumed" (from the checkpoint of the run being continued)."""

    memory_format: str = "contiguous"
    precision: str = "fp32"
    reason: str = "NCHW fp32 (eager)"
    source: str = "setting"
    probe_seconds: float = 0.0
    step_seconds: dict = field(default_factory=dict)  # candidate label -> median seconds per step

    @property
    def channels_last(self) -> bool:
        return self.memory_format == "channels_last"

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "SpeedChoice | None":
        """A recorded choice, or None when it is not one (an old or edited file)."""
        if not isinstance(d, dict) or d.get("memory_format") not in ("contiguous", "channels_last") \
                or d.get("precision") not in ("fp32", "bf16"):
            return None
        steps = d.get("step_seconds") if isinstance(d.get("step_seconds"), dict) else {}
        probe = d.get("probe_seconds")
        return cls(d["memory_format"], d["precision"], str(d.get("reason", "")), str(d.get("source", "setting")),
                   float(probe) if isinstance(probe, (int, float)) and not isinstance(probe, bool) else 0.0,
                   {str(k): float(v) for k, v in steps.items() if isinstance(v, (int, float))})


# ---- hardware and candidates ----------------------------------------------------------------------
def bf16_native(device: torch.device) -> bool:
    """Whether the device computes bf16 natively (CPU: AVX-512 BF16 or AMX; CUDA: Ampere or newer)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(cpu, probe, None)
        try:
            if fn is not None and fn():
                return True
        except Exception:  # noqa: BLE001 - a private helper that may change between torch versions
            continue
    return False


def candidates(speed: str, precision: str, device: torch.device) -> tuple[list[Candidate], list[str]]:
    """The modes allowed by the settings on this device, plain NCHW fp32 first, and notes on what was left out."""
    notes: list[str] = []
    formats = {"eager": ["contiguous"], "channels_last": ["channels_last"], "auto": ["contiguous", "channels_last"]}[speed]
    native = bf16_native(device)
    if precision == "fp32":
        precs = ["fp32"]
    elif precision == "bf16":
        precs = ["bf16"]
        if not native:
            notes.append(f"bf16 asked for, but this {device.type} has no native bf16 (AVX-512 BF16/AMX): it is emulated and may be slow")
    else:
        precs = ["fp32", "bf16"] if native else ["fp32"]
        if not native:
            notes.append(f"precision auto: fp32, as this {device.type} has no native bf16 (AVX-512 BF16 or AMX)")
    return [(mf, p) for p in precs for mf in formats], notes


# ---- the decision (pure) --------------------------------------------------------------------------
def loss_close(losses: list[float], reference: list[float], tol: float = LOSS_TOLERANCE) -> bool:
    """Whether a run's probe losses follow the reference's: all finite and the mean within ``tol`` (relative)."""
    if not losses or not reference or not all(math.isfinite(v) for v in losses):
        return False
    a, b = statistics.fmean(losses), statistics.fmean(reference)
    return abs(a - b) <= tol * max(abs(b), 1e-3)


def decide(step_seconds: dict, losses: dict, precision: str, steps: int,
           tol: float = LOSS_TOLERANCE, min_gain: float = MIN_GAIN) -> tuple[Candidate, str]:
    """The fastest acceptable candidate and a sentence saying why.

    step_seconds/losses: candidate -> median seconds per step / the probe's loss per step.
    Under precision "auto" a bf16 candidate whose losses stray from fp32's (same memory format, else
    any fp32) is refused; the baseline NCHW fp32 (when timed) is replaced only by one at least
    ``min_gain`` times faster."""
    refused: list[str] = []
    ok: dict = {}
    for cand, sec in step_seconds.items():
        if not (isinstance(sec, (int, float)) and math.isfinite(sec) and sec > 0):
            continue
        if precision == "auto" and cand[1] == "bf16":
            ref = losses.get((cand[0], "fp32")) or next((v for k, v in losses.items() if k[1] == "fp32"), None)
            if ref is None or not loss_close(losses.get(cand, []), ref, tol):
                got = losses.get(cand) or []
                mean = statistics.fmean(got) if got else math.nan
                refmean = statistics.fmean(ref) if ref else math.nan
                refused.append(f"{label(cand)} refused: its loss over the first {steps} steps ({mean:.4g}) is not within "
                               f"{tol:.0%} of fp32's ({refmean:.4g})")
                continue
        ok[cand] = float(sec)
    if not ok:  # nothing timed usable: the baseline, said plainly
        return BASELINE, "; ".join(["NCHW fp32: the probe timed no usable mode", *refused])
    best = min(ok, key=ok.get)
    base = ok.get(BASELINE)
    if base is not None and best != BASELINE and base / ok[best] < min_gain:
        reason = (f"NCHW fp32 kept: {label(best)} only {base / ok[best]:.2f}x faster in a {steps}-step probe "
                  f"(needs {min_gain:.2f}x)")
        best = BASELINE
    elif base is not None and best != BASELINE:
        reason = f"{label(best)} {base / ok[best]:.1f}x faster than NCHW fp32 in a {steps}-step probe"
    elif base is not None:
        others = ", ".join(f"{label(c)} {base / s:.2f}x" for c, s in ok.items() if c != BASELINE)
        reason = f"NCHW fp32 fastest in a {steps}-step probe" + (f" ({others})" if others else "")
    else:
        reason = f"{label(best)} fastest in a {steps}-step probe"
    return best, "; ".join([reason, *refused])


# ---- applying a mode ------------------------------------------------------------------------------
def autocast_context(choice: SpeedChoice | Candidate, device: torch.device):
    """torch.autocast for bf16, else a no-op context (reusable across steps)."""
    prec = choice.precision if isinstance(choice, SpeedChoice) else choice[1]
    if prec == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_memory_format(x: torch.Tensor, memory_format: str) -> torch.Tensor:
    if memory_format == "channels_last" and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def apply_to_model(model: nn.Module, memory_format: str) -> nn.Module:
    """Convert the weights' layout in place (parameters keep their identity, so optimizers stay valid)."""
    if memory_format == "channels_last":
        model.to(memory_format=torch.channels_last)
    return model


# ---- the probe --------------------------------------------------------------------------------------
def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable, make_optimizer: Callable,
            cands: list[Candidate], steps: int, device: torch.device,
            cancel: Callable[[], bool] | None = None, max_seconds: float = PROBE_SECONDS) -> tuple[dict, dict]:
    """Time ``steps`` training steps of each candidate on deep copies, interleaved round by round (a
    busy machine's slow moments then hit every candidate alike); one warm-up step each first.
    Returns (candidate -> median seconds per step, candidate -> loss per timed step). Every
    candidate's step r runs from the same random state, so dropout draws alike."""
    runs = {}
    for cand in cands:
        m = apply_to_model(copy.deepcopy(model), cand[0])
        m.train()
        runs[cand] = (m, make_optimizer([p for p in m.parameters() if p.requires_grad]),
                      to_memory_format(x, cand[0]), autocast_context(cand, device))
    times: dict = {c: [] for c in cands}
    losses: dict = {c: [] for c in cands}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rounds, t_start = steps + 1, time.perf_counter()
    r = 0
    while r < rounds:
        for cand, (m, opt, xb, cast) in runs.items():
            if cancel is not None and cancel():
                return {}, {}
            torch.manual_seed(1000 + r)
            sync()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with cast:
                loss = loss_fn(m(xb), y)
            loss.backward()
            opt.step()
            value = float(loss.detach())
            sync()
            if r > 0:  # step 0 warms up (oneDNN primitives, allocations)
                times[cand].append(time.perf_counter() - t0)
                losses[cand].append(value)
        r += 1
        if r == 1:  # a slow network gets fewer timed rounds (at least one): the probe stays near its budget
            round_s = time.perf_counter() - t_start
            rounds = 1 + max(1, min(steps, int(max_seconds / max(round_s, 1e-9))))
    return {c: statistics.median(t) for c, t in times.items() if t}, losses


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def graph_hash(graph_config: dict) -> str:
    cfg = {k: v for k, v in graph_config.items() if k not in ("name", "description")}
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cache_path():
    from ..core.paths import studio_home

    return studio_home() / CACHE_FILE


def read_cache() -> dict:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def write_cache(key: str, choice: SpeedChoice) -> None:
    """Add one entry (the oldest dropped past CACHE_LIMIT); written atomically; a failure only costs a probe next time."""
    entries = read_cache()
    entries.pop(key, None)
    entries[key] = {**choice.to_dict(), "saved": time.time()}
    while len(entries) > CACHE_LIMIT:
        entries.pop(next(iter(entries)))
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "entries": entries}, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def choose_mode(model: nn.Module, sample: tuple[torch.Tensor, torch.Tensor], loss_fn: Callable,
                make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer], device: torch.device,
                speed: str = "auto", precision: str = "fp32", *, key_parts: dict | None = None,
                steps: int = PROBE_STEPS, cancel: Callable[[], bool] | None = None,
                run_steps: int | None = None, measure_fn: Callable = measure) -> SpeedChoice:
    """The mode to train ``model`` in: the only allowed one, a cached choice, or the probe's.

    sample: one training batch (x, target) on ``device``. key_parts: what identifies the case for
    the cache (graph hash, batch, threads...; None: no cache). run_steps: the optimizer steps the run
    will take (None: unknown); a run too short to repay the probe keeps NCHW fp32. The model, any optimizer and torch's
    random state are left as they were. ``measure_fn`` (same signature as :func:`measure`) lets
    tests give synthetic timings and losses."""
    if speed not in SPEEDS:
        raise ValueError(f"unknown speed {speed!r}; choose one of {', '.join(SPEEDS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    cands, notes = candidates(speed, precision, device)
    if len(cands) == 1:
        mf, prec = cands[0]
        return SpeedChoice(mf, prec, "; ".join([f"{label(cands[0])} as set", *notes]), "setting")
    key = None
    if key_parts is not None:
        key = cache_key({**key_parts, "device": str(device), "threads": torch.get_num_threads(),
                         "torch": torch.__version__, "speed": speed, "precision": precision})
        hit = SpeedChoice.from_dict(read_cache().get(key))
        if hit is not None:
            hit.source = "reused"
            hit.reason = f"reused: {hit.reason}"
            return hit
    probe_steps = len(cands) * (steps + 1)
    if run_steps is not None and probe_steps > PROBE_SHARE * run_steps:
        return SpeedChoice(*BASELINE, f"NCHW fp32: the run's {run_steps} steps are too few to repay a "
                           f"{probe_steps}-step speed probe", "setting")
    t0 = time.perf_counter()
    x, y = sample
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):  # the run's RNG untouched
            step_seconds, losses = measure_fn(model, x, y, loss_fn, make_optimizer, cands, steps, device, cancel)
    except (RuntimeError, ValueError, TypeError) as e:  # a mode this network or device cannot run: the plain one
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        return SpeedChoice(*BASELINE, f"NCHW fp32: the speed probe failed ({text[:120]})", "setting",
                           time.perf_counter() - t0)
    elapsed = time.perf_counter() - t0
    if not step_seconds:
        return SpeedChoice(*BASELINE, "NCHW fp32: the speed probe was cancelled", "setting", elapsed)
    best, reason = decide(step_seconds, losses, precision, steps)
    choice = SpeedChoice(best[0], best[1], "; ".join([reason, *notes]), "probe", elapsed,
                         {label(c): s for c, s in step_seconds.items()})
    if key is not None:
        write_cache(key, choice)
    return choice
