"""How a run executes its steps: memory format (NCHW or channels_last), precision (fp32, bf16
autocast, fp16 CUDA AMP) and whether the network is compiled (torch.compile), chosen by a short
timed probe or set by the user.

``choose_mode`` times a few training steps of each allowed candidate on deep copies of the model
(each with its own optimizer), with torch's random state saved and restored around the probe, so
the real run starts from exactly the state it would have without the probe. The fastest candidate
wins; a candidate must beat plain NCHW fp32 by ``MIN_GAIN`` to be taken (timing noise on a busy
machine). Under ``precision="auto"`` bf16 is only a candidate on hardware with native bf16 and only
when its losses over the probe's steps stay within ``LOSS_TOLERANCE`` of fp32's.

The choice is cached in ``<studio_home>/speed_cache.json`` keyed by the network, batch, device,
threads, torch version and settings, so the next run of the same network skips the probe.

Compiling is a second stage: under ``speed="auto"`` the eager winner is compiled on a copy and
timed only when the run is long enough (``COMPILE_MIN_RUN_SECONDS`` at the eager speed) to repay a
compile, and it is taken when its measured compile time plus the run's steps at the compiled speed
beat the run at the eager speed (:func:`decide_compile`, pure), the compiled steps timed alternately
with eager steps of the same mode after the compile (:func:`measure_compiled`); the trial itself is skipped when even
a ``COMPILE_MAX_SPEEDUP`` step could not repay the compile expected (:func:`worth_a_compile_trial`,
rates measured on this machine kept in the cache). ``speed="compile"`` compiles without timing.

Compiled kernels are kept on disk (:func:`use_compile_cache`: ``<studio_home>/compile-cache`` unless
the user set ``TORCHINDUCTOR_CACHE_DIR``), so a network compiled once (same mode, shapes and torch)
compiles again in a fraction of the time, in a later session too. The speed cache remembers which
networks were compiled into which cache folder (:func:`record_compile`), and the compile expected
for one of them is its measured repeat compile, or :data:`WARM_COMPILE_SHARE` of its first, instead
of the machine's first-compile rate (which only first compiles feed).
Compiles run on copies in a daemon thread (:func:`run_abandonable`), so a cancel returns at once.
fp16 is CUDA AMP with a GradScaler; on other devices fp16 trains in fp32 and says so.

Qt-free; the decisions (:func:`decide`, :func:`decide_compile`) are pure so they can be tested on
synthetic timings and losses.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from .config import PRECISIONS, SPEEDS  # noqa: F401 - the settings' choices, one list
#: a candidate must be this much faster than NCHW fp32 to replace it
MIN_GAIN = 1.05
#: bf16 under precision=auto: largest relative difference of its mean probe loss from fp32's
LOSS_TOLERANCE = 0.05
PROBE_STEPS = 4  # timed steps per candidate (after one warm-up step): ~(4 candidates x 5) steps in all
PROBE_SECONDS = 6.0  # timed rounds are cut to about this after the warm-up round (see PROBE_RUN_SHARE)
#: a run of known length lets its timed rounds take up to this share of the run (at the fastest step
#: timed), up to PROBE_MAX_SECONDS: a big network's steps take 2-3 steps to settle (VGG-11 at 32x32,
#: batch 64, on a 2-core Xeon: 1425, 1452, 606, 601 ms in NCHW fp32), so one timed round after the
#: warm-up, all that PROBE_SECONDS alone allows it, can pick a mode 1.5x slower than the best
PROBE_RUN_SHARE = 0.03
PROBE_MAX_SECONDS = 30.0
#: a candidate is only dropped as clearly slower (DROP_SLOWER) after this many timed rounds
DROP_AFTER_ROUNDS = 3
#: no probe when it would take more than this share of the run's steps (a short run cannot repay it)
PROBE_SHARE = 0.1
#: auto tries compiling only when the run at the eager winner's speed takes at least this long
COMPILE_MIN_RUN_SECONDS = 60.0
#: compiling is taken only when (compile + run compiled) is at least this much shorter than the eager run
COMPILE_MIN_GAIN = 1.05
COMPILE_PROBE_STEPS = 3  # timed compiled steps after the compiling one
#: before paying for a compile trial, a compile is assumed to gain at most this much per step: the
#: trial runs only when that best case over the run repays the compile time expected
COMPILE_MAX_SPEEDUP = 2.0
#: the compile time expected per leaf module (forward and backward graphs, C++ build) until this
#: machine has measured its own (the last measured rates are kept in the cache file); on the 2-core
#: EPYC here lenet5's 12 modules took 20-60 s depending on the load
COMPILE_PRIOR_SECONDS_PER_MODULE = 2.0
#: a repeat compile (the kernels found in the on-disk compile cache) against the network's first
#: compile, until a repeat is measured: lenet5 and tinyvgg at batch 64 took 1.7 s against 16-17 s
#: on the 2-core EPYC here (benchmarks/compile_cache.py)
WARM_COMPILE_SHARE = 0.15
#: auto tries a compile whose code is in the compile cache when the run takes at least this long
#: (a repeat compile costs seconds, where a first one costs tens of seconds: COMPILE_MIN_RUN_SECONDS)
WARM_COMPILE_MIN_RUN_SECONDS = 15.0
COMPILE_CACHE_DIR = "compile-cache"
#: the compile cache is emptied when it grows past this (checked once per process, before a compile)
COMPILE_CACHE_LIMIT_BYTES = 2 << 30
COMPILE_RECORD_LIMIT = 200
#: a candidate this much slower than the fastest after two timed rounds is not timed further
DROP_SLOWER = 2.0
CACHE_FILE = "speed_cache.json"
CACHE_LIMIT = 200

#: (memory_format, precision) or (memory_format, precision, "compile"):
#: ("contiguous" | "channels_last", "fp32" | "bf16" | "fp16"[, "compile"])
Candidate = tuple
BASELINE: Candidate = ("contiguous", "fp32")


def is_compiled(cand: Candidate) -> bool:
    return len(cand) > 2 and cand[2] == "compile"


def label(cand: Candidate) -> str:
    mf, prec = cand[0], cand[1]
    return f"{'channels_last' if mf == 'channels_last' else 'NCHW'} {prec}" + (" compiled" if is_compiled(cand) else "")


def exact_resume(memory_format: str, precision: str, compiled: bool, device: torch.device) -> tuple[bool, str]:
    """Whether a stopped and resumed run repeats the uninterrupted one bit for bit in this mode, and why not."""
    if compiled:
        return False, ("compiled: a resumed run compiles the network again, and the new kernels may round "
                       "differently from the first session's; resume works, the numbers may differ in the last bits")
    if device.type != "cpu" and precision != "fp32":
        return False, (f"{precision} on {device.type}: the accelerator's reduced-precision kernels are not guaranteed "
                       "deterministic; resume works, the numbers may differ in the last bits")
    return True, "exact: a resumed run repeats the uninterrupted one"


@dataclass
class SpeedChoice:
    """The mode a run uses and why. source: "setting" (no choice to make), "probe", "reused" (from the
    cache) or "resumed" (from the checkpoint of the run being continued)."""

    memory_format: str = "contiguous"
    precision: str = "fp32"
    reason: str = "NCHW fp32 (eager)"
    source: str = "setting"
    probe_seconds: float = 0.0
    step_seconds: dict = field(default_factory=dict)  # candidate label -> seconds per step (its fastest probe step)
    compiled: bool = False  # torch.compile of the network
    compile_seconds: float = 0.0  # the probe's compile of a copy (0 when not timed)
    exact_resume: bool = True  # whether a resumed run repeats the uninterrupted one bit for bit
    exact_resume_note: str = ""
    fused_optimizer: bool = False  # the optimizer's fused kernel (fuse_optimizer); set by the trainer
    small_map_grads: bool = False  # convolutions' weight gradients on tiny maps as a matrix product (small_maps.py); set by the trainer
    warmup_seconds: float = 0.0  # a compiled run's compile before its first step (trainer_speed.py; not cached)
    cache_note: str = ""  # the speed cache could not be read (ignored; not itself cached)

    @property
    def channels_last(self) -> bool:
        return self.memory_format == "channels_last"

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    @property
    def fp16(self) -> bool:
        return self.precision == "fp16"

    def settle(self, device: torch.device) -> "SpeedChoice":
        """Fill in exact_resume for this mode on ``device``."""
        self.exact_resume, self.exact_resume_note = exact_resume(self.memory_format, self.precision, self.compiled, device)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "SpeedChoice | None":
        """A recorded choice, or None when it is not one (an old or edited file)."""
        if not isinstance(d, dict) or d.get("memory_format") not in ("contiguous", "channels_last") \
                or d.get("precision") not in ("fp32", "bf16", "fp16"):
            return None
        steps = d.get("step_seconds") if isinstance(d.get("step_seconds"), dict) else {}

        def num(key):
            v = d.get(key)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else 0.0

        return cls(d["memory_format"], d["precision"], str(d.get("reason", "")), str(d.get("source", "setting")),
                   num("probe_seconds"), {str(k): float(v) for k, v in steps.items() if isinstance(v, (int, float))},
                   d.get("compiled") is True, num("compile_seconds"), d.get("exact_resume") is not False,
                   str(d.get("exact_resume_note", "")), d.get("fused_optimizer") is True, d.get("small_map_grads") is True,
                   num("warmup_seconds"))


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
    formats = {"eager": ["contiguous"], "channels_last": ["channels_last"], "auto": ["contiguous", "channels_last"],
               "compile": ["contiguous"]}[speed]  # compile: the precision is probed eagerly, then compiled
    native = bf16_native(device)
    cuda = device.type == "cuda"
    if precision == "fp32":
        precs = ["fp32"]
    elif precision == "bf16":
        precs = ["bf16"]
        if not native:
            notes.append(f"bf16 asked for, but this {device.type} has no native bf16 (AVX-512 BF16/AMX): it is emulated and may be slow")
    elif precision == "fp16":
        precs = ["fp16"] if cuda else ["fp32"]
        if not cuda:
            notes.append(f"fp16 is CUDA mixed precision (autocast with a GradScaler); this {device.type} trains in fp32"
                         + ("; bf16 is the reduced precision this CPU computes natively" if native else ""))
    else:
        precs = ["fp32", *(["bf16"] if native else []), *(["fp16"] if cuda else [])]
        if not native and not cuda:
            notes.append(f"precision auto: fp32, as this {device.type} has no native bf16 (AVX-512 BF16 or AMX)")
    return [(mf, p) for p in precs for mf in formats], notes


def compiler_problem(device: torch.device) -> str | None:
    """Why torch.compile cannot run here (None: it can): inductor needs a C++ compiler for CPU code."""
    import shutil

    if not hasattr(torch, "compile"):
        return "this torch has no torch.compile"
    if device.type == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return "torch.compile needs a C++ compiler (g++ or clang++) for CPU code, and none is installed"
    return None


_FUSABLE = ("Adam", "AdamW", "SGD")


def fuse_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The same optimizer (class, groups, settings) with torch's fused kernel: one kernel updates every
    parameter, where the default steps tensor by tensor in Python (on CPU a big network's Adam step
    is then most of the step: VGG-11's 129M parameters take seconds). Adam, AdamW and SGD on CPU or
    CUDA float parameters; anything else is returned unchanged. Call it before a scheduler is built."""
    cls = type(optimizer)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if cls.__name__ not in _FUSABLE or cls.__module__.split(".")[:2] != ["torch", "optim"] or not params \
            or optimizer.state or any(p.device.type not in ("cpu", "cuda") or not p.is_floating_point() for p in params) \
            or any(g.get("differentiable") for g in optimizer.param_groups):
        return optimizer
    import inspect

    drop = ("fused", "foreach")
    accepted = inspect.signature(cls.__init__).parameters  # (AdamW's defaults hold a key its __init__ does not take)
    groups = [{k: v for k, v in g.items() if k not in drop} for g in optimizer.param_groups]
    try:
        return cls(groups, **{k: v for k, v in optimizer.defaults.items() if k not in drop and k in accepted}, fused=True)
    except (RuntimeError, ValueError, TypeError):  # a torch without this fused kernel: the default one
        return optimizer


