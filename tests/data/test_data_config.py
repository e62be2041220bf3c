import json

import pytest

from cnn_studio.core.errors import StudioError
from cnn_studio.data import AugmentConfig, DataConfig, DataError


def test_augment_defaults_off():
    a = AugmentConfig()
    assert not a.enabled()
    assert all(v in (False, 0.0) for v in a.to_dict().values())


def test_augment_parse_cli_spec():
    a = AugmentConfig.parse("hflip, shift=0.1,rotate=10 , brightness")
    assert a.hflip and not a.vflip
    assert a.shift == 0.1 and a.rotate == 10.0 and a.brightness == 0.2 and a.zoom == 0.0
    assert a.enabled()
    assert AugmentConfig.parse("none") == AugmentConfig()
    assert AugmentConfig.parse("") == AugmentConfig()
    assert AugmentConfig.parse("hflip=false,vflip=1") == AugmentConfig(vflip=True)


@pytest.mark.parametrize("spec, words", [
    ("flip", ["unknown augmentation 'flip'", "hflip"]),
    ("shift=abc", ["'shift' needs a number"]),
    ("rotate=500", ["'rotate' is 500", "0..180"]),
    ("hflip=maybe", ["'hflip' takes true or false"]),
    ("zoom=-0.1", ["outside"]),
])
def test_augment_parse_errors_name_the_problem(spec, words):
    with pytest.raises(DataError) as e:
        AugmentConfig.parse(spec)
    assert isinstance(e.value, StudioError)
    for w in words:
        assert w in str(e.value)


def test_augment_dict_round_trip_and_bad_keys():
    a = AugmentConfig(hflip=True, zoom=0.2, contrast=0.3)
    assert AugmentConfig.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    with pytest.raises(DataError, match="unknown augmentation 'blur'"):
        AugmentConfig.from_dict({"blur": 1})
    with pytest.raises(DataError, match="'hflip' must be true or false"):
        AugmentConfig.from_dict({"hflip": "yes"})
    with pytest.raises(DataError, match="'shift' must be a number"):
        AugmentConfig.from_dict({"shift": "0.1"})
    with pytest.raises(DataError, match="'shift' must be a number"):
        AugmentConfig.from_dict({"shift": float("nan")})


def test_data_config_round_trip_is_json_safe():
    c = DataConfig(source="/tmp/x", format="folder", channels=1, height=28, width=28, val_fraction=0.2, seed=3,
                   stream=True, label_column="target", augment=AugmentConfig(hflip=True, rotate=5))
    d = json.loads(json.dumps(c.to_dict()))
    assert DataConfig.from_dict(d) == c
    assert DataConfig.from_dict({}) == DataConfig()
    assert DataConfig.from_dict({"val_fraction": 0}).val_fraction == 0.0


@pytest.mark.parametrize("d, words", [
    ({"sauce": 1}, "unknown data setting 'sauce'"),
    ({"channels": 2}, "channels must be 1 (gray), 3 (RGB)"),
    ({"height": 0}, "height must be a whole number"),
    ({"val_fraction": 0.95}, "val_fraction must be a number from 0 to 0.9"),
    ({"format": "tfrecord"}, "unknown data format 'tfrecord'"),
    ({"on_corrupt": "ignore"}, "on_corrupt must be 'skip' or 'stop'"),
    ({"resize": "lanczos"}, "unknown resize method"),
    ({"source": ""}, "the data source is empty"),
    ({"augment": {"rotate": 1000}}, "'rotate' is 1000"),
    ({"shapes_train": 5}, "shapes_train must be a whole number of at least 10"),
])
def test_data_config_rejects_bad_values(d, words):
    with pytest.raises(DataError) as e:
        DataConfig.from_dict(d)
    assert words in str(e.value)
