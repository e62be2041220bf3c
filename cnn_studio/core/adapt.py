"""Fit a network to a data set's shape: which nodes change, and how, when the data's images (C, H, W)
or class count differ from the network's Input and its last Fully connected layer.

Standard library only (core). ``plan_adaptation`` returns the edits without touching the graph; the
app pushes them as one undoable edit and says what they are; ``apply_adaptation`` does them on a
plain Graph (CLI, tests). The class layer may sit inside a block (MobileNetV2's ``classifier`` block
with its Linear ``1``): its change then names the definition (``NodeChange.block``) and the path
("classifier/1"); a definition other instances share is refused as a problem (make it unique first),
since its edit would change every instance; ``refit_classes`` (the command line, which cannot ask) makes
each shared definition on the way unique first and then does the same edit. Nothing here converts data: the alternative the app offers is to convert
the images to the network's input, which it states before training.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .block_spec import BLOCK_TYPE
from .graph import Graph

Shape3 = tuple[int, int, int]


@dataclass(frozen=True)
class NodeChange:
    node_id: str
    key: str
    old: object
    new: object
    block: str | None = None  # the definition holding ``node_id`` (None: a top-level node)
    path: str | None = None  # "classifier/1": the node as the user sees it (instance/inner)

    @property
    def label(self) -> str:
        return self.path or self.node_id


@dataclass
class Adaptation:
    """What differs between a network and a data set, and the edits that make the network fit it."""

    data_shape: Shape3
    data_classes: int | None
    input_shape: Shape3 | None
    classes: int | None  # the class count of the network (units of the layer feeding the loss)
    changes: list[NodeChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what cannot be adapted automatically, and why
    template_note: str = ""  # the template rule the extra changes follow (see _template_rule_changes)
    rule_changes: list[NodeChange] = field(default_factory=list)  # those changes (also in ``changes``)

    @property
    def shape_differs(self) -> bool:
        return self.input_shape is not None and tuple(self.input_shape) != tuple(self.data_shape)

    @property
    def classes_differ(self) -> bool:
        return self.data_classes is not None and self.classes is not None and self.classes != self.data_classes

    @property
    def needed(self) -> bool:
        return self.shape_differs or self.classes_differ

    def configs(self, graph: Graph) -> dict[str, dict]:
        """The new config of every top-level node that changes (for one undoable edit per node)."""
        out: dict[str, dict] = {}
        for ch in self.changes:
            if ch.block is None:
                cfg = out.setdefault(ch.node_id, copy.deepcopy(graph.nodes[ch.node_id].config))
                cfg[ch.key] = ch.new
        return out

    def inner_configs(self, graph: Graph) -> dict[tuple[str, str], dict]:
        """The new config of every node inside a block definition that changes, by (definition, id)."""
        out: dict[tuple[str, str], dict] = {}
        for ch in self.changes:
            if ch.block is not None:
                cfg = out.setdefault((ch.block, ch.node_id), copy.deepcopy(graph.blocks[ch.block].graph.nodes[ch.node_id].config))
                cfg[ch.key] = ch.new
        return out

    def describe(self) -> str:
        """One sentence per change, for the question the app asks."""
        lines = []
        if self.shape_differs:
            lines.append(f"Input: {_shape(self.input_shape)} -> {_shape(self.data_shape)} (the data's images)")
        if self.classes_differ:
            node = next((c.label for c in self.changes if c.key == "out_features"), "the last layer")
            lines.append(f"'{node}' outputs: {self.classes} -> {self.data_classes} (the data's classes)")
        for ch in self.rule_changes:
            lines.append(f"'{ch.node_id}' {ch.key}: {ch.old} -> {ch.new} ({self.template_note})")
        return "\n".join(lines + self.problems)


def _shape(s) -> str:
    return "x".join(str(int(v)) for v in s)


def class_layer(graph: Graph) -> str | None:
    """The top-level Fully connected layer feeding the loss (its units are the class count), if any."""
    found = find_class_layer(graph)
    return found[0] if found is not None and found[1] == [] else None


def find_class_layer(graph: Graph) -> tuple[str, list[tuple[str, str]]] | None:
    """The Fully connected layer whose output the loss takes, looking through block instances to
    their definitions' output nodes (nested too): (its id, the (instance id, definition) pairs on the
    way down, [] at the top level), or None when the loss is fed by anything else."""
    out = graph.output_node()
    if out is None:
        return None
    edges = graph.in_edges(out.id)
    if not edges:
        return None
    g, nid, way = graph, edges[0].src, []
    for _ in range(64):  # nesting is bounded by the engine; this only guards a malformed table
        node = g.nodes.get(nid)
        if node is None:
            return None
        if node.type == "linear":
            return nid, way
        name = node.config.get("block")
        if node.type != BLOCK_TYPE or name not in graph.blocks:
            return None
        way.append((nid, name))
        g, nid = graph.blocks[name].graph, graph.blocks[name].output
    return None


def _shared_on_the_way(graph: Graph, way: list[tuple[str, str]]) -> list[tuple[str, int]]:
    """The definitions on ``way`` that more than one instance uses, with their instance counts."""
    from .blocks import instances

    return [(name, n) for _, name in way if (n := len(instances(graph, name))) > 1]


def plan_adaptation(graph: Graph, data_shape: Shape3, data_classes: int | None = None) -> Adaptation:
    """The edits that make ``graph`` take ``data_shape`` images and predict ``data_classes`` classes."""
    data_shape = tuple(int(v) for v in data_shape)  # type: ignore[assignment]
    inp = graph.input_node()
    input_shape = None
    if inp is not None:
        input_shape = tuple(int(inp.config.get(k, 0)) for k in ("channels", "height", "width"))
    found = find_class_layer(graph)
    fc, way = found if found is not None else (None, [])
    fc_graph = graph.blocks[way[-1][1]].graph if way else graph
    classes = int(fc_graph.nodes[fc].config.get("out_features", 0)) if fc is not None else None
    a = Adaptation(data_shape, data_classes, input_shape, classes)  # type: ignore[arg-type]
    if inp is None:
        a.problems.append("the network has no Input layer; add one")
    elif a.shape_differs:
        for key, old, new in zip(("channels", "height", "width"), input_shape, data_shape):
            if old != new:
                a.changes.append(NodeChange(inp.id, key, old, new))
    if data_classes is not None and fc is None and graph.output_node() is not None:
        a.problems.append("the loss is not fed by a Fully connected layer, so the class count cannot be set; "
                          f"make the last layer output {data_classes} values")
    elif a.classes_differ:
        path = "/".join([i for i, _ in way] + [fc]) if way else None  # type: ignore[list-item]
        shared = _shared_on_the_way(graph, way)
        if shared:
            name, n = shared[0]
            a.problems.append(f"the Fully connected layer '{path}' that sets the class count is inside block '{name}', which "
                              f"{n} instances share, so changing it would change them all; make the instance unique first "
                              "(Network > Blocks > Make unique)")
        else:
            a.changes.append(NodeChange(fc, "out_features", classes, int(data_classes),  # type: ignore[arg-type]
                                        way[-1][1] if way else None, path))
    if a.shape_differs and input_shape is not None and not a.problems:
        a.rule_changes = _template_rule_changes(graph, input_shape, data_shape, classes, data_classes, a)
        a.changes.extend(a.rule_changes)
    return a


def _structure(graph: Graph) -> tuple:
    return (sorted((n.id, n.type) for n in graph.nodes.values()),
            sorted((e.src, e.src_port, e.dst, e.dst_port) for e in graph.edges))


def _template_rule_changes(graph: Graph, old_shape, new_shape, classes, data_classes, a: Adaptation) -> list[NodeChange]:
    """A network built from a template (same layers, same links) keeps following the template's
    rule for its input (LeNet-5 pads C1 by 2 for 28x28): the parameters in which the template's
    build for the old input and for the new one differ change with the input, unless the user had
    changed them. Nothing else the user edited is touched."""
    from . import templates
    from .errors import StudioError

    nc_old = classes if classes else 10
    nc_new = data_classes if data_classes else nc_old
    mine = _structure(graph)
    for name in templates.names():
        try:
            before = templates.build(name, tuple(old_shape), nc_old)
        except (StudioError, ValueError):
            continue
        if _structure(before) != mine:
            continue
        try:
            after = templates.build(name, tuple(new_shape), nc_new)
        except (StudioError, ValueError) as e:
            a.template_note = f"the {name} template does not fit {_shape(new_shape)} ({e})"
            return []
        out = []
        for nid, node in before.nodes.items():
            if node.type == "input" or nid not in after.nodes:
                continue
            new_cfg = after.nodes[nid].config
            for key, old_value in node.config.items():
                if key == "out_features" and nid == class_layer(graph):
                    continue
                if new_cfg.get(key) != old_value and graph.nodes[nid].config.get(key) == old_value:
                    out.append(NodeChange(nid, key, old_value, new_cfg.get(key)))
        if out:
            a.template_note = f"the {name} template's rule for a {_shape(new_shape)} input"
        return out
    return []


def apply_adaptation(graph: Graph, adaptation: Adaptation) -> None:
    """Do the edits on ``graph`` (the app pushes ``adaptation.configs`` as undoable commands instead)."""
    for node_id, cfg in adaptation.configs(graph).items():
        graph.set_config(node_id, cfg)
    for (block, node_id), cfg in adaptation.inner_configs(graph).items():
        graph.blocks[block].graph.set_config(node_id, cfg)


def errors_after(graph: Graph, adaptation: Adaptation) -> list[str]:
    """The analysis errors the network would have after the edits (on a copy): an Input of another
    size can leave a layer with too small a map, which the app says before doing the edit."""
    from .analysis import analyze

    g = graph.copy()
    apply_adaptation(g, adaptation)
    return [str(e) for e in analyze(g).errors]


def unshare_class_layer(graph: Graph) -> list[str]:
    """Give the class layer's blocks their own definitions where other instances share them: each
    shared definition on the way from the loss down to the Fully connected layer is copied for the
    instance on that way (``blocks.make_unique``, outermost first), so changing the class count
    changes no other instance. Returns one line per copy made."""
    from .blocks import instances, make_unique

    notes: list[str] = []
    for _ in range(64):  # one copy per shared level; nesting is bounded by the engine
        found = find_class_layer(graph)
        if found is None:
            return notes
        holder, walked = None, []
        for inst, name in found[1]:
            walked.append(inst)
            n = len(instances(graph, name))
            if n > 1:
                new = make_unique(graph, inst, where=holder)
                notes.append(f"block '{name}' is shared by {n} instances: '{'/'.join(walked)}' now uses its own copy "
                             f"'{new}', so only its classifier changes")
                break
            holder = name
        else:
            return notes
    return notes


def refit_classes(graph: Graph, classes: int) -> list[str]:
    """Make ``graph`` predict ``classes`` classes: the Fully connected layer feeding the loss (inside
    blocks too) gets that many units, after its shared blocks are made unique (``unshare_class_layer``).
    Returns what was done, in the words the app uses (``Adaptation.describe``); nothing when the count
    is already right. GraphError when the loss is not fed by a Fully connected layer."""
    from .errors import GraphError

    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise GraphError(f"the class count must be a whole number of at least 1, got {classes!r}")
    inp = graph.input_node()
    shape = tuple(int(inp.config.get(k, 1)) for k in ("channels", "height", "width")) if inp is not None else (1, 1, 1)
    plan = plan_adaptation(graph, shape, int(classes))
    if not plan.classes_differ and not plan.problems:
        return []
    notes = unshare_class_layer(graph) if plan.classes_differ else []
    plan = plan_adaptation(graph, shape, int(classes))
    problems = [p for p in plan.problems if "no Input layer" not in p]
    if problems:
        raise GraphError(problems[0])
    apply_adaptation(graph, plan)
    return notes + [f"the network now predicts {int(classes)} classes: {plan.describe()}"]
