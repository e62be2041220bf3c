"""The torch side of every layer type, one registered class per type id (Keras keeps every fact of
a layer in one registered class; this follows that idea). The spec (shapes, parameters, MACs,
help text, category) stays in ``cnn_studio/core/catalogue/`` (standard library only); everything
that needs torch is here, and the compiler, the code export and the fx import only look it up:

* ``compiler/modules.py``  ``BUILDERS[type_id](config, shapes)``  -> ``get_layer(t).build``
* ``compiler/codegen.py``  ``constructor()`` / forward expression -> ``.source`` / ``.forward_source``
* ``compiler/fx_import.py`` module and function mapping           -> ``.from_module`` / ``.from_call``

How to add a layer type ``foo`` (after registering its ``LayerSpec`` in core/catalogue/)
----------------------------------------------------------------------------------------
1. In a file of this package (the palette groups ``conv.py``, ``pool.py``, ``activation.py``,
   ``norm.py``, ``dense.py``, ``merge.py``, ``loss.py``, ``input.py``, or a new file such as
   ``new_resample.py``: every module in this package is imported when it is, so a new file needs no
   edit here), write a subclass of :class:`TorchLayer` decorated with :func:`register`::

       @register
       class Foo(TorchLayer):
           type_id = "foo"                          # the spec's type id
           module_types = (nn.Foo,)                 # nn classes fx import maps (exact class match)
           signatures = (Signature(("input", "alpha"), {"alpha": 1.0},
                                   functions=(F.foo, torch.foo), methods=("foo",)),)

           def build(self, config, shapes):         # REQUIRED: canonical config, input shapes (no batch)
               return nn.Foo(shapes[0][0], alpha=config["alpha"])

           def source(self, config, shapes):        # REQUIRED: constructor text for exported code,
               return f"nn.Foo({shapes[0][0]}, alpha={literal(config['alpha'])})"  # literals only

           def from_module(self, module, ctx):      # import of an nn.Foo -> config
               return {"alpha": float(module.alpha)}

           def from_call(self, args, ctx):          # import of F.foo(x, alpha=...) -> config
               return {"alpha": float(args["alpha"])}

   Required: ``type_id``, ``build`` and ``source``, plus at least one import mapping:
   ``module_types`` with ``from_module``, and/or ``signatures`` with ``from_call``.
   A layer with no module in exported code (a merge written as ``a * b``) returns None from
   ``source`` and overrides ``forward_source(config, inputs, call)`` to return the expression;
   a layer with several tensor inputs overrides ``call_inputs(args, ctx)`` (see merge.py).
   Refuse a setting the catalogue cannot express with ``ctx.unsupported("why")`` (the importer
   lists every refusal in one message). A parameter-free element-wise function can subclass
   :class:`ActivationLayer` and set only ``module`` and ``signatures``.
2. Add its glyph to ``resources/make_icons.py`` (GLYPHS, keyed by type id; the tile colour comes
   from the spec's category) and run ``python resources/make_icons.py``.
3. ``tests/compiler/test_registry.py`` fails until the spec, the registration, an import mapping,
   the icon file and the spec's help text are all there.

A module that nobody registers is not a layer: :func:`get_layer` raises KeyError for unknown ids;
``nn.Identity`` with no registration is imported as a pass-through (no node).
"""
from __future__ import annotations

from .base import (
    ActivationLayer,
    ImportContext,
    LossLayer,
    Signature,
    TorchLayer,
    Unsupported,
    all_layers,
    get_layer,
    has_layer,
    layer_for_function,
    layer_for_method,
    layer_for_module,
    literal,
    pad_arg,
    pair_cfg,
    register,
    tup,
    unregister,
)

# Registers every torch layer: the palette groups in palette order (as core/catalogue does for the
# specs), then any other module of this package, by name.
from . import input, conv, pool, activation, norm, dense, merge, loss  # noqa: E402,F401


def _import_the_rest() -> None:
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_import_the_rest()

__all__ = [
    "ActivationLayer", "ImportContext", "LossLayer", "Signature", "TorchLayer", "Unsupported", "all_layers", "get_layer",
    "has_layer", "layer_for_function", "layer_for_method", "layer_for_module", "literal", "pad_arg", "pair_cfg",
    "register", "tup", "unregister",
]
