"""Weights into a graph: read a weights file and match it to the graph's own state_dict keys.

:func:`import_state_dict` / :func:`load_weights` read a ``.pt`` (always with
``torch.load(weights_only=True)``, so no pickled code runs) or ``.safetensors`` file and match it
to the graph's own keys. Accepted layouts: the graph's keys (``c1.weight``), torchvision-style
module paths for the templates (``features.0.weight`` -> ``features_0.weight``,
``layer1.0.downsample.0.weight`` -> ``layer1_0_downsample_0.weight``: '.' becomes '_' in the
module path, the last component, the parameter or buffer name, is kept), a checkpoint dict with a
``"model"`` or ``"state_dict"`` entry, and keys prefixed by ``module.`` (DistributedDataParallel)
or ``_orig_mod.`` (torch.compile). A mismatch raises one :class:`StudioError` listing missing
keys, unexpected keys and shape differences.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.errors import StudioError
from ..core.graph import Graph
from .model import GraphModule, compile_model, module_name

SHOW = 8  # how many keys of each kind an error message lists


class ModelImportError(StudioError):
    """A weights file or a Python module cannot be imported as given."""


def read_weights_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or of a ``.pt``/``.pth`` file (weights_only), unwrapping a
    checkpoint dict (``"model"`` or ``"state_dict"``)."""
    path = Path(path)
    if not path.exists():
        raise ModelImportError(f"weights file '{path}' does not exist; check the path")
    if path.is_dir():
        raise ModelImportError(f"'{path}' is a folder; give a .pt or .safetensors file")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file

            data: Any = load_file(str(path))
        except Exception as e:  # safetensors raises its own error types
            raise ModelImportError(f"'{path}' is not a readable safetensors file ({_short(e)})") from None
    else:
        try:
            data = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelImportError(
                f"'{path}' cannot be loaded as plain weights ({_load_reason(e)}); it must be a state_dict saved with torch.save, "
                "with tensors only (files that need pickled code are refused)"
            ) from None
    return unwrap_state_dict(data, str(path))


def unwrap_state_dict(data: Any, source: str = "weights") -> dict[str, torch.Tensor]:
    if isinstance(data, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            inner = data.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                data = inner
                break
    if not isinstance(data, dict) or not data:
        raise ModelImportError(f"'{source}' holds no state_dict (expected a dict of parameter name -> tensor)")
    tensors = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelImportError(f"'{source}' holds no tensors; is it a weights file?")
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


def torchvision_key(key: str) -> str:
    """``layer1.0.downsample.0.weight`` -> ``layer1_0_downsample_0.weight`` (the module path joined
    with '_', then the compiler's attribute name for it; the parameter name kept)."""
    if "." not in key:
        return key
    path, leaf = key.rsplit(".", 1)
    return module_name(path.replace(".", "_")) + "." + leaf


def studio_to_torchvision_key(key: str, node_ids) -> str | None:
    """Inverse of :func:`torchvision_key` for a graph whose ids follow torchvision's module paths
    (the templates): ``features_0.weight`` -> ``features.0.weight``. Only the underscores that
    separate path parts become dots, which needs the torchvision naming rule: a part is an index
    (digits) or a name; ``layer1_0_conv1`` -> ``layer1.0.conv1``."""
    path, leaf = key.rsplit(".", 1)
    if path not in node_ids:
        return None
    parts = re.split(r"_(?=\d+(?:_|$))|(?<=\d)_", path)
    return ".".join(parts) + "." + leaf


def expected_shapes(target: Graph | nn.Module) -> dict[str, tuple[int, ...]]:
    if isinstance(target, Graph):
        with torch.device("meta"):  # shapes only: no memory, no initialisation time
            target = compile_model(target)
    return {k: tuple(v.shape) for k, v in target.state_dict().items()}


def adapt_state_dict(target: Graph | nn.Module, state: dict[str, torch.Tensor], source: str = "weights") -> dict[str, torch.Tensor]:
    """Re-key ``state`` to the target's layout and check it covers it exactly (``num_batches_tracked``
    buffers may be absent; they are filled with 0). Raises ModelImportError listing every mismatch."""
    want = expected_shapes(target)
    out: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    origin: dict[str, str] = {}
    for key, value in state.items():
        new = key if key in want else torchvision_key(key)
        if new not in want:
            unexpected.append(key)
            continue
        if new in out:
            unexpected.append(f"{key} (duplicates {origin[new]})")
            continue
        out[new] = value
        origin[new] = key
    missing = []
    for key, shape in want.items():
        if key not in out:
            if key.endswith("num_batches_tracked"):
                out[key] = torch.zeros(shape, dtype=torch.long)
            else:
                missing.append(key)
    shapes = [
        f"{origin[k]}: file {_fmt_shape(v.shape)}, network {_fmt_shape(want[k])}"
        for k, v in out.items()
        if k in origin and tuple(v.shape) != want[k]
    ]
    if missing or unexpected or shapes:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("with a different shape", shapes)):
            if items:
                shown = "; ".join(items[:SHOW]) + (f"; ... ({len(items) - SHOW} more)" if len(items) > SHOW else "")
                parts.append(f"{len(items)} {label} ({shown})")
        raise ModelImportError(
            f"the weights in '{source}' do not fit this network: " + ", ".join(parts)
            + "; check that the file belongs to this network, input shape and class count"
        )
    return {k: out[k] for k in want}  # the network's key order


def import_state_dict(graph: Graph, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The weights of ``path`` as a state_dict that loads into ``compile_model(graph)`` (strict)."""
    return adapt_state_dict(graph, read_weights_file(path), str(path))


def load_weights(model: GraphModule | nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load ``path`` into ``model`` (strict) after matching the layout; returns the model."""
    state = adapt_state_dict(model, read_weights_file(path), str(path))
    model.load_state_dict(state, strict=True)
    return model


def _fmt_shape(shape) -> str:
    return "x".join(str(s) for s in shape) or "scalar"


def _load_reason(e: BaseException) -> str:
    """Why torch.load(weights_only=True) refused a file, in our words: torch's own text for that case
    advises re-running with weights_only=False, which this program never does."""
    text = str(e)
    if "weights_only" in text or "Weights only" in text:
        return "it is not a file torch.save wrote, or it holds objects other than tensors"
    return _short(e)


def _short(e: BaseException, n: int = 200) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:n]
