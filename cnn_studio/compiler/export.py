"""Export a network (and its weights) as Python code, TorchScript, ONNX, a state_dict or safetensors.

An :class:`ExportSource` is a graph plus the weights that go with it: the trained weights of a run
directory (:func:`load_run`), or freshly initialised ones (seeded) for a template or a project.
:func:`export` writes one format; each ``export_*`` function can also be used on its own. Files are
written atomically (temporary file in the same folder, then rename).

ONNX: opset 17 by default, input ``"input"``, output ``"logits"``, dynamic batch axis. torch 2.13's
default (dynamo / torch.export) exporter only implements opset 18 and up, and its down-conversion to
17 fails for these models (it silently keeps 18), so below opset 18 the TorchScript-based exporter
(``dynamo=False``, deprecated but present in torch 2.13) is used; from 18 up the dynamo exporter
(needs ``onnxscript``). ``exporter=`` forces one. When no opset is asked for and opset 17 cannot
express the network (adaptive pooling whose output size does not divide its input size, as in
AlexNet and VGG at small inputs), it is exported at opset 18 by the dynamo exporter instead and the
result says so; an opset asked for explicitly is never changed (the error names the fix). The
exporters' own dumps (the TorchScript IR printed on failure, progress logs) are kept off the console.

User text in metadata (ONNX metadata_props, safetensors header, TorchScript extra file) is data:
strings as they are (JSON for other values), text that is not valid Unicode escaped.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.analysis import analyze
from ..core.atomic import atomic_write
from ..core.errors import GraphEditError, StudioError
from ..core.graph import Graph
from .codegen import class_name_for, generate_python, generate_training_script
from .importer import adapt_state_dict, unwrap_state_dict
from .model import GraphModule, compile_model

FORMATS = ("python", "torchscript", "onnx", "state_dict", "safetensors")
SUFFIXES = {"python": ".py", "torchscript": ".pt", "onnx": ".onnx", "state_dict": ".pt", "safetensors": ".safetensors"}
DEFAULT_OPSET = 17
FALLBACK_OPSET = 18  # what the default falls back to when opset 17 cannot express the network
DEFAULT_SEED = 0


class ExportError(StudioError):
    """A network or a run cannot be exported as asked."""


# ============================================================================================
# Sources
# ============================================================================================
@dataclass
class ExportSource:
    graph: Graph
    state_dict: dict[str, torch.Tensor]
    trained: bool
    origin: str  # one line for the user: where the weights come from
    class_names: list[str] | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    extra: dict = field(default_factory=dict)

    def model(self) -> GraphModule:
        """The compiled network with these weights, in eval mode."""
        with torch.device("meta"):
            m = compile_model(self.graph)
        m.load_state_dict(self.state_dict, strict=True, assign=True)
        return m.eval()

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(analyze(self.graph).input_shape)  # type: ignore[return-value]

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.graph.name,
            "input_shape": list(self.input_shape),
            "class_names": self.class_names,
            "mean": self.mean,
            "std": self.std,
            "trained": self.trained,
        }


def load_run(run_dir: str | os.PathLike, weights: str = "best") -> tuple[Graph, dict[str, torch.Tensor], dict]:
    """(graph, state_dict, config) of a training run directory; ``weights`` "last" prefers
    ``checkpoints/last.pt`` (``config["checkpoint"]`` names the file really read).

    Reads ``config.json`` and ``checkpoints/best.pt`` (else ``last.pt``), the latter with
    ``torch.load(weights_only=True)``. The graph is the checkpoint's own (the weights belong to it),
    else config.json's. Raises ExportError with a message naming what is missing or broken."""
    run = Path(run_dir)
    if not run.exists():
        raise ExportError(f"run directory '{run}' does not exist; check the path")
    if not run.is_dir():
        raise ExportError(f"'{run}' is not a run directory (not a folder)")
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise ExportError(f"'{run}' is not a run directory: it has no config.json")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExportError(f"cannot read '{cfg_path}': {e}") from None
    if not isinstance(config, dict):
        raise ExportError(f"'{cfg_path}' is not a run configuration (expected a JSON object)")
    order = ("best.pt", "last.pt") if weights != "last" else ("last.pt", "best.pt")
    ckpt_path = next((p for p in (run / "checkpoints" / n for n in order) if p.is_file()), None)
    if ckpt_path is None:
        raise ExportError(f"'{run}' has no checkpoint (checkpoints/best.pt or checkpoints/last.pt); train the network first")
    try:
        ckpt = torch.load(str(ckpt_path), map_location="cpu", weights_only=True)
    except Exception as e:
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise ExportError(f"checkpoint '{ckpt_path}' is corrupt or unreadable ({reason}); use another checkpoint or retrain") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise ExportError(f"checkpoint '{ckpt_path}' has no model weights (no \"model\" entry); is it a CNN Studio checkpoint?")
    graph_cfg = ckpt.get("graph") if isinstance(ckpt.get("graph"), dict) else config.get("graph")
    if not isinstance(graph_cfg, dict):
        raise ExportError(f"neither '{ckpt_path}' nor '{cfg_path}' holds the network (\"graph\")")
    try:
        graph = Graph.from_config(graph_cfg)
    except (GraphEditError, KeyError, TypeError, ValueError) as e:
        raise ExportError(f"the network stored in '{run}' cannot be read: {e}") from None
    state = unwrap_state_dict(ckpt["model"], str(ckpt_path))
    for key in ("class_names", "mean", "std", "input_shape"):
        if ckpt.get(key) is not None:  # the checkpoint's: they belong to its weights (config.json may describe another run)
            config[key] = ckpt[key]
    config["checkpoint"] = str(ckpt_path)
    return graph, state, config


