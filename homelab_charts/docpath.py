"""Reading a field of a parsed YAML/JSON document by its path, without tripping on shape.

Light on purpose (standard library only): ``homelab-charts plan``, which the manual
GitOps scripts run with nothing but PyYAML, uses it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def field_at(document: Any, path: str | Iterable[str]) -> Any:
    """The value at ``path`` (``"metadata.name"`` or ``("metadata", "name")``) in
    ``document``; ``None`` when a key is missing or a step is not a mapping."""
    parts = path.split(".") if isinstance(path, str) else path
    node: Any = document
    for part in parts:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node