QUIET_LOGGERS = ("torch.utils.cpp_extension",)  # "No CUDA runtime is found, using CUDA_HOME=..." when inductor loads on a CPU


#: compiled variants dynamo keeps per code object; its default (8) made a long app session's ninth
#: compiled network of one generated forward (same code, other shapes) train eagerly without a word
RECOMPILE_LIMIT = 64


def compile_module(module: nn.Module) -> nn.Module:
    """torch.compile with static shapes (a different batch size runs eagerly in TrainStep, no recompile).
    Loggers that print build-environment warnings irrelevant to the user's run are kept to errors;
    dynamo's per-code recompile limit is raised to :data:`RECOMPILE_LIMIT` (never lowered); the
    compiled kernels go to the studio's compile cache (:func:`use_compile_cache`)."""
    import logging

    import torch._dynamo.config as dynamo_config

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    use_compile_cache()
    for key in ("recompile_limit", "cache_size_limit"):  # (the older name, where this torch still has it)
        if isinstance(getattr(dynamo_config, key, None), int) and getattr(dynamo_config, key) < RECOMPILE_LIMIT:
            setattr(dynamo_config, key, RECOMPILE_LIMIT)
    return torch.compile(module, dynamic=False)


# ---- the on-disk compile cache ---------------------------------------------------------------------
INDUCTOR_ENV = "TORCHINDUCTOR_CACHE_DIR"
_SET_BY_US: set[str] = set()  # the folders this process pointed inductor at (anything else is the user's)
_CHECKED: set[str] = set()  # the folders whose size was checked in this process
GENERATION_FILE = "cnn-studio-generation"  # a token per folder's life: a record of another life is stale


