"""Networks from Python code: trace an ``nn.Module`` with torch.fx and rebuild it as a graph.

:func:`import_module_from_file` loads a class from a Python file, traces it with ``torch.fx``
and maps the traced operations onto graph nodes. **Importing code runs it**: the file is
executed like any ``import`` would; only do it for files you trust. Project and weight files are
never executed. Every unsupported operation is listed in one error and nothing is imported
half-way. The result is checked: the compiled graph, with the module's weights, must reproduce
the module's outputs.

Which module or function becomes which node is looked up in the layer registry
(:mod:`.layers`: each type's ``module_types``/``from_module`` and ``signatures``/``from_call``);
only what needs the traced graph itself lives here (aliases such as ``x.contiguous()``,
``x.view(x.size(0), -1)`` as Flatten, fusing ``a + b + c`` into one Add, node ids).

Node ids: a layer module keeps its attribute path (``features.0`` -> ``features_0``); a function
(``F.relu``, ``+``, ``torch.cat``) takes the variable it is assigned to when that name is used for
one operation only (``merged = torch.cat(...)`` -> ``merged``), else the torch.fx node name
(``add_1``). That keeps the ids of code exported by :mod:`.codegen` unchanged on re-import.
"""
from __future__ import annotations

import ast
import importlib.util
import itertools
import keyword
import operator
import os
import re
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..core.analysis import analyze
from ..core.graph import ID_RE, Graph
from ..core.layers import get_spec, has_spec
from ..core.layout import apply_layout
from .layers import ImportContext, LossLayer, Unsupported, get_layer, has_layer, layer_for_function, layer_for_method, layer_for_module
from .layers.new_conv import fuse_separable
from .model import compile_model, module_name
from .weights import ModelImportError, _short


class _Downstream(Exception):
    """A node fed by an unsupported one: not reported again."""


def import_module_from_file(
    path: str | os.PathLike, class_name: str, input_shape, name: str | None = None
) -> tuple[Graph, dict[str, torch.Tensor]]:
    """Load ``class_name`` from the Python file ``path`` (this RUNS the file), build it with no
    arguments and import it with :func:`import_module`. Returns (graph, state_dict)."""
    module = _instantiate(Path(path), class_name)
    return import_module(module, input_shape, name=name or class_name, source_file=str(path))


