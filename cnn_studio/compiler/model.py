"""Compile a core Graph into a real ``torch.nn.Module``.

Each node becomes a submodule registered under a name derived from its node id (the id itself,
unless it clashes with an ``nn.Module`` attribute, then ``<id>_``), so the state_dict keys are a
pure function of the graph: weights saved today load into the same graph tomorrow. The forward
pass follows a plan computed once, in topological order; the loss node is not part of it, the
model returns what feeds the loss (the class scores).

A block instance compiles to a nested :class:`BlockModule` whose submodules are named by the
definition's inner node ids (the same ``module_name`` rule), so keys read ``layer1.0.conv1.weight``
(inner ids may be plain numbers, as torchvision's). ``forward_capture`` takes top-level ids and
paths into blocks, ``"layer1/0/conv1"`` (instance id, then inner ids, joined by ``/``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.analysis import Analysis, BlockAnalysis, analyze
from ..core.block_defs import BlockTable
from ..core.block_spec import BLOCK_TYPE
from ..core.errors import GraphError, Issue
from ..core.graph import Graph
from ..core.layers import Shape
from .modules import BUILDERS, make_loss


# Attributes GraphModule sets on itself; a node id equal to one of them (or to anything nn.Module
# defines, or a Python keyword) gets a trailing underscore as its module name.
GRAPHMODULE_ATTRS = frozenset(
    {
        "training", "graph_config", "loss_type", "loss_config", "input_node_id", "input_shape", "output_shape",
        "node_shapes", "module_names", "output_source_id",
    }
)


def module_name(node_id: str) -> str:
    import keyword

    clash = hasattr(nn.Module, node_id) or node_id in GRAPHMODULE_ATTRS or keyword.iskeyword(node_id) or node_id.startswith("_")
    return node_id + "_" if clash else node_id


class GraphModule(nn.Module):
    """The compiled network. ``forward(x)`` returns the scores that feed the loss layer."""

    def __init__(self, graph: Graph, analysis: Analysis):
        super().__init__()
        self.graph_config = graph.to_config()
        out_node = graph.output_node()
        in_node = graph.input_node()
        assert out_node is not None and in_node is not None
        self.loss_type: str = out_node.type
        self.loss_config: dict = dict(analysis.nodes[out_node.id].config)
        self.input_node_id: str = in_node.id
        self.input_shape: Shape = analysis.nodes[in_node.id].output_shape  # type: ignore[assignment]
        self.output_shape: Shape = analysis.nodes[out_node.id].output_shape  # type: ignore[assignment]
        self.node_shapes: dict[str, Shape] = {n: i.output_shape for n, i in analysis.nodes.items() if i.output_shape is not None}
        self.module_names: dict[str, str] = {}
        plan: list[tuple[str, str, list[int]]] = []
        slot: dict[str, int] = {}
        for nid in analysis.order:
            node = graph.nodes[nid]
            if node.id == out_node.id:
                continue
            info = analysis.nodes[nid]
            mod = _build(graph.blocks, node.type, info)
            name = module_name(nid)
            self.add_module(name, mod)
            self.module_names[nid] = name
            srcs = [slot[e.src] for e in graph.in_edges(nid)]
            slot[nid] = len(plan)
            plan.append((nid, name, srcs))
        self._plan = plan
        self._result_slot = slot[graph.in_edges(out_node.id)[0].src]
        self._slot = slot
        self.output_source_id: str = graph.in_edges(out_node.id)[0].src

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: list[torch.Tensor] = []
        for _, name, srcs in self._plan:
            mod = self._modules[name]
            if srcs:
                values.append(mod(*[values[i] for i in srcs]))
            else:
                values.append(mod(x))
        return values[self._result_slot]

    def forward_capture(self, x: torch.Tensor, capture) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward pass that also returns the outputs of the nodes named in ``capture`` (top-level
        ids, or ``instance/inner/...`` paths into blocks)."""
        wanted = set(capture)
        inner = _split_paths(wanted)
        unknown = {w for w in wanted if "/" not in w} - set(self._slot)
        unknown |= {f"{top}/{p}" for top, paths in inner.items() for p in paths if top not in self._slot or not isinstance(self.module_for(top), BlockModule)}
        if unknown:
            raise KeyError(f"no such node(s) in the model: {', '.join(sorted(unknown))}")
        values: list[torch.Tensor] = []
        captured: dict[str, torch.Tensor] = {}
        for nid, name, srcs in self._plan:
            mod = self._modules[name]
            args = [values[i] for i in srcs] if srcs else [x]
            if nid in inner:
                out, got = mod.forward_capture(*args, capture=inner[nid])
                captured.update({f"{nid}/{k}": v for k, v in got.items()})
            else:
                out = mod(*args)
            values.append(out)
            if nid in wanted:
                captured[nid] = out
        return values[self._result_slot], captured

    def module_for(self, node_id: str) -> nn.Module:
        return self._modules[self.module_names[node_id]]

    def make_loss(self) -> nn.Module:
        return make_loss(self.loss_type, self.loss_config)


