"""docpath.field_at: a field of a parsed document by its path, None when it is not there."""

from __future__ import annotations

from typing import Any

import pytest

from homelab_charts.docpath import field_at

DOC: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"a.b/c": "x"}, "empty": None},
    "spec": {"ports": [1, 2], "zero": 0},
}


@pytest.mark.parametrize(("path", "expected"), [
    ("metadata.name", "web"),
    (("metadata", "name"), "web"),
    (("metadata", "labels", "a.b/c"), "x"),  # a tuple keeps dots inside keys
    ("spec.zero", 0),
    ("spec.ports", [1, 2]),
    ("metadata", DOC["metadata"]),
    ((), DOC),
])
def test_found(path: Any, expected: Any) -> None:
    assert field_at(DOC, path) == expected


@pytest.mark.parametrize("path", [
    "metadata.namespace",          # missing key
    "metadata.name.first",         # a string is not a mapping
    "spec.ports.0",                # nor is a list
    "metadata.empty.deeper",       # nor None
    "metadata.labels.a.b/c",       # the dotted form splits at every dot
    ("status",),
])
def test_missing_is_none(path: Any) -> None:
    assert field_at(DOC, path) is None


@pytest.mark.parametrize("document", [None, "text", ["metadata"], 3])
def test_a_document_that_is_not_a_mapping(document: Any) -> None:
    assert field_at(document, "metadata.name") is None
