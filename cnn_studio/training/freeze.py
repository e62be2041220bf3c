"""Per-node training options of a compiled network (transfer learning).

A graph node can be *frozen* (``Node.frozen``: its parameters keep their values, so they get
``requires_grad`` False and stay out of the optimizer) and can carry a learning-rate multiplier
(``Node.lr_mult``: its parameters form an optimizer param group whose rate is the run's times the
multiplier; ``optim.build_optimizer`` groups them). Batch norm inside a frozen node stays in eval mode
while the rest trains when ``TrainConfig.frozen_bn_eval`` is on (the default): it normalises with
its running statistics and does not update them, so the frozen layer computes exactly what it
computed before fine-tuning. Applied by the Trainer right after the model is compiled (and initial
weights loaded), for new and resumed runs alike: a resume compiles the checkpoint's graph, which
carries the options, so its optimizer groups match the checkpoint's.

Blocks: the nodes of a block *definition* carry options too. Instance X's inner node Y is the
submodule ``X.Y`` of the compiled model (path "X/Y", as ``forward_capture`` names it); it is frozen
when Y or any instance around it is frozen, and its multiplier is the product of the multipliers on
the way down (an instance at x0.1 holding a conv at x0.5 trains that conv at x0.05). A definition
shared by several instances is one set of options: freezing its node Y freezes Y in every instance
(the run's note lists each path; ``freeze_nodes`` says so when it happens).
"""
from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..compiler.model import module_name
from ..core.block_spec import BLOCK_TYPE
from ..core.errors import StudioError
from ..core.graph import Graph
from ..core.trainable import instance_paths
from .optim import LR_MULT_ATTR


class FreezeError(StudioError):
    """The freezing options leave nothing to train, or name layers the network does not have."""


def _stay_eval(module: nn.Module, _args) -> None:
    """Forward pre-hook of a frozen node's batch norm: whatever ``model.train()`` set, it runs in eval
    mode (running statistics used, never updated). A hook survives ``copy.deepcopy`` of the model."""
    if module.training:
        module.training = False


class _Leaf:
    """One layer (not a block) of the compiled model with its effective options. ``mark_frozen`` /
    ``mark_mult``: the path of the node whose own option set them (for the run's notes)."""
    __slots__ = ("path", "module", "frozen", "mult", "mark_frozen", "mark_mult")

    def __init__(self, path, module, frozen, mult, mark_frozen, mark_mult):
        self.path, self.module, self.frozen, self.mult = path, module, frozen, mult
        self.mark_frozen, self.mark_mult = mark_frozen, mark_mult


def _leaves(model: nn.Module, graph: Graph) -> list[_Leaf]:
    """Every non-block layer of ``model`` (a compiled GraphModule), inside blocks too, with the options
    it inherits from the instances around it (see the module docstring)."""
    out: list[_Leaf] = []

    def walk(g: Graph, node_id: str, module: nn.Module, path: str, frozen: bool, mult: float, mark_f, mark_m) -> None:
        node = g.nodes[node_id]
        if node.frozen and not frozen:
            frozen, mark_f = True, path
        if node.lr_mult != 1.0:
            mult, mark_m = mult * node.lr_mult, path
        if node.type == BLOCK_TYPE and node.config.get("block") in graph.blocks:
            inner = graph.blocks[node.config["block"]].graph
            subs = dict(module.named_children())
            for inner_id in inner.nodes:
                sub = subs.get(module_name(inner_id))
                if sub is not None:
                    walk(inner, inner_id, sub, f"{path}/{inner_id}", frozen, mult, mark_f, mark_m)
            return
        out.append(_Leaf(path, module, frozen, mult, mark_f, mark_m))

    names = getattr(model, "module_names", {})
    for nid in graph.nodes:
        if nid in names:
            walk(graph, nid, model.module_for(nid), nid, False, 1.0, None, None)
    return out


def frozen_batchnorms(model: nn.Module, graph: Graph) -> list[nn.Module]:
    """The batch-norm modules inside frozen nodes of ``model`` (a compiled GraphModule), inside
    blocks too."""
    return [m for leaf in _leaves(model, graph) if leaf.frozen for m in leaf.module.modules() if isinstance(m, _BatchNorm)]


def _unique(items):
    return list(dict.fromkeys(items))


