"""Shared fixtures: a tiny built-in data set (16x16, a few hundred images) loaded once, and a tiny
network, so the whole folder runs in well under two minutes on two cores."""
import os
from unittest import mock

import pytest
from training_helpers import TINY, tiny_graph


@pytest.fixture(scope="session")
def tiny_config():
    from cnn_studio.data import DataConfig

    return DataConfig(**TINY)


@pytest.fixture(scope="session")
def bundle(tiny_config, tmp_path_factory):
    from cnn_studio.data import load_dataset

    home = tmp_path_factory.mktemp("bundle_home")
    with mock.patch.dict(os.environ, {"CNN_STUDIO_HOME": str(home)}):
        return load_dataset(tiny_config)


@pytest.fixture
def graph(bundle):
    return tiny_graph(tuple(bundle.input_shape()), bundle.num_classes)