def source_from_run(run_dir: str | os.PathLike, input_shape=None, classes: int | None = None, weights: str = "best") -> ExportSource:
    graph, state, config = load_run(run_dir, weights)  # weights "last": checkpoints/last.pt first
    if classes is not None:
        raise ExportError("--classes cannot change a trained network (its last layer is trained for its classes); export it as it is")
    if input_shape is not None:
        inp = graph.input_node()
        if inp is None:
            raise ExportError("the network has no Input layer")
        c, h, w = input_shape
        graph.set_config(inp.id, {**inp.config, "channels": c, "height": h, "width": w})
    analyze(graph).raise_for_errors()
    state = adapt_state_dict(graph, state, config["checkpoint"])
    ckpt = Path(config["checkpoint"])
    return ExportSource(
        graph,
        state,
        trained=True,
        origin=f"trained weights from {ckpt.parent.parent.name}/{ckpt.parent.name}/{ckpt.name}",
        class_names=_str_list(config.get("class_names")),
        mean=_float_list(config.get("mean")),
        std=_float_list(config.get("std")),
        extra={"run": str(run_dir), "checkpoint": str(ckpt)},
    )


def source_from_graph(graph: Graph, seed: int = DEFAULT_SEED, class_names=None, mean=None, std=None) -> ExportSource:
    """Freshly initialised weights (seeded, so the same seed gives the same weights); the global
    RNG state is left as it was."""
    analyze(graph).raise_for_errors()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = compile_model(graph)
        except KeyError as e:  # a node id equal to an attribute of the compiled model (e.g. 'training')
            raise ExportError(f"the network cannot be compiled: node id {e}; rename that node") from None
    meta = graph.meta or {}
    return ExportSource(
        graph,
        model.state_dict(),
        trained=False,
        origin=f"untrained: weights freshly initialised with seed {seed}",
        class_names=_str_list(class_names if class_names is not None else meta.get("class_names")),
        mean=_float_list(mean if mean is not None else meta.get("mean")),
        std=_float_list(std if std is not None else meta.get("std")),
        extra={"seed": seed},
    )


def is_run_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and ((p / "config.json").exists() or (p / "checkpoints").is_dir())


def _str_list(v) -> list[str] | None:
    return [str(x) for x in v] if isinstance(v, (list, tuple)) and v else None


def _float_list(v) -> list[float] | None:
    if isinstance(v, torch.Tensor):
        v = v.flatten().tolist()
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return [float(x) for x in v]
    return None


# ============================================================================================
# Writers
# ============================================================================================
def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temporary path in the target folder, then rename onto ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"cannot write '{path}': the folder '{folder}' does not exist")
    # core.atomic: fsync before the rename, and stale temporary files of a killed export are removed
    return atomic_write(path, write_path=write, suffix=path.suffix)


