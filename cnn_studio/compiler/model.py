"""Compile a core Graph into a real ``torch.nn.Module``.

Each node becomes a submodule registered under a name derived from its node id (the id itself,
unless it clashes with an ``nn.Module`` attribute, then ``<id>_``), so the state_dict keys are a
pure function of the graph: weights saved today load into the same graph tomorrow. The forward
pass follows a plan computed once, in topological order; the loss node is not part of it, the
model returns what feeds the loss (the class scores).
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.analysis import Analysis, analyze
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
            mod = BUILDERS[node.type](info.config, info.input_shapes)
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
        """Forward pass that also returns the outputs of the nodes named in ``capture``."""
        wanted = set(capture)
        unknown = wanted - set(self._slot)
        if unknown:
            raise KeyError(f"no such node(s) in the model: {', '.join(sorted(unknown))}")
        values: list[torch.Tensor] = []
        captured: dict[str, torch.Tensor] = {}
        for nid, name, srcs in self._plan:
            mod = self._modules[name]
            out = mod(*[values[i] for i in srcs]) if srcs else mod(x)
            values.append(out)
            if nid in wanted:
                captured[nid] = out
        return values[self._result_slot], captured

    def module_for(self, node_id: str) -> nn.Module:
        return self._modules[self.module_names[node_id]]

    def make_loss(self) -> nn.Module:
        return make_loss(self.loss_type, self.loss_config)


def compile_model(graph: Graph, analysis: Analysis | None = None) -> GraphModule:
    """Validate and compile. Raises GraphError (listing every problem) if the graph is invalid."""
    if analysis is None:
        analysis = analyze(graph)
    analysis.raise_for_errors()
    missing = sorted({graph.nodes[n].type for n in analysis.order if graph.nodes[n].type not in BUILDERS and graph.nodes[n].spec.role != "output"})
    if missing:
        raise GraphError(Issue(f"no PyTorch implementation for layer type(s) {', '.join(missing)}", "remove those nodes"))
    return GraphModule(graph, analysis)