def _split_paths(wanted) -> dict[str, set[str]]:
    """{"a/b/c", "a/d"} -> {"a": {"b/c", "d"}}"""
    out: dict[str, set[str]] = {}
    for w in wanted:
        if "/" in w:
            top, rest = w.split("/", 1)
            out.setdefault(top, set()).add(rest)
    return out


def _build(blocks: BlockTable, type_id: str, info) -> nn.Module:
    if type_id == BLOCK_TYPE:
        return BlockModule(blocks, info.config["block"], info.block)
    return BUILDERS[type_id](info.config, info.input_shapes)


class BlockModule(nn.Module):
    """One block instance: its definition's inner layers as submodules named by their inner ids,
    run in the analysis' order. ``forward(*inputs)`` takes one tensor per block input port."""

    def __init__(self, blocks: BlockTable, name: str, ba: BlockAnalysis):
        super().__init__()
        d = blocks[name]
        self._block_name = name
        port_of: dict[tuple[str, int], int] = {}
        for i, targets in enumerate(d.inputs):
            for t in targets:
                port_of[(t[0], t[1])] = i
        # submodules in the definition's node order (as a hand-written __init__ lists them, so the
        # state_dict's key order matches torchvision's), run in the analysis' topological order
        for nid in d.graph.nodes:
            self.add_module(module_name(nid), _build(blocks, d.graph.nodes[nid].type, ba.nodes[nid]))
        slot: dict[str, int] = {}
        plan: list[tuple[str, str, list[int]]] = []
        for nid in ba.order:
            info = ba.nodes[nid]
            mname = module_name(nid)
            # a source >= 0 is an inner node's slot, -(i + 1) is block input i
            srcs = []
            for p in range(len(info.input_shapes)):
                e = d.graph.edge_into(nid, p)
                srcs.append(slot[e.src] if e is not None else -(port_of[(nid, p)] + 1))
            slot[nid] = len(plan)
            plan.append((nid, mname, srcs))
        self._plan = plan
        self._slot = slot
        self._result = slot[d.output]

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        values: list[torch.Tensor] = []
        for _, name, srcs in self._plan:
            values.append(self._modules[name](*[values[i] if i >= 0 else xs[-i - 1] for i in srcs]))
        return values[self._result]

    def forward_capture(self, *xs: torch.Tensor, capture) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        wanted = set(capture)
        inner = _split_paths(wanted)
        unknown = ({w for w in wanted if "/" not in w} | set(inner)) - set(self._slot)
        if unknown:
            raise KeyError(f"no such node(s) in block '{self._block_name}': {', '.join(sorted(unknown))}")
        values: list[torch.Tensor] = []
        captured: dict[str, torch.Tensor] = {}
        for nid, name, srcs in self._plan:
            mod = self._modules[name]
            args = [values[i] if i >= 0 else xs[-i - 1] for i in srcs]
            if nid in inner:
                if not isinstance(mod, BlockModule):
                    raise KeyError(f"'{nid}' in block '{self._block_name}' is not a block")
                out, got = mod.forward_capture(*args, capture=inner[nid])
                captured.update({f"{nid}/{k}": v for k, v in got.items()})
            else:
                out = mod(*args)
            values.append(out)
            if nid in wanted:
                captured[nid] = out
        return values[self._result], captured


def _types_used(graph: Graph, analysis: Analysis) -> set[str]:
    """Every layer type the compiled model builds, inside blocks too."""
    types = {graph.nodes[n].type for n in analysis.order if graph.nodes[n].spec.role != "output"}
    for name in list(graph.blocks):
        types |= {n.type for n in graph.blocks[name].graph.nodes.values()}
    types.discard(BLOCK_TYPE)
    return types


def compile_model(graph: Graph, analysis: Analysis | None = None) -> GraphModule:
    """Validate and compile. Raises GraphError (listing every problem) if the graph is invalid."""
    if analysis is None:
        analysis = analyze(graph)
    analysis.raise_for_errors()
    missing = sorted(t for t in _types_used(graph, analysis) if t not in BUILDERS)
    if missing:
        raise GraphError(Issue(f"no PyTorch implementation for layer type(s) {', '.join(missing)}", "remove those nodes"))
    return GraphModule(graph, analysis)
