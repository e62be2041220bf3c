"""Import, kept as one name for callers: weights (:mod:`.weights`) and networks from PyTorch code
(:mod:`.fx_import`). New code may import from either module directly."""
from __future__ import annotations

from .fx_import import canonical_structure, import_module, import_module_from_file
from .weights import (
    SHOW,
    ModelImportError,
    adapt_state_dict,
    expected_shapes,
    import_state_dict,
    load_weights,
    read_weights_file,
    studio_to_torchvision_key,
    torchvision_key,
    unwrap_state_dict,
)

__all__ = [
    "SHOW", "ModelImportError", "adapt_state_dict", "canonical_structure", "expected_shapes", "import_module",
    "import_module_from_file", "import_state_dict", "load_weights", "read_weights_file", "studio_to_torchvision_key",
    "torchvision_key", "unwrap_state_dict",
]
