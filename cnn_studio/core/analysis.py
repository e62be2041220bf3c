"""Whole-graph analysis: shape, parameters, MACs, activation memory and receptive field per node.

Walks the nodes in topological order (as torch.fx's ShapeProp does), calls each layer's ``infer``,
and records every problem as an :class:`Issue` naming the node, instead of stopping at the first.
Only :class:`GraphError` ever leaves :func:`analyze` via :meth:`Analysis.raise_for_errors`.

Receptive field per axis follows the usual recurrence: for a window of effective size k, stride s
and leading padding p, ``r_out = r_in + (k - 1) * j_in``, ``j_out = j_in * s`` and
``start_out = start_in + ((k - 1) / 2 - p) * j_in`` (``start`` is the centre of the first output
unit's field in input pixels). After a Flatten every unit sees the whole span of the map.

Upsampling layers (transposed convolution, Upsample) make the output grid finer than the input:
their window has a fractional stride 1/s (the jump shrinks), and their kernel is the widest run of
input pixels one output reads (nearest: 1; bilinear: 2; transposed conv: floor((k-1)*g/s)*d/g + 1
with g = gcd(s, d)). The recurrence then runs on real numbers (``RF.extent``); the reported
``size`` is the extent rounded up to whole pixels, the field of the widest output unit (an output
of a 3x3 stride-2 transposed conv reads 1 or 2 inputs: size 2). Tested against fields measured
with gradients on the compiled torch model (tests/compiler/test_receptive_field.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError, Issue, LayerError, _type_title
from .block_spec import BLOCK_TYPE, is_known_type, spec_for
from .graph import Edge, Graph
from .layers import Inference, Shape, fmt_shape, get_spec, has_spec

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class AxisField:
    """The exact field of every output position along one axis, as a repeating pattern: position
    ``o = r + period * q`` (0 <= r < period) sees input pixels ``lo[r] + shift * q`` to
    ``hi[r] + shift * q`` (None: it reads nothing, a hole a transposed conv leaves). Positions
    outside the map are padding and follow the same pattern."""

    period: int
    shift: int
    lo: tuple[int | None, ...]
    hi: tuple[int | None, ...]

    def at(self, i: int) -> tuple[int, int] | None:
        q, r = divmod(i, self.period)
        lo = self.lo[r]
        if lo is None:
            return None
        return lo + self.shift * q, self.hi[r] + self.shift * q  # type: ignore[operator]

    def widest(self) -> int | None:
        spans = [h - l + 1 for l, h in zip(self.lo, self.hi) if l is not None]  # type: ignore[operator]
        return max(spans) if spans else None


_MAX_PERIOD = 4096  # longer patterns (sizes with large coprime ratios) fall back to the recurrence


@dataclass(frozen=True)
class RF:
    size: tuple[int, int]  # whole input pixels: the field of the widest output unit
    jump: tuple[float, float]  # input pixels between neighbouring output units (fractional after upsampling)
    start: tuple[float, float]
    extent: tuple[float, float] | None = None  # the real-valued size of the fallback recurrence; None: equals size
    axes: tuple[AxisField, AxisField] | None = field(default=None, compare=False, repr=False)  # exact fields, when known

    @property
    def span(self) -> tuple[float, float]:
        return self.extent if self.extent is not None else (float(self.size[0]), float(self.size[1]))

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
    block: "BlockAnalysis | None" = None  # a block instance's inner analysis

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def activation_bytes(self) -> int:
        # a block instance holds every activation of its inner layers (its output is its output
        # node's), so grouping layers never changes the network's activation memory
        if self.block is not None:
            return sum(self.block.nodes[n].activation_bytes for n in self.block.order)
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
            **({"block": self.block.name, "inner": [self.block.nodes[n].to_dict() for n in self.block.order]} if self.block else {}),
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
        training"), so whoever batches the training data must never form one for this network.
        Inside blocks they are named by path ("layer4/1/bn2")."""
        out: list[str] = []

        def visit(prefix: str, nodes: dict[str, NodeInfo], order: list[str]) -> None:
            for nid in order:
                info = nodes[nid]
                shape = info.output_shape
                if info.type in ("batchnorm2d", "batchnorm1d") and shape is not None and (len(shape) == 1 or shape[1] * shape[2] == 1):
                    out.append(prefix + nid)
                if info.block is not None:  # nesting is bounded (MAX_BLOCK_NESTING)
                    visit(prefix + nid + "/", info.block.nodes, info.block.order)

        visit("", self.nodes, self.order)
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

    infos, order = _walk(graph, {}, None, _BlockContext(graph))
    for nid in order:
        issues.extend(infos[nid].issues)
    return Analysis(infos, order, issues)


