"""Python export of graphs with blocks: each block definition becomes an ``nn.Module`` class.

:func:`generate_python_blocks` is what :func:`.codegen.generate_python` returns for a graph that holds
block definitions. The module reads like hand-written code: one class per definition (named after
it; block names are checked to be Python class names when they are made or loaded), used by the
network class as ``self.layer1 = Layer1()``; a definition that is a plain chain of numeric ids
``"0"``, ``"1"``... fed by one input is an ``nn.Sequential`` subclass. Submodules are named as
:class:`~.model.BlockModule` names them (inner ids through ``module_name``), so the compiled model's
state_dict loads with ``strict=True`` and gives the same outputs.

A definition used at different input shapes needs different constructor arguments (the input
channels of its convolutions): each distinct variant gets its own class, ``Name``, ``Name_2``...

The docstring, constants and ``load_weights`` come from the flat export of the same network (every
block inlined: same parameter counts and shapes), so both writers share one text for them.
"""
from __future__ import annotations

import keyword

from ..core.analysis import Analysis, BlockAnalysis, analyze
from ..core.block_spec import BLOCK_TYPE
from ..core.blocks import flatten
from ..core.errors import GraphError
from ..core.graph import Graph, is_valid_id
from ..core.layers import fmt_shape
from .model import module_name

_RESERVED = frozenset({"self", "torch", "nn", "__debug__"})


def _call_target(attr: str) -> tuple[str, str]:
    """(init statement prefix, call expression) for a submodule named ``attr``."""
    if attr.isidentifier() and not keyword.iskeyword(attr) and not attr.startswith("__"):
        return f"self.{attr} = ", f"self.{attr}"
    # numeric ids ("0") and __x (name-mangled in a class body) are registered by string
    return f"self.add_module({attr!r}, ", f"self._modules[{attr!r}]"


def _var_names(ids, taken: set[str]) -> dict[str, str]:
    """Inner id -> forward() variable: the id when it is a usable name, else v_<id> / <id>_."""
    out: dict[str, str] = {}
    used = set(taken)
    for nid in ids:
        name = nid
        if not name.isidentifier():
            name = f"v_{nid}"
        if keyword.iskeyword(name) or name in _RESERVED:
            name += "_"
        while name in used:
            name += "_"
        out[nid] = name
        used.add(name)
    return out


class _Writer:
    def __init__(self, graph: Graph, reserved_classes: set[str]):
        self.graph = graph
        self.classes: list[str] = []  # class sources, dependencies first
        self.by_text: dict[tuple[str, str], str] = {}  # (definition, body) -> class name
        self.names_used: set[str] = set(reserved_classes)

    def class_for(self, name: str, ba: BlockAnalysis) -> str:
        from .codegen import constructor, forward_expression  # late: codegen imports this module lazily

        d = self.graph.blocks[name]
        order = list(ba.order)
        port_of: dict[tuple[str, int], int] = {}
        for i, targets in enumerate(d.inputs):
            for t in targets:
                port_of[(t[0], t[1])] = i
        ins = ["x"] if d.num_inputs == 1 else [f"x{i + 1}" for i in range(d.num_inputs)]
        var = _var_names(order, set(ins))
        ctors: dict[str, str | None] = {}
        for nid in order:
            node = d.graph.nodes[nid]
            info = ba.nodes[nid]
            if node.type == BLOCK_TYPE:
                ctors[nid] = self.class_for(info.config["block"], info.block) + "()"  # type: ignore[arg-type]
            else:
                ctors[nid] = constructor(node.type, info.config, info.input_shapes)
        # a chain "0" -> "1" -> ... fed by one input, each a plain module call: an nn.Sequential
        chain = (
            d.num_inputs == 1
            and order == [str(i) for i in range(len(order))]
            and d.inputs[0] == [("0", 0)]
            and d.output == order[-1]
            and all(ctors[n] is not None for n in order)
            and all(len(ba.nodes[n].input_shapes) == 1 for n in order)
            and all(i == 0 or (d.graph.edge_into(n, 0) is not None and d.graph.edge_into(n, 0).src == order[i - 1]) for i, n in enumerate(order))
            and all(len(d.graph.out_edges(n)) == (0 if n == order[-1] else 1) for n in order)
            and all(
                d.graph.nodes[n].type == BLOCK_TYPE or forward_expression(d.graph.nodes[n].type, ba.nodes[n].config, ["x"], "CALL") == "CALL(x)"
                for n in order
            )
        )
        if chain:
            body = ["    def __init__(self):", "        super().__init__("]
            body += [f"            {ctors[n]},  # {n}: -> {fmt_shape(ba.nodes[n].output_shape)}" for n in order]
            body += ["        )"]
            base = "nn.Sequential"
        else:
            init, fwd = [], []
            for nid in d.graph.nodes:  # __init__ in the definition's node order, as BlockModule registers them
                if ctors[nid] is not None:
                    prefix, _ = _call_target(module_name(nid))
                    init.append(f"        {prefix}{ctors[nid]}" + (")" if prefix.startswith("self.add_module") else ""))
            for nid in order:
                node = d.graph.nodes[nid]
                info = ba.nodes[nid]
                srcs = []
                for p in range(len(info.input_shapes)):
                    e = d.graph.edge_into(nid, p)
                    srcs.append(var[e.src] if e is not None else ins[port_of[(nid, p)]])
                note = f"  # -> {fmt_shape(info.output_shape)}"
                ctor = ctors[nid]
                if ctor is None:
                    fwd.append(f"        {var[nid]} = {forward_expression(node.type, info.config, srcs, None)}{note}")
                    continue
                _, call = _call_target(module_name(nid))
                if node.type == BLOCK_TYPE:
                    fwd.append(f"        {var[nid]} = {call}({', '.join(srcs)}){note}")
                else:
                    fwd.append(f"        {var[nid]} = {forward_expression(node.type, info.config, srcs, call)}{note}")
            fwd.append(f"        return {var[d.output]}")
            args = ", ".join(f"{x}: torch.Tensor" for x in ins)
            body = ["    def __init__(self):", "        super().__init__()", *init, "", f"    def forward(self, {args}) -> torch.Tensor:", *fwd]
            base = "nn.Module"
        text = "\n".join(body)
        key = (name, base + text)
        if key in self.by_text:
            return self.by_text[key]
        cls = name
        i = 2
        while cls in self.names_used:
            cls = f"{name}_{i}"
            i += 1
        self.names_used.add(cls)
        self.by_text[key] = cls
        doc = f'    """Block {name}: {len(order)} layers, output {fmt_shape(ba.nodes[d.output].output_shape)}."""'
        self.classes.append(f"class {cls}({base}):\n{doc}\n\n{text}\n")
        return cls


