"""Trainable and frozen parameter counts of a graph (standard library only: the app's Summary and
status bar count them without torch). A node's parameters are frozen when ``Node.frozen`` is set, on
it or (for a layer inside a block definition) on an instance around it, as training/freeze.py does.

Layers inside blocks are named by *paths*: ``"layer1/0/conv1"`` is layer ``conv1`` of the definition
that instance ``0`` of instance ``layer1``'s definition uses (a top-level id is a path of one part).
How the options combine: an instance's own ``frozen`` freezes everything inside *that instance*
(other uses of its definition keep training); a layer's ``frozen`` inside a definition freezes that
layer in *every* use of the definition; a layer trains only when neither it nor any instance around
it is frozen (an OR down the nesting). Multipliers multiply down the nesting."""
from __future__ import annotations

from dataclasses import dataclass

from .block_spec import BLOCK_TYPE
from .graph import Graph, Node


@dataclass(frozen=True)
class ParamCounts:
    """A network's (or one node's) parameters in parts that add up: ``trainable`` weights the
    optimizer updates, ``frozen`` weights of frozen layers (Trainable off), and ``buffers``: batch
    norm running statistics, never trained (the analysis' ``non_trainable``)."""
    trainable: int
    frozen: int
    buffers: int

    @property
    def total(self) -> int:
        return self.trainable + self.frozen + self.buffers

    def parts(self) -> str:
        """"21,289,802 trainable, 110,784 frozen, 17,024 buffers (running statistics)"; the
        trainable part always, the others when not 0."""
        out = [f"{self.trainable:,} trainable"]
        if self.frozen:
            out.append(f"{self.frozen:,} frozen")
        if self.buffers:
            out.append(f"{self.buffers:,} buffers (running statistics)")
        return ", ".join(out)

    def text(self) -> str:
        """"21,417,610 parameters: 21,289,802 trainable, 110,784 frozen, 17,024 buffers (running
        statistics)"; "62,006 parameters, all trainable" when nothing is frozen and no buffers."""
        if not self.frozen and not self.buffers:
            return f"{self.total:,} parameters" + (", all trainable" if self.total else "")
        return f"{self.total:,} parameters: {self.parts()}"


def parameter_counts(graph: Graph, analysis=None) -> tuple[int, int]:
    """(trainable, frozen) parameter counts from the analysis' trainable parameters per node (batch
    norm running statistics are never trained and are in neither); nodes without a shape count 0,
    and so does a block instance whose inside could not be worked out (as the analysis' totals), so
    trainable + frozen is always the analysis' ``trainable_params``."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    counts = [0, 0]
    for nid, info in a.nodes.items():
        t, f = _node_split(graph, graph.nodes.get(nid), info, False)
        counts[0] += t
        counts[1] += f
    return counts[0], counts[1]


def param_counts(graph: Graph, analysis=None) -> ParamCounts:
    """The whole network's :class:`ParamCounts` (total: the analysis' ``total_params``)."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    trainable, frozen = parameter_counts(graph, a)
    return ParamCounts(trainable, frozen, a.non_trainable_params)


def path_param_counts(graph: Graph, paths, analysis=None) -> ParamCounts:
    """:class:`ParamCounts` of the nodes at ``paths`` (top-level ids, or paths into blocks; a block
    instance with everything inside it), frozen by their own option or an instance around them;
    a path under another of ``paths`` is counted once, with it."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    counts = [0, 0, 0]
    paths = list(dict.fromkeys(paths))
    for path in paths:
        if any(path.startswith(p + "/") for p in paths):
            continue
        loc = locate(graph, path, a)
        if loc is None or loc.info is None:
            continue
        t, f = _node_split(graph, loc.node, loc.info, loc.frozen_by is not None)
        counts[0] += t
        counts[1] += f
        counts[2] += int(loc.info.non_trainable or 0)
    return ParamCounts(*counts)


def _node_split(graph: Graph, node, info, frozen_above: bool, depth: int = 0) -> tuple[int, int]:
    """(trainable, frozen) of one node's trainable parameters (``info.trainable``); a block instance
    whose analysis went through is split by the layers inside it (their own option or an instance
    around them); one that failed has ``info.trainable`` 0, like the analysis counts it."""
    frozen = frozen_above or (node is not None and node.frozen)
    block = getattr(info, "block", None)
    if (node is not None and block is not None and info.output_shape is not None and depth < 64
            and node.config.get("block") in graph.blocks):
        g = graph.blocks[node.config["block"]].graph
        t = f = 0
        for nid in block.order:
            dt, df = _node_split(graph, g.nodes.get(nid), block.nodes[nid], frozen, depth + 1)
            t, f = t + dt, f + df
        return t, f
    n = int(info.trainable or 0)
    return (0, n) if frozen else (n, 0)


def path_has_weights(graph: Graph, path: str) -> bool:
    """Whether the node at ``path`` has weights a Trainable option could act on: its layer type's
    ``has_weights``, or for a block instance, any layer inside its definition (nested too)."""
    loc = locate(graph, path)
    if loc is None:
        return False
    seen: set[str] = set()

    def weighted(node, depth: int) -> bool:
        if node.type != BLOCK_TYPE:
            try:
                return bool(node.spec.has_weights)
            except Exception:  # a type the catalogue doesn't know: leave its options shown
                return True
        name = node.config.get("block")
        if name not in graph.blocks or name in seen or depth > 64:
            return False
        seen.add(name)
        return any(weighted(n, depth + 1) for n in graph.blocks[name].graph.nodes.values())

    return weighted(loc.node, 0)


def frozen_ids(graph: Graph) -> list[str]:
    return [nid for nid, n in graph.nodes.items() if n.frozen]


def frozen_layer_counts(graph: Graph, node_ids, analysis=None) -> tuple[int, int]:
    """(frozen, with weights): how many of the layers with trainable weights among ``node_ids``
    (top level; a block instance counts the layers inside its definition, nested ones included)
    are frozen, by their own option or a block instance around them, as training/freeze.py does.
    Layers without weights (activations, pooling) count in neither."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    return _layer_counts(graph, graph, a.nodes, list(node_ids), False)


