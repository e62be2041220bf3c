"""The layer specs, one module per palette group. Importing this package registers every layer
type with :func:`cnn_studio.core.layers.register`, in palette order (the modules are imported in
category order and each registers its layers in the order the palette lists them).

``core/layers.py`` imports this package once at its end, so ``from cnn_studio.core.layers import
get_spec`` always sees the full catalogue."""
from . import input, conv, pool, resample, activation, norm, dense, merge, loss  # noqa: F401  (registration order)
