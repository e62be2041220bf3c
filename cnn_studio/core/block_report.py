"""The block tree of an analysis (for the Summary) and per-block totals. Standard library only.

:func:`block_tree` lists every node of the network in analysis order; right after a block instance
come its inner nodes, one level deeper, with ``path`` ``"layer1/0/conv1"`` (the ids
``GraphModule.forward_capture`` takes). :func:`block_totals` adds up parameters and MACs per
definition over every use, nested uses included.
"""
from __future__ import annotations

from dataclasses import dataclass

from .analysis import Analysis, NodeInfo, RF
from .block_spec import BLOCK_TYPE, is_known_type, spec_for
from .layers import Shape


@dataclass(frozen=True)
class TreeRow:
    depth: int  # 0 for top-level nodes
    path: str  # "id", or "instance/inner/..." inside blocks
    id: str
    type: str
    title: str  # the layer's title, or "Block <name>"
    block: str | None  # the definition name of a block instance
    output_shape: Shape | None
    params: int
    trainable: int
    macs: int
    rf: RF | None


def _title(info: NodeInfo) -> str:
    if info.type == BLOCK_TYPE:
        return f"Block {info.config.get('block', '?')}"
    return spec_for(info.type).title if is_known_type(info.type) else info.type


def block_tree(analysis: Analysis) -> list[TreeRow]:
    rows: list[TreeRow] = []
    stack: list[tuple[int, str, dict[str, NodeInfo], list[str]]] = [(0, "", analysis.nodes, list(analysis.order))]
    # an explicit stack of (depth, path prefix, infos, remaining ids): nesting depth is bounded by
    # the analysis, but no recursion either way
    while stack:
        depth, prefix, infos, todo = stack[-1]
        if not todo:
            stack.pop()
            continue
        nid = todo.pop(0)
        info = infos[nid]
        path = prefix + nid
        block = info.config.get("block") if info.type == BLOCK_TYPE else None
        rows.append(TreeRow(depth, path, nid, info.type, _title(info), block, info.output_shape, info.params, info.trainable, info.macs, info.rf))
        if info.block is not None:
            stack.append((depth + 1, path + "/", info.block.nodes, list(info.block.order)))
    return rows


def block_totals(analysis: Analysis) -> dict[str, dict]:
    """definition name -> {"instances": uses, "params": summed over uses, "macs": summed over uses}."""
    out: dict[str, dict] = {}
    for row in block_tree(analysis):
        if row.block is not None:
            t = out.setdefault(row.block, {"instances": 0, "params": 0, "macs": 0})
            t["instances"] += 1
            t["params"] += row.params
            t["macs"] += row.macs
    return out
