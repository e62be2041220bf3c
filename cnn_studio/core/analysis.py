"""Whole-graph analysis: shape, parameters, MACs, activation memory and receptive field per node.

Walks the nodes in topological order (as torch.fx's ShapeProp does), calls each layer's ``infer``,
and records every problem as an :class:`Issue` naming the node, instead of stopping at the first.
Only :class:`GraphError` ever leaves :func:`analyze` via :meth:`Analysis.raise_for_errors`.

Receptive field per axis follows the usual recurrence: for a window of effective size k, stride s
and leading padding p, ``r_out = r_in + (k - 1) * j_in``, ``j_out = j_in * s`` and
``start_out = start_in + ((k - 1) / 2 - p) * j_in`` (``start`` is the centre of the first output
unit's field in input pixels). After a Flatten every unit sees the whole span of the map.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError, Issue, LayerError
from .graph import Edge, Graph
from .layers import Inference, Shape, fmt_shape, get_spec, has_spec

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class RF:
    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]

    def region(self, y: int, x: int) -> tuple[float, float, float, float]:
        """Input-pixel box (top, left, bottom, right; inclusive, may exceed the image) of output unit (y, x)."""
        cy = self.start[0] + y * self.jump[0]
        cx = self.start[1] + x * self.jump[1]
        hy, hx = (self.size[0] - 1) / 2, (self.size[1] - 1) / 2
        return cy - hy, cx - hx, cy + hy, cx + hx


@dataclass
class NodeInfo:
    id: str
    type: str
    input_shapes: list[Shape] = field(default_factory=list)
    output_shape: Shape | None = None
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    rf: RF | None = None
    config: dict = field(default_factory=dict)  # canonical config
    issues: list[Issue] = field(default_factory=list)

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def activation_bytes(self) -> int:
        if self.output_shape is None:
            return 0
        n = 1
        for s in self.output_shape:
            n *= s
        return n * BYTES_PER_VALUE

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "params": self.params,
            "trainable_params": self.trainable,
            "non_trainable_params": self.non_trainable,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
            "receptive_field": list(self.rf.size) if self.rf else None,
            "receptive_field_jump": list(self.rf.jump) if self.rf else None,
        }


@dataclass
class Analysis:
    nodes: dict[str, NodeInfo]
    order: list[str]
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> "Analysis":
        if self.errors:
            raise GraphError(self.issues)
        return self

    def single_value_batchnorm(self) -> list[str]:
        """BatchNorm nodes that see one value per channel per image (a 1x1 map, or a flat vector).
        torch cannot train them on a batch of one ("Expected more than 1 value per channel when
        training"), so whoever batches the training data must never form one for this network."""
        out = []
        for nid in self.order:
            info = self.nodes[nid]
            shape = info.output_shape
            if info.type in ("batchnorm2d", "batchnorm1d") and shape is not None and (len(shape) == 1 or shape[1] * shape[2] == 1):
                out.append(nid)
        return out

    def issues_for(self, node_id: str) -> list[Issue]:
        return [i for i in self.issues if i.node_id == node_id]

    @property
    def trainable_params(self) -> int:
        return sum(n.trainable for n in self.nodes.values())

    @property
    def non_trainable_params(self) -> int:
        return sum(n.non_trainable for n in self.nodes.values())

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes.values())

    @property
    def activation_bytes(self) -> int:
        return sum(n.activation_bytes for n in self.nodes.values())

    def _role_node(self, role: str) -> NodeInfo | None:
        for nid in self.order:
            info = self.nodes[nid]
            if has_spec(info.type) and get_spec(info.type).role == role:
                return info
        return None

    @property
    def input_shape(self) -> Shape | None:
        n = self._role_node("input")
        return n.output_shape if n else None

    @property
    def output_shape(self) -> Shape | None:
        n = self._role_node("output")
        return n.output_shape if n else None

    def to_dict(self) -> dict:
        return {
            "layers": [self.nodes[n].to_dict() for n in self.order],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "total_macs": self.total_macs,
            "activation_bytes": self.activation_bytes,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "errors": [str(i) for i in self.errors],
            "warnings": [str(i) for i in self.warnings],
        }


