"""The Trainer's speed plumbing: choosing the mode (speed.py's probe, the cache, the checkpoint's
mode on resume), applying it (memory format, fused optimizer, autocast and GradScaler), the step the
hot loop calls (step.TrainStep, compiled or not), and a compile warm-up that a stop request can
abandon.

A mixin of :class:`~cnn_studio.training.trainer.Trainer` (the methods use the trainer's fields);
split from trainer.py so that file reads as the loop.
"""
from __future__ import annotations

import contextlib
import math
import time

import torch

from .metrics import loss_target
from .optim import build_optimizer
from .step import TrainStep


class SpeedMixin:
    """Mode choice and the step for the Trainer."""

    _speed = None  # speed.SpeedChoice: memory format, precision, compiled; set in _setup
    _train_step: TrainStep | None = None
    _compile_ready = False  # the compile warm-up ran (or there is nothing to compile)

    def _choose_speed(self) -> None:
        """Memory format and precision (speed.py): the checkpoint's when resuming (no re-probe), else the
        settings' only mode or a short timed probe on copies (cached); applied to the model."""
        from . import small_maps
        from .speed import SpeedChoice, apply_to_model, choose_mode, fuse_optimizer

        cfg, b = self.config, self.bundle
        choice = SpeedChoice.from_dict((self._resume_payload or {}).get("speed"))
        if choice is not None:
            choice.source = "resumed"  # (a run recorded before fused optimizers or small-map gradients keeps the default)
        else:
            small_maps.install(self.model)  # before the probe: its copies step as the run will
            xb, target = self._probe_sample()
            choice = choose_mode(
                self.model, (xb, target), self.model.make_loss().to(self.device),
                lambda params: fuse_optimizer(build_optimizer(params, cfg)),  # the probe steps as the run will
                self.device, cfg.speed, cfg.precision, cancel=self._stop.is_set,
                run_steps=math.ceil(len(b.train.y) / cfg.batch_size) * cfg.epochs,
                key_parts=self._speed_key_parts(),
                on_probe=self._announce_probe,  # only when a probe really runs
                on_progress=self._probe_progress,
            )
            choice.fused_optimizer = True  # tried for every new run (fuse_optimizer keeps the default where it cannot)
            choice.small_map_grads = True
        if choice.small_map_grads:
            small_maps.install(self.model)  # (removed again when the run ends: Trainer.fit)
        else:
            small_maps.uninstall(self.model)
        choice.settle(self.device)
        apply_to_model(self.model, choice.memory_format)
        self._speed = choice
        if choice.cache_note:
            self.state.notes.append(choice.cache_note)
        if choice.source != "setting" or (cfg.speed, cfg.precision) != ("eager", "fp32"):
            self.state.notes.append(f"speed: {choice.reason}" + (" (the mode recorded when the run started)" if choice.source == "resumed" else ""))
        if not choice.exact_resume:
            self.state.notes.append(f"resume: not bit-exact in this mode ({choice.exact_resume_note})")

    def _speed_key_parts(self) -> dict:
        """What identifies this case in the speed cache and the compile records: graph, batch, input."""
        from .speed import graph_hash

        b = self.bundle
        return {"graph": graph_hash(self.graph.to_config()), "batch": min(self.config.batch_size, len(b.train.y)),
                "input": list(b.input_shape())}

    def _announce_probe(self) -> None:
        for cb in self.callbacks.callbacks:  # an optional hook (the app's "choosing..." text)
            hook = getattr(cb, "on_speed_probe", None)
            if hook is not None:
                hook(self)

    def _probe_progress(self, info: dict) -> None:
        for cb in self.callbacks.callbacks:  # an optional hook: which mode the probe times now, or a compile
            hook = getattr(cb, "on_speed_progress", None)
            if hook is not None:
                hook(self, info)

    def _probe_sample(self):
        """One training batch (the first ``batch_size`` images, normalised) and its loss target, on the device."""
        b, n = self.bundle, min(self.config.batch_size, len(self.bundle.train.y))
        ds = b.train.dataset
        xb = b.normalize(torch.stack([ds[i][0] for i in range(n)]).to(self.device))
        y = b.train.y[:n].to(self.device)
        return xb, (loss_target("mse", y, int(b.num_classes)) if self.model.loss_type == "mse" else y)

    def _setup_speed(self) -> None:
        """After the model's mode is chosen and the optimizer built: the fused optimizer, CUDA autocast
        and the fp16 GradScaler."""
        from .speed import fuse_optimizer

        if self.device.type == "cuda" and self._speed.precision in ("fp16", "bf16"):
            self._amp = True  # CUDA autocast (fp16 with a GradScaler, bf16 without)
        if self._speed.fused_optimizer:
            self.optimizer = fuse_optimizer(self.optimizer)  # one kernel for all parameters (speed.py)
            self._speed.fused_optimizer = bool(self.optimizer.defaults.get("fused"))
        self.scaler = torch.amp.GradScaler("cuda") if (self._amp and not self._speed.bf16) else None  # fp16 needs it

    def _autocast(self):
        from .speed import autocast_context

        speed = self._speed
        if self._amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16 if (speed is not None and speed.bf16) else torch.float16)
        return autocast_context(speed, self.device) if speed is not None else contextlib.nullcontext()

    def _compile_warmup(self) -> bool:
        """For a compiled run, before its first step: compile a copy of the network in a daemon thread
        (speed.run_abandonable) and wait for it while honouring a stop request, so a stop during a
        compile returns at once (the abandoned compile ends by itself, on the copy). The run's own
        module then finds the compiled code ready. A compile that fails here makes the run eager
        (noted). False when stopped while compiling."""
        speed = self._speed
        if self._compile_ready or speed is None or not speed.compiled:
            self._compile_ready = True
            return True
        from .speed import compiled_step_on_copy, grad_scaler, run_abandonable

        self._announce_probe()  # the app says "choosing / preparing" while this runs
        from .speed import (compile_key, compile_was_warm, expected_compile_seconds, inductor_cache_counts, label,
                            leaf_modules, record_compile)

        cand = (speed.memory_format, speed.precision)
        ckey = compile_key(self._speed_key_parts(), cand, self.device)
        self._probe_progress({"stage": "compiling", "mode": label((*cand, "compile")),
                              # the probe's compile left its code ready: this one is short
                              "expected_s": None if speed.compile_seconds else expected_compile_seconds(self.train_model, ckey)[0]})
        xb, target = self._probe_sample()
        xb = xb.contiguous(memory_format=torch.channels_last) if speed.channels_last and xb.dim() == 4 else xb
        autocast = self._autocast()
        scaler = grad_scaler("fp16", self.device) if self.scaler is not None else None
        copy_of = self.train_model

        def warm():  # in the daemon thread: torch.compile's first import of inductor takes seconds too
            # (the optimizer is not compiled: a stateless one keeps the copy's memory to the weights and gradients)
            step = compiled_step_on_copy(copy_of, self.criterion, lambda p: torch.optim.SGD(p, lr=0.0),
                                         (speed.memory_format, speed.precision), self.device)
            step.autocast, step.scaler = autocast, scaler
            step(xb, target)

        counts, t0 = inductor_cache_counts(), time.perf_counter()
        try:
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                done, _ = run_abandonable(warm, self._stop.is_set)
        except Exception as e:  # noqa: BLE001 - any compiler failure: the run trains eagerly
            text = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            self.state.notes.append(f"torch.compile failed while compiling ({text}); training eagerly instead")
            speed.compiled = False
            speed.reason += "; compiling failed, eager"
            speed.settle(self.device)
            done = True
        speed.warmup_seconds = time.perf_counter() - t0
        if done and speed.compiled and not speed.compile_seconds:  # this was the compile (no probe compiled a copy)
            record_compile(ckey, speed.warmup_seconds, leaf_modules(self.train_model),
                           compile_was_warm(counts, inductor_cache_counts()))
        if done:
            self._compile_ready = True
        else:
            self.state.notes.append("stopped while compiling the network (the compile was abandoned)")
        return done

    def _make_step(self) -> TrainStep:
        """The step of this run's mode (step.py): autocast for bf16 / CUDA AMP, the GradScaler for fp16,
        the compiled module for speed "compile" (eager again if compiling fails on the first step)."""
        speed = self._speed
        model, fallback = self.train_model, None
        if speed is not None and speed.compiled:
            from .speed import compile_module

            model, fallback = compile_module(self.train_model), self.train_model
        self._train_step = TrainStep(model, self.criterion, self.optimizer, autocast=self._autocast(), scaler=self.scaler,
                                     check_loss=self._sync_every_batch, fallback=fallback)
        return self._train_step
