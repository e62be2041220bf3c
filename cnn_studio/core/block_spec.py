"""The node type of a block instance (``"block"``) and the naming rules of block definitions.

A block instance is a node whose config is ``{"block": NAME, "inputs": N}``: NAME names a
definition held by the graph (``graph.blocks``, see :mod:`cnn_studio.core.blocks`), N is the number
of input ports, kept equal to the definition's by every block operation (so code that sees only a
node's config, such as the canvas or paste, knows its ports). The spec is deliberately *not* in the
layer catalogue (``layers.all_specs()``): it is no palette layer and has no builder of its own; the
analysis and the compiler expand it from its definition. ``Node.spec`` and :func:`spec_for` return it.

Standard library only; imports nothing but the layer catalogue's types.
"""
from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass

from .errors import LayerError
from .layers import Inference, LayerSpec, Shape, get_spec, has_spec

BLOCK_TYPE = "block"
MAX_BLOCK_INPUTS = 16

# A definition name becomes a Python class name in exported code: a letter first, then letters,
# digits and _, at most 64 characters, not a keyword and not a name the generated module uses.
BLOCK_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
RESERVED_BLOCK_NAMES = frozenset(
    {"Module", "Tensor", "Sequential", "None", "True", "False", "INPUT_SHAPE", "CLASS_NAMES", "MEAN", "STD", "torch", "nn", "load_weights"}
)


def block_name_problem(name: object) -> str | None:
    """None if ``name`` may name a block definition, else what is wrong (one sentence, with the fix)."""
    if not isinstance(name, str):
        return f"a block name must be text, got {type(name).__name__}"
    if not BLOCK_NAME_RE.fullmatch(name):
        shown = name if len(name) <= 40 else name[:40] + "..."
        return (
            f"{shown!r} is not a valid block name; it becomes a Python class name: start with a letter, "
            "then letters, digits or _ (at most 64 characters)"
        )
    # builtins too: a class named super, float or print would break the exported module's own code
    if keyword.iskeyword(name) or name in RESERVED_BLOCK_NAMES or name in vars(builtins):
        return f"{name!r} cannot name a block (Python or the exported code uses that name); choose another"
    return None


def is_valid_block_name(name: object) -> bool:
    return block_name_problem(name) is None


def _no_infer(cfg: dict, inputs: list[Shape]) -> Inference:  # pragma: no cover - the analysis expands blocks
    raise LayerError("a block is analysed from its definition", "analyse the graph that holds it", None)


@dataclass(frozen=True)
class BlockSpec(LayerSpec):
    """LayerSpec of block instances: two fields, ``block`` (a definition name) and ``inputs``."""

    def defaults(self) -> dict:
        return {"block": "", "inputs": 1}

    def num_inputs(self, config: dict) -> int:
        n = config.get("inputs", 1)
        if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_BLOCK_INPUTS:
            return n
        return 1

    def check_config(self, config: dict) -> tuple[dict, list[LayerError]]:
        errors: list[LayerError] = []
        for key in config:
            if key not in ("block", "inputs"):
                errors.append(LayerError(f"unknown parameter '{key}'", "remove it; a block instance takes block and inputs", key))
        name = config.get("block", "")
        problem = block_name_problem(name)
        if problem:
            errors.append(LayerError(problem, "pick an existing block definition", "block"))
            name = ""
        n = config.get("inputs", 1)
        if not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_BLOCK_INPUTS):
            errors.append(LayerError(f"expects 1 to {MAX_BLOCK_INPUTS} inputs, got {n!r}", "set inputs to the definition's input count", "inputs"))
            n = 1
        return {"block": name, "inputs": n}, errors

    def describe(self, config: dict) -> str:
        return str(config.get("block", ""))


BLOCK_SPEC = BlockSpec(
    BLOCK_TYPE,
    "Block",
    "Blocks",
    "A named sub-network used as one layer. Its definition (its own layers and connections) is stored once; "
    "every use of it shares that definition, so an edit inside changes every use (make one unique to edit it alone).",
    (),
    _no_infer,
    inputs="inputs",
    role="layer",
    short="Block",
    has_weights=True,
)


def spec_for(type_id: str) -> LayerSpec:
    """The spec of a node type: the block spec for ``"block"``, else the catalogue's (KeyError if unknown)."""
    if type_id == BLOCK_TYPE:
        return BLOCK_SPEC
    return get_spec(type_id)


def is_known_type(type_id: object) -> bool:
    return type_id == BLOCK_TYPE or (isinstance(type_id, str) and has_spec(type_id))