def _default_inductor_dir() -> str:
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        return os.path.abspath(default_cache_dir())
    except Exception:  # noqa: BLE001 - a torch without it: no default to tell apart
        return ""


def compile_cache_dir() -> tuple[str, bool]:
    """(the folder compiled kernels go to, whether it is the studio's own). The user's
    ``TORCHINDUCTOR_CACHE_DIR`` when they set one (a value neither this module nor inductor's default
    put there), else ``<studio_home>/compile-cache``: kept across sessions, where inductor's default
    sits in the temporary folder that many systems empty at boot."""
    from ..core.paths import studio_home

    current = os.environ.get(INDUCTOR_ENV, "").strip()
    if current and current not in _SET_BY_US and os.path.abspath(current) != _default_inductor_dir():
        return current, False
    return str(studio_home() / COMPILE_CACHE_DIR), True


def _duration(v: Any) -> bool:
    """Whether ``v`` is a real duration or rate: a finite positive number (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _folder_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def compile_cache_generation(path: str) -> str | None:
    """The token of the compile cache folder's current life (None: no such folder or token)."""
    try:
        token = (Path(path) / GENERATION_FILE).read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return token if token.isalnum() and 0 < len(token) <= 64 else None


def use_compile_cache(limit_bytes: int = COMPILE_CACHE_LIMIT_BYTES) -> str:
    """Point inductor at :func:`compile_cache_dir` (before a compile) and return it. The studio's own
    folder gets a generation token (so records of a deleted or emptied cache are known stale) and is
    emptied once it holds more than ``limit_bytes`` (checked once per process); a folder that cannot
    be written leaves inductor's default in place (compiles still work, only colder)."""
    import shutil

    path, ours = compile_cache_dir()
    if not ours:
        return path
    try:
        if path not in _CHECKED:
            _CHECKED.add(path)
            if os.path.isdir(path) and _folder_bytes(path) > limit_bytes:
                shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
        if compile_cache_generation(path) is None:
            (Path(path) / GENERATION_FILE).write_text(os.urandom(8).hex(), encoding="ascii")
    except OSError:
        return os.environ.get(INDUCTOR_ENV, "") or _default_inductor_dir()
    _SET_BY_US.add(path)
    os.environ[INDUCTOR_ENV] = path
    return path


def cache_report() -> dict:
    """What the speed and compile caches hold (``cnn-studio cache``): the speed cache file, its
    entries and compile records, the compile cache folder, whose it is, its size and generation."""
    path = _cache_path()
    data, why = _read_cache_raw()
    folder, ours = compile_cache_dir()
    exists = os.path.isdir(folder)
    return {"speed_cache": str(path), "speed_cache_problem": why,
            "entries": len(data["entries"]) if data else 0,
            "compile_records": len(data.get("compiled") or {}) if data and isinstance(data.get("compiled"), dict) else 0,
            "compile_cache": folder, "compile_cache_is_studios": ours, "compile_cache_exists": exists,
            "compile_cache_bytes": _folder_bytes(folder) if exists else 0,
            "compile_cache_generation": compile_cache_generation(folder) if exists else None}


def clear_caches() -> list[str]:
    """Remove the speed cache file and the studio's own compile cache folder (never a folder the user
    chose with TORCHINDUCTOR_CACHE_DIR); returns what was removed. OSError when something could not be."""
    import shutil

    removed = []
    path = _cache_path()
    if path.exists():
        path.unlink()
        removed.append(str(path))
    folder, ours = compile_cache_dir()
    if ours and os.path.isdir(folder):
        shutil.rmtree(folder)
        removed.append(folder)
        _CHECKED.discard(folder)
    return removed


