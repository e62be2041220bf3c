"""Check a file the app just exported: load it back as someone else would, run it on the same random
batch as the app's model, and measure the largest output difference. Qt-free; runs in a worker
thread (``cancel`` is a ``threading.Event``; a subprocess is killed when it is set).

- torchscript: ``torch.jit.load``;
- state_dict: ``torch.load(weights_only=True)`` into a freshly compiled network (strict);
- safetensors: ``safetensors.torch.load_file`` into a freshly compiled network (strict);
- onnx: run in ``onnxruntime`` when it is installed, else only ``onnx.checker`` (and say so);
- python: the exported module is imported and run in a fresh Python process (so nothing of this
  process, such as an already imported module of the same name, can make it pass), with the
  written weights file, or a temporary copy of the exported weights when none was written.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import StudioError

BATCH = 4
PY_TIMEOUT_S = 180.0


class Cancelled(StudioError):
    """The user cancelled (the job runner reports a StudioError by its message)."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


@dataclass
class Verification:
    ok: bool  # the file loaded and ran, and its outputs match the app's model
    max_diff: float | None  # None when no outputs could be compared
    message: str  # one line for the user


def tolerance(ref) -> float:
    """What counts as the same output: float32 rounding of a network's logits."""
    return 1e-4 + 1e-4 * float(ref.abs().max())


def _judge(what: str, out, ref) -> Verification:
    import torch

    out = torch.as_tensor(out).float()
    if tuple(out.shape) != tuple(ref.shape):
        return Verification(False, None, f"{what} gives outputs of shape {tuple(out.shape)}, the app's model {tuple(ref.shape)}")
    diff = float((out - ref).abs().max())
    if not diff == diff:  # NaN
        return Verification(False, diff, f"{what} gives NaN outputs")
    if diff <= tolerance(ref):
        return Verification(True, diff, f"verified: {what} reproduces the app's model on {BATCH} random inputs (largest output difference {diff:.3g})")
    return Verification(False, diff, f"{what} differs from the app's model: largest output difference {diff:.3g} on {BATCH} random inputs")


def verify_export(fmt: str, files: list, source, cancel=None) -> Verification:
    """Reload what :func:`cnn_studio.compiler.export.export` wrote for ``source`` (an ExportSource)
    and compare it with ``source.model()`` (the network the app computes with, with these weights)."""
    import torch

    from ...compiler.model import compile_model

    path = Path(files[0])
    model = source.model()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        x = torch.randn(BATCH, *source.input_shape)
    with torch.no_grad():
        ref = model(x).float()
    try:
        if fmt == "torchscript":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit is deprecated in 2.13+ but works
                m = torch.jit.load(str(path), map_location="cpu").eval()
            with torch.no_grad():
                return _judge(f"the TorchScript file {path.name} (torch.jit.load)", m(x), ref)
        if fmt in ("state_dict", "safetensors"):
            if fmt == "state_dict":
                state = torch.load(str(path), map_location="cpu", weights_only=True)
                how = "torch.load(weights_only=True)"
            else:
                from safetensors.torch import load_file

                state = load_file(str(path))
                how = "safetensors"
            with torch.device("meta"):
                m = compile_model(source.graph)
            m.load_state_dict(state, strict=True, assign=True)
            with torch.no_grad():
                return _judge(f"{path.name} ({how}, loaded strictly into the network)", m.eval()(x), ref)
        if fmt == "onnx":
            return _verify_onnx(path, x, ref)
        if fmt == "python":
            return _verify_python(files, source, x, ref, cancel)
    except Cancelled:
        raise
    except Exception as e:
        return Verification(False, None, f"reloading {path.name} failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
    raise ValueError(f"unknown format {fmt!r}")


def _verify_onnx(path: Path, x, ref) -> Verification:
    try:
        import onnxruntime as ort
    except ImportError:
        import onnx

        onnx.checker.check_model(str(path))
        return Verification(True, None, f"{path.name} passes onnx.checker; onnxruntime is not installed, so its outputs were not compared (pip install onnxruntime)")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(["logits"], {"input": x.numpy()})
    return _judge(f"the ONNX file {path.name} (onnxruntime {ort.__version__})", out, ref)


_RUNNER = r"""
import importlib.util, sys, torch
path, cls, weights, inp, out = sys.argv[1:6]
spec = importlib.util.spec_from_file_location("cnn_studio_exported_check", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
model = getattr(mod, cls)()
model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
model.eval()
with torch.no_grad():
    y = model(torch.load(inp, weights_only=True))
torch.save(y, out)
"""


def _verify_python(files: list, source, x, ref, cancel) -> Verification:
    import torch

    from ...compiler.codegen import class_name_for
    from ...compiler.export import plain_state_dict

    code = Path(files[0])
    written = [Path(f) for f in files[1:] if Path(f).suffix == ".pt"]
    cls = class_name_for(source.graph.name)
    with tempfile.TemporaryDirectory(prefix="cnn-studio-verify-") as tmp:
        tmp = Path(tmp)
        if written:
            weights = written[0]
        else:  # untrained: no weights file was written; give the module the app's weights
            weights = tmp / "weights.pt"
            torch.save(plain_state_dict(source.state_dict), str(weights))
        torch.save(x, str(tmp / "x.pt"))
        out = tmp / "y.pt"
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUNNER, str(code), cls, str(weights), str(tmp / "x.pt"), str(out)],
            cwd=str(code.parent), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        deadline = time.monotonic() + PY_TIMEOUT_S
        try:
            while proc.poll() is None:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                if time.monotonic() > deadline:
                    return Verification(False, None, f"running {code.name} in a fresh Python took over {PY_TIMEOUT_S:.0f} s; stopped")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            lines = [ln for ln in err.decode("utf-8", "replace").strip().splitlines() if ln.strip()]
            return Verification(False, None, f"running {code.name} in a fresh Python failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
        y = torch.load(str(out), weights_only=True)
    what = f"{code.name} (imported in a fresh Python, {cls}() with {weights.name if written else 'the exported weights'})"
    return _judge(what, y, ref)
