"""Type id -> torch module, as lookups into the layer registry (:mod:`.layers`, one registered
class per type id; see its docstring for how to add a layer). Builders take the canonical config
and the input shapes from the analysis."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Callable

from torch import nn

from ..core.layers import Shape
from .layers import LossLayer, all_layers, get_layer, has_layer
from .layers.input import InputNode  # noqa: F401  (the module classes keep their old import path)
from .layers.merge import Add, Concat  # noqa: F401

Builder = Callable[[dict, list[Shape]], nn.Module]


class _Builders(Mapping):
    """type id -> ``build(config, shapes)`` of every registered layer that is part of the forward
    pass (losses are built by :func:`make_loss`). A live view: a layer registered later is in it."""

    def __getitem__(self, type_id: str) -> Builder:
        if has_layer(type_id):
            layer = get_layer(type_id)
            if not isinstance(layer, LossLayer):
                return layer.build
        raise KeyError(type_id)

    def __iter__(self) -> Iterator[str]:
        return (t for t, layer in all_layers().items() if not isinstance(layer, LossLayer))

    def __len__(self) -> int:
        return sum(1 for _ in self)


BUILDERS: Mapping[str, Builder] = _Builders()

# Loss layers: not part of the forward pass; the Trainer builds the criterion with make_loss().
LOSS_TYPES = tuple(t for t, layer in all_layers().items() if isinstance(layer, LossLayer))


def make_loss(type_id: str, cfg: dict) -> nn.Module:
    layer = get_layer(type_id)  # KeyError for an unknown type, as before
    if not isinstance(layer, LossLayer):
        raise KeyError(type_id)
    return layer.build(cfg, [])
