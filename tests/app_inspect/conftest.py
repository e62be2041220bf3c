"""Shared fixtures of the inspection tests: a tiny 16x16 built-in data set loaded once, a briefly
trained run folder on it, and the InspectModel loaded from that folder (kept small: two cores)."""
import os
from unittest import mock

import pytest
from inspect_helpers import TINY_DATA, make_run


@pytest.fixture(scope="session")
def inspect_home(tmp_path_factory):
    return tmp_path_factory.mktemp("inspect_home")


@pytest.fixture(scope="session")
def bundle(inspect_home):
    from cnn_studio.data import DataConfig, load_dataset

    with mock.patch.dict(os.environ, {"CNN_STUDIO_HOME": str(inspect_home)}):
        return load_dataset(DataConfig(**TINY_DATA))


@pytest.fixture(scope="session")
def run_dir(bundle, tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "tiny-run", bundle, dict(TINY_DATA))


@pytest.fixture(scope="session")
def imodel(run_dir, inspect_home):
    from cnn_studio.inspection.model import InspectModel

    with mock.patch.dict(os.environ, {"CNN_STUDIO_HOME": str(inspect_home)}):
        m = InspectModel.from_run(run_dir, strict=True)
    return m


@pytest.fixture
def view_factory(qtbot):
    """Create a view, show it at a fixed size, and shut its worker thread down afterwards."""
    made = []

    def make(cls, *args, size=(1000, 700), **kw):
        v = cls(*args, **kw)
        qtbot.addWidget(v)
        v.resize(*size)
        v.show()
        qtbot.waitExposed(v)
        made.append(v)
        return v

    yield make
    for v in made:
        v.shutdown()
