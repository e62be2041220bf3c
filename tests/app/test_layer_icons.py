"""Palette icons: every registered layer type has its own icon; a missing file shows the
category icon and logs a warning instead of leaving an empty space."""
from __future__ import annotations

import logging
import shutil

from cnn_studio.app import icons
from cnn_studio.core.layers import all_specs


def _clear_caches():
    for fn in (icons.layer_icon, icons.category_icon, icons._categories):
        fn.cache_clear()


def test_every_registered_layer_has_its_own_icon(qapp):
    _clear_caches()
    for spec in all_specs():
        assert icons.icon_path(spec.type_id).is_file(), spec.type_id
        assert not icons.layer_icon(spec.type_id).isNull(), spec.type_id


def test_a_missing_layer_icon_shows_the_category_icon_and_is_logged(qapp, tmp_path, monkeypatch, caplog):
    for f in icons.ICON_DIR.iterdir():  # everything but the ReLU icon
        if f.name != "relu.svg":
            shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(icons, "ICON_DIR", tmp_path)
    _clear_caches()
    try:
        with caplog.at_level(logging.WARNING, logger=icons.__name__):
            icon = icons.layer_icon("relu")
        assert not icon.isNull()
        assert icon.cacheKey() == icons.category_icon("Activation").cacheKey()
        assert "relu.svg" in caplog.text and "Activation" in caplog.text
        assert icons.layer_icon("no_such_layer").isNull()  # not a layer type: no icon at all
        assert not icons.layer_icon("conv2d").isNull()
    finally:
        monkeypatch.undo()
        _clear_caches()
