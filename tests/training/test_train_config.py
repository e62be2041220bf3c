import json

import pytest

from cnn_studio.core.errors import StudioError
from cnn_studio.training import TrainConfig, TrainConfigError


def test_defaults_round_trip_through_json():
    cfg = TrainConfig(optimizer="sgd", lr=0.05, schedule="cosine", early_stopping=True, patience=3, num_threads=2)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert TrainConfig.from_dict(d) == cfg
    assert TrainConfig.from_dict(None) == TrainConfig()


def test_names_are_normalised():
    cfg = TrainConfig(optimizer="AdamW", schedule="OneCycle", device="CUDA:1")
    assert (cfg.optimizer, cfg.schedule, cfg.device) == ("adamw", "onecycle", "cuda:1")


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"lr": 0}, ["lr", "greater than 0"]),
        ({"lr": "fast"}, ["lr", "number"]),
        ({"lr": float("nan")}, ["lr"]),
        ({"optimizer": "lbfgs"}, ["optimizer", "sgd, adam, adamw, rmsprop"]),
        ({"schedule": "warm"}, ["schedule", "cosine"]),
        ({"batch_size": 0}, ["batch_size", "at least 1"]),
        ({"epochs": 2.5}, ["epochs", "whole number"]),
        ({"device": "gpu"}, ["device", "cuda:N"]),
        ({"monitor": "loss"}, ["monitor", "val_loss"]),
        ({"momentum": 1.5}, ["momentum", "at most 1"]),
        ({"early_stopping": "yes"}, ["early_stopping", "true or false"]),
        ({"nesterov": True, "optimizer": "sgd", "momentum": 0.0}, ["nesterov", "momentum"]),
        ({"num_threads": 0}, ["num_threads"]),
        ({"beta1": 1.0}, ["beta1", "below 1"]),  # torch's Adam would raise a raw ValueError at the start
        ({"beta2": 1}, ["beta2", "below 1"]),
        ({"layer_stats_every": -1}, ["layer_stats_every", "at least 0"]),
    ],
)
def test_bad_values_name_the_field(changes, words):
    with pytest.raises(TrainConfigError) as e:
        TrainConfig.from_dict({**TrainConfig().to_dict(), **changes})
    assert isinstance(e.value, StudioError)
    for w in words:
        assert w in str(e.value)


def test_unknown_key_is_refused_with_the_valid_names():
    with pytest.raises(TrainConfigError, match="unknown training setting 'learning_rate'.*valid names.*lr"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_replace_validates():
    cfg = TrainConfig()
    assert cfg.replace(epochs=3).epochs == 3
    with pytest.raises(TrainConfigError):
        cfg.replace(epochs=0)
