"""Graph -> readable, standalone PyTorch source code.

:func:`generate_python` writes one module that needs nothing but torch: an ``nn.Module`` class whose
submodules carry exactly the attribute names :class:`~cnn_studio.compiler.model.GraphModule` uses
(so a state_dict of the app's model, or of a training run, loads into it with ``strict=True``),
constructor calls with literal arguments, and a ``forward`` written out as straight-line code in
topological order with one variable per node (named after the node id). Merges are plain Python:
Add is ``a + b``, Concat is ``torch.cat([a, b], dim=1)``.

:func:`generate_training_script` writes a minimal but real training loop for an image folder that
imports that module (Pillow + torch, no torchvision) and runs under ``torchrun`` as well.

Each node's constructor text and forward expression come from its registered layer
(:mod:`.layers`: ``source`` and ``forward_source``); the text is generated from the core analysis,
so the output is deterministic for a given graph.

Text from files never becomes code: the generated source is built only from validated identifiers
(node ids, the class and module names), numbers the analysis checked, and user text (network name,
class names, notes with paths) that is written as a Python literal (``repr``) or, inside the
module docstring, with every quote, backslash and unprintable character escaped (:func:`doc_text`),
so whatever a project, a checkpoint or a data set's labels hold, importing the module runs nothing.
"""
from __future__ import annotations

import keyword
import re

from ..core.analysis import Analysis, analyze
from ..core.block_spec import BLOCK_TYPE
from ..core.errors import GraphError
from ..core.graph import Graph, is_valid_id
from ..core.layers import fmt_shape
from .layers import LossLayer, get_layer, has_layer
from .layers import literal as _lit
from .model import module_name

# Names the generated forward() uses itself; a node id equal to one of them gets a trailing '_'.
# __debug__ is a valid identifier Python refuses to assign to.
_RESERVED = frozenset({"self", "torch", "nn", "__debug__"})

def doc_text(text: object) -> str:
    """``text`` made safe to place inside a triple-quoted (non-raw) docstring: backslashes and double
    quotes are escaped (so it can never close the string), and so is every character that is not
    printable (newlines, NUL, lone surrogates, line separators), so the docstring's value is the
    text itself on one line."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif not ch.isprintable():
            out.append(repr(ch)[1:-1])  # \n, \x00, \ud800, \u2028 ...
        else:
            out.append(ch)
    return "".join(out)


def python_identifier(name: str, what: str) -> str:
    """``name`` if it is a plain Python identifier (not a keyword), else GraphError naming ``what``."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise GraphError(f"{what} {name!r} is not a Python name; use letters, digits and _ (not starting with a digit)")
    return name


