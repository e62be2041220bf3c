"""``cnn-studio train``: headless training on the same engine the app uses.

    cnn-studio train MODEL [--data NAME_OR_PATH] [--epochs N] [--batch-size B] [--lr X] ...
    cnn-studio train --resume RUN_DIR [--epochs N]

MODEL is a template name or a project file. A template is built for the data: its channels, image
size and class count. A project keeps its network: the data is converted to the project's input
shape, and when the data has another class count the Fully connected layer feeding the loss (inside a
block too) is refitted to it, with one line saying so (core/adapt.refit_classes, the app's Fit to data).

``--data`` takes ``shapes`` (the built-in set, the default) or a path. The built-in set takes options
after a colon: ``shapes:train=512,test=128,size=16`` (``train``/``test`` sizes, ``size`` or
``height``/``width``, ``channels``); the shape options also work after any path name that does not
exist as given (``digits.npz:size=28,channels=1``).

Progress goes to stderr: one refreshing line on a terminal; otherwise (a log, CI) a plain line at
least every 5 seconds and one per epoch. The summary goes to stdout. Ctrl+C stops after the current batch, writes a resumable checkpoint, prints how to
resume and exits with 130. Bad input exits with 2 and one line on stderr; a run stopped by a NaN/inf
loss exits with 1.
"""
from __future__ import annotations

import math
import os
import re
import signal
import sys
import threading
import time

from .cli import UsageError, choice, int_at_least

EXIT_INTERRUPTED = 130
EXIT_DIVERGED = 1

_DATA_OPTS = {"train": "shapes_train", "test": "shapes_test", "size": None, "height": "height", "width": "width", "channels": "channels"}


