"""What File > Export and File > Import do, as plain jobs for the window's worker thread
(``fn(progress, cancel)``, see app/inspect/jobs.py). Qt-free; torch is imported when a job runs.

Every step calls the engine (compiler/export.py ``export``, ``source_from_graph``,
``source_from_run``; compiler/importer.py ``import_module_from_file``, ``read_weights_file``,
``adapt_state_dict``), as ``cnn-studio export`` and ``cnn-studio import`` do: the app adds only the
choice of weights, the check of the written file (verify.py) and the weights report.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .verify import Cancelled, Verification, verify_export

# what the weights of an export are
FRESH, IMPORTED, RUN = "fresh", "imported", "run"


@dataclass
class ExportRequest:
    fmt: str  # one of compiler.export.FORMATS
    path: str
    weights: str = FRESH  # FRESH | IMPORTED | RUN
    opset: int | None = None  # ONNX only; None: CNN Studio chooses (17, else 18)
    with_training_script: bool = False  # python only
    verify: bool = True


@dataclass
class ExportOutcome:
    files: list[str]
    notes: list[str]
    verification: Verification | None


@dataclass
class WeightsChoice:
    """Where the weights of an export come from, taken on the GUI thread (the job runs elsewhere)."""

    graph_config: dict  # the open network, copied
    run_dir: str | None = None  # the run the views show
    run_weights: str = "best"
    imported_state: Any = None  # a state_dict attached to the document (File > Import)
    imported_origin: str = ""
    seed: int = 0
    recover: bool = True  # finish a crashed run's bookkeeping first (not for the run going)


def make_source(kind: str, choice: WeightsChoice):
    """The ExportSource for ``kind`` (FRESH, IMPORTED, RUN)."""
    from ...compiler.export import ExportError, source_from_graph, source_from_run
    from ...compiler.importer import adapt_state_dict
    from ...core.graph import Graph

    if kind == RUN:
        if not choice.run_dir:
            raise ExportError("no run is shown: train the network or open a run first, or export it untrained")
        if choice.recover:
            from ...training.recovery import recover_run

            recover_run(choice.run_dir)  # a crash may have left best.pt older than the best epoch (as the CLI)
        return source_from_run(choice.run_dir, weights=choice.run_weights)
    graph = Graph.from_config(choice.graph_config)
    if kind == IMPORTED:
        if choice.imported_state is None:
            raise ExportError("no weights were imported into this network (File > Import > Weights…)")
        src = source_from_graph(graph, seed=choice.seed)  # checks the network, keeps its metadata
        src.state_dict = adapt_state_dict(graph, choice.imported_state, choice.imported_origin or "imported weights")
        src.trained = True
        src.origin = f"weights imported from {choice.imported_origin}" if choice.imported_origin else "imported weights"
        src.extra = {"weights": choice.imported_origin}
        return src
    return source_from_graph(graph, seed=choice.seed)


def export_job(request: ExportRequest, choice: WeightsChoice):
    """A job writing ``request`` and checking the written file."""

    def job(progress, cancel) -> ExportOutcome:
        from ...compiler.export import export

        progress(0, 3, "preparing the network and its weights…")
        source = make_source(request.weights, choice)
        if cancel.is_set():
            raise Cancelled()
        progress(1, 3, f"writing {Path(request.path).name}…")
        kw = {"opset": request.opset} if request.fmt == "onnx" else {}
        result = export(source, request.fmt, request.path, with_training_script=request.with_training_script, **kw)
        files = [str(f) for f in result.files]
        if cancel.is_set():  # the user asked to stop: do not leave what they cancelled
            _remove(files)
            raise Cancelled()
        verification = None
        if request.verify:
            progress(2, 3, f"checking {Path(files[0]).name}…")
            try:
                verification = verify_export(request.fmt, files, source, cancel)
            except Cancelled:
                verification = Verification(False, None, "the check was cancelled; the file was written but not checked")
        progress(3, 3, "done")
        return ExportOutcome(files, list(result.notes), verification)

    return job


def _remove(files) -> None:
    for f in files:
        try:
            Path(f).unlink()
        except OSError:
            pass


# ---------------------------------------------------------------------------------- import
@dataclass
class CodeImport:
    graph: Any  # core Graph
    state: Any  # its state_dict (the module's weights)
    class_name: str
    path: str


def import_code_job(path: str, class_name: str, input_shape: str):
    def job(progress, cancel) -> CodeImport:
        from ...compiler.importer import import_module_from_file

        progress(0, 1, f"running and tracing {Path(path).name}…")
        graph, state = import_module_from_file(path, class_name, input_shape)
        state = {k: v.detach().clone() for k, v in state.items()}  # its own memory (the module goes)
        return CodeImport(graph, state, class_name, path)

    return job


def unsupported_items(message: str) -> list[str]:
    """The list of an importer error 'cannot import X: N unsupported operations: a; b; rewrite ...'
    (one item per operation), or [] for another error."""
    m = re.search(r"unsupported operations?: (.*)$", message, re.S)
    if not m:
        return []
    items = [s.strip() for s in m.group(1).split("; ")]
    return [s for s in items if s and not s.startswith("rewrite those")]


@dataclass
class WeightsReport:
    path: str
    matched: list[str] = field(default_factory=list)  # keys of the network the file fills
    missing: list[str] = field(default_factory=list)  # keys of the network the file lacks
    unexpected: list[str] = field(default_factory=list)  # keys of the file the network lacks
    mismatched: list[str] = field(default_factory=list)  # "key: file AxB, network CxD"
    state: Any = None  # the network's state_dict, when everything fits
    error: str = ""  # the importer's message when they do not fit

    @property
    def ok(self) -> bool:
        return self.state is not None


def weights_report(graph_config: dict, path: str) -> WeightsReport:
    """Which keys of the weights file ``path`` fit the network, by the importer's rules (its own key
    mapping: the graph's keys, torchvision paths, checkpoint wrappers); the loadable state_dict when
    all fit (``adapt_state_dict``), else its message."""
    from ...compiler.importer import ModelImportError, adapt_state_dict, expected_shapes, read_weights_file, torchvision_key
    from ...core.graph import Graph

    graph = Graph.from_config(graph_config)
    data = read_weights_file(path)
    want = expected_shapes(graph)
    rep = WeightsReport(str(path))
    seen: set[str] = set()
    for key, value in data.items():
        new = key if key in want else torchvision_key(key)
        if new not in want or new in seen:
            rep.unexpected.append(key)
            continue
        seen.add(new)
        if tuple(value.shape) != want[new]:
            fmt = lambda s: "x".join(map(str, s)) or "scalar"  # noqa: E731
            rep.mismatched.append(f"{key}: file {fmt(value.shape)}, network {fmt(want[new])}")
        else:
            rep.matched.append(new)
    rep.missing = [k for k in want if k not in seen and not k.endswith("num_batches_tracked")]
    try:
        rep.state = adapt_state_dict(graph, data, str(path))
    except ModelImportError as e:
        rep.error = str(e)
    return rep


def import_weights_job(graph_config: dict, path: str):
    def job(progress, cancel) -> WeightsReport:
        progress(0, 1, f"reading {Path(path).name}…")
        return weights_report(graph_config, path)

    return job