def compile_key(key_parts: dict, cand: Candidate, device: torch.device) -> str:
    """What identifies one compiled network in the compile records: the case (graph, batch, input),
    the mode, the device and torch (inductor's own cache is keyed the same way, and finer)."""
    return cache_key({**key_parts, "mode": label((*cand[:2], "compile")), "device": str(device), "torch": torch.__version__})


def _compile_records() -> dict:
    records = _read_cache_file().get("compiled")
    return records if isinstance(records, dict) else {}


def compiled_before(key: str | None) -> dict | None:
    """The record of a compile of ``key`` whose kernels should still be in the compile cache: made in
    the folder in use now, in its current life (generation token); else None."""
    if key is None:
        return None
    rec = _compile_records().get(key)
    path, _ = compile_cache_dir()
    if not isinstance(rec, dict) or rec.get("dir") != path or rec.get("generation") != compile_cache_generation(path):
        return None
    return rec if _duration(rec.get("first")) or _repeats(rec) else None


def _repeats(rec: dict) -> list[float]:
    repeats = rec.get("repeats")
    return [float(r) for r in repeats if _duration(r)] if isinstance(repeats, list) else []


def inductor_cache_counts() -> tuple[int, int] | None:
    """(hits, misses) of inductor's FX graph cache in this process so far, or None where this torch
    does not count them. A compile whose misses did not grow generated no new code: it found every
    graph in the compile cache (or dynamo reused code already compiled in this process)."""
    try:
        from torch._dynamo.utils import counters

        c = counters["inductor"]
        return int(c["fxgraph_cache_hit"]), int(c["fxgraph_cache_miss"])
    except Exception:  # noqa: BLE001 - a private counter that may change between torch versions
        return None


def compile_was_warm(before: tuple[int, int] | None, after: tuple[int, int] | None) -> bool | None:
    """Whether a compile between two :func:`inductor_cache_counts` generated no new code (True), some
    (False), or cannot be told (None: no counters)."""
    if before is None or after is None:
        return None
    return after[1] == before[1]


def record_compile(key: str | None, seconds: float, leaf_count: int, warm: bool | None = None) -> None:
    """Note a measured compile of ``key``. ``warm``: whether it generated no new code
    (:func:`compile_was_warm`; None: not known). A cold compile, or one not known to be warm with no
    valid record, is a first one: it sets the record and adds a first-compile rate (seconds per leaf
    module) for networks never compiled. A warm one, or one with a valid record not known to be
    cold, is a repeat: it adds to the record's repeat times (the last 4 kept), starting a record of
    repeats only where none is valid (the speed cache was deleted but the compile cache kept): its
    time says nothing of a first compile. Nothing for a non-finite or non-positive time."""
    if not _duration(seconds):
        return
    if key is None:
        if warm is not True:
            write_cache(None, None, seconds / max(leaf_count, 1))
        return
    path, _ = compile_cache_dir()
    rec = compiled_before(key)
    if warm is False or (rec is None and warm is None):
        rec = {"dir": path, "generation": compile_cache_generation(path), "first": float(seconds), "repeats": []}
        write_cache(None, None, seconds / max(leaf_count, 1), compiled=(key, rec))
        return
    if rec is None:
        rec = {"dir": path, "generation": compile_cache_generation(path), "first": None, "repeats": []}
    rec = {**rec, "repeats": [*_repeats(rec), float(seconds)][-4:]}
    write_cache(None, None, None, compiled=(key, rec))


# ---- the decision (pure) --------------------------------------------------------------------------
def loss_close(losses: list[float], reference: list[float], tol: float = LOSS_TOLERANCE) -> bool:
    """Whether a run's probe losses follow the reference's: all finite and, over the steps both
    took (the probe stops timing a clearly slower candidate early, and step r of every candidate
    starts from the same batch and random state), the mean within ``tol`` (relative). Means over
    different steps would compare a few early, high losses with many later, lower ones."""
    if not losses or not reference or not all(math.isfinite(v) for v in losses):
        return False
    n = min(len(losses), len(reference))
    a, b = statistics.fmean(losses[:n]), statistics.fmean(reference[:n])
    return abs(a - b) <= tol * max(abs(b), 1e-3)


