"""The training engine's error (its own module so the trainer's parts can raise it without a cycle)."""
from __future__ import annotations

from ..core.errors import StudioError


class TrainingError(StudioError):
    """The run cannot start or go on (data and model do not fit together, nothing left to train...)."""