# A block definition's inner graph is analysed with the same walk: its input ports are "feeds"
# (inner (node, port) -> a stand-in NodeInfo carrying the instance's input shape and receptive field),
# its output node needs no consumer, and each instance's result is cached per (definition, input
# shapes, input fields) within one analyze() call, so a block used 50 times is analysed once per shape.
MAX_BLOCK_NESTING = 16


class _BlockContext:
    def __init__(self, graph: Graph):
        self.blocks = graph.blocks
        self.stack: list[str] = []
        self.cache: dict[Any, BlockAnalysis] = {}


@dataclass
class BlockAnalysis:
    """The inner analysis of one block instance: its definition's nodes (NodeInfo by inner id, with
    nested instances carrying their own ``block``), in topological order, and the output node id."""

    name: str
    nodes: dict[str, NodeInfo]
    order: list[str]
    output: str
    issues: list[Issue]

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)


def _walk(graph: Graph, feeds: dict[tuple[str, int], NodeInfo], output_id: str | None, ctx: _BlockContext) -> tuple[dict[str, NodeInfo], list[str]]:
    infos: dict[str, NodeInfo] = {}
    nodes = graph.nodes
    order, cyclic = graph.topological_order()
    for nid in cyclic:
        n = nodes[nid]
        infos[nid] = NodeInfo(nid, n.type, issues=[Issue("is part of a cycle (or fed by one)", "remove one of the connections that loop back", nid, n.type)])

    # per-node inference in topological order ------------------------------------------------
    for nid in order + cyclic:
        node = nodes[nid]
        info = infos.get(nid) or NodeInfo(nid, node.type)
        infos[nid] = info
        if not is_known_type(node.type):
            info.issues.append(Issue(f"unknown layer type '{node.type}'", "delete this node", nid, node.type))
            continue
        spec = spec_for(node.type)
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
            if e.dst_port in by_port or (nid, e.dst_port) in feeds:
                first = by_port[e.dst_port].src if e.dst_port in by_port else "the block's input"
                info.issues.append(
                    Issue(
                        f"input {e.dst_port + 1} has two connections (from '{first}' and from '{e.src}'); an input takes one",
                        "delete one of them (a merge takes each branch on its own input: use Add or Concat)",
                        nid,
                        node.type,
                    )
                )
                wiring_errors = True
            else:
                by_port[e.dst_port] = e
        missing = [p for p in range(n_in) if p not in by_port and (nid, p) not in feeds]
        if missing:
            which = "its input" if n_in == 1 else "input" + ("s " if len(missing) > 1 else " ") + ", ".join(str(p + 1) for p in missing)
            info.issues.append(Issue(f"{which} is not connected", "connect a layer's output to it, or delete this node", nid, node.type))
        if spec.role != "output" and not graph.out_edges(nid) and nid != output_id:
            info.issues.append(
                Issue("its output is not used", "connect it to the next layer, or delete it", nid, node.type)
            )
        if field_errors or missing or wiring_errors:
            continue
        srcs: list[NodeInfo] = []
        for p in range(n_in):
            src = infos.get(by_port[p].src) if p in by_port else feeds[(nid, p)]
            if src is None or src.output_shape is None:
                break
            srcs.append(src)
        if len(srcs) < n_in:
            continue  # the upstream node carries the error; don't pile on
        shapes = [s.output_shape for s in srcs]
        if node.type == BLOCK_TYPE:
            _instance(info, cfg, shapes, srcs, ctx)  # type: ignore[arg-type]
            continue
        try:
            inf = _infer_cached(node.type, cfg, shapes)  # type: ignore[arg-type]
        except LayerError as err:
            info.issues.append(_issue(nid, node.type, err))
            continue
        if any(s < 1 for s in inf.shape):
            info.issues.append(Issue(f"output would be {fmt_shape(inf.shape)}", "use a smaller kernel or stride", nid, node.type))
            continue
        info.input_shapes = shapes  # type: ignore[assignment]
        info.output_shape = inf.shape
        info.trainable, info.non_trainable, info.macs = inf.trainable, inf.non_trainable, inf.macs
        info.rf = _receptive_field(spec.role, inf, srcs, shapes)  # type: ignore[arg-type]
        _warn(graph, nid, node.type, spec, info, infos)
    return infos, order + cyclic


