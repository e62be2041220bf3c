"""Start a new run from saved weights (``TrainConfig.init_from``).

The source is a run folder (its ``checkpoints/best.pt``, else ``last.pt``), a ``.pt`` checkpoint or
state_dict, or a ``.safetensors`` file. Files are read with ``torch.load(weights_only=True)`` or
safetensors (no code runs), re-keyed with the importer's :func:`adapt_state_dict` (torchvision
layout accepted) and loaded strictly: a file that does not fit is refused with the importer's list
of missing, unexpected and mismatched keys, so a run never starts from half-loaded weights.
"""
from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from ..core.errors import StudioError


class InitWeightsError(StudioError):
    """``init_from`` names weights that cannot be read or do not fit the network."""


def weights_path(source: str | os.PathLike) -> Path:
    """The file ``source`` stands for: a run folder gives its best checkpoint (else its last one)."""
    path = Path(source).expanduser()
    if path.is_dir():
        for cand in (path / "checkpoints" / "best.pt", path / "checkpoints" / "last.pt", path / "best.pt", path / "last.pt"):
            if cand.is_file():
                return cand
        raise InitWeightsError(f"init_from: the folder '{path}' holds no checkpoint (checkpoints/best.pt or last.pt); "
                               "give a finished run's folder or a weights file")
    if not path.exists():
        raise InitWeightsError(f"init_from: '{path}' does not exist; give a run folder, a .pt or a .safetensors file")
    return path


def apply_init_weights(model: nn.Module, source: str | os.PathLike) -> str:
    """Load the weights of ``source`` into ``model`` (strict); returns a note for the run."""
    from ..compiler.importer import ModelImportError, adapt_state_dict, read_weights_file

    path = weights_path(source)
    try:
        state = adapt_state_dict(model, read_weights_file(path), str(path))
    except ModelImportError as e:
        raise InitWeightsError(f"cannot start from these weights: {e}") from None
    model.load_state_dict(state, strict=True)
    return f"initialised from the weights in '{path}' ({len(state)} tensors, all keys and shapes matched)"