# Inference results are pure functions of (type, canonical config, input shapes): cache them so a
# re-analysis after a one-node edit only recomputes what changed.
_CACHE: dict[Any, Inference | LayerError] = {}
_CACHE_MAX = 20000


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    return v


def _infer_cached(type_id: str, config: dict, shapes: list[Shape]) -> Inference:
    key = (type_id, _freeze(config), tuple(shapes))
    hit = _CACHE.get(key)
    if hit is None:
        try:
            hit = get_spec(type_id).infer(config, shapes)
        except LayerError as e:
            hit = e
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError) as e:  # defensive: never crash
            hit = LayerError(f"cannot compute this layer ({e})", "check its parameters", None)
        if len(_CACHE) > _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = hit
    if isinstance(hit, LayerError):
        raise hit
    return hit


def _issue(node_id: str, type_id: str, err: LayerError, severity: str = "error") -> Issue:
    return Issue(err.message, err.fix, node_id, type_id, err.field, severity)


def analyze(graph: Graph) -> Analysis:
    issues: list[Issue] = []
    infos: dict[str, NodeInfo] = {}
    nodes = graph.nodes

    # structural checks --------------------------------------------------------------------
    inputs = [n for n in nodes.values() if has_spec(n.type) and get_spec(n.type).role == "input"]
    outputs = [n for n in nodes.values() if has_spec(n.type) and get_spec(n.type).role == "output"]
    if not inputs:
        issues.append(Issue("the network has no Input layer", "drag an Input layer onto the canvas and connect it"))
    for extra in inputs[1:]:
        issues.append(Issue("a network has exactly one Input layer", "remove this one or merge the inputs", extra.id, extra.type))
    if not outputs:
        issues.append(Issue("the network has no loss layer", "end the network with a Cross-entropy or MSE loss layer"))
    for extra in outputs[1:]:
        issues.append(Issue("a network has exactly one loss layer", "remove this one", extra.id, extra.type))

    order, cyclic = graph.topological_order()
    for nid in cyclic:
        n = nodes[nid]
        issues.append(Issue("is part of a cycle (or fed by one)", "remove one of the connections that loop back", nid, n.type))

    # per-node inference in topological order ------------------------------------------------
    for nid in order + cyclic:
        node = nodes[nid]
        info = NodeInfo(nid, node.type)
        infos[nid] = info
        if not has_spec(node.type):
            info.issues.append(Issue(f"unknown layer type '{node.type}'", "delete this node", nid, node.type))
            continue
        spec = get_spec(node.type)
        cfg, field_errors = spec.check_config(node.config)
        info.config = cfg
        for err in field_errors:
            info.issues.append(_issue(nid, node.type, err))
        if nid in cyclic:
            continue
        n_in = spec.num_inputs(cfg)
        in_edges = graph.in_edges(nid)
        by_port: dict[int, Edge] = {}
        wiring_errors = False
        # Ports are numbered from 1 in messages (input 1 is port 0), as the canvas shows them.
        for e in in_edges:
            if e.dst_port >= n_in:
                takes = f"takes only {n_in}" if n_in else "takes no input"
                info.issues.append(Issue(f"has an edge from '{e.src}' into input {e.dst_port + 1}, but {takes}", "delete that connection", nid, node.type))
                wiring_errors = True
            if e.src_port != 0:
                info.issues.append(
                    Issue(f"is fed from output {e.src_port + 1} of '{e.src}', but layers have a single output", f"connect output 1 of '{e.src}' instead", nid, node.type)
                )
                wiring_errors = True
            if e.dst_port in by_port:
                first = by_port[e.dst_port]
                info.issues.append(
                    Issue(
                        f"input {e.dst_port + 1} has two connections (from '{first.src}' and from '{e.src}'); an input takes one",
                        "delete one of them (a merge takes each branch on its own input: use Add or Concat)",
                        nid,
                        node.type,
                    )
                )
                wiring_errors = True
            else:
                by_port[e.dst_port] = e
        missing = [p for p in range(n_in) if p not in by_port]
        if missing:
            which = "its input" if n_in == 1 else "input" + ("s " if len(missing) > 1 else " ") + ", ".join(str(p + 1) for p in missing)
            info.issues.append(Issue(f"{which} is not connected", "connect a layer's output to it, or delete this node", nid, node.type))
        if spec.role != "output" and not graph.out_edges(nid):
            info.issues.append(
                Issue("its output is not used", "connect it to the next layer, or delete it", nid, node.type)
            )
        if field_errors or missing or wiring_errors:
            continue
        shapes = []
        upstream_ok = True
        for p in range(n_in):
            src = infos.get(by_port[p].src)
            if src is None or src.output_shape is None:
                upstream_ok = False
                break
            shapes.append(src.output_shape)
        if not upstream_ok:
            continue  # the upstream node carries the error; don't pile on
        try:
            inf = _infer_cached(node.type, cfg, shapes)
        except LayerError as err:
            info.issues.append(_issue(nid, node.type, err))
            continue
        if any(s < 1 for s in inf.shape):
            info.issues.append(Issue(f"output would be {fmt_shape(inf.shape)}", "use a smaller kernel or stride", nid, node.type))
            continue
        info.input_shapes = shapes
        info.output_shape = inf.shape
        info.trainable, info.non_trainable, info.macs = inf.trainable, inf.non_trainable, inf.macs
        info.rf = _receptive_field(spec.role, inf, [infos[by_port[p].src] for p in range(n_in)], shapes)
        _warn(graph, nid, node.type, spec, info, infos)

    for nid in order + cyclic:
        issues.extend(infos[nid].issues)
    return Analysis(infos, order + cyclic, issues)