def _write_text(path: Path, text: str) -> Path:
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def plain_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A plain dict of contiguous, detached CPU tensors (nothing else is pickled)."""
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


def export_state_dict(state: dict[str, torch.Tensor], path: str | os.PathLike) -> Path:
    """torch.save of the plain state_dict: loads with torch.load(weights_only=True)."""
    data = plain_state_dict(state)
    return _atomic(Path(path), lambda tmp: torch.save(data, str(tmp)))


def export_safetensors(state: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """safetensors file; ``metadata`` values are stored as strings (JSON for non-strings)."""
    from safetensors.torch import save_file

    data = {k: v.clone() for k, v in plain_state_dict(state).items()}  # no shared storage
    meta = {"format": "pt"}
    for k, v in (metadata or {}).items():
        if v is not None:
            meta[k] = _meta_text(v)
    return _atomic(Path(path), lambda tmp: save_file(data, str(tmp), metadata=meta))


def read_safetensors_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a safetensors file, JSON values decoded."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        raw = f.metadata() or {}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        try:
            out[k] = json.loads(v)
        except (TypeError, ValueError):
            out[k] = v
    return out


def export_torchscript(model: torch.nn.Module, path: str | os.PathLike, input_shape, metadata: dict | None = None) -> Path:
    """torch.jit.trace of the model in eval mode, saved with torch.jit.save (metadata in the
    archive's extra file ``cnn_studio.json``). Load with ``torch.jit.load(path)``."""
    model = model.eval()
    example = torch.randn(2, *input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in 2.13 but fully functional
        with torch.no_grad():
            traced = torch.jit.trace(model, example, check_trace=False)  # the graph has no data-dependent branches
        extra = {"cnn_studio.json": json.dumps(metadata or {})}
        return _atomic(Path(path), lambda tmp: torch.jit.save(traced, str(tmp), _extra_files=extra))


def _meta_text(v: Any) -> str:
    """A metadata value as text: a string itself (escaped where it is not valid Unicode, e.g. a lone
    surrogate from a file name, which protobuf and safetensors refuse), anything else as JSON."""
    if not isinstance(v, str):
        return json.dumps(v)  # ensure_ascii: always encodable
    try:
        v.encode("utf-8")
        return v
    except UnicodeEncodeError:
        return v.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class OnnxInfo:
    path: Path
    opset: int
    exporter: str  # "torchscript" (dynamo=False) or "dynamo"
    note: str = ""  # set when the default opset was changed, saying why


class _OpsetTooLow(Exception):
    """The TorchScript exporter has no translation of an operator at the requested opset."""


def export_onnx(
    model: torch.nn.Module,
    path: str | os.PathLike,
    input_shape,
    opset: int | None = None,
    exporter: str = "auto",
    metadata: dict | None = None,
) -> OnnxInfo:
    """ONNX with input "input" (N x C x H x W, N dynamic) and output "logits" (N x classes).

    ``opset=None``: opset 17, or 18 (dynamo exporter) when 17 cannot express the network."""
    if opset is None and exporter in ("auto", "torchscript"):
        try:
            return _export_onnx(model, path, input_shape, DEFAULT_OPSET, exporter, metadata)
        except _OpsetTooLow as e:
            if exporter == "torchscript":
                raise ExportError(f"{e}; the torchscript exporter cannot export this network, use the dynamo exporter (opset {FALLBACK_OPSET})") from None
            info = _export_onnx(model, path, input_shape, FALLBACK_OPSET, "dynamo", metadata)
            info.note = f"opset {DEFAULT_OPSET} cannot express this network ({e.args[0]}), so it was exported at opset {FALLBACK_OPSET}"
            return info
    try:
        return _export_onnx(model, path, input_shape, FALLBACK_OPSET if opset is None else opset, exporter, metadata)
    except _OpsetTooLow as e:
        raise ExportError(
            f"ONNX opset {opset} cannot express this network ({e}); export at opset {FALLBACK_OPSET} or newer "
            f"(--opset {FALLBACK_OPSET}, the dynamo exporter), or leave the opset out to let CNN Studio choose"
        ) from None


#: how to get the ONNX packages (the ``export`` extra of pyproject.toml)
ONNX_INSTALL = 'pip install "cnn-studio[export]" (in a source checkout: pip install -e ".[export]")'


def _require_onnx_packages(exporter: str) -> None:
    """torch's ONNX exporters need ``onnx`` (and the dynamo one ``onnxscript``), which CNN Studio does
    not install by default: say which is missing and the pip command that brings them."""
    missing = []
    for name in ("onnx",) + (("onnxscript",) if exporter == "dynamo" else ()):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(f"ONNX export needs the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}, "
                          f"which {'are' if len(missing) > 1 else 'is'} not installed; install {'them' if len(missing) > 1 else 'it'} with {ONNX_INSTALL}")


def _export_onnx(model: torch.nn.Module, path: str | os.PathLike, input_shape, opset: int, exporter: str, metadata: dict | None) -> OnnxInfo:
    if not isinstance(opset, int) or isinstance(opset, bool) or not 7 <= opset <= 30:
        raise ExportError(f"ONNX opset must be a whole number from 7 to 30; got {opset}")
    if exporter == "auto":
        exporter = "dynamo" if opset >= 18 else "torchscript"
    if exporter not in ("dynamo", "torchscript"):
        raise ExportError(f"unknown ONNX exporter '{exporter}'; use auto, dynamo or torchscript")
    if exporter == "dynamo" and opset < 18:
        raise ExportError(f"the dynamo ONNX exporter writes opset 18 or newer; got {opset}. Use opset >= 18 or the torchscript exporter")
    _require_onnx_packages(exporter)
    model = model.eval()
    example = torch.randn(2, *input_shape)
    path = Path(path)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if exporter == "torchscript":
                # on failure torch's C++ logger prints the whole TorchScript IR (tens of lines) to
                # stdout (torch 2.13 turns that logger on for every export): keep it off the console
                try:
                    with _quiet_native_output():
                        torch.onnx.export(
                            model, (example,), str(tmp), dynamo=False, opset_version=opset,
                            input_names=["input"], output_names=["logits"],
                            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                            do_constant_folding=True,
                            # keep BatchNormalization nodes (EVAL would fold them into the convs):
                            # the file then re-imports as the same network (compiler/onnx_import.py),
                            # and onnxruntime fuses them itself when it loads the model
                            training=torch.onnx.TrainingMode.PRESERVE,
                        )
                except Exception as e:
                    reason = _unsupported_reason(e)
                    if reason is None:
                        raise
                    raise _OpsetTooLow(reason) from None
            else:
                try:
                    import onnxscript  # noqa: F401
                except ImportError:
                    raise ExportError(f"ONNX opset 18+ needs the onnxscript package; install it with {ONNX_INSTALL}") from None
                batch = torch.export.Dim("batch", min=1)
                with _quiet_logger("torch.onnx"), contextlib.redirect_stdout(io.StringIO()):
                    program = torch.onnx.export(
                        model, (example,), dynamo=True, opset_version=opset, input_names=["input"],
                        output_names=["logits"], dynamic_shapes=({0: batch},), verbose=False, external_data=False,
                        optimize=False,
                    )
                    _optimize_keeping_batchnorm(program)
                program.save(str(tmp), external_data=False)
        _onnx_add_metadata(tmp, metadata)

    try:
        _atomic(path, write)
    except (StudioError, _OpsetTooLow):
        raise
    except Exception as e:
        raise ExportError(f"ONNX export failed ({exporter} exporter, opset {opset}): {type(e).__name__}: {' '.join(str(e).split())[:300]}") from None
    return OnnxInfo(path, _onnx_opset(path, opset), exporter)


def _optimize_keeping_batchnorm(program) -> None:
    """The dynamo exporter's own clean-up (constant folding, the onnxscript rewrite rules, unused
    nodes) without the rules that fold BatchNormalization into the Conv/Gemm before it: as with the
    TorchScript exporter's ``TrainingMode.PRESERVE``, the file keeps its BatchNormalization nodes and
    re-imports as the same network (onnxruntime fuses them itself when it loads the model). Where
    onnxscript lacks those entry points (another version), its full optimisation runs instead: the
    file is as correct, with BN folded."""
    try:
        from onnxscript import optimizer, rewriter

        rules = [r for r in rewriter._DEFAULT_REWRITE_RULES if "BatchNorm" not in str(getattr(r, "name", "") or r)]
        model = program.model
        optimizer.inline(model)
        for _ in range(2):  # as optimize_ir: a rewrite can open a new fold
            optimizer.fold_constants(model)
            rewriter.rewrite(model, pattern_rewrite_rules=rules)
            optimizer.remove_unused_nodes(model)
        optimizer.remove_unused_functions(model)
    except (ImportError, AttributeError, TypeError):
        program.optimize()


def _unsupported_reason(e: BaseException) -> str | None:
    """One line saying which operator the TorchScript exporter could not translate, or None when
    ``e`` is some other failure. Its messages start 'Unsupported: ONNX export of operator X, ...'
    (SymbolicValueError) or 'Exporting the operator ... to ONNX opset version N is not supported'
    (UnsupportedOperatorError), followed by the IR, which is dropped."""
    text = str(e)
    if type(e).__name__ not in ("SymbolicValueError", "UnsupportedOperatorError", "OnnxExporterError") and "Unsupported: ONNX export" not in text:
        return None
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    first = first.split(" [Caused by")[0].split(". Please")[0].removeprefix("Unsupported: ")
    return first.strip().rstrip(".")


@contextlib.contextmanager
def _quiet_native_output():
    """Send what C++ code writes to the process's stdout and stderr to the null device meanwhile
    (Python-level redirection cannot catch it), and switch torch's ONNX logger back off after."""
    saved: list[tuple[int, int]] = []
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        null = None
    try:
        if null is not None:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(null, fd)
                except OSError:  # no such descriptor (a windowed app): nothing to hide there
                    pass
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        if null is not None:
            os.close(null)
        with contextlib.suppress(Exception):
            torch._C._jit_set_onnx_log_enabled(False)


@contextlib.contextmanager
def _quiet_logger(name: str):
    """The dynamo exporter logs progress and 'torchvision is not installed' warnings: mute them."""
    logger = logging.getLogger(name)
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


def _onnx_add_metadata(path: Path, metadata: dict | None) -> None:
    """Model metadata_props (class names, mean/std, input shape) when the onnx package is present."""
    if not metadata:
        return
    try:
        import onnx
    except ImportError:
        return
    m = onnx.load(str(path))
    for k, v in metadata.items():
        if v is None:
            continue
        prop = m.metadata_props.add()
        prop.key = f"cnn_studio.{k}"
        prop.value = _meta_text(v)
    onnx.save(m, str(path))


def _onnx_opset(path: Path, fallback: int) -> int:
    try:
        import onnx

        m = onnx.load(str(path), load_external_data=False)
        return next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), fallback)
    except Exception:
        return fallback


