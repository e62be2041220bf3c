"""Graph model, layer catalogue, analysis and project files. Standard library only."""
from . import layers, templates
from .analysis import RF, Analysis, NodeInfo, analyze
from .errors import GraphEditError, GraphError, Issue, LayerError, ProjectFileError, StudioError
from .graph import Edge, Graph, Node
from .layers import CATEGORIES, LayerSpec, Param, all_specs, fmt_shape, get_spec
from .layout import apply_layout, layered_positions
from .project import load_project, save_project

__all__ = [
    "RF", "Analysis", "NodeInfo", "analyze", "GraphEditError", "GraphError", "Issue", "LayerError",
    "ProjectFileError", "StudioError", "Edge", "Graph", "Node", "CATEGORIES", "LayerSpec", "Param",
    "all_specs", "fmt_shape", "get_spec", "apply_layout", "layered_positions", "load_project",
    "save_project", "layers", "templates",
]