def decide(step_seconds: dict, losses: dict, precision: str, steps: int,
           tol: float = LOSS_TOLERANCE, min_gain: float = MIN_GAIN) -> tuple[Candidate, str]:
    """The fastest acceptable candidate and a sentence saying why.

    step_seconds/losses: candidate -> seconds per step (its fastest timed step) / the probe's loss
    per step; steps: the timed steps (the reason says how many).
    Under precision "auto" a bf16 candidate whose losses stray from fp32's (same memory format, else
    any fp32) is refused; the baseline NCHW fp32 (when timed) is replaced only by one at least
    ``min_gain`` times faster."""
    refused: list[str] = []
    ok: dict = {}
    for cand, sec in step_seconds.items():
        if not (isinstance(sec, (int, float)) and math.isfinite(sec) and sec > 0):
            continue
        if precision == "auto" and cand[1] in ("bf16", "fp16"):
            ref = losses.get((cand[0], "fp32")) or next((v for k, v in losses.items() if k[1] == "fp32"), None)
            if ref is None or not loss_close(losses.get(cand, []), ref, tol):
                got = losses.get(cand) or []
                n = min(len(got), len(ref)) if ref else len(got)  # the steps both took (loss_close)
                mean = statistics.fmean(got[:n]) if n else math.nan
                refmean = statistics.fmean(ref[:n]) if ref and n else math.nan
                refused.append(f"{label(cand)} refused: its loss over the first {n or steps} steps ({mean:.4g}) is not "
                               f"within {tol:.0%} of fp32's ({refmean:.4g})")
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
    if prec == "fp16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def grad_scaler(precision: str, device: torch.device):
    """The GradScaler fp16 needs on CUDA (small gradients would flush to zero), else None."""
    return torch.amp.GradScaler("cuda") if precision == "fp16" and device.type == "cuda" else None


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
            cancel: Callable[[], bool] | None = None, max_seconds: float = PROBE_SECONDS,
            progress: Callable[[dict], None] | None = None, run_steps: int | None = None) -> tuple[dict, dict]:
    """Time up to ``steps`` training steps of each candidate on deep copies, interleaved round by round
    (a busy machine's slow moments then hit every candidate alike); one warm-up step each first.
    Returns (candidate -> its fastest timed step in seconds, candidate -> loss per timed step).

    The timed rounds fit a budget (:func:`probe_budget`: ``max_seconds``, or for a run of
    ``run_steps`` steps a share of it); after each round the rounds left are planned again from the
    last round's time, at least one timed round in all. A candidate's figure is its fastest step,
    not the median: a step costs its work plus whatever slowed it (first touches of new memory,
    oneDNN primitives, another process), and a big network's first 2-3 steps are slow in some
    modes and not others, which a median of few steps carries into the choice. A candidate
    ``DROP_SLOWER`` times slower than the fastest after ``DROP_AFTER_ROUNDS`` timed rounds is not
    timed further (NCHW fp32, the reference of the choice and of bf16's loss check, always is).
    Every candidate's step r runs from the same random state, so dropout draws alike.
    ``progress(info)`` is called before each step: {"stage": "timing", "mode": the candidate's
    label, "round", "rounds" (as planned then), "modes": candidates still timed, "fraction": 0..1
    of the probe done, never less than the last one}."""
    runs = {cand: (step_on_copy(model, loss_fn, make_optimizer, cand, device), to_memory_format(x, cand[0]))
            for cand in cands}
    times: dict = {c: [] for c in cands}
    losses: dict = {c: [] for c in cands}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rounds, t_round = steps + 1, time.perf_counter()
    warm_s = timed_s = fraction = 0.0
    r = 0
    while r < rounds:
        for i, (cand, (step, xb)) in enumerate(runs.items()):
            if cancel is not None and cancel():
                return {}, {}
            if progress is not None:  # (never back: a round planned after the warm-up can make the count grow)
                fraction = max(fraction, min(1.0, (r + i / len(runs)) / rounds))
                progress({"stage": "timing", "mode": label(cand), "round": r, "rounds": rounds, "modes": len(runs),
                          "fraction": fraction})
            torch.manual_seed(1000 + r)
            sync()
            t0 = time.perf_counter()
            _, loss, _ = step(xb, y)  # the step the run takes (step.py)
            value = float(loss.detach())
            sync()
            if r > 0:  # step 0 warms up (oneDNN primitives, allocations)
                times[cand].append(time.perf_counter() - t0)
                losses[cand].append(value)
        r += 1
        now = time.perf_counter()
        round_s, t_round = now - t_round, now
        if r == 1:
            warm_s = round_s
        else:
            timed_s += round_s
        if r >= 1 + DROP_AFTER_ROUNDS and len(runs) > 1:  # a clearly losing candidate is not timed further
            best = min(min(times[c]) for c in runs)
            runs = {c: v for c, v in runs.items() if c == BASELINE or min(times[c]) <= DROP_SLOWER * best}
        # a slow network gets fewer timed rounds (at least one): the probe stays near its budget. After
        # the warm-up round its time is the estimate (an overestimate: warm-up steps are the slow ones)
        fastest = min((min(t) for t in times.values() if t), default=warm_s / max(len(cands), 1))
        budget = probe_budget(max_seconds, run_steps, fastest)
        left = int((budget - timed_s) / max(round_s, 1e-9)) if budget > timed_s else 0
        rounds = max(2, min(steps + 1, r + max(0, left)))
    return {c: min(t) for c, t in times.items() if t}, losses


def probe_budget(max_seconds: float, run_steps: int | None, step_seconds: float) -> float:
    """Seconds the probe's timed rounds may take: ``max_seconds``, or for a run of ``run_steps`` steps
    of about ``step_seconds`` each, ``PROBE_RUN_SHARE`` of that run where it is more, at most
    ``PROBE_MAX_SECONDS`` (pure)."""
    if not run_steps or not (step_seconds > 0 and math.isfinite(step_seconds)):
        return max_seconds
    return max(max_seconds, min(PROBE_MAX_SECONDS, PROBE_RUN_SHARE * run_steps * step_seconds))


_BACKGROUND: list[threading.Thread] = []  # compile threads started here (abandoned ones may still run)


def background_threads() -> list[threading.Thread]:
    """The compile threads of this process still running (an abandoned compile finishes on its own, on
    copies only); tests join them to leave nothing running."""
    _BACKGROUND[:] = [t for t in _BACKGROUND if t.is_alive()]
    return list(_BACKGROUND)


def run_abandonable(fn: Callable[[], Any], cancel: Callable[[], bool] | None, poll: float = 0.05) -> tuple[bool, Any]:
    """``fn()`` in a daemon thread, waited for while ``cancel()`` is checked every ``poll`` seconds:
    (True, its result; its exception is raised here), or (False, None) at once when cancelled. torch
    cannot interrupt a compile, so a cancelled one is abandoned: the thread finishes it by itself and
    its result is dropped. ``fn`` must work on copies (nothing the caller goes on using)."""
    box: dict = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = e

    thread = threading.Thread(target=target, name="cnn-studio-compile", daemon=True)
    background_threads()
    _BACKGROUND.append(thread)
    thread.start()
    while thread.is_alive():
        if cancel is not None and cancel():
            return False, None
        thread.join(poll)
    if "error" in box:
        raise box["error"]
    return True, box.get("result")