def _instantiate(path: Path, class_name: str) -> nn.Module:
    if not path.is_file():
        raise ModelImportError(f"'{path}' does not exist or is not a file; give a Python file (.py)")
    mod_name = f"_cnn_studio_import_{abs(hash(str(path.resolve())))}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(mod_name, str(path))
    if spec is None or spec.loader is None:
        raise ModelImportError(f"'{path}' cannot be loaded as a Python module; give a .py file")
    mod = importlib.util.module_from_spec(spec)
    folder = str(path.parent.resolve())
    sys.modules[mod_name] = mod
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(mod)
    except BaseException as e:  # SyntaxError, ImportError, SystemExit... all become one line
        if isinstance(e, KeyboardInterrupt):
            raise
        raise ModelImportError(f"running '{path}' failed: {type(e).__name__}: {_short(e)}") from None
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
        sys.modules.pop(mod_name, None)
    cls = getattr(mod, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        found = sorted(n for n, v in vars(mod).items() if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == mod_name)
        hint = f"classes found: {', '.join(found)}" if found else "the file defines no nn.Module class"
        what = "is not an nn.Module class" if cls is not None else "is not defined"
        raise ModelImportError(f"'{class_name}' {what} in '{path}'; {hint}")
    try:
        return cls()
    except Exception as e:
        raise ModelImportError(f"{class_name}() failed: {type(e).__name__}: {_short(e)}; the class must be buildable with no arguments") from None


_counter = itertools.count()


class _Tracer(torch.fx.Tracer):
    """symbolic_trace's tracer, also recording the source line (of ``filename``) each node comes from."""

    def __init__(self, filename: str | None):
        super().__init__()
        self._file = filename
        self._real = os.path.realpath(filename) if filename else None
        self._same: dict[str, bool] = {}
        self.origin: dict[str, tuple[Any, int]] = {}
        self.created: list[str] = []

    def _is_user(self, co_filename: str) -> bool:
        hit = self._same.get(co_filename)
        if hit is None:
            hit = co_filename == self._file or os.path.realpath(co_filename) == self._real
            self._same[co_filename] = hit
        return hit

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if self._file:
            f = sys._getframe(1)
            while f is not None:
                if self._is_user(f.f_code.co_filename):
                    self.origin[node.name] = (f.f_code, f.f_lineno)
                    break
                f = f.f_back
            self.created.append(node.name)
        return node


def _statement_names(filename: str) -> dict[int, tuple[int, str | None]]:
    """line -> (first line of the innermost statement holding it, name it assigns or None)."""
    try:
        tree = ast.parse(Path(filename).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    best: dict[int, tuple[int, int, str | None]] = {}
    for st in ast.walk(tree):
        if not isinstance(st, ast.stmt) or isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        target = None
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            target = st.targets[0].id
        elif isinstance(st, (ast.AugAssign, ast.AnnAssign)) and isinstance(st.target, ast.Name):
            target = st.target.id
        end = st.end_lineno or st.lineno
        span = end - st.lineno
        for line in range(st.lineno, end + 1):
            if line not in best or span < best[line][0]:
                best[line] = (span, st.lineno, target)
    return {line: (start, name) for line, (_, start, name) in best.items()}


_ALIAS_METHODS = {"contiguous", "clone", "detach"}
_VIEW_METHODS = {"view", "reshape"}
_ALIAS_MODULES = (nn.Identity,)  # pass-throughs when no layer registers them


def _qualname(fn) -> str:
    if fn in (operator.add, operator.iadd):
        return "+"
    name = getattr(fn, "__name__", None) or repr(fn)
    if getattr(F, name, None) is fn:
        return f"F.{name}"
    if getattr(torch, name, None) is fn:
        return f"torch.{name}"
    if getattr(operator, name, None) is fn:
        return _OPERATORS.get(name, f"operator.{name}")
    mod = getattr(fn, "__module__", None) or "?"
    return f"{mod}.{name}"


_OPERATORS = {"mul": "* (operator.mul)", "sub": "- (operator.sub)", "truediv": "/ (operator.truediv)", "getitem": "indexing [] (operator.getitem)", "matmul": "@ (operator.matmul)"}


def import_module(
    module: nn.Module, input_shape, name: str | None = None, source_file: str | None = None
) -> tuple[Graph, dict[str, torch.Tensor]]:
    """Trace ``module`` with torch.fx and rebuild it as a CNN Studio graph.

    Returns (graph, state_dict): the state_dict loads into ``compile_model(graph)`` with
    ``strict=True`` and makes it compute what ``module`` computes (checked before returning). Its
    tensors share memory with the module's (no copy); ``load_state_dict`` copies them."""
    shape = _check_shape(input_shape)
    cls_name = type(module).__name__
    module = module.eval()
    if source_file is None:
        try:
            import inspect

            source_file = inspect.getsourcefile(type(module))
        except (TypeError, OSError):
            source_file = None
    tracer = _Tracer(source_file)
    try:
        fx_graph = tracer.trace(module)
    except Exception as e:
        raise ModelImportError(
            f"torch.fx cannot trace {cls_name}.forward: {type(e).__name__}: {_short(e)}; "
            "control flow that depends on tensor values (if/while on a tensor) cannot be imported"
        ) from None
    gm = torch.fx.GraphModule(module, fx_graph)
    example = torch.randn(2, *shape)
    try:
        from torch.fx.passes.shape_prop import ShapeProp

        with torch.no_grad():
            expected = ShapeProp(gm).propagate(example)
    except Exception as e:
        raise ModelImportError(
            f"running {cls_name} on an input of {'x'.join(map(str, shape))} failed: {type(e).__name__}: {_short(e)}; check the input shape"
        ) from None

    specs, order, output_src = _map_nodes(gm, cls_name)
    specs[order[0]]["config"] = {"channels": shape[0], "height": shape[1], "width": shape[2]}
    _fuse_adds(specs, order, output_src)
    output_src = fuse_separable(specs, order, output_src)  # depthwise + 1x1 conv -> one separable node
    ids = _assign_ids(specs, order, tracer, source_file)

    graph = Graph(name or cls_name)
    for fx_name in order:
        s = specs[fx_name]
        if s["kind"] != "node":
            continue
        graph.add_node(s["type"], s["config"], node_id=ids[fx_name])
    for fx_name in order:
        s = specs[fx_name]
        if s["kind"] != "node":
            continue
        for port, src in enumerate(s["inputs"]):
            graph.connect(ids[src], ids[fx_name], 0, port)
    loss_id = _unique("loss", set(ids.values()))
    graph.add_node("cross_entropy", {}, node_id=loss_id)
    graph.connect(ids[output_src], loss_id)
    apply_layout(graph)

    analysis = analyze(graph)
    if not analysis.ok:
        errs = analysis.errors
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise ModelImportError(f"the imported network of {cls_name} does not validate: {errs[0]}{more}")

    state: dict[str, torch.Tensor] = {}
    for fx_name in order:
        s = specs[fx_name]
        if s["kind"] == "node" and s.get("module") is not None:
            prefix = module_name(ids[fx_name])
            for k, v in s["module"].state_dict().items():
                state[f"{prefix}.{k}"] = v.detach()
    _verify(graph, state, expected, example, cls_name)
    return graph, state


def _check_shape(input_shape) -> tuple[int, int, int]:
    if isinstance(input_shape, str):
        parts = input_shape.lower().replace(",", "x").split("x")
        try:
            input_shape = tuple(int(p) for p in parts)
        except ValueError:
            raise ModelImportError(f"input shape must look like CxHxW, e.g. 3x32x32; got '{input_shape}'") from None
    shape = tuple(input_shape)
    if len(shape) != 3 or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in shape):
        raise ModelImportError(f"input shape must be three positive whole numbers C, H, W; got {input_shape}")
    return shape  # type: ignore[return-value]


def _map_nodes(gm: torch.fx.GraphModule, cls_name: str):
    """fx node name -> spec dict: kind 'node' (type, config, inputs, module), 'alias' (of), or
    'helper' (non-tensor values such as x.size(0)). Collects every unsupported op before raising."""
    from torch.fx.passes.shape_prop import TensorMetadata

    nodes = list(gm.graph.nodes)
    out_node = next(n for n in nodes if n.op == "output")
    # only what the output depends on
    live: set[str] = set()
    stack = [out_node]
    while stack:
        n = stack.pop()
        if n.name in live:
            continue
        live.add(n.name)
        stack.extend(n.all_input_nodes)

    specs: dict[str, dict] = {}
    order: list[str] = []
    problems: list[str] = []
    placeholders = [n for n in nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise ModelImportError(f"{cls_name}.forward must take exactly one input tensor; it takes {len(placeholders)}")

    def meta(n) -> Any:
        return n.meta.get("tensor_meta")

    def rank(n) -> int:
        m = meta(n)
        return len(m.shape) if isinstance(m, TensorMetadata) else -1

    def resolve(arg, what: str) -> str:
        if not isinstance(arg, torch.fx.Node):
            raise Unsupported(what, "a constant where a tensor is expected")
        s = specs.get(arg.name)
        while s is not None and s["kind"] == "alias":
            arg = s["of"]
            s = specs.get(arg.name)
        if s is not None and s["kind"] == "bad":
            raise _Downstream()
        if s is None or s["kind"] != "node":
            raise Unsupported(what, "uses a value that is not a tensor of the network")
        return arg.name

    for n in nodes:
        if n.name not in live or n.op == "output":
            continue
        what = _describe(n, gm)
        try:
            if n.op == "placeholder":
                specs[n.name] = {"kind": "node", "type": "input", "config": {}, "inputs": [], "module": None}
                order.append(n.name)
                continue
            if n.target is operator.getitem and any(specs.get(i.name, {}).get("kind") == "bad" for i in n.all_input_nodes):
                raise _Downstream()  # x, _ = unsupported(...): the unsupported call is reported
            m = meta(n)
            if m is None:  # not a tensor: x.size(0), x.shape[0], arithmetic on sizes...
                if n.op in ("call_module", "get_attr"):
                    raise Unsupported(what, "does not produce a tensor")
                specs[n.name] = {"kind": "helper"}
                continue
            if not isinstance(m, TensorMetadata):
                raise Unsupported(what, "produces several tensors")
            if rank(n) not in (2, 4):
                raise Unsupported(what, f"produces a tensor of {rank(n)} dimensions (only N x C x H x W maps and N x F vectors)")
            spec = _map_one(n, gm, what, rank, resolve)
            specs[n.name] = spec
            if spec["kind"] == "node":
                order.append(n.name)
        except Unsupported as u:
            problems.append(u.what + (f" ({u.why})" if u.why else ""))
            specs[n.name] = {"kind": "bad"}
        except _Downstream:
            specs[n.name] = {"kind": "bad"}
    out_arg = out_node.args[0]
    output_src = None
    if not isinstance(out_arg, torch.fx.Node):
        problems.append("returning several values (return one tensor of class scores)")
    elif specs.get(out_arg.name, {}).get("kind") != "bad":
        try:
            output_src = resolve(out_arg, "the returned value")
        except Unsupported as u:
            problems.append(f"{u.what} ({u.why})")
        except _Downstream:
            pass
        if output_src is not None and specs[output_src]["type"] == "input":
            problems.append("a forward() that returns its input unchanged (no layers)")
    if problems:
        uniq = list(dict.fromkeys(problems))
        raise ModelImportError(
            f"cannot import {cls_name}: {len(uniq)} unsupported operation{'s' if len(uniq) > 1 else ''}: "
            + "; ".join(uniq)
            + "; rewrite those with supported layers (see docs/export.md) or build the network in CNN Studio"
        )
    return specs, order, output_src


def _describe(n, gm) -> str:
    if n.op == "call_module":
        mod = gm.get_submodule(n.target)
        return f"{type(mod).__name__} ('{n.target}')"
    if n.op == "call_function":
        return f"{_qualname(n.target)} ('{n.name}')"
    if n.op == "call_method":
        return f"Tensor.{n.target} ('{n.name}')"
    if n.op == "get_attr":
        return f"attribute self.{n.target}"
    return f"{n.op} '{n.name}'"


def _node(type_id, config, inputs, module=None) -> dict:
    return {"kind": "node", "type": type_id, "config": config, "inputs": inputs, "module": module}


def _map_one(n, gm, what: str, rank, resolve) -> dict:
    def shape(arg):
        m = arg.meta.get("tensor_meta") if isinstance(arg, torch.fx.Node) else None
        return tuple(m.shape) if m is not None else None

    if n.op == "call_module":
        mod = gm.get_submodule(n.target)
        if n.kwargs or len(n.args) != 1:
            raise Unsupported(what, "called with more than one argument")
        layer = layer_for_module(type(mod))
        if layer is None or isinstance(layer, LossLayer):
            if type(mod) in _ALIAS_MODULES:
                resolve(n.args[0], what)
                return {"kind": "alias", "of": n.args[0]}
            raise Unsupported(what)
        ctx = ImportContext(what, _rank_of(rank), shape, rank(n.args[0]) if isinstance(n.args[0], torch.fx.Node) else -1, shape(n))
        cfg = layer.from_module(mod, ctx)
        return _node(layer.type_id, cfg, [resolve(n.args[0], what)], mod)
    if n.op == "get_attr":
        raise Unsupported(what, "uses a parameter or buffer directly")
    if n.op == "call_function":
        entry = layer_for_function(n.target)
    elif n.op == "call_method":
        if n.target in _ALIAS_METHODS:
            resolve(n.args[0], what)
            return {"kind": "alias", "of": n.args[0]}
        if n.target in _VIEW_METHODS:
            return _view_as_flatten(n, what, rank, resolve)
        entry = layer_for_method(n.target)
    else:
        raise Unsupported(what)
    if entry is None or isinstance(entry[0], LossLayer):
        raise Unsupported(what)
    layer, sig = entry
    a = sig.bind(what, n.args, n.kwargs)
    ctx = ImportContext(what, _rank_of(rank), shape, output_shape=shape(n))
    cfg = layer.from_call(a, ctx)
    inputs = layer.call_inputs(a, ctx)
    return _node(layer.type_id, cfg, [resolve(t, what) for t in inputs])


def _rank_of(rank):
    """rank() of _map_nodes, -1 for anything that is not a traced tensor."""
    return lambda arg: rank(arg) if isinstance(arg, torch.fx.Node) else -1


def _view_as_flatten(n, what: str, rank, resolve) -> dict:
    src = n.args[0]
    if not isinstance(src, torch.fx.Node):
        raise Unsupported(what)
    in_meta = src.meta.get("tensor_meta")
    out_meta = n.meta.get("tensor_meta")
    if in_meta is None or out_meta is None:
        raise Unsupported(what)
    in_shape, out_shape = tuple(in_meta.shape), tuple(out_meta.shape)
    flat = 1
    for s in in_shape[1:]:
        flat *= s
    if len(out_shape) == 2 and out_shape == (in_shape[0], flat):
        # the batch axis must come from the input (x.size(0), x.shape[0] or -1 with the rest fixed)
        shape_args = n.args[1:] if len(n.args) > 1 else tuple(n.kwargs.values())
        if len(shape_args) == 1 and isinstance(shape_args[0], (list, tuple)):
            shape_args = tuple(shape_args[0])
        first = shape_args[0] if shape_args else None
        batch_ok = isinstance(first, torch.fx.Node) or (first == -1 and len(shape_args) == 2 and shape_args[1] == flat)
        if batch_ok:
            return _node("flatten", {}, [resolve(src, what)])
        raise Unsupported(what, "a fixed batch size in view/reshape (use x.view(x.size(0), -1))")
    if out_shape == in_shape:
        resolve(src, what)
        return {"kind": "alias", "of": src}
    if len(out_shape) in (2, 4) and out_shape[0] == in_shape[0]:
        # any other reshape that keeps the batch axis (x.view(x.size(0), C, H, W)) is a Reshape
        # node with the traced sizes; its registered layer checks the batch axis like torch.reshape
        args = {"input": src, "shape": _shape_args(n)}
        if len(args["shape"]) == len(out_shape):
            from .layers.new_resample import reshape_config

            cfg = layer_for_function(torch.reshape)[0].from_call(args, ImportContext(what, _rank_of(rank), lambda a: None))  # type: ignore[index]
            cfg.update(reshape_config(ImportContext(what, _rank_of(rank), lambda a: None), tuple(out_shape[1:])))
            return _node("reshape", cfg, [resolve(src, what)])
    raise Unsupported(what, f"reshaping {'x'.join(map(str, in_shape[1:]))} to {'x'.join(map(str, out_shape[1:]))} (only flattening to N x F or a reshape that keeps the batch axis)")


def _shape_args(n) -> tuple:
    """The target shape of x.view(...)/x.reshape(...), as given (sizes, or one tuple of them)."""
    shape_args = n.args[1:] if len(n.args) > 1 else tuple(n.kwargs.values())
    if len(shape_args) == 1 and isinstance(shape_args[0], (list, tuple)):
        shape_args = tuple(shape_args[0])
    return tuple(shape_args)


def _fuse_adds(specs: dict, order: list[str], output_src: str) -> None:
    """``a + b + c`` traces as two adds; merge an add whose only consumer is another add."""
    users: dict[str, int] = {}
    for name in order:
        for src in specs[name]["inputs"]:
            users[src] = users.get(src, 0) + 1
    users[output_src] = users.get(output_src, 0) + 1
    for name in list(order):
        s = specs[name]
        if s["type"] != "add":
            continue
        new_inputs: list[str] = []
        for src in s["inputs"]:
            inner = specs[src]
            if inner.get("type") == "add" and users.get(src) == 1 and len(new_inputs) + len(inner["inputs"]) + 1 <= 16:
                new_inputs.extend(inner["inputs"])
                inner["kind"] = "fused"
                order.remove(src)
            else:
                new_inputs.append(src)
        s["inputs"] = new_inputs
        s["config"] = {"inputs": len(new_inputs)}


def _sanitize(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", name) or "node"
    if not re.match(r"[A-Za-z_]", name):
        name = "n_" + name
    return name[:64]


def _unique(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    i = 1
    while True:
        suffix = f"_{i}"
        cand = name[: 64 - len(suffix)] + suffix
        if cand not in used:
            return cand
        i += 1


def _assign_ids(specs: dict, order: list[str], tracer: _Tracer, source_file: str | None) -> dict[str, str]:
    base: dict[str, str] = {name: name for name in order}
    # modules keep their attribute path; a node id the compiler had to suffix ('train' -> 'train_')
    # comes back as the id
    for name in order:
        s = specs[name]
        mod = s.get("module")
        if mod is not None and name.endswith("_") and module_name(name[:-1]) == name:
            base[name] = name[:-1]
    # placeholders: the forward() argument name (fx renames 'input' to 'input_1')
    gm_nodes = {n.name: n for n in tracer.graph.nodes} if getattr(tracer, "graph", None) is not None else {}
    for name in order:
        if specs[name]["type"] == "input" and name in gm_nodes:
            base[name] = str(gm_nodes[name].target)
    # functions: the variable they are assigned to, when that is unambiguous
    candidates: dict[str, str] = {}
    if source_file:
        lines = _statement_names(source_file)
        last_of_run: dict[str, str | None] = {}
        prev_key = None
        run_nodes: list[str] = []

        def close_run():
            if run_nodes and prev_key is not None:
                last_of_run[run_nodes[-1]] = prev_key[2]

        for created in tracer.created:
            origin = tracer.origin.get(created)
            key = None
            if origin is not None:
                code, line = origin
                start, assigned = lines.get(line, (line, None))
                key = (id(code), start, assigned)
            if key != prev_key:
                close_run()
                run_nodes = []
                prev_key = key
            run_nodes.append(created)
        close_run()
        for name in order:
            s = specs[name]
            if s.get("module") is None and s["type"] != "input":
                var = last_of_run.get(name)
                if var:
                    candidates[name] = var
    counts: dict[str, int] = {}
    for v in candidates.values():
        counts[v] = counts.get(v, 0) + 1
    fixed = {base[n] for n in order if n not in candidates}
    for name, var in candidates.items():
        if counts[var] == 1 and var not in fixed and ID_RE.match(var):
            # codegen appends '_' to ids that cannot be variables ('lambda' -> 'lambda_'): undo it
            if var.endswith("_") and (keyword.iskeyword(var.rstrip("_")) or var.rstrip("_") in ("self", "torch", "nn")):
                var = var.rstrip("_")
            base[name] = var
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in order:
        nid = _unique(_sanitize(base[name]), used)
        ids[name] = nid
        used.add(nid)
    return ids


def _verify(graph: Graph, state: dict, want, example: torch.Tensor, cls_name: str) -> None:
    with torch.device("meta"):  # no initialisation: the module's own tensors are assigned
        model = compile_model(graph)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise ModelImportError(f"the weights of {cls_name} do not fit the imported network: {' '.join(str(e).split())[:400]}") from None
    model.eval()
    with torch.no_grad():
        got = model(example)
    if not isinstance(want, torch.Tensor) or want.shape != got.shape or not torch.allclose(want, got, rtol=1e-4, atol=1e-5):
        diff = (want - got).abs().max().item() if isinstance(want, torch.Tensor) and want.shape == got.shape else float("nan")
        raise ModelImportError(
            f"the imported network does not reproduce {cls_name}'s outputs (largest difference {diff:.3g}); "
            "its forward() probably does something the import cannot see"
        )


def canonical_structure(graph: Graph) -> dict:
    """What determines the network, in a form two equal networks share: node types and canonical
    configs (each registered layer's ``canonical``: a pool's stride equal to its kernel counts as
    'same as kernel'), and edges. Positions, names and training settings are left out."""
    nodes = {}
    for nid, node in graph.nodes.items():
        cfg = dict(node.config)
        if has_spec(node.type):
            cfg, _ = get_spec(node.type).check_config(cfg)
            if has_layer(node.type):
                cfg = get_layer(node.type).canonical(cfg)
        nodes[nid] = (node.type, cfg)
    edges = sorted((e.src, e.src_port, e.dst, e.dst_port) for e in graph.edges)
    return {"nodes": nodes, "edges": edges}