# ---- argument types (messages name the option and give an example) ----------------------------------
def _positive_float(name: str):
    def conv(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise UsageError(f"{name} must be a number, e.g. {name} 0.001; got '{text}'") from None
        if not math.isfinite(v) or v <= 0:
            raise UsageError(f"{name} must be a positive number, e.g. {name} 0.001; got '{text}'")
        return v
    return conv


def _nonneg_float(name: str, hi: float = math.inf):
    def conv(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise UsageError(f"{name} must be a number; got '{text}'") from None
        if not math.isfinite(v) or v < 0 or v > hi:
            raise UsageError(f"{name} must be a number from 0{'' if hi == math.inf else f' to {hi:g}'}; got '{text}'")
        return v
    return conv


def parse_data_spec(spec: str) -> tuple[str, dict]:
    """``"shapes:train=512,size=16"`` -> ``("shapes", {"shapes_train": 512, "height": 16, "width": 16})``.

    A spec that exists as a path is taken as it is, colons and all."""
    if os.path.exists(spec) or ":" not in spec:
        return spec, {}
    source, _, opts = spec.rpartition(":")
    if not source or re.fullmatch(r"[A-Za-z]", source) or "=" not in opts:  # 'C:\\data' or a plain path
        return spec, {}
    out: dict = {}
    for item in opts.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if key not in _DATA_OPTS or not sep:
            raise UsageError(f"unknown data option '{item}' in '{spec}'; use {', '.join(k + '=N' for k in _DATA_OPTS)}")
        try:
            n = int(value)
        except ValueError:
            raise UsageError(f"data option '{key}' needs a whole number, got '{value}' in '{spec}'") from None
        if key == "size":
            out["height"] = out["width"] = n
        else:
            out[_DATA_OPTS[key]] = n
    if ("shapes_train" in out or "shapes_test" in out) and source != "shapes":
        raise UsageError(f"train= and test= sizes apply to the built-in 'shapes' data only, not to '{source}'")
    return source, out


# ---- progress display ---------------------------------------------------------------------------
def _fmt_eta(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _num(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4f}"


#: seconds between plain progress lines when stderr is not a terminal (logs, CI)
PLAIN_PROGRESS_EVERY_S = 5.0


def _progress_callback(stream=None, every_s: float | None = None, clock=time.monotonic):
    from .training import Callback

    class ConsoleProgress(Callback):
        """One refreshing line on a terminal (at most 10 times a second). Not a terminal: a plain
        line at the first metrics read-back after every ``every_s`` seconds, and one per epoch."""

        def __init__(self, stream):
            self.stream = stream
            self.tty = bool(getattr(stream, "isatty", lambda: False)())
            self.every_s = PLAIN_PROGRESS_EVERY_S if every_s is None else every_s
            self._last_plain = clock()
            self._last_draw = 0.0
            self._width = 0
            self._notes_shown = 0
            self._probe_said = False  # the speed probe's start is said once

        def _write(self, text: str) -> None:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                pass

        def _clear(self) -> None:
            if self.tty and self._width:
                self._write("\r" + " " * self._width + "\r")
                self._width = 0

        def _notes(self, trainer) -> None:
            notes = trainer.state.notes
            for n in notes[self._notes_shown:]:
                self._clear()
                self._write(f"note: {n}\n")
            self._notes_shown = len(notes)

        def _fit_start(self, trainer):
            b, st = trainer.bundle, trainer.state
            parts = [f"train {len(b.train.y)}"]
            if b.val is not None:
                parts.append(f"val {len(b.val.y)}")
            if getattr(b, "test", None) is not None:
                parts.append(f"test {len(b.test.y)}")
            shape = "x".join(map(str, b.input_shape()))
            start = f", resuming at epoch {st.epoch + 1}" + (f" batch {trainer._start_batch + 1}" if trainer._start_batch else "") if st.global_step else ""
            self._write(f"training '{trainer.name}' on {b.num_classes} classes ({', '.join(parts)}; {shape}) on {st.device}{start}\n")
            self._write(f"run folder: {trainer.run_dir.path}\n")
            self._notes(trainer)

        def on_fit_start(self, trainer):
            self._last_plain = clock()
            self._fit_start(trainer)

        def on_speed_probe(self, trainer):  # a timed speed probe (or a compile) starts: say so before it runs
            if self._probe_said:  # (a compiled run's warm-up announces itself again)
                return
            self._probe_said = True
            self._clear()
            self._write("choosing the fastest way to run this network (a few timed steps per mode; Ctrl+C stops)\n")

        def on_speed_progress(self, trainer, info):
            from .training.speed import progress_text

            text = progress_text(info)
            if info.get("stage") == "compiling":  # seconds to minutes: always its own line
                self._clear()
                self._write(text + "\n")
            elif self.tty and text:  # the timing rounds: the refreshing line only
                self._clear()
                self._write(text[: 119])
                self._width = min(len(text), 119)

        def on_batch_end(self, trainer, m):
            if not m["synced"]:
                return
            now = clock()
            st = trainer.state
            if self.tty:
                if now - self._last_draw < 0.1 and m["batch"] < st.batches_per_epoch:
                    return
                self._last_draw = now
            elif now - self._last_plain < self.every_s or m["batch"] >= st.batches_per_epoch:
                return  # (an epoch's last batch: its epoch line follows)
            line = (f"epoch {m['epoch']}/{st.epochs}  batch {m['batch']}/{st.batches_per_epoch}  loss {_num(m['loss'])}  "
                    f"acc {_pct(m['accuracy'])}  {m['samples_per_sec']:.0f} samples/s  ETA {_fmt_eta(m['eta_s'])}")
            if self.tty:
                self._write("\r" + line.ljust(self._width))
                self._width = len(line)
            else:
                self._last_plain = now
                self._write(line + "\n")

        def on_epoch_end(self, trainer, m):
            st = trainer.state
            self._last_plain = clock()  # validation may take a while: the next plain line is every_s after this one
            self._clear()
            sps = m.get("samples_per_sec")
            line = (f"epoch {m['epoch']}/{st.epochs}  loss {_num(m['train_loss'])}  acc {_pct(m['train_accuracy'])}  "
                    f"val_loss {_num(m['val_loss'])}  val_acc {_pct(m['val_accuracy'])}  lr {m['lr']:.3g}  "
                    f"{(sps or 0):.0f} samples/s  {m['seconds']:.1f}s  ETA {_fmt_eta(st.eta_s)}")
            self._write(line + "\n")
            self._notes(trainer)

        def on_fit_end(self, trainer):
            self._clear()
            self._notes(trainer)

    return ConsoleProgress(stream if stream is not None else sys.stderr)


# ---- the command ------------------------------------------------------------------------------------
_TRAIN_FLAGS = ("data", "data_format", "batch_size", "lr", "optimizer", "schedule", "weight_decay", "momentum",
                "augment", "early_stopping", "monitor", "seed", "val_fraction", "out", "amp", "deterministic", "init_from",
                "init_partial", "freeze", "frozen_bn_train")


def _freeze_names(graph, text: str) -> list[str]:
    """The layers ``--freeze`` names, refusing an empty list and top-level layers without weights by name
    (freezing them would do nothing, which is surely not what was meant)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--freeze got no layer names; give node ids separated by commas, e.g. --freeze c1,c3")
    weightless = [n for n in names if "/" not in n and n in graph and graph.node(n).type != "block"
                  and not graph.node(n).spec.has_weights]
    if weightless:
        raise UsageError(f"--freeze: {', '.join(weightless)} {'has' if len(weightless) == 1 else 'have'} no weights to freeze; "
                         "name layers with weights (convolutions, fully connected, normalization), e.g. --freeze c1,c3")
    return names


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "train",
        help="train a template or project on a data set (headless)",
        description="Train a network without the GUI. Writes a run folder with config.json, metrics.csv, "
        "summary.json and checkpoints/{last,best}.pt. Ctrl+C stops cleanly; continue with --resume.",
        epilog="Exit status: 0 finished (or stopped early), 1 stopped because the loss became NaN/inf, "
        "2 bad input, 130 interrupted with Ctrl+C (resumable).",
    )
    s.add_argument("model", nargs="?", metavar="MODEL", help="template name or project file; left out with --resume")
    s.add_argument("--data", metavar="NAME_OR_PATH",
                   help="'shapes' (built-in, default; options like shapes:train=512,test=128,size=16) or a data set folder/file")
    s.add_argument("--data-format", metavar="F", help="auto (default), folder, idx, cifar, csv or npz")
    s.add_argument("--epochs", type=int_at_least("--epochs", 1), metavar="N", help="epochs in total (default 10; with --resume: the new total)")
    s.add_argument("--batch-size", type=int_at_least("--batch-size", 1), metavar="B", help="batch size (default 64)")
    s.add_argument("--lr", type=_positive_float("--lr"), metavar="X", help="learning rate (default 0.003, the one-cycle peak)")
    s.add_argument("--optimizer", type=choice("optimizer", ("sgd", "adam", "adamw", "rmsprop")), metavar="NAME",
                   help="sgd, adam (default), adamw or rmsprop")
    s.add_argument("--momentum", type=_nonneg_float("--momentum", 1.0), metavar="M", help="momentum for sgd/rmsprop (default 0.9)")
    s.add_argument("--schedule", type=choice("schedule", ("constant", "step", "cosine", "onecycle", "plateau")), metavar="NAME",
                   help="learning-rate schedule: onecycle (default), constant, step, cosine or plateau")
    s.add_argument("--weight-decay", type=_nonneg_float("--weight-decay"), metavar="W", help="weight decay (default 0)")
    s.add_argument("--augment", metavar="SPEC", help="training augmentation, e.g. hflip,shift=0.1,zoom=0.1,rotate=10")
    s.add_argument("--early-stopping", type=int_at_least("--early-stopping", 1), metavar="PATIENCE",
                   help="stop after PATIENCE epochs without improvement of --monitor")
    s.add_argument("--monitor", type=choice("monitor", ("val_loss", "val_accuracy")), metavar="M",
                   help="val_loss (default) or val_accuracy: picks best.pt and drives early stopping")
    s.add_argument("--device", metavar="D", help="auto (default), cpu, cuda, cuda:N or mps")
    s.add_argument("--amp", action="store_true", default=None, help="mixed precision (CUDA only)")
    s.add_argument("--speed", type=choice("speed", ("auto", "eager", "channels_last", "compile")), metavar="MODE",
                   help="eager (default: NCHW), channels_last, compile (torch.compile; needs a C++ compiler on CPU), or auto "
                        "(a short timed probe picks the faster layout, and compiles when the run is long enough to repay it; "
                        "cached per network)")
    s.add_argument("--precision", type=choice("precision", ("fp32", "bf16", "fp16", "auto")), metavar="P",
                   help="fp32 (default), bf16 (autocast), fp16 (CUDA mixed precision with a GradScaler; other devices "
                        "train in fp32 and say so), or auto (reduced precision only if the probe finds it faster and its "
                        "loss close to fp32's)")
    s.add_argument("--layer-stats-every", type=int_at_least("--layer-stats-every", 0), metavar="N",
                   help="record layer statistics (weight/gradient norms and histograms) every N steps, plus dead and "
                        "saturated units at each epoch end, in layer_stats.npz (default 50; 0 = off); see `cnn-studio stats`")
    s.add_argument("--tensorboard", nargs="?", const="", default=None, metavar="DIR",
                   help="also write TensorBoard event files (scalars, weight/gradient histograms per epoch, the graph): in "
                        "RUN_DIR/tensorboard, or in DIR/<run name> so 'tensorboard --logdir DIR' compares runs; needs "
                        "pip install 'cnn-studio[tensorboard]'. Works with --resume")
    s.add_argument("--deterministic", action="store_true", default=None, help="deterministic kernels (slower on GPU)")
    s.add_argument("--seed", type=int_at_least("--seed", 0), metavar="S", help="random seed (default 0)")
    s.add_argument("--val-fraction", type=_nonneg_float("--val-fraction", 0.9), metavar="F",
                   help="share of the training data held out for validation (default 0.1)")
    s.add_argument("--out", metavar="DIR", help="run folder (default <studio home>/runs/<name>-<time>); a folder that holds a "
                   "run already is refused (continue it with --resume, or add --overwrite)")
    s.add_argument("--overwrite", action="store_true", help="with --out: replace the run that folder holds (its checkpoints, "
                   "metrics and summary are deleted)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    s.add_argument("--init-from", metavar="WEIGHTS", help="start from saved weights instead of random ones: a run folder (its "
                   "best.pt), a .pt checkpoint or state_dict, or a .safetensors file; every key and shape must fit the network "
                   "(or add --init-partial); the matched, missing and mismatched keys are printed first")
    s.add_argument("--init-partial", action="store_true", default=None, help="with --init-from: load the tensors that match "
                   "in name and shape and leave the others (e.g. a classifier for another class count) at their initial values")
    s.add_argument("--freeze", metavar="NODE[,NODE...]", help="layers (node ids, or INSTANCE/LAYER paths inside blocks such as layer1/0/conv1) whose weights stay fixed while the rest trains "
                   "(their batch norm stays in eval mode)")
    s.add_argument("--frozen-bn-train", action="store_true", default=None, help="with --freeze: batch norm in frozen layers "
                   "still follows the data (train mode, running statistics updated); by default it stays in eval mode")
    s.add_argument("--workers", type=int_at_least("--workers", 0), metavar="N", help="threads that decode images while loading (0 = none)")
    s.add_argument("--threads", type=int_at_least("--threads", 1), metavar="N", help="CPU threads torch computes with (default: Auto, which times its own batches and follows the cores other "
                   "programs leave free; a fixed N makes runs repeatable bit for bit)")
    s.add_argument("--distributed", action="store_true",
                   help="one process of a torchrun job (DistributedDataParallel; --batch-size is the global batch); "
                        "see docs/distributed.md")
    s.set_defaults(func=cmd_train)


def _train_config(args, base: dict):
    from .training import TrainConfig

    d = dict(base)
    for arg, key in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"), ("optimizer", "optimizer"),
                     ("momentum", "momentum"), ("schedule", "schedule"), ("weight_decay", "weight_decay"), ("device", "device"),
                     ("seed", "seed"), ("threads", "num_threads"), ("monitor", "monitor"), ("amp", "amp"),
                     ("deterministic", "deterministic"), ("speed", "speed"), ("precision", "precision"),
                     ("layer_stats_every", "layer_stats_every")):
        v = getattr(args, arg)
        if v is not None:
            d[key] = v
    if getattr(args, "init_from", None):
        d["init_from"] = os.path.abspath(args.init_from)  # recorded in the run, so found from any folder
    if getattr(args, "init_partial", None):
        if not getattr(args, "init_from", None):
            raise UsageError("--init-partial needs --init-from WEIGHTS (the weights to take the matching tensors from)")
        d["init_partial"] = True
    if getattr(args, "frozen_bn_train", None):
        d["frozen_bn_eval"] = False
    if args.early_stopping is not None:
        d["early_stopping"] = True
        d["patience"] = args.early_stopping
    return TrainConfig.from_dict(d)


def _project_training(graph) -> dict:
    """Training settings saved in a project file (unknown keys are left to the app)."""
    from dataclasses import fields

    from .training import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    t = graph.training if isinstance(getattr(graph, "training", None), dict) else {}
    return {k: v for k, v in t.items() if k in known}


def _has_fixed_size(bundle) -> bool:
    """False when the source's images differ in size (the data layer then picks the most common one)."""
    flag = getattr(bundle, "size_chosen", None)
    if flag is not None:
        return not flag
    return not any("the most common size" in str(w) for w in getattr(bundle, "warnings", ()))


def _prepare_new_run(args):
    """Build (graph, bundle, data_config, train_config) for a fresh run."""
    from .cli import load_model_arg, reshape_graph
    from .core import templates
    from .core.errors import GraphError
    from .core.project import load_project
    from .data import AugmentConfig, DataConfig, load_dataset

    if not args.model:
        raise UsageError("give MODEL (a template or project file) or --resume RUN_DIR")
    is_template = args.model in templates.names()
    if not is_template and not os.path.exists(args.model):
        raise UsageError(f"'{args.model}' is neither a template ({', '.join(templates.names())}) nor an existing project file")
    source, data_opts = parse_data_spec(args.data or "shapes")
    if source != "shapes" and os.path.exists(source):
        source = os.path.abspath(source)  # so --resume works from any folder
    dc = {"source": source, **data_opts}
    if args.data_format:
        dc["format"] = args.data_format
    if args.val_fraction is not None:
        dc["val_fraction"] = args.val_fraction
    if args.seed is not None:
        dc["seed"] = args.seed
    if args.workers is not None:
        dc["workers"] = args.workers
    if args.augment is not None:
        dc["augment"] = AugmentConfig.parse(args.augment).to_dict()
    graph = None
    if not is_template:
        graph = load_project(args.model)
        inp = graph.input_node()
        if inp is None:
            raise UsageError(f"the project '{args.model}' has no Input layer")
        # the data is converted to the project's input shape
        dc["channels"], dc["height"], dc["width"] = (inp.config.get("channels"), inp.config.get("height"), inp.config.get("width"))
    data_config = DataConfig.from_dict(dc)
    bundle = load_dataset(data_config)
    if graph is None and not _has_fixed_size(bundle) and data_config.height is None and data_config.width is None:
        # images of mixed sizes: the template's own input size is as good a choice as the most common one
        _, th, tw = templates.get(args.model).default_input
        data_config = DataConfig.from_dict({**data_config.to_dict(), "height": th, "width": tw})
        bundle = load_dataset(data_config)
    if graph is None:
        graph = load_model_arg(args.model, tuple(int(v) for v in bundle.input_shape()), int(bundle.num_classes))
    else:
        # the classifier is refitted to the data's classes, inside a block too (as the app's Fit to data;
        # a block other instances share gets its own copy first); --init-from then reports its keys mismatched
        try:
            notes = reshape_graph(graph, None, int(bundle.num_classes))
        except GraphError as e:
            raise UsageError(f"the project '{os.path.basename(args.model)}' cannot be fitted to the data's {bundle.num_classes} classes: {e}") from None
        for note in notes:
            print(f"cnn-studio: {note}", file=sys.stderr)
    if getattr(args, "freeze", None) is not None:  # frozen nodes are part of the network the run records
        from .training.freeze import freeze_nodes

        names = _freeze_names(graph, args.freeze)
        # node ids, or INSTANCE/LAYER paths into blocks; a shared definition's layer freezes in each instance (noted)
        for note in freeze_nodes(graph, names):
            print(f"cnn-studio: {note}", file=sys.stderr)
    cfg = _train_config(args, _project_training(graph))
    if not is_template and not getattr(args, "init_from", None):  # an explicit --init-from wins
        _start_from_imported(graph, cfg)
    return graph, bundle, data_config, cfg


def _start_from_imported(graph, cfg) -> None:
    """A project imported from ONNX starts from the weights its ``meta.initial_weights`` names, as
    in the app (app/files.py start_from_weights): the tensors that fit (init_partial). One line says
    so; one line says why not when the file is gone, unreadable or fits no longer."""
    from .cli_export import imported_weights

    path, report, problem = imported_weights(graph)
    if path is None:
        return
    if problem is not None:
        print(f"cnn-studio: note: {problem}; training starts from fresh weights (--init-from WEIGHTS picks others)", file=sys.stderr)
        return
    cfg.init_from, cfg.init_partial = path, True
    print(f"starting from the imported weights {path} ({report.counts()}); --init-from WEIGHTS starts from others")


def cmd_train(args) -> int:
    if not getattr(args, "distributed", False):
        return _cmd_train(args, None)
    from .training.distributed import distributed_session, torchrun_env

    if torchrun_env() is None:
        raise UsageError("--distributed needs the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); "
                         "launch with: torchrun --nproc_per_node=N -m cnn_studio train ... --distributed")
    with distributed_session(args.device) as info:
        return _cmd_train(args, info)


def _cmd_train(args, dist_info) -> int:
    from .training import Trainer
    from .training.distributed import DistributedTrainer

    main = dist_info is None or dist_info.rank == 0  # under torchrun only rank 0 prints
    trainer_cls = DistributedTrainer if dist_info is not None else Trainer
    progress = _progress_callback() if main else None
    cbs = [progress] if progress is not None else []
    if getattr(args, "tensorboard", None) is not None:  # made before any data is loaded: a missing package fails at once
        from .core import templates
        from .training.tensorboard import TensorBoardLogger

        tb = args.tensorboard
        if tb and not args.model and not args.resume and (tb in templates.names() or tb.endswith(".cnnstudio")):
            raise UsageError(f"--tensorboard took '{tb}' as its folder, which left no MODEL; put --tensorboard after the model "
                             f"(cnn-studio train {tb} ... --tensorboard) or give it a folder (--tensorboard DIR)")

        if tb and os.path.exists(tb) and not os.path.isdir(tb):
            raise UsageError(f"--tensorboard '{tb}' is a file, not a folder; give a folder (made if missing), or leave DIR "
                             "out to write into RUN_DIR/tensorboard")
        cbs.append(TensorBoardLogger(args.tensorboard or None))
    if args.resume:
        if args.model:
            raise UsageError("give either MODEL or --resume RUN_DIR, not both (a resumed run keeps its model)")
        fixed = [f"--{k.replace('_', '-')}" for k in _TRAIN_FLAGS if getattr(args, k, None) is not None]
        if fixed:
            raise UsageError(f"{', '.join(fixed)} cannot change when resuming; a resumed run keeps its settings (only --epochs, --device, --threads, --workers may change)")
        if args.overwrite:
            raise UsageError("--overwrite applies to a new run with --out; --resume continues the run in its folder")
        if not os.path.isdir(args.resume):
            raise UsageError(f"run folder '{args.resume}' does not exist; give the folder a previous 'cnn-studio train' printed")
        overrides = {}
        if args.device is not None:
            overrides["device"] = args.device
        if args.threads is not None:
            overrides["num_threads"] = args.threads
        data = None
        if args.workers is not None:
            from .data import DataConfig
            from .training.checkpoint import load_checkpoint

            d = load_checkpoint(args.resume).get("data")
            if d is not None:
                data = DataConfig.from_dict({**d, "workers": args.workers})
        trainer = trainer_cls.from_run(args.resume, epochs=args.epochs, callbacks=cbs, data=data, **overrides)
    else:
        if args.overwrite and not args.out:
            raise UsageError("--overwrite needs --out DIR (the run folder to replace); a default run folder is always new")
        _check_out_folder(args)
        graph, bundle, data_config, cfg = _prepare_new_run(args)
        if cfg.init_from and main and getattr(args, "init_from", None):  # the key report first, before anything is loaded or a folder made
            from .training.init_weights import init_report

            print("\n".join(init_report(graph, cfg.init_from).lines(partial=bool(cfg.init_partial))))
        from .training.init_weights import InitWeightsMismatch

        try:
            trainer = trainer_cls(graph, bundle, cfg, run_dir=args.out, callbacks=cbs, data_config=data_config, overwrite=args.overwrite)
        except InitWeightsMismatch as e:  # the command line's way out: --init-partial (not the config key)
            raise InitWeightsMismatch(e.reason, "cli") from None

    interrupted = threading.Event()

    def on_sigint(signum, frame):
        if interrupted.is_set():  # a second Ctrl+C: give up at once
            raise KeyboardInterrupt
        interrupted.set()
        trainer.request_stop()
        if not main:
            return
        try:
            sys.stderr.write("\nstopping after the current batch (Ctrl+C again to abort without saving)...\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    old = old_term = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGINT, on_sigint)
        if dist_info is not None:  # torchrun stops its workers with SIGTERM: stop cleanly, with a checkpoint
            old_term = signal.signal(signal.SIGTERM, lambda signum, frame: trainer.request_stop())
    try:
        summary = trainer.fit()
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    if main:
        _print_summary(summary)
    reason = summary["stop_reason"]
    if reason == "stopped_by_user":
        if main:
            run = summary["run_dir"]
            launch = "torchrun --nproc_per_node=N -m cnn_studio train" if dist_info is not None else "cnn-studio train"
            tail = " --distributed" if dist_info is not None else ""
            print(f"interrupted; continue with: {launch} --resume {_quote(run)} --epochs {summary['epochs']}{tail}", file=sys.stderr)
        return EXIT_INTERRUPTED if interrupted.is_set() else 0
    if reason == "nan_loss":
        if main:
            print("cnn-studio: training stopped: the loss became NaN/inf; try a lower --lr", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _check_out_folder(args) -> None:
    """Refuse --out naming a folder that holds a run, before the data is loaded (the trainer checks again)."""
    if not args.out or args.overwrite:
        return
    from .training.rundir import RunDir

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out '{args.out}' is a file; give a folder for the run")
    old = RunDir(args.out).existing_files() if os.path.isdir(args.out) else []
    if old:
        raise UsageError(f"--out '{args.out}' holds a run already ({', '.join(old)}); continue it with --resume {_quote(args.out)}, "
                         "choose another folder, or add --overwrite to replace it")


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path) if os.name != "nt" else f'"{path}"'


def _print_summary(s: dict) -> None:
    reasons = {"finished": "finished", "early_stopping": "stopped early (no improvement)", "stopped_by_user": "stopped by user",
               "nan_loss": "stopped: loss became NaN/inf", "error": "failed"}
    lines = [
        f"{reasons.get(s['stop_reason'], s['stop_reason'])} after {s['epochs_completed']} of {s['epochs']} epochs",
        f"best val accuracy:  {_pct(s['best_val_accuracy'])}" + (f" (epoch {s['best_epoch']}, by {s['monitor']})" if s.get("best_epoch") else ""),
        f"final val accuracy: {_pct(s['final_val_accuracy'])}",
        f"test accuracy:      {_pct(s['test_accuracy']) if s['test_accuracy'] is not None else 'n/a'}",
        f"run folder:         {s['run_dir']}",
    ]
    print("\n".join(lines))
    sys.stdout.flush()