def _instance(info: NodeInfo, cfg: dict, shapes: list[Shape], srcs: list[NodeInfo], ctx: _BlockContext) -> None:
    """Analyse a block instance from its definition: its output shape, totals and receptive field
    are those of the inner graph fed with the instance's inputs; inner problems are reported on the
    instance, naming the block and the inner node."""
    name = cfg["block"]
    nid = info.id

    def fail(msg: str, fix: str) -> None:
        info.issues.append(Issue(msg, fix, nid, BLOCK_TYPE, "block"))

    d = ctx.blocks.get(name)
    if d is None:
        return fail(f"uses block '{name}', which has no definition", "pick an existing block or ungroup this one")
    if name in ctx.stack:
        return fail(f"block '{name}' contains itself ({' -> '.join(ctx.stack + [name])})", "remove the inner use of the block")
    if len(ctx.stack) >= MAX_BLOCK_NESTING:
        return fail(f"blocks nest more than {MAX_BLOCK_NESTING} levels deep here", "ungroup some of the inner blocks")
    if d.num_inputs != len(shapes):
        return fail(f"has {len(shapes)} input ports but block '{name}' takes {d.num_inputs}", "reconnect it or drop the block again")
    key = (name, tuple(shapes), tuple(s.rf for s in srcs))
    ba = ctx.cache.get(key)
    if ba is None:
        feeds: dict[tuple[str, int], NodeInfo] = {}
        port_issues: list[Issue] = []
        for i, targets in enumerate(d.inputs):
            stand_in = NodeInfo(f"input {i + 1}", "input", output_shape=shapes[i], rf=srcs[i].rf)
            for t in targets:
                if t[0] not in d.graph.nodes:
                    port_issues.append(Issue(f"input {i + 1} of block '{name}' feeds '{t[0]}', which the block no longer holds", "set the block's inputs again"))
                elif t[1] >= d.graph.nodes[t[0]].num_inputs():
                    n_in = d.graph.nodes[t[0]].num_inputs()
                    port_issues.append(Issue(f"input {i + 1} of block '{name}' feeds input {t[1] + 1} of '{t[0]}', which has {n_in}", "set the block's inputs again"))
                feeds[(t[0], t[1])] = stand_in
        ctx.stack.append(name)
        try:
            inner, order = _walk(d.graph, feeds, d.output, ctx)
        finally:
            ctx.stack.pop()
        if d.output not in inner:
            port_issues.append(Issue(f"the output of block '{name}' is '{d.output}', which the block no longer holds", "choose the block's output again"))
        inner_issues = [i for n in order for i in inner[n].issues]
        ba = BlockAnalysis(name, inner, order, d.output, port_issues + inner_issues)
        ctx.cache[key] = ba
    info.block = ba
    for i in ba.issues:
        if i.node_id is None:  # about the definition's ports
            info.issues.append(Issue(i.message, i.fix, nid, BLOCK_TYPE, "block", i.severity))
            continue
        where = f"in block '{name}', {_type_title(i.node_type) if i.node_type != BLOCK_TYPE else 'Block'} '{i.node_id}'"
        if i.field:
            where += f" ({i.field})"
        info.issues.append(Issue(f"{where}: {i.message}", i.fix, nid, BLOCK_TYPE, None, i.severity))
    if not ba.ok or d.output not in ba.nodes or ba.nodes[d.output].output_shape is None:
        return
    out = ba.nodes[d.output]
    info.input_shapes = list(shapes)
    info.output_shape = out.output_shape
    info.trainable = sum(ba.nodes[n].trainable for n in ba.order)
    info.non_trainable = sum(ba.nodes[n].non_trainable for n in ba.order)
    info.macs = sum(ba.nodes[n].macs for n in ba.order)
    info.rf = out.rf