def apply_node_options(model: nn.Module, graph: Graph, frozen_bn_eval: bool = True) -> list[str]:
    """Freeze and tag the parameters of ``model`` by its graph's node options (those inside block
    definitions too); returns notes for the run (empty when every node has the defaults). FreezeError
    when every parameter would be frozen."""
    frozen_marks, mult_marks, frozen_count, total, bns = [], [], 0, 0, []
    for leaf in _leaves(model, graph):
        params = list(leaf.module.parameters())
        count = sum(p.numel() for p in params)
        total += count
        if leaf.frozen:
            for p in params:
                p.requires_grad_(False)
            if params:
                frozen_marks.append(leaf.mark_frozen)
                frozen_count += count
            if frozen_bn_eval:
                bns.extend(m for m in leaf.module.modules() if isinstance(m, _BatchNorm))
        elif leaf.mult != 1.0 and params:
            for p in params:
                setattr(p, LR_MULT_ATTR, float(leaf.mult))
            mult_marks.append((leaf.mark_mult, leaf.mult))
    if frozen_marks and frozen_count == total:
        raise FreezeError("every layer with parameters is frozen, so there is nothing to train; unfreeze at least one "
                          "(Inspector: Trainable, or leave it out of --freeze)")
    notes = []
    if frozen_marks:
        for m in bns:
            m.register_forward_pre_hook(_stay_eval)
        notes.append(f"frozen: {', '.join(_unique(frozen_marks))} ({frozen_count:,} of {total:,} parameters kept fixed"
                     + (f"; {len(bns)} batch norm(s) in eval mode" if bns else "") + ")")
    if mult_marks:
        notes.append("learning-rate multipliers: " + ", ".join(f"{p} x{m:g}" for p, m in _unique(mult_marks)))
    return notes


def _resolve(graph: Graph, name: str) -> tuple[Graph, str, str | None] | str:
    """``name`` ("conv" or "layer1/0/conv1") as (graph holding the node, its id, definition name or
    None at top level), or a message saying which part of it the network lacks."""
    parts = name.split("/")
    g, where, walked = graph, None, []
    for i, part in enumerate(parts):
        if part not in g.nodes:
            if where is None:
                return repr(name) if len(parts) == 1 else f"{name!r} (no layer {part!r} at the top level)"
            known = ", ".join(list(g.nodes)[:20]) + (" ..." if len(g.nodes) > 20 else "")
            return f"{name!r} (block '{where}' at {'/'.join(walked)} has no layer {part!r}; its layers are: {known})"
        walked.append(part)
        if i == len(parts) - 1:
            return g, part, where
        node = g.nodes[part]
        if node.type != BLOCK_TYPE or node.config.get("block") not in graph.blocks:
            return f"{name!r} ({'/'.join(walked)!r} is not a block, so it has no layers inside)"
        where = node.config["block"]
        g = graph.blocks[where].graph
    return f"{name!r} (empty path)"  # pragma: no cover - split never gives no parts


def freeze_nodes(graph: Graph, names: list[str]) -> list[str]:
    """Mark the named nodes frozen (``cnn-studio train --freeze``): top-level ids, or paths into blocks
    ("layer1/0/conv1", as ``forward_capture`` names inner nodes). Unknown names are refused all at
    once, naming them. Returns notes: freezing a layer of a definition that several instances share
    freezes it in each of them, and the note lists them."""
    resolved, unknown = [], []
    for n in names:
        r = _resolve(graph, n)
        (unknown if isinstance(r, str) else resolved).append(r)
    if unknown:
        known = ", ".join(list(graph.nodes)[:40]) + (" ..." if len(graph.nodes) > 40 else "")
        raise FreezeError(f"--freeze names {'a layer' if len(unknown) == 1 else 'layers'} the network does not have: "
                          f"{', '.join(unknown)}; its layers are: {known} (a layer inside a block: INSTANCE/LAYER, e.g. "
                          "layer1/0/conv1)")
    notes = []
    for name, (g, nid, where) in zip(names, resolved):
        g.set_node_training(nid, frozen=True)
        if where is not None:
            shared = instance_paths(graph, where)
            if len(shared) > 1:
                notes.append(f"--freeze {name}: layer '{nid}' of block '{where}' is frozen in every instance of it: "
                             + ", ".join(f"{p}/{nid}" for p in shared))
    return notes
