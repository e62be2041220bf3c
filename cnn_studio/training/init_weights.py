"""Start a new run from saved weights (``TrainConfig.init_from``).

The source is a run folder (its ``checkpoints/best.pt``, else ``last.pt``), a ``.pt`` checkpoint or
state_dict, or a ``.safetensors`` file. Files are read with ``torch.load(weights_only=True)`` or
safetensors (no code runs), re-keyed with the importer's :func:`adapt_state_dict` (torchvision
layout accepted) and loaded strictly: a file that does not fit is refused with the importer's list
of missing, unexpected and mismatched keys, so a run never starts from half-loaded weights.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from ..core.errors import StudioError


class InitWeightsError(StudioError):
    """``init_from`` names weights that cannot be read or do not fit the network."""


#: how each front end loads only the tensors that fit (InitWeightsMismatch names only its own)
PARTIAL_HINTS = {
    "api": "set init_partial=True in the training config",
    "cli": "add --init-partial",
    "app": "use Network > Initialise from weights… (its Apply loads the tensors that fit)",
}


class InitWeightsMismatch(InitWeightsError):
    """A strict ``init_from`` refused: the file does not fit the network, and nothing was loaded.
    ``str()`` names the Python API's way out (``init_partial``); :meth:`for_front_end` another's
    (the command line's ``--init-partial``, the app's Network > Initialise from weights…)."""

    def __init__(self, reason: str, front_end: str = "api") -> None:
        self.reason = reason
        super().__init__(self.for_front_end(front_end))

    def for_front_end(self, front_end: str) -> str:
        hint = PARTIAL_HINTS.get(front_end, PARTIAL_HINTS["api"])
        return (f"cannot start from these weights: {self.reason}; nothing was loaded. To load only the tensors that "
                f"fit and leave the others at their initial values, {hint}")


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


@dataclass
class InitReport:
    """How the tensors of a weights file map onto a network, before anything is loaded."""

    path: str
    matched: list[str] = field(default_factory=list)  # network keys the file fills (name and shape)
    missing: list[str] = field(default_factory=list)  # network keys the file lacks (they keep their initial values)
    unexpected: list[str] = field(default_factory=list)  # file keys with no place in the network
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (network key, file shape, network shape)
    total: int = 0  # tensors of the network (num_batches_tracked counters left out)
    state: dict = field(default_factory=dict, repr=False)  # the matched tensors, by the network's keys

    @property
    def fits(self) -> bool:
        """Every key and shape fits: a strict load works."""
        return not (self.missing or self.unexpected or self.mismatched)

    def counts(self) -> str:
        return (f"{len(self.matched)} of {self.total} matched, {len(self.missing)} missing, {len(self.mismatched)} with "
                f"another shape, {len(self.unexpected)} unused from the file")

    def lines(self, limit: int = 20, partial: bool = True) -> list[str]:
        """The report as text lines: counts, then each list (at most ``limit`` entries each).
        ``partial``: the matching tensors are to be loaded, the others keep their initial values (as
        the lists say); False: a strict load, refused unless everything fits, so nothing is said to
        be left anywhere."""
        def fmt(s) -> str:
            return "x".join(map(str, s)) or "scalar"

        left = " (left at their initial values)" if partial and self.matched else ""
        out = [f"weights: {self.path}", self.counts()]
        sections = (
            (f"another shape{left}", [f"{k}: file {fmt(a)}, network {fmt(b)}" for k, a, b in self.mismatched]),
            (f"missing from the file{left}", self.missing),
            ("in the file but not in the network (unused)", self.unexpected),
        )
        for title, items in sections:
            if items:
                out.append(f"{title}:")
                out.extend(f"  {i}" for i in items[:limit])
                if len(items) > limit:
                    out.append(f"  ... {len(items) - limit} more")
        return out


def init_report(target, source: str | os.PathLike) -> InitReport:
    """Which tensors of ``source`` (a run folder, .pt or .safetensors; torchvision key layout
    accepted, by the importer's rules) fit ``target`` (a Graph or a compiled model), by name and shape.
    Reads the file (no code runs); loads nothing. InitWeightsError when the file cannot be read."""
    from ..compiler.importer import expected_shapes, read_weights_file, torchvision_key

    path = weights_path(source)
    try:
        data = read_weights_file(path)
        want = expected_shapes(target)
    except StudioError as e:  # unreadable file, or a graph that does not compile (its errors)
        raise InitWeightsError(str(e)) from None
    rep = InitReport(str(path), total=sum(1 for k in want if not k.endswith("num_batches_tracked")))
    seen: set[str] = set()
    for key, value in data.items():
        new = key if key in want else torchvision_key(key)
        if new not in want or new in seen:
            rep.unexpected.append(key)
            continue
        seen.add(new)
        if tuple(value.shape) != want[new]:
            rep.mismatched.append((new, tuple(value.shape), want[new]))
        else:
            rep.state[new] = value
            if not new.endswith("num_batches_tracked"):
                rep.matched.append(new)
    rep.missing = [k for k in want if k not in seen and not k.endswith("num_batches_tracked")]
    return rep


def apply_init_weights(model: nn.Module, source: str | os.PathLike, partial: bool = False) -> str:
    """Load the weights of ``source`` into ``model``; returns a note for the run. Strict by default;
    ``partial``: the tensors that match in name and shape are loaded, the others keep their initial
    values (the note names them), and a file of which nothing matches is refused."""
    from ..compiler.importer import ModelImportError, adapt_state_dict, read_weights_file

    if partial:
        rep = init_report(model, source)
        if not rep.matched:
            raise InitWeightsError(f"cannot start from these weights: none of the {len(rep.unexpected)} tensors in "
                                   f"'{rep.path}' fits this network by name and shape; check that it belongs to this kind of network")
        model.load_state_dict(rep.state, strict=False)
        kept = [k for k, _, _ in rep.mismatched] + rep.missing
        return (f"initialised from the weights in '{rep.path}': {rep.counts()}"
                + (f"; left at their initial values: {', '.join(kept[:12])}{' ...' if len(kept) > 12 else ''}" if kept else ""))
    path = weights_path(source)
    try:
        state = adapt_state_dict(model, read_weights_file(path), str(path))
    except ModelImportError as e:
        raise InitWeightsMismatch(str(e)) from None
    model.load_state_dict(state, strict=True)
    return f"initialised from the weights in '{path}' ({len(state)} tensors, all keys and shapes matched)"