def export_python(
    source: ExportSource, path: str | os.PathLike, with_training_script: bool = False, weights: bool | None = None
) -> list[Path]:
    """The network as one standalone module. Trained weights (or ``weights=True``) are written next
    to it as ``<stem>.pt``; ``with_training_script`` adds ``train_<stem>.py``. Returns the paths."""
    path = Path(path)
    stem = path.stem
    if with_training_script and not stem.isidentifier():
        raise ExportError(f"with a training script the file name must be a Python module name (letters, digits, _); got '{path.name}'")
    cls = class_name_for(source.graph.name)
    write_weights = source.trained if weights is None else weights
    weights_path = path.with_suffix(".pt") if path.suffix != ".pt" else path.with_name(stem + "_weights.pt")
    if write_weights:
        note = f"Weights: {source.origin}; saved next to this file as {weights_path.name} (python {path.name} {weights_path.name})."
    else:
        note = f"Weights: not included ({source.origin.split(':')[0]}); the constructor initialises them randomly."
    text = generate_python(source.graph, class_name=cls, class_names=source.class_names, mean=source.mean, std=source.std, source_note=note)
    written = [_write_text(path, text)]
    if write_weights:
        written.append(export_state_dict(source.state_dict, weights_path))
    if with_training_script:
        written.append(_write_text(path.with_name(f"train_{stem}.py"), generate_training_script(stem, cls)))
    return written