def block_frozen_counts(graph: Graph, node_info, frozen: bool = False) -> tuple[int, int]:
    """(frozen, with weights) of the layers inside one block instance (its analysis ``node_info``);
    ``frozen``: the instance's own option. (0, 0) when the instance has no inner analysis."""
    block = getattr(node_info, "block", None)
    if block is None or block.name not in graph.blocks:
        return 0, 0
    return _layer_counts(graph, graph.blocks[block.name].graph, block.nodes, block.order, frozen)


def _layer_counts(graph: Graph, g: Graph, infos: dict, ids, frozen_above: bool) -> tuple[int, int]:
    counts = [0, 0]

    def visit(g: Graph, infos: dict, ids, frozen_above: bool) -> None:
        for nid in ids:
            node, info = g.nodes.get(nid), infos.get(nid)
            if node is None or info is None:
                continue
            frozen = frozen_above or node.frozen
            block = getattr(info, "block", None)
            if block is not None and node.config.get("block") in graph.blocks:
                visit(graph.blocks[node.config["block"]].graph, block.nodes, block.order, frozen)
            elif info.trainable:
                counts[0] += frozen
                counts[1] += 1

    visit(g, infos, ids, frozen_above)
    return counts[0], counts[1]


@dataclass
class Located:
    """One node named by a path: the graph holding it (the network, or a definition's inner graph),
    ``block`` the definition's name (None at the top level), the node, its analysis info (None when
    the analysis has none, e.g. after an error upstream), and ``frozen_by``: the path of the nearest
    instance around it whose own option freezes it (None: nothing around it is frozen)."""
    path: str
    graph: Graph
    block: str | None
    node: Node
    info: object
    frozen_by: str | None


def locate(graph: Graph, path: str, analysis=None) -> Located | None:
    """The node at ``path`` (see the module docstring), or None when the path leads nowhere."""
    parts = path.split("/")
    g, block, infos, frozen_by, walked = graph, None, (analysis.nodes if analysis is not None else {}), None, []
    for i, part in enumerate(parts):
        node = g.nodes.get(part)
        if node is None:
            return None
        info = infos.get(part) if infos is not None else None
        walked.append(part)
        if i == len(parts) - 1:
            return Located(path, g, block, node, info, frozen_by)
        name = node.config.get("block")
        if node.type != BLOCK_TYPE or name not in graph.blocks:
            return None
        if node.frozen and frozen_by is None:
            frozen_by = "/".join(walked)
        block, g = name, graph.blocks[name].graph
        inner = getattr(info, "block", None)
        infos = inner.nodes if inner is not None else None
    return None


def path_layer_counts(graph: Graph, paths, analysis=None) -> tuple[int, int]:
    """(frozen, with weights) of the layers with trainable weights at or under ``paths`` (a block
    instance counts the layers inside it), each frozen by its own option or an instance around it;
    ``frozen_layer_counts`` for paths into blocks too."""
    from .analysis import analyze

    a = analysis if analysis is not None else analyze(graph)
    counts = [0, 0]
    paths = list(dict.fromkeys(paths))
    for path in paths:
        if any(path.startswith(p + "/") for p in paths):  # counted with the instance around it
            continue
        loc = locate(graph, path, a)
        if loc is None or loc.info is None:
            continue
        f, w = _layer_counts(graph, loc.graph, {loc.node.id: loc.info}, [loc.node.id], loc.frozen_by is not None)
        counts[0] += f
        counts[1] += w
    return counts[0], counts[1]


def unfreeze_targets(graph: Graph, paths) -> list[tuple[str | None, str]]:
    """What to set trainable so that every layer at or under ``paths`` trains: the node of each path
    (as (definition or None, id)) and, for a block instance, every frozen node inside its definition
    and the definitions it uses, at any depth (those changes apply to every use of a definition).
    Frozen instances *around* a path are not included: unfreezing one would unfreeze its other layers."""
    out: dict[tuple[str | None, str], None] = {}
    seen: set[str] = set()

    def inside(name: str, depth: int) -> None:
        if name in seen or name not in graph.blocks or depth > 64:
            return
        seen.add(name)
        for nid, node in graph.blocks[name].graph.nodes.items():
            if node.frozen:
                out[(name, nid)] = None
            if node.type == BLOCK_TYPE:
                inside(node.config.get("block"), depth + 1)

    for path in paths:
        loc = locate(graph, path)
        if loc is None:
            continue
        out[(loc.block, loc.node.id)] = None
        if loc.node.type == BLOCK_TYPE:
            inside(loc.node.config.get("block"), 0)
    return list(out)


def instance_paths(graph: Graph, block: str) -> list[str]:
    """The paths ("layer1/0") of every instance of definition ``block``, at any depth: every place
    in the network an option on one of its layers applies to."""
    found: list[str] = []

    def walk(g: Graph, prefix: str, depth: int) -> None:
        for nid, node in g.nodes.items():
            if node.type != BLOCK_TYPE or node.config.get("block") not in graph.blocks or depth > 32:
                continue
            path = prefix + nid
            if node.config["block"] == block:
                found.append(path)
            walk(graph.blocks[node.config["block"]].graph, path + "/", depth + 1)

    walk(graph, "", 0)
    return found