def _receptive_field(role: str, inf: Inference, srcs: list[NodeInfo], shapes: list[Shape]) -> RF | None:
    if role == "input":
        one = AxisField(1, 1, (0,), (0,))
        return RF((1, 1), (1, 1), (0.0, 0.0), axes=(one, one))
    rfs = [s.rf for s in srcs if s.rf is not None]
    if not rfs:
        return None
    axes = _exact_axes(inf, rfs, shapes)
    if axes is None:
        return _recurrence(inf, rfs, shapes)
    if len(rfs) == 1 and axes is rfs[0].axes:  # element-wise: the field passes through
        return rfs[0]
    sizes = [a.widest() for a in axes]
    if sizes[0] is None or sizes[1] is None:
        return None  # no output unit reads any input pixel (a transposed conv's holes, sampled by a stride)
    jump = tuple(_whole(a.shift / a.period) for a in axes)
    # centre of unit 0; when unit 0 is a hole, the first unit that reads something, moved back
    start = []
    for a, j in zip(axes, jump):
        r = next(i for i, lo in enumerate(a.lo) if lo is not None)
        start.append((a.lo[r] + a.hi[r]) / 2 - r * j)  # type: ignore[operator]
    return RF((sizes[0], sizes[1]), jump, (start[0], start[1]), None, axes)  # type: ignore[arg-type]


