"""File > Export and File > Import in the app (feature.py), on the engine's export and import
(compiler/export.py, compiler/importer.py); verify.py checks what was written."""
from .feature import ExchangeFeature

__all__ = ["ExchangeFeature"]