def class_name_for(name: str) -> str:
    """CamelCase class name from a graph name: 'lenet5' -> 'Lenet5', 'my net-v2' -> 'MyNetV2'."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name or "") if p]
    text = "".join(p[0].upper() + p[1:] for p in parts)
    if not text:
        return "Network"
    if text[0].isdigit():
        text = "Net" + text
    if keyword.iskeyword(text) or text in ("Module", "Tensor"):
        text += "Net"
    return text


def variable_names(node_ids) -> dict[str, str]:
    """Node id -> a Python variable name for forward(): the id itself unless that is a keyword or a
    name the generated code needs (self, torch, nn); then underscores are appended until unique."""
    used: set[str] = set()
    out: dict[str, str] = {}
    ids = list(node_ids)
    taken = set(ids)
    for nid in ids:
        name = nid
        if keyword.iskeyword(name) or name in _RESERVED:
            name += "_"
            while name in used or (name in taken and name != nid):
                name += "_"
        out[nid] = name
        used.add(name)
    return out


def reading_order(graph: Graph) -> list[str]:
    """A topological order that follows each chain as far as it goes before switching branches
    (main path, then shortcut, then the merge), which reads better than breadth-first."""
    indeg = {n: 0 for n in graph.nodes}
    for e in graph.edges:
        indeg[e.dst] += 1
    ready = [n for n in graph.nodes if indeg[n] == 0]
    order: list[str] = []
    while ready:
        pick = ready[0]
        if order:
            for succ in graph.successors(order[-1]):
                if succ in ready:
                    pick = succ
                    break
        ready.remove(pick)
        order.append(pick)
        for succ in graph.successors(pick):
            indeg[succ] -= 1
            if indeg[succ] == 0:
                ready.append(succ)
    return order


def constructor(type_id: str, cfg: dict, input_shapes: list) -> str | None:
    """Source of the torch constructor call for one node (the registered layer's ``source``);
    None for nodes without a module in the exported code (input, add, concat)."""
    if not has_layer(type_id) or isinstance(get_layer(type_id), LossLayer):
        raise GraphError(f"cannot write Python code for layer type '{type_id}'")
    return get_layer(type_id).source(cfg, input_shapes)


def forward_expression(type_id: str, cfg: dict, inputs: list[str], call: str | None) -> str:
    """The right-hand side that computes one node in forward(): ``call(x)`` for a module (``call``
    is ``self.c1``), else the layer's own expression (``a + b``, ``torch.cat([a, b], dim=1)``)."""
    if not has_layer(type_id):
        raise GraphError(f"cannot write Python code for layer type '{type_id}'")
    return get_layer(type_id).forward_source(cfg, inputs, call)


def _fmt_list(values, per_line: int = 8, indent: str = "    ") -> str:
    if values is None:
        return "None"
    vals = [_lit(v) for v in values]
    one = "[" + ", ".join(vals) + "]"
    if len(one) <= 88:
        return one
    lines = ["["]
    for i in range(0, len(vals), per_line):
        lines.append(indent + ", ".join(vals[i : i + per_line]) + ",")
    lines.append("]")
    return "\n".join(lines)


def _float_list(values) -> list[float] | None:
    if values is None:
        return None
    return [float(v) for v in values]


def training_options(graph: Graph, analysis: Analysis) -> tuple[list[str], dict[str, float]]:
    """The network's per-node training options as the exported module's ``FROZEN`` (submodule
    paths, ``"layer1.conv1"``, whose parameters CNN Studio's trainer keeps fixed) and ``LR_MULT``
    (path -> learning-rate multiplier; nested ones multiply), by training/freeze.py's rules: a
    layer inside a block is frozen when it or an instance around it is, a definition's option
    applies in every instance of it. Nodes the code writes no module for (input, add) are left out."""
    frozen: list[str] = []
    mults: dict[str, float] = {}

    def walk(g: Graph, infos: dict, prefix: str) -> None:
        for nid, node in g.nodes.items():
            info = infos.get(nid)
            if info is None:
                continue
            is_block = node.type == BLOCK_TYPE and getattr(info, "block", None) is not None
            if not is_block and (not has_layer(node.type) or isinstance(get_layer(node.type), LossLayer)
                                 or constructor(node.type, info.config, info.input_shapes) is None):
                continue
            path = prefix + module_name(nid)
            if node.frozen:
                frozen.append(path)  # everything under it is frozen: its inner options do not matter
                continue
            if node.lr_mult != 1.0:
                mults[path] = float(node.lr_mult)
            if is_block:
                walk(graph.blocks[info.config["block"]].graph, info.block.nodes, path + ".")

    walk(graph, analysis.nodes, "")
    return frozen, mults


def options_class_lines(frozen: list[str]) -> tuple[list[str], list[str]]:
    """(lines ending ``__init__``, a ``train`` method) that apply FROZEN as CNN Studio's trainer does;
    none when nothing is frozen."""
    if not frozen:
        return [], []
    init = [
        "        # frozen in CNN Studio (Inspector: Trainable off): these layers keep their weights",
        "        for name in FROZEN:",
        "            self.get_submodule(name).requires_grad_(False)",
    ]
    method = [
        "",
        "    def train(self, mode: bool = True):",
        '        """As CNN Studio\'s trainer: batch norm inside a FROZEN layer stays in eval mode (uses its',
        '        running statistics and does not update them) while the rest trains; FROZEN_BN_EVAL = False',
        '        lets it update them."""',
        "        super().train(mode)",
        "        if FROZEN_BN_EVAL:",
        "            for name in FROZEN:",
        "                for m in self.get_submodule(name).modules():",
        "                    if isinstance(m, nn.modules.batchnorm._BatchNorm):",
        "                        m.eval()",
        "        return self",
    ]
    return init, method


def _options_constants(frozen: list[str], mults: dict[str, float]) -> list[str]:
    if not frozen and not mults:
        return [
            "# CNN Studio's training options: no layer is frozen and none has a learning-rate multiplier",
            "# (build the optimizer from param_groups(model, lr) and it follows these if you set some).",
            "FROZEN = []",
            "LR_MULT = {}",
            "FROZEN_BN_EVAL = True",
        ]
    return [
        "# CNN Studio's training options (Inspector: Trainable, LR multiplier), applied as its trainer",
        "# applies them: the parameters of FROZEN layers (submodule paths) get requires_grad False in",
        "# __init__ and stay out of the optimizer; their batch norm stays in eval mode in train() while",
        "# FROZEN_BN_EVAL is True; LR_MULT scales a layer's learning rate (nested ones multiply).",
        "# Build the optimizer from param_groups(model, lr) to train as CNN Studio does.",
        f"FROZEN = {_fmt_list(frozen, per_line=4)}",
        f"LR_MULT = {{{', '.join(f'{k!r}: {_lit(v)}' for k, v in mults.items())}}}",
        "FROZEN_BN_EVAL = True",
    ]


def generate_python(
    graph: Graph,
    *,
    class_name: str | None = None,
    class_names: list[str] | None = None,
    mean=None,
    std=None,
    analysis: Analysis | None = None,
    source_note: str = "",
    options: tuple[list[str], dict[str, float]] | None = None,
) -> str:
    """Source code of a standalone module defining the network of ``graph``. ``options``: the
    (FROZEN, LR_MULT) to write, default :func:`training_options` of ``graph`` (the block writer
    passes those of the network before its blocks were inlined)."""
    if graph.blocks:  # block definitions become nn.Module classes (codegen_blocks.py)
        from .codegen_blocks import generate_python_blocks

        return generate_python_blocks(graph, class_name=class_name, class_names=class_names, mean=mean, std=std, analysis=analysis, source_note=source_note)
    a = analysis or analyze(graph)
    a.raise_for_errors()
    out_node = graph.output_node()
    in_node = graph.input_node()
    assert out_node is not None and in_node is not None
    cls = python_identifier(class_name or class_name_for(graph.name), "class name")
    order = [n for n in reading_order(graph) if n != out_node.id]
    for nid in graph.nodes:  # ids become variable and attribute names: only whole identifiers
        if not is_valid_id(nid):
            raise GraphError(f"node id {nid!r} is not a valid name; use letters, digits and _ (rename the node)")
    var = variable_names(order)
    class_names = [str(c) for c in class_names] if class_names else None
    result_id = graph.in_edges(out_node.id)[0].src
    in_shape = a.nodes[in_node.id].output_shape
    out_shape = a.nodes[result_id].output_shape
    mean_l, std_l = _float_list(mean), _float_list(std)

    init_lines: list[str] = []
    fwd_lines: list[str] = []
    for nid in order:
        node = graph.nodes[nid]
        info = a.nodes[nid]
        shape_note = f"  # -> {fmt_shape(info.output_shape)}"
        if nid == in_node.id:
            continue
        srcs = [var[e.src] for e in graph.in_edges(nid)]
        ctor = constructor(node.type, info.config, info.input_shapes)
        if ctor is not None:
            attr = module_name(nid)
            if attr.startswith("__") and not attr.endswith("__"):
                # inside a class body Python mangles self.__x into self._Cls__x, which would change
                # the state_dict key: name such modules by string instead (forward reads them from
                # self._modules, not getattr, since a node id may be a local named getattr)
                init_lines.append(f"        self.add_module({attr!r}, {ctor})")
                call = f"self._modules[{attr!r}]"  # no builtin: ids may shadow any
            else:
                init_lines.append(f"        self.{attr} = {ctor}")
                call = f"self.{attr}"
            fwd_lines.append(f"        {var[nid]} = {forward_expression(node.type, info.config, srcs, call)}{shape_note}")
        else:  # a node written as an expression (add: a + b, concat: torch.cat)
            fwd_lines.append(f"        {var[nid]} = {forward_expression(node.type, info.config, srcs, None)}{shape_note}")
    fwd_lines.append(f"        return {var[result_id]}")
    frozen, mults = options if options is not None else training_options(graph, a)
    opt_init, opt_method = options_class_lines(frozen)

    total = a.total_params
    header = [
        f'"""{cls}: a convolutional network exported from CNN Studio (network \'{doc_text(graph.name)}\').',
        "",
        "Standalone: needs only PyTorch. Build it with no arguments, load weights with strict=True:",
        "",
        f"    model = {cls}()",
        '    model.load_state_dict(torch.load("weights.pt", weights_only=True))',
        "    model.eval()",
        "",
        f"Input:  a float tensor of shape (N, {', '.join(str(s) for s in in_shape)}) "
        f"(batch x channels x height x width), see INPUT_SHAPE.",
        f"Output: {fmt_shape(out_shape)} raw class scores (logits) per sample; softmax gives probabilities.",
    ]
    if class_names:
        shown = ", ".join(doc_text(c) for c in class_names[:20]) + (", ..." if len(class_names) > 20 else "")
        header.append(f"Classes ({len(class_names)}): {shown} (exactly as in CLASS_NAMES)")
    else:
        header.append("Classes: not recorded (CLASS_NAMES is None).")
    if mean_l is not None and std_l is not None:
        header.append(f"Normalisation: pixels scaled to [0, 1], then (x - MEAN) / STD per channel; MEAN={mean_l}, STD={std_l}.")
    else:
        header.append("Normalisation: not recorded (MEAN and STD are None); feed what the network was trained on.")
    header.append(f"Parameters: {total:,} ({a.trainable_params:,} trainable, {a.non_trainable_params:,} non-trainable buffers).")
    if frozen or mults:
        parts = ([f"{len(frozen)} frozen layer{'s' if len(frozen) != 1 else ''} (FROZEN)"] if frozen else []) + (
            [f"{len(mults)} learning-rate multiplier{'s' if len(mults) != 1 else ''} (LR_MULT)"] if mults else [])
        header.append(f"Training options: {' and '.join(parts)}; train with torch.optim.SGD(param_groups(model, lr), ...).")
    if source_note:
        header.append(doc_text(source_note))
    header.append('"""')

    lines = header + [
        "import torch",
        "from torch import nn",
        "",
        f"INPUT_SHAPE = {tuple(in_shape)!r}",
        f"CLASS_NAMES = {_fmt_list(list(class_names) if class_names else None)}",
        f"MEAN = {_fmt_list(mean_l)}",
        f"STD = {_fmt_list(std_l)}",
        *_options_constants(frozen, mults),
        "",
        "",
        f"class {cls}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        *init_lines,
        *opt_init,
        "",
        f"    def forward(self, {var[in_node.id]}: torch.Tensor) -> torch.Tensor:",
        *fwd_lines,
        *opt_method,
        "",
        "",
        _MAIN.replace("{cls}", cls),
    ]
    return "\n".join(lines)


_MAIN = '''def load_weights(model: nn.Module, path: str) -> nn.Module:
    """Load a state_dict (.pt via torch.load(weights_only=True), or .safetensors) into the model."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]  # a CNN Studio checkpoint
    model.load_state_dict(state, strict=True)
    return model


def param_groups(model: nn.Module, lr: float) -> list[dict]:
    """The optimizer's parameter groups as CNN Studio trains this network: frozen parameters
    (requires_grad False) left out, each layer's rate ``lr`` times the LR_MULT of every layer around
    it. Use as ``torch.optim.SGD(param_groups(model, 0.01), lr=0.01, momentum=0.9)``."""
    groups: dict[float, list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        mult = 1.0
        for path, m in LR_MULT.items():
            if name.startswith(path + "."):
                mult *= m
        groups.setdefault(mult, []).append(p)
    return [{"params": ps, "lr": lr * m} for m, ps in groups.items()]


if __name__ == "__main__":
    import sys

    model = {cls}()
    if len(sys.argv) > 1:
        load_weights(model, sys.argv[1])
        print(f"loaded weights from {sys.argv[1]}")
    model.eval()
    with torch.no_grad():
        scores = model(torch.randn(2, *INPUT_SHAPE))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{cls}: {n_params:,} parameters; input (2, {', '.join(map(str, INPUT_SHAPE))}) -> output {tuple(scores.shape)}")
'''


def generate_training_script(module_stem: str, class_name: str) -> str:
    """A standalone training script for an image folder (one sub-folder per class) that imports
    ``class_name`` from ``module_stem.py`` next to it. Runs plainly (``python train_x.py DATA``) or
    distributed (``torchrun --nproc_per_node=2 train_x.py DATA``)."""
    module_stem = python_identifier(module_stem, "module name")
    class_name = python_identifier(class_name, "class name")
    return _TRAIN.replace("{module}", module_stem).replace("{cls}", class_name)


_TRAIN = '''"""Train {cls} (from {module}.py, exported by CNN Studio) on an image folder.

    DATA/
      cat/  img001.png ...
      dog/  img101.jpg ...

Plain:        python train_{module}.py DATA --epochs 10 --batch-size 64
Distributed:  torchrun --nproc_per_node=2 train_{module}.py DATA --epochs 10
              (DistributedDataParallel; gloo on CPU, nccl on GPU; rank 0 logs and saves)

Needs torch and Pillow only. Images are resized to INPUT_SHAPE, scaled to [0, 1] and normalised
with MEAN/STD when the exported module records them. The best weights (by validation accuracy)
are saved as a plain state_dict: load with model.load_state_dict(torch.load(path, weights_only=True)).
"""
import argparse
import os
import random
import time

import torch
import torch.distributed as dist
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from {module} import INPUT_SHAPE, MEAN, STD, {cls}, load_weights, param_groups

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageFolder(Dataset):
    """(image tensor, class index) pairs from DATA/<class>/<image>."""

    def __init__(self, root, samples, classes):
        self.root, self.samples, self.classes = root, samples, classes
        c, self.h, self.w = INPUT_SHAPE
        self.mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
        if self.mode is None:
            raise SystemExit(f"cannot read images for a {c}-channel input")
        self.mean = torch.tensor(MEAN).view(-1, 1, 1) if MEAN is not None else None
        self.std = torch.tensor(STD).view(-1, 1, 1) if STD is not None else None

    @staticmethod
    def scan(root):
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        samples = []
        for label, name in enumerate(classes):
            for dirpath, _, files in sorted(os.walk(os.path.join(root, name))):
                for f in sorted(files):
                    if f.lower().endswith(EXTENSIONS):
                        samples.append((os.path.join(dirpath, f), label))
        if not samples:
            raise SystemExit(f"no images found under {root} (expected one sub-folder per class)")
        return classes, samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        with Image.open(path) as img:
            img = img.convert(self.mode).resize((self.w, self.h), Image.BILINEAR)
            data = img.tobytes()
        x = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(self.h, self.w, -1)
        x = x.permute(2, 0, 1).float().div_(255.0)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x, label


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", help="image folder with one sub-folder per class")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--lr", type=float, default=None, help="default 0.01 for SGD, 0.001 for Adam")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", help="start from these weights (.pt state_dict or checkpoint, or .safetensors)")
    p.add_argument("--out", default="{module}_trained.pt", help="where to save the best weights")
    return p.parse_args()


def main():
    args = parse_args()
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if distributed:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        use_cuda = torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if use_cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    else:
        rank, world = 0, 1
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def log(*a):
        if rank == 0:
            print(*a, flush=True)

    torch.manual_seed(args.seed)
    classes, samples = ImageFolder.scan(args.data)
    random.Random(args.seed).shuffle(samples)  # same split on every rank
    n_val = int(len(samples) * args.val_fraction) if len(samples) > 1 else 0
    train_set = ImageFolder(args.data, samples[n_val:], classes)
    val_set = ImageFolder(args.data, samples[:n_val], classes)

    model = {cls}()
    if args.weights:
        load_weights(model, args.weights)
    with torch.no_grad():
        n_out = model.eval()(torch.zeros(1, *INPUT_SHAPE)).shape[1]
    if n_out != len(classes):
        log(f"warning: the network has {n_out} outputs but the folder has {len(classes)} classes")
    model.to(device)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    bare = model.module if distributed else model

    train_sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed) if distributed else None
    val_sampler = DistributedSampler(val_set, shuffle=False) if distributed and n_val else None
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=train_sampler is None,
                              sampler=train_sampler, num_workers=args.workers, drop_last=False)
    val_loader = DataLoader(val_set, batch_size=args.batch_size, sampler=val_sampler, num_workers=args.workers)

    # frozen layers (FROZEN in {module}.py) stay out of the optimizer; LR_MULT scales their layers' rates
    lr = args.lr or (0.01 if args.optimizer == "sgd" else 0.001)
    groups = param_groups(bare, lr)
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)
    else:
        opt = torch.optim.Adam(groups, lr=lr, weight_decay=args.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    log(f"{len(train_set)} training / {len(val_set)} validation images, {len(classes)} classes, "
        f"{world} process(es) on {device}")

    best = -1.0
    for epoch in range(1, args.epochs + 1):
        if train_sampler is not None:
            train_sampler.set_epoch(epoch)
        model.train()
        t0, total, correct, loss_sum = time.time(), 0, 0, 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad(set_to_none=True)
            scores = model(x)
            loss = loss_fn(scores, y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += (scores.argmax(1) == y).sum().item()
            total += len(y)
        stats = torch.tensor([loss_sum, correct, total], dtype=torch.float64, device=device)
        model.eval()
        v_correct, v_total = 0, 0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                v_correct += (bare(x).argmax(1) == y).sum().item()
                v_total += len(y)
        vstats = torch.tensor([v_correct, v_total], dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(stats)
            dist.all_reduce(vstats)
        loss_avg = stats[0].item() / max(stats[2].item(), 1)
        acc = stats[1].item() / max(stats[2].item(), 1)
        val_acc = vstats[0].item() / vstats[1].item() if vstats[1].item() else acc
        log(f"epoch {epoch}/{args.epochs}  loss {loss_avg:.4f}  acc {acc:.3f}  val_acc {val_acc:.3f}  "
            f"({time.time() - t0:.1f}s)")
        if rank == 0 and val_acc > best:
            best = val_acc
            tmp = args.out + ".tmp"
            torch.save(bare.state_dict(), tmp)
            os.replace(tmp, args.out)
    log(f"best val_acc {best:.3f}; weights saved to {args.out}")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
'''
