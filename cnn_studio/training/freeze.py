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
"""
from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..core.errors import StudioError
from ..core.graph import Graph
from .optim import LR_MULT_ATTR


class FreezeError(StudioError):
    """The freezing options leave nothing to train, or name layers the network does not have."""


def _stay_eval(module: nn.Module, _args) -> None:
    """Forward pre-hook of a frozen node's batch norm: whatever ``model.train()`` set, it runs in eval
    mode (running statistics used, never updated). A hook survives ``copy.deepcopy`` of the model."""
    if module.training:
        module.training = False


def frozen_batchnorms(model: nn.Module, graph: Graph) -> list[nn.Module]:
    """The batch-norm modules inside frozen nodes of ``model`` (a compiled GraphModule)."""
    found = []
    for nid, node in graph.nodes.items():
        if node.frozen and nid in getattr(model, "module_names", {}):
            found.extend(m for m in model.module_for(nid).modules() if isinstance(m, _BatchNorm))
    return found


def apply_node_options(model: nn.Module, graph: Graph, frozen_bn_eval: bool = True) -> list[str]:
    """Freeze and tag the parameters of ``model`` by its graph's node options; returns notes for the
    run (empty when every node has the defaults). FreezeError when every parameter would be frozen."""
    names = getattr(model, "module_names", {})
    frozen_ids, mults, frozen_count, total = [], [], 0, 0
    for nid, node in graph.nodes.items():
        if nid not in names:
            continue
        params = list(model.module_for(nid).parameters())
        count = sum(p.numel() for p in params)
        total += count
        if node.frozen:
            for p in params:
                p.requires_grad_(False)
            if params:
                frozen_ids.append(nid)
                frozen_count += count
        elif node.lr_mult != 1.0 and params:
            for p in params:
                setattr(p, LR_MULT_ATTR, float(node.lr_mult))
            mults.append(f"{nid} x{node.lr_mult:g}")
    if frozen_ids and frozen_count == total:
        raise FreezeError("every layer with parameters is frozen, so there is nothing to train; unfreeze at least one "
                          "(Inspector: Trainable, or leave it out of --freeze)")
    notes = []
    if frozen_ids:
        bns = frozen_batchnorms(model, graph) if frozen_bn_eval else []
        for m in bns:
            m.register_forward_pre_hook(_stay_eval)
        notes.append(f"frozen: {', '.join(frozen_ids)} ({frozen_count:,} of {total:,} parameters kept fixed"
                     + (f"; {len(bns)} batch norm(s) in eval mode" if bns else "") + ")")
    if mults:
        notes.append("learning-rate multipliers: " + ", ".join(mults))
    return notes


def freeze_nodes(graph: Graph, names: list[str]) -> None:
    """Mark the named nodes frozen (``cnn-studio train --freeze``); unknown names are refused all at
    once, naming them and the node ids the network has."""
    unknown = [n for n in names if n not in graph.nodes]
    if unknown:
        known = ", ".join(list(graph.nodes)[:40]) + (" ..." if len(graph.nodes) > 40 else "")
        raise FreezeError(f"--freeze names {'a layer' if len(unknown) == 1 else 'layers'} the network does not have: "
                          f"{', '.join(repr(n) for n in unknown)}; its layers are: {known}")
    for n in names:
        graph.set_node_training(n, frozen=True)
