"""Error types of the core. Every message names what is wrong and how to fix it."""
from __future__ import annotations

from dataclasses import dataclass


class StudioError(Exception):
    """Base of every error CNN Studio raises on purpose; its str() is meant for the user."""


@dataclass(frozen=True)
class Issue:
    """One problem of a graph, attached to a node (or to the graph when node_id is None)."""

    message: str
    fix: str = ""
    node_id: str | None = None
    node_type: str | None = None
    field: str | None = None
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        head = ""
        if self.node_id is not None:
            title = _type_title(self.node_type)
            head = f"{title} '{self.node_id}'"
            if self.field:
                head += f" ({self.field})"
            head += ": "
        text = head + self.message
        if self.fix:
            text += f"; {self.fix}"
        return text


def _type_title(type_id: str | None) -> str:
    if type_id is None:
        return "Node"
    try:  # late import: layers imports this module
        from .layers import get_spec

        return get_spec(type_id).title
    except KeyError:
        return type_id


class GraphError(StudioError):
    """A graph does not validate. Holds every issue found, not only the first."""

    def __init__(self, issues: list[Issue] | Issue | str):
        if isinstance(issues, str):
            issues = [Issue(issues)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = list(issues)
        errors = [i for i in self.issues if i.severity == "error"] or self.issues
        text = str(errors[0]) if errors else "invalid graph"
        if len(errors) > 1:
            text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        super().__init__(text)


class GraphEditError(StudioError):
    """An edit that cannot be applied (unknown node, port already connected, ...)."""


class LayerError(StudioError):
    """Raised by a layer's infer() or parameter check; the analysis attaches node id and type."""

    def __init__(self, message: str, fix: str = "", field: str | None = None):
        self.message = message
        self.fix = fix
        self.field = field
        super().__init__(message + (f"; {fix}" if fix else ""))


class ProjectFileError(StudioError):
    """A project file cannot be read or written."""
