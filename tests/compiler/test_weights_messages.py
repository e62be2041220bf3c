"""A weights file torch.load(weights_only=True) refuses is named in our words: the message never
repeats torch's advice to load it with weights_only=False (which would run code from the file)."""
from __future__ import annotations

import pytest
import torch

from cnn_studio.compiler.weights import read_weights_file
from cnn_studio.core.errors import StudioError


class _Gadget:  # any object that is not a tensor: weights_only refuses to unpickle it
    pass


@pytest.mark.parametrize("kind", ["junk", "pickled_object"])
def test_refused_weights_file_never_advises_weights_only_false(tmp_path, kind):
    path = tmp_path / "w.pt"
    if kind == "junk":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not weights" * 20)
    else:
        torch.save({"w": torch.zeros(2), "gadget": _Gadget()}, path)
    with pytest.raises(StudioError) as info:
        read_weights_file(path)
    text = str(info.value)
    assert "w.pt" in text and "cannot be loaded as plain weights" in text
    assert "weights_only" not in text and "False" not in text
