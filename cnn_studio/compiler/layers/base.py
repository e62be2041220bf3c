"""The torch-side registration of a layer type: the base classes and the registry (see the package
docstring, :mod:`cnn_studio.compiler.layers`, for how to add a layer)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, NoReturn

from torch import nn

from ...core.layers import Shape, pair


# --------------------------------------------------------------------------------------------
# torch.fx import support
# --------------------------------------------------------------------------------------------
class Unsupported(Exception):
    """An operation the fx import cannot map; ``what`` names it (``Conv2d ('features.0')``), ``why``
    says which part is not supported. The importer collects all of them into one message."""

    def __init__(self, what: str, why: str = ""):
        super().__init__(what)
        self.what = what
        self.why = why


@dataclass(frozen=True)
class Signature:
    """How a function or Tensor method is called, for binding a traced call's arguments by name:
    ``params`` in positional order and the ``defaults`` of the optional ones. ``functions`` are the
    callables a traced ``call_function`` node may target (``F.relu``, ``torch.relu``,
    ``operator.add``; None entries, for names missing in this torch version, are skipped),
    ``methods`` the Tensor method names of ``call_method`` nodes (``x.relu()``)."""

    params: tuple[str, ...]
    defaults: dict = field(default_factory=dict)
    functions: tuple[Any, ...] = ()
    methods: tuple[str, ...] = ()

    def bind(self, what: str, args, kwargs) -> dict:
        out = dict(self.defaults)
        if len(args) > len(self.params):
            raise Unsupported(what, "too many arguments")
        for n, v in zip(self.params, args):
            out[n] = v
        for k, v in kwargs.items():
            out[k] = v
        return out


class ImportContext:
    """What a layer's ``from_module``/``from_call`` may ask about the traced call it maps: ``what``
    (the operation, for messages), the rank of a tensor argument (``-1`` for a non-tensor) and its
    shape (batch axis included), and :meth:`unsupported` to refuse the call."""

    def __init__(self, what: str, rank: Callable[[Any], int], shape: Callable[[Any], tuple | None],
                 input_rank: int = -1, output_shape: tuple | None = None):
        self.what = what
        self._rank = rank
        self._shape = shape
        self.input_rank = input_rank  # rank of a called module's (single) input
        self.output_shape = output_shape  # traced shape of the call's result (batch axis included)

    def rank(self, arg) -> int:
        return self._rank(arg)

    def shape(self, arg) -> tuple | None:
        return self._shape(arg)

    @staticmethod
    def is_tensor(arg) -> bool:
        import torch.fx

        return isinstance(arg, torch.fx.Node)

    def unsupported(self, why: str = "") -> NoReturn:
        raise Unsupported(self.what, why)


# --------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------
class TorchLayer:
    """Everything torch needs to know about one layer type (the spec in core.layers has the rest).

    Required: ``type_id`` (the spec's id), :meth:`build`, and for code export :meth:`source`
    (or :meth:`forward_source` for layers written as a plain expression in ``forward``). For fx
    import: ``module_types`` + :meth:`from_module`, and/or ``signatures`` + :meth:`from_call`."""

    type_id: ClassVar[str] = ""
    #: nn.Module classes (matched exactly, not by subclass) that :meth:`from_module` turns into a config
    module_types: ClassVar[tuple[type, ...]] = ()
    #: functional forms (F.relu, torch.cat, operator.add, x.relu()) that :meth:`from_call` maps
    signatures: ClassVar[tuple[Signature, ...]] = ()

    # ---- compile -----------------------------------------------------------------------------
    def build(self, config: dict, shapes: list[Shape]) -> nn.Module:
        """The torch module for a node with the canonical ``config`` and input ``shapes`` (no batch axis)."""
        raise NotImplementedError(f"{type(self).__name__}.build")

    # ---- Python code export --------------------------------------------------------------------
    def source(self, config: dict, shapes: list[Shape]) -> str | None:
        """The constructor expression of the module in exported code (``nn.ReLU()``), with literal
        arguments only; None when the node has no module and :meth:`forward_source` writes it."""
        raise NotImplementedError(f"{type(self).__name__}.source")

    def forward_source(self, config: dict, inputs: list[str], call: str | None) -> str:
        """The expression computing the node in ``forward``: ``inputs`` are the variable names of
        its inputs, ``call`` the module reference (``self.c1``), None when :meth:`source` is None."""
        if call is None:
            raise NotImplementedError(f"{type(self).__name__}.forward_source")
        return f"{call}({inputs[0]})"

    # ---- torch.fx import -----------------------------------------------------------------------
    def from_module(self, module: nn.Module, ctx: ImportContext) -> dict:
        """The node config for a module of one of ``module_types`` (its input is one tensor of rank
        ``ctx.input_rank``); ``ctx.unsupported(why)`` for settings the catalogue cannot express."""
        raise NotImplementedError(f"{type(self).__name__}.from_module")

    def from_call(self, args: dict, ctx: ImportContext) -> dict:
        """The node config for a call of one of ``signatures``; ``args`` are bound by name."""
        raise NotImplementedError(f"{type(self).__name__}.from_call")

    def call_inputs(self, args: dict, ctx: ImportContext) -> list:
        """The tensor arguments that feed the node, in port order. The default takes ``input`` and
        refuses any other argument that is a tensor (a parameter computed at run time)."""
        if any(ctx.is_tensor(v) for k, v in args.items() if k != "input"):
            ctx.unsupported("a parameter computed from tensors")
        return [args["input"]]

    def canonical(self, config: dict) -> dict:
        """The checked ``config`` in the form two equal networks share (a pool's stride equal to its
        kernel is 'same as kernel'); used to compare imported graphs. Default: unchanged."""
        return config

    # ---- what this registration provides (for the completeness test) -----------------------------
    def has(self, method: str) -> bool:
        """True when this class overrides ``method`` of the base class."""
        return getattr(type(self), method) is not getattr(TorchLayer, method)


class LossLayer(TorchLayer):
    """A loss (role 'output' in the catalogue): not part of the forward pass; :meth:`build` makes
    the criterion the trainer uses, :meth:`source` its constructor expression."""


class ActivationLayer(TorchLayer):
    """An element-wise function with a fixed constructor and no parameters: set ``module`` (the
    nn class, built with no arguments) and ``signatures``."""

    module: ClassVar[type] = nn.Identity

    def build(self, config, shapes):
        return self.module()

    def source(self, config, shapes):
        return f"nn.{self.module.__name__}()"

    def from_module(self, module, ctx):
        return {}

    def from_call(self, args, ctx):
        return {}


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
_LAYERS: dict[str, TorchLayer] = {}


def register(cls: type[TorchLayer]) -> type[TorchLayer]:
    """Class decorator: register one instance of ``cls`` under ``cls.type_id``."""
    if not cls.type_id:
        raise ValueError(f"{cls.__name__} has no type_id")
    if cls.type_id in _LAYERS:
        raise ValueError(f"torch layer for '{cls.type_id}' registered twice ({type(_LAYERS[cls.type_id]).__name__}, {cls.__name__})")
    _LAYERS[cls.type_id] = cls()
    return cls


def unregister(type_id: str) -> None:
    """Remove a registration (tests only)."""
    _LAYERS.pop(type_id, None)


def get_layer(type_id: str) -> TorchLayer:
    try:
        return _LAYERS[type_id]
    except KeyError:
        raise KeyError(type_id) from None


def has_layer(type_id: str) -> bool:
    return type_id in _LAYERS


def all_layers() -> dict[str, TorchLayer]:
    return dict(_LAYERS)


def layer_for_module(module_type: type) -> TorchLayer | None:
    """The registration whose ``module_types`` holds exactly this class."""
    for layer in _LAYERS.values():
        if module_type in layer.module_types:
            return layer
    return None


def layer_for_function(fn) -> tuple[TorchLayer, Signature] | None:
    for layer in _LAYERS.values():
        for sig in layer.signatures:
            if any(f is fn for f in sig.functions if f is not None):
                return layer, sig
    return None


def layer_for_method(name: str) -> tuple[TorchLayer, Signature] | None:
    for layer in _LAYERS.values():
        for sig in layer.signatures:
            if name in sig.methods:
                return layer, sig
    return None


# --------------------------------------------------------------------------------------------
# Helpers shared by the layer classes
# --------------------------------------------------------------------------------------------
def tup(v) -> str:
    """A pair as source text: ``3`` -> ``(3, 3)``."""
    h, w = pair(v)
    return f"({int(h)}, {int(w)})"


def literal(v) -> str:
    """A literal that evaluates back to ``v``: floats (nan and inf as float('...') calls, which
    repr alone would leave as bare names), else repr."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        f = float(v)
        return repr(f) if f == f and f not in (float("inf"), float("-inf")) else f"float({str(f)!r})"
    return repr(v)


def pair_cfg(v):
    """A torch pair as a config value: ``(3, 3)`` -> ``3``, ``(3, 5)`` -> ``[3, 5]``."""
    h, w = pair(v)
    return h if h == w else [h, w]


def pad_arg(value):
    """A config padding as a torch argument ('same'/'valid' kept, else a pair)."""
    if value in ("same", "valid"):
        return value
    return pair(value)