def _exact_axes(inf: Inference, rfs: list[RF], shapes: list[Shape]) -> tuple[AxisField, AxisField] | None:
    """Exact fields, per axis, from the sources' exact fields and what each output position reads
    (None when a source has none, or the pattern would get too long)."""
    if any(r.axes is None for r in rfs):
        return None
    if len(rfs) > 1:
        return _union_axes([r.axes for r in rfs])  # type: ignore[misc]
    src = rfs[0].axes
    assert src is not None
    if inf.flattens:
        if len(shapes[0]) == 1:
            return src  # a flat vector's units already see everything
        out = []
        for a, n in zip(src, shapes[0][1:]):
            seen = [f for f in (a.at(i) for i in range(n)) if f is not None]
            if not seen:
                return None
            lo, hi = min(f[0] for f in seen), max(f[1] for f in seen)
            out.append(AxisField(1, 0, (lo,), (hi,)))  # every unit sees the same: shift 0
        return out[0], out[1]
    if inf.reads is None and inf.window is not None and src[0].period == 1 and src[1].period == 1:
        fast = _window_on_linear(inf.window, src)
        if fast is not None:
            return fast
    reads = inf.reads or (inf.window.reads() if inf.window is not None else None)
    if reads is None:
        return src if inf.window is None else None
    out = []
    for a, r in zip(src, reads):
        # o -> o + period_out*t shifts what is read by period_in*t; a whole number of source periods needs t below
        t = a.period // math.gcd(r.period_in, a.period) if r.period_in else 1
        period = r.period_out * t
        if period > _MAX_PERIOD:
            return None
        shift = a.shift * (r.period_in * t // a.period)
        los: list[int | None] = []
        his: list[int | None] = []
        for o in range(period):
            seen = [f for f in (a.at(i) for i in r.at(o)) if f is not None]
            los.append(min(f[0] for f in seen) if seen else None)
            his.append(max(f[1] for f in seen) if seen else None)
        out.append(AxisField(period, shift, tuple(los), tuple(his)))
    return out[0], out[1]


def _window_on_linear(window, src: tuple[AxisField, AxisField]) -> tuple[AxisField, AxisField] | None:
    """The common case in O(1): a window with whole stride and padding over a source whose every
    position sees ``lo + shift*i .. hi + shift*i`` (period 1, shift >= 0), so its first and last
    taps bound the field."""
    out = []
    for a, k, s, p, d in zip(src, window.kernel, window.stride, window.padding, window.dilation):
        if a.lo[0] is None or s != int(s) or p != int(p):
            return None
        first = -int(p)
        last = first + ((k - 1) // d) * d
        out.append(AxisField(1, a.shift * int(s), (a.lo[0] + a.shift * first,), (a.hi[0] + a.shift * last,)))  # type: ignore[operator]
    return out[0], out[1]


def _union_axes(branches: list[tuple[AxisField, AxisField]]) -> tuple[AxisField, AxisField] | None:
    """A merge sees the union of its branches' fields; exact when the branches' grids agree."""
    out = []
    for axis in (0, 1):
        fields = [b[axis] for b in branches]
        if any(f.shift * fields[0].period != fields[0].shift * f.period for f in fields):
            return None  # different grids (a whole-map gate on a trunk): use the recurrence
        period = 1
        for f in fields:
            period = period * f.period // math.gcd(period, f.period)
        if period > _MAX_PERIOD:
            return None
        shift = fields[0].shift * period // fields[0].period
        los: list[int | None] = []
        his: list[int | None] = []
        for o in range(period):
            seen = [x for x in (f.at(o) for f in fields) if x is not None]
            los.append(min(x[0] for x in seen) if seen else None)
            his.append(max(x[1] for x in seen) if seen else None)
        out.append(AxisField(period, shift, tuple(los), tuple(his)))
    return out[0], out[1]


def _recurrence(inf: Inference, rfs: list[RF], shapes: list[Shape]) -> RF:
    """The real-valued recurrence (module docstring); the fallback when exact fields are unknown."""
    if len(rfs) == 1:
        span, jump, start = rfs[0].span, rfs[0].jump, rfs[0].start
    else:  # merge: the union of the branches' fields
        span = (max(r.span[0] for r in rfs), max(r.span[1] for r in rfs))
        jump = (max(r.jump[0] for r in rfs), max(r.jump[1] for r in rfs))
        start = (min(r.start[0] for r in rfs), min(r.start[1] for r in rfs))
    if inf.flattens:  # every output unit sees all its input sees (Flatten, Mean over H, W, Reshape)
        if len(shapes[0]) == 3:
            _, h, w = shapes[0]
            span = (span[0] + (h - 1) * jump[0], span[1] + (w - 1) * jump[1])
            start = (start[0] + (h - 1) * jump[0] / 2, start[1] + (w - 1) * jump[1] / 2)
        # a map made of such units (Mean with keep dims, a vector reshaped to a map) has jump 0:
        # its neighbours see the same field, so a window over them widens nothing
        return _rf(span, span if len(inf.shape) == 1 else (0, 0), start)
    if inf.window is None:
        return _rf(span, jump, start)
    k, s, p = inf.window.kernel, inf.window.stride, inf.window.padding
    new_span = (span[0] + (k[0] - 1) * jump[0], span[1] + (k[1] - 1) * jump[1])
    new_jump = (jump[0] * s[0], jump[1] * s[1])
    new_start = (start[0] + ((k[0] - 1) / 2 - p[0]) * jump[0], start[1] + ((k[1] - 1) / 2 - p[1]) * jump[1])
    return _rf(new_span, new_jump, new_start)


def _whole(v: float) -> float | int:
    """An integral value as an int (jumps and sizes stay ints without upsampling)."""
    r = round(v)
    return int(r) if abs(v - r) < 1e-9 else v


def _rf(span, jump, start) -> RF:
    size = tuple(max(1, int(-(-(x - 1e-9) // 1))) for x in span)  # ceil, tolerant of float noise
    exact = all(abs(x - round(x)) < 1e-9 for x in span)
    return RF(size, (_whole(jump[0]), _whole(jump[1])), start, None if exact else (float(span[0]), float(span[1])))  # type: ignore[arg-type]


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