def step_on_copy(model: nn.Module, loss_fn: Callable, make_optimizer: Callable, cand: Candidate,
                 device: torch.device, compiled: bool = False):
    """A TrainStep over a deep copy of ``model`` in ``cand``'s memory format and precision (compiled
    where asked), in training mode, with an optimizer of its own: the caller's model is left as it is."""
    from .step import TrainStep

    m = apply_to_model(copy.deepcopy(model), cand[0])
    m.train()
    opt = make_optimizer([p for p in m.parameters() if p.requires_grad])
    return TrainStep(compile_module(m) if compiled else m, loss_fn, opt, autocast=autocast_context(cand, device),
                     scaler=grad_scaler(cand[1], device))


def compiled_step_on_copy(model: nn.Module, loss_fn: Callable, make_optimizer: Callable, cand: Candidate,
                          device: torch.device):
    """:func:`step_on_copy`, compiled: compiling it also compiles the run's model (torch.compile keeps
    the code per module class and shape, so the run's own first compiled step finds it ready)."""
    return step_on_copy(model, loss_fn, make_optimizer, cand, device, compiled=True)


def measure_compiled(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable, make_optimizer: Callable,
                     cand: Candidate, steps: int, device: torch.device,
                     cancel: Callable[[], bool] | None = None) -> tuple[float, float | None, float | None]:
    """Compile a copy of the model in ``cand``'s mode and time it: (seconds of the first step, which
    compiles, median seconds of the next ``steps``, median seconds of eager steps in the same mode
    timed alternately with them); None for both medians when cancelled.

    The compiling step runs in a daemon thread (:func:`run_abandonable`), so a cancel returns at once
    even while compiling; the timed steps run here, in the caller's thread, as the run's own steps
    will (torch ops from a thread just started ran up to 1.5x slower in both modes, eager ones more
    than compiled ones). The eager steps train a copy of their own, step for step beside the compiled
    ones, so a machine that is slower or faster after a compile of tens of seconds than during the
    eager probe before it (a shared host drifts) moves both alike."""
    xb = to_memory_format(x, cand[0])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def timed(step, r) -> float:
        torch.manual_seed(1000 + r)
        sync()
        t0 = time.perf_counter()
        step(xb, y)
        sync()
        return time.perf_counter() - t0

    def compile_first():  # (torch.compile itself too: its first import of inductor takes seconds)
        step = compiled_step_on_copy(model, loss_fn, make_optimizer, cand, device)
        return step, timed(step, 0)

    done, result = run_abandonable(compile_first, cancel)
    if not done:
        return 0.0, None, None
    step, t_compile = result
    eager = step_on_copy(model, loss_fn, make_optimizer, cand, device)
    timed(eager, 0)  # its warm-up (oneDNN primitives, allocations), as in the probe
    times: list[float] = []
    eager_times: list[float] = []
    for r in range(1, steps + 1):
        if cancel is not None and cancel():
            return t_compile, None, None
        first, second = (step, eager) if r % 2 else (eager, step)  # alternate which goes first
        a, b = timed(first, r), timed(second, r)
        times.append(a if first is step else b)
        eager_times.append(b if first is step else a)
    return t_compile, statistics.median(times), statistics.median(eager_times)


def leaf_modules(model: nn.Module) -> int:
    return sum(1 for m in model.modules() if next(m.children(), None) is None)


def expected_compile_seconds(model: nn.Module, key: str | None = None) -> tuple[float, str]:
    """The compile time expected for ``model`` on this machine, and where it comes from: for a network
    compiled here before into the compile cache in use (``key``: :func:`compile_key`), the median of
    its measured repeat compiles, else :data:`WARM_COMPILE_SHARE` of its first; otherwise the median
    of this machine's first-compile rates (seconds per leaf module) times the module count, else the prior."""
    rec = compiled_before(key)
    if rec is not None:
        if _repeats(rec):
            return statistics.median(_repeats(rec)), "compiled here before; its code is in the compile cache"
        return WARM_COMPILE_SHARE * rec["first"], (f"compiled here before in {rec['first']:.0f} s; its code is in "
                                                   "the compile cache")
    rates = [r for r in _read_cache()[2] if _duration(r)]
    n = max(leaf_modules(model), 1)
    if rates:
        return statistics.median(rates) * n, f"{len(rates)} compile(s) measured here"
    return COMPILE_PRIOR_SECONDS_PER_MODULE * n, f"{COMPILE_PRIOR_SECONDS_PER_MODULE:.0f} s per module assumed"


def worth_a_compile_trial(eager_step: float, run_steps: int, expected_compile: float,
                          max_speedup: float = COMPILE_MAX_SPEEDUP, min_gain: float = COMPILE_MIN_GAIN) -> bool:
    """Whether timing a compile can pay: at the best speedup a compile is assumed to reach, the run's
    saving covers the compile expected (a trial that loses costs its compile; one that wins is kept,
    as the run reuses its compiled code). Pure."""
    saving = run_steps * eager_step * (1.0 - 1.0 / max_speedup)
    return saving >= min_gain * expected_compile


def decide_compile(eager_step: float, compile_seconds: float, compiled_step: float, run_steps: int,
                   min_gain: float = COMPILE_MIN_GAIN) -> tuple[bool, str]:
    """Whether compiling repays over the run: compile time + the run at the compiled speed against
    the run at the eager speed (the eager compile step counted once as a step). Pure."""
    eager_total = run_steps * eager_step
    compiled_total = compile_seconds + max(run_steps - 1, 0) * compiled_step
    speedup = eager_step / compiled_step if compiled_step > 0 else 0.0
    if compiled_step < eager_step and eager_total >= min_gain * compiled_total:
        return True, (f"compiled: {speedup:.2f}x per step, so its {compile_seconds:.0f} s compile is repaid over the "
                      f"run's {run_steps} steps (about {eager_total:.0f} s eager, {compiled_total:.0f} s compiled)")
    return False, (f"not compiled: {speedup:.2f}x per step does not repay a {compile_seconds:.0f} s compile over "
                   f"{run_steps} steps (about {eager_total:.0f} s eager, {compiled_total:.0f} s compiled)")


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def graph_hash(graph_config: dict) -> str:
    cfg = {k: v for k, v in graph_config.items() if k not in ("name", "description")}
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cache_path():
    from ..core.paths import studio_home

    return studio_home() / CACHE_FILE