def _receptive_field(role: str, inf: Inference, srcs: list[NodeInfo], shapes: list[Shape]) -> RF | None:
    if role == "input":
        return RF((1, 1), (1, 1), (0.0, 0.0))
    rfs = [s.rf for s in srcs if s.rf is not None]
    if not rfs:
        return None
    if len(rfs) == 1:
        rf = rfs[0]
    else:  # merge: the union of the branches' fields
        size = (max(r.size[0] for r in rfs), max(r.size[1] for r in rfs))
        jump = (max(r.jump[0] for r in rfs), max(r.jump[1] for r in rfs))
        start = (min(r.start[0] for r in rfs), min(r.start[1] for r in rfs))
        rf = RF(size, jump, start)
    if inf.flattens:
        _, h, w = shapes[0]
        size = (rf.size[0] + (h - 1) * rf.jump[0], rf.size[1] + (w - 1) * rf.jump[1])
        start = (rf.start[0] + (h - 1) * rf.jump[0] / 2, rf.start[1] + (w - 1) * rf.jump[1] / 2)
        return RF(size, (size[0], size[1]), start)
    if inf.window is None:
        return rf
    k, s, p = inf.window.kernel, inf.window.stride, inf.window.padding
    size = (rf.size[0] + (k[0] - 1) * rf.jump[0], rf.size[1] + (k[1] - 1) * rf.jump[1])
    jump = (rf.jump[0] * s[0], rf.jump[1] * s[1])
    start = (rf.start[0] + ((k[0] - 1) / 2 - p[0]) * rf.jump[0], rf.start[1] + ((k[1] - 1) / 2 - p[1]) * rf.jump[1])
    return RF(size, jump, start)


def _warn(graph: Graph, nid: str, type_id: str, spec, info: NodeInfo, infos: dict[str, NodeInfo]) -> None:
    """Non-fatal advice: valid networks that are probably not what the user meant."""
    if type_id == "cross_entropy":
        for e in graph.in_edges(nid):
            src = graph.nodes[e.src]
            if src.type in ("softmax", "sigmoid"):
                info.issues.append(
                    Issue(
                        f"its input already goes through {src.spec.title}; cross-entropy applies softmax itself",
                        f"remove '{src.id}' so the loss sees raw scores",
                        nid,
                        type_id,
                        severity="warning",
                    )
                )