# ============================================================================================
# One entry point
# ============================================================================================
@dataclass
class ExportResult:
    files: list[Path]
    notes: list[str]


def export(
    source: ExportSource,
    fmt: str,
    path: str | os.PathLike,
    *,
    opset: int | None = None,
    with_training_script: bool = False,
    exporter: str = "auto",
) -> ExportResult:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")
    if with_training_script and fmt != "python":
        raise ExportError("a training script comes with the python format only (--format python)")
    path = Path(path)
    meta = source.metadata()
    notes = [f"weights: {source.origin}"]
    if fmt == "python":
        files = export_python(source, path, with_training_script)
    elif fmt == "state_dict":
        files = [export_state_dict(source.state_dict, path)]
    elif fmt == "safetensors":
        meta_s = dict(meta)
        meta_s["graph"] = source.graph.to_config()
        files = [export_safetensors(source.state_dict, path, meta_s)]
    elif fmt == "torchscript":
        files = [export_torchscript(source.model(), path, source.input_shape, meta)]
    else:
        pools = {nid: n.config.get("output_size") for nid, n in source.graph.nodes.items() if n.type in ("adaptive_avgpool2d", "adaptive_maxpool2d")}
        if pools:  # the TorchScript exporter writes one whose output divides the map as plain pooling
            meta = {**meta, "adaptive_pools": pools}
        # the design itself (blocks, frozen layers, dropout, loss): import restores it where the file's
        # operators and weights still compute it (compiler/onnx_design.py checks that numerically)
        from ..core.project import dumps

        meta = {**meta, "design": dumps(source.graph)}
        info = export_onnx(source.model(), path, source.input_shape, opset=opset, exporter=exporter, metadata=meta)
        files = [info.path]
        notes.append(f"ONNX opset {info.opset}, {info.exporter} exporter, input 'input' (batch dynamic), output 'logits'")
        if info.note:
            notes.append(info.note)
    return ExportResult(files, notes)
