"""Errors of the data layer. Every message says what is wrong and how to fix it."""
from __future__ import annotations

from ..core.errors import StudioError


class DataError(StudioError):
    """A data source cannot be read or is not usable as given; str() is meant for the user."""


class DataCancelled(DataError):
    """Loading was cancelled through the ``cancel`` callable or event."""

    def __init__(self, message: str = "loading the data set was cancelled"):
        super().__init__(message)