def generate_python_blocks(graph: Graph, *, class_name: str | None = None, analysis: Analysis | None = None, **kwargs) -> str:
    """Source of a standalone module for a graph with blocks (same keywords as generate_python)."""
    from .codegen import (class_name_for, constructor, forward_expression, generate_python, options_class_lines, python_identifier,
                          reading_order, training_options, variable_names)

    a = analysis or analyze(graph)
    a.raise_for_errors()
    out_node = graph.output_node()
    in_node = graph.input_node()
    assert out_node is not None and in_node is not None
    cls = python_identifier(class_name or class_name_for(graph.name), "class name")
    block_names = set(graph.blocks.names())
    while cls in block_names:
        cls += "Net"
    for nid in graph.nodes:
        if not is_valid_id(nid):
            raise GraphError(f"node id {nid!r} is not a valid name; use letters, digits and _ (rename the node)")
    options = training_options(graph, a)  # by the block paths (layer1.conv1), not the inlined ids
    flat_text = generate_python(flatten(graph), class_name=cls, options=options, **kwargs)
    head, sep, rest = flat_text.partition(f"\nclass {cls}(nn.Module):\n")
    tail_at = rest.find("\n\n\ndef load_weights(")
    if not sep or tail_at < 0:  # pragma: no cover - the flat writer's layout changed
        raise GraphError("cannot write Python code for this network's blocks (unexpected export layout)")
    tail = rest[tail_at:]

    writer = _Writer(graph, {cls})
    order = [n for n in reading_order(graph) if n != out_node.id]
    var = variable_names(order)
    init, fwd = [], []
    for nid in order:
        if nid == in_node.id:
            continue
        node = graph.nodes[nid]
        info = a.nodes[nid]
        srcs = [var[e.src] for e in graph.in_edges(nid)]
        note = f"  # -> {fmt_shape(info.output_shape)}"
        if node.type == BLOCK_TYPE:
            ctor = writer.class_for(info.config["block"], info.block) + "()"  # type: ignore[arg-type]
        else:
            ctor = constructor(node.type, info.config, info.input_shapes)
        if ctor is None:
            fwd.append(f"        {var[nid]} = {forward_expression(node.type, info.config, srcs, None)}{note}")
            continue
        prefix, call = _call_target(module_name(nid))
        init.append(f"        {prefix}{ctor}" + (")" if prefix.startswith("self.add_module") else ""))
        if node.type == BLOCK_TYPE:
            fwd.append(f"        {var[nid]} = {call}({', '.join(srcs)}){note}")
        else:
            fwd.append(f"        {var[nid]} = {forward_expression(node.type, info.config, srcs, call)}{note}")
    result_id = graph.in_edges(out_node.id)[0].src
    fwd.append(f"        return {var[result_id]}")
    opt_init, opt_method = options_class_lines(options[0])
    main = [
        f"class {cls}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        *init,
        *opt_init,
        "",
        f"    def forward(self, {var[in_node.id]}: torch.Tensor) -> torch.Tensor:",
        *fwd,
        *opt_method,
    ]
    blocks_text = "\n\n".join(writer.classes)
    return head + "\n" + blocks_text + "\n\n" + "\n".join(main) + tail