def _read_cache_raw() -> tuple[dict | None, str | None]:
    """(the cache file's JSON object or None, why it could not be read or None)."""
    path = _cache_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as e:
        return None, f"{path}: {e.strerror or type(e).__name__}"
    except ValueError:  # not UTF-8 text
        return None, f"{path} is not a text file"
    try:
        data = json.loads(text)
    except ValueError:
        return None, f"{path} is not valid JSON"
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        return None, f"{path} has no entries table"
    return data, None


def _read_cache_file() -> dict:
    return _read_cache_raw()[0] or {}


def _read_cache() -> tuple[dict, str | None, list]:
    """(entries, why the file could not be read or None, measured first-compile rates)."""
    data, why = _read_cache_raw()
    if data is None:
        return {}, why, []
    rates = data.get("compile_rates")
    return data["entries"], None, rates if isinstance(rates, list) else []


def read_cache() -> dict:
    return _read_cache()[0]


def write_cache(key: str | None, choice: SpeedChoice | None, compile_rate: float | None = None,
                compiled: tuple[str, dict] | None = None) -> None:
    """Add one entry (the oldest dropped past CACHE_LIMIT), a measured first-compile rate (seconds per
    leaf module; the last 8 kept) and/or one compile record (``compiled``: (compile key, record); the
    oldest dropped past COMPILE_RECORD_LIMIT); written atomically; a failure only costs a probe next time."""
    data = _read_cache_file()
    entries = data.get("entries", {})
    rates = data["compile_rates"] if isinstance(data.get("compile_rates"), list) else []
    records = data["compiled"] if isinstance(data.get("compiled"), dict) else {}
    if key is not None and choice is not None:
        entries.pop(key, None)
        entries[key] = {**{k: v for k, v in choice.to_dict().items() if k not in ("cache_note", "warmup_seconds")},
                        "saved": time.time()}
        while len(entries) > CACHE_LIMIT:
            entries.pop(next(iter(entries)))
    if compile_rate is not None and _duration(compile_rate):
        rates = [*rates, compile_rate][-8:]
    if compiled is not None:
        records.pop(compiled[0], None)
        records[compiled[0]] = {**compiled[1], "saved": time.time()}
        while len(records) > COMPILE_RECORD_LIMIT:
            records.pop(next(iter(records)))
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "entries": entries, "compile_rates": rates, "compiled": records},
                                  indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def choose_mode(model: nn.Module, sample: tuple[torch.Tensor, torch.Tensor], loss_fn: Callable,
                make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer], device: torch.device,
                speed: str = "auto", precision: str = "fp32", *, key_parts: dict | None = None,
                steps: int = PROBE_STEPS, cancel: Callable[[], bool] | None = None,
                run_steps: int | None = None, measure_fn: Callable = measure,
                compile_measure_fn: Callable = measure_compiled,
                on_probe: Callable[[], None] | None = None,
                on_progress: Callable[[dict], None] | None = None) -> SpeedChoice:
    """The mode to train ``model`` in: the only allowed one, a cached choice, or the probe's.

    sample: one training batch (x, target) on ``device``. key_parts: what identifies the case for
    the cache (graph hash, batch, threads...; None: no cache). run_steps: the optimizer steps the run
    will take (None: unknown); a run too short to repay the probe keeps NCHW fp32, and compiling is
    only tried under auto when the run is known to be long enough. The model, any optimizer and
    torch's random state are left as they were. ``on_probe()`` is called just before a probe really
    runs (not for one allowed mode, a cache hit or a short run); ``on_progress(info)`` as it goes: the
    timing rounds (:func:`measure`'s ``progress``) and {"stage": "compiling", "mode", "expected_s"}
    before a compile trial. ``measure_fn`` / ``compile_measure_fn`` (signatures
    of :func:`measure` / :func:`measure_compiled`) let tests give synthetic timings and losses."""
    if speed not in SPEEDS:
        raise ValueError(f"unknown speed {speed!r}; choose one of {', '.join(SPEEDS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    cands, notes = candidates(speed, precision, device)
    want_compile, may_compile = speed == "compile", speed == "auto"
    problem = compiler_problem(device) if (want_compile or may_compile) else None
    if problem is not None:
        if want_compile:
            notes.append(f"compile asked for, but {problem}: training eagerly")
        want_compile = may_compile = False
    if len(cands) == 1:
        mf, prec = cands[0]
        text = f"{label(cands[0])}{' compiled' if want_compile else ''} as set"
        return SpeedChoice(mf, prec, "; ".join([text, *notes]), "setting", compiled=want_compile).settle(device)
    key, cache_note = None, ""
    # the compiled code of each eager candidate, where this machine's compile cache already holds it
    warm = {c: compile_key(key_parts, c, device) for c in cands if key_parts is not None and may_compile}
    warm = {c: k for c, k in warm.items() if compiled_before(k) is not None}
    if key_parts is not None:
        key = cache_key({**key_parts, "device": str(device), "threads": torch.get_num_threads(),
                         "torch": torch.__version__, "speed": speed, "precision": precision,
                         **({"run_steps": _magnitude(run_steps), "compile_warm": sorted(map(label, warm))}
                            if may_compile else {})})
        entries, unreadable, _ = _read_cache()
        if unreadable:
            cache_note = f"the speed cache {unreadable}: ignored, probing again (the file is rewritten)"
        hit = SpeedChoice.from_dict(entries.get(key))
        if hit is not None:
            hit.source = "reused"
            hit.reason = f"reused: {hit.reason}"
            return hit.settle(device)
    probe_steps = len(cands) * (steps + 1)
    if run_steps is not None and probe_steps > PROBE_SHARE * run_steps:
        return SpeedChoice(*BASELINE, f"NCHW fp32{' compiled' if want_compile else ''}: the run's {run_steps} steps are "
                           f"too few to repay a {probe_steps}-step speed probe", "setting", compiled=want_compile).settle(device)
    if on_probe is not None:
        on_probe()
    t0 = time.perf_counter()
    x, y = sample
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):  # the run's RNG untouched
            step_seconds, losses = measure_fn(model, x, y, loss_fn, make_optimizer, cands, steps, device, cancel,
                                              **({"progress": on_progress} if on_progress is not None and _takes(measure_fn, "progress") else {}),
                                              **({"run_steps": run_steps} if run_steps is not None and _takes(measure_fn, "run_steps") else {}))
    except (RuntimeError, ValueError, TypeError) as e:  # a mode this network or device cannot run: the plain one
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        return SpeedChoice(*BASELINE, f"NCHW fp32: the speed probe failed ({text[:120]})", "setting",
                           time.perf_counter() - t0).settle(device)
    if not step_seconds:
        return SpeedChoice(*BASELINE, "NCHW fp32: the speed probe was cancelled", "setting",
                           time.perf_counter() - t0).settle(device)
    timed = max((len(v) for v in losses.values() if v), default=steps)  # the rounds the probe really timed
    best, reason = decide(step_seconds, losses, precision, timed)
    parts = [reason]
    compiled, compile_s = want_compile, 0.0
    if want_compile:
        parts.append("compiled as set")
    elif may_compile:
        eager_step = step_seconds.get(best) or min(step_seconds.values())
        ckey = compile_key(key_parts, best, device) if key_parts is not None else None
        expected, basis = expected_compile_seconds(model, ckey)
        min_run = WARM_COMPILE_MIN_RUN_SECONDS if best in warm else COMPILE_MIN_RUN_SECONDS
        if run_steps is None or run_steps * eager_step < min_run:
            run_text = f"about {run_steps * eager_step:.0f} s" if run_steps is not None else "of unknown length"
            parts.append(f"not compiled: the run ({run_text}) is too short to repay a compile")
        elif not worth_a_compile_trial(eager_step, run_steps, expected):
            parts.append(f"not compiled: even {COMPILE_MAX_SPEEDUP:.0f}x faster steps would save less over the run "
                         f"(about {run_steps * eager_step:.0f} s eager) than the {expected:.0f} s compile expected "
                         f"({basis}), so no compile was tried")
        else:
            if on_progress is not None:
                on_progress({"stage": "compiling", "mode": label(best), "expected_s": expected})
            counts = inductor_cache_counts()
            try:
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    compile_s, compiled_step, *rest = compile_measure_fn(model, x, y, loss_fn, make_optimizer, best,
                                                                         COMPILE_PROBE_STEPS, device, cancel)
                    beside = rest[0] if rest else None
            except Exception as e:  # noqa: BLE001 - any compiler failure leaves the eager winner
                text = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
                parts.append(f"not compiled: compiling failed ({text})")
            else:
                if compiled_step is None:
                    return SpeedChoice(*BASELINE, "NCHW fp32: the speed probe was cancelled", "setting",
                                       time.perf_counter() - t0).settle(device)
                if beside is not None:  # eager steps timed alternately with the compiled ones: the fair comparison
                    eager_step = beside
                compiled, text = decide_compile(eager_step, compile_s, compiled_step, run_steps)
                parts.append(text + (" (compiled and eager steps timed alternately after the compile)"
                                     if beside is not None else ""))
                if compile_measure_fn is measure_compiled:  # a real compile: for the next estimate
                    record_compile(ckey, compile_s, leaf_modules(model), compile_was_warm(counts, inductor_cache_counts()))
                step_seconds = {**step_seconds, (*best[:2], "compile"): compiled_step}
    choice = SpeedChoice(best[0], best[1], "; ".join([*parts, *notes]), "probe", time.perf_counter() - t0,
                         {label(c): s for c, s in step_seconds.items()}, compiled, compile_s).settle(device)
    if key is not None:
        write_cache(key, choice)
    choice.cache_note = cache_note
    return choice


def progress_text(info: dict) -> str:
    """One line for the speed probe's progress (:func:`measure`'s / :func:`choose_mode`'s ``progress``
    info), as the app's status line and the command line's progress show it."""
    stage, mode = info.get("stage"), str(info.get("mode") or "")
    if stage == "timing":
        rounds = int(info.get("rounds") or 0)
        step = min(int(info.get("round") or 0) + 1, max(rounds, 1))
        modes = int(info.get("modes") or 0)
        return (f"Choosing the fastest way: timing {mode} (round {step} of {rounds}"
                + (f", {modes} modes left" if modes > 1 else "") + ")")
    if stage == "compiling":
        expected = info.get("expected_s")
        about = f"about {float(expected):.0f} s expected" if isinstance(expected, (int, float)) and expected >= 1 else "a few seconds"
        return f"Compiling the network for {mode} ({about})"
    return ""


def _takes(fn: Callable, name: str) -> bool:
    """Whether ``fn`` accepts the keyword ``name`` (a measure function without ``progress`` still works)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def _magnitude(n: int | None) -> int | None:
    """The run length's order of magnitude (powers of 2) for the cache key: compiling depends on it."""
    return None if n is None else max(int(n), 1).bit_length()
