"""CNN Studio: design, train, inspect and export convolutional neural networks.

``from cnn_studio import templates, compile_model, analyze, load_project, save_project``.
Importing this package does not import torch or Qt; ``compile_model`` loads torch on first use.
"""
from .core import analyze, load_project, save_project, templates
from .core.graph import Graph

__version__ = "0.1.0"
__all__ = ["templates", "compile_model", "analyze", "load_project", "save_project", "Graph", "__version__"]


def __getattr__(name: str):
    if name == "compile_model":
        from .compiler import compile_model

        return compile_model
    raise AttributeError(f"module 'cnn_studio' has no attribute {name!r}")
