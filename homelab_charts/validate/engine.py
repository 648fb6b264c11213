"""Schema validation of manifests with kubeconform's semantics, built in.

Each file is read once, parsed with the C YAML loader (:mod:`.loader`), and every
resource is checked against the compiled schema of its kind and apiVersion
(:mod:`.schemas`, ``jsonschema-rs``); a valid resource costs one ``is_valid`` call,
only an invalid one is walked for its errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from homelab_charts.validate.loader import Document, load_documents
from homelab_charts.validate.model import Problem, Result
from homelab_charts.validate.schemas import SchemaError, SchemaStore


def json_type(value: Any) -> str:
    """The JSON Schema type name of a loaded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 pointer of an instance path (``/spec/replicas``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _quote_list(values: Iterable[Any]) -> str:
    return ", ".join(f"'{v}'" if isinstance(v, str) else repr(v) for v in values)


def _wanted(types: Iterable[str]) -> str:
    names = [t for t in types if t != "null"] or ["null"]
    return " or ".join(names)


def describe(error: Any) -> str:
    """kubeconform-style wording of a ``jsonschema_rs.ValidationError`` (no path)."""
    kind = error.kind
    name = type(kind).__name__
    instance = error.instance
    if name == "Type":
        return f"got {json_type(instance)}, want {_wanted(kind.types)}"
    if name == "AdditionalProperties":
        return f"additional properties {_quote_list(kind.unexpected)} not allowed"
    if name == "Required":
        return f"missing property '{kind.property}'"
    if name == "Enum":
        return f"value must be one of {_quote_list(kind.options)}"
    if name == "Constant":
        return f"value must be {_quote_list([kind.expected_value])}"
    if name == "Pattern":
        return f"'{instance}' does not match pattern '{kind.pattern}'"
    keyword = name[0].lower() + name[1:]
    if name in {"MinLength", "MaxLength", "MinItems", "MaxItems", "MinProperties",
                "MaxProperties"}:
        got = len(instance) if hasattr(instance, "__len__") else instance
        return f"{keyword}: got {got}, want {kind.limit}"
    if name in {"Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum", "MultipleOf"}:
        limit = getattr(kind, "limit", getattr(kind, "multiple_of", "?"))
        return f"{keyword}: got {instance}, want {limit}"
    if name in {"OneOfNotValid", "AnyOf"}:
        return _describe_alternatives(error)
    if name == "FalseSchema":
        path = list(error.instance_path)
        if path and list(error.schema_path)[-1:] == ["additionalProperties"]:
            return f"additional properties '{path[-1]}' not allowed"
        return "no value is allowed here"
    if name == "OneOfMultipleValid":
        return "value matches more than one of the allowed schemas (oneOf)"
    return str(error.message)


def _describe_alternatives(error: Any) -> str:
    context = getattr(error.kind, "context", None) or []
    wanted: list[str] = []
    for branch in context:
        if len(branch) == 1 and type(branch[0].kind).__name__ == "Type":
            wanted.extend(t for t in branch[0].kind.types if t != "null" and t not in wanted)
        else:
            wanted = []
            break
    if wanted:
        return f"got {json_type(error.instance)}, want {' or '.join(wanted)}"
    return "value does not match any of the allowed schemas"


@dataclass
class SchemaOptions:
    """kubeconform's options for the built-in engine."""

    store: SchemaStore
    strict: bool = True
    ignore_missing_schemas: bool = False
    skip: frozenset[str] = frozenset()
    reject: frozenset[str] = frozenset()


@dataclass
class SchemaValidator:
    """Validates YAML streams of resources; see :func:`validate_text`."""

    options: SchemaOptions
    schema_errors: dict[tuple[str, str], str] = field(default_factory=dict)

    def validate_text(self, text: str | bytes, filename: str) -> list[Result]:
        """One Result per resource of the stream (``List`` kinds are expanded)."""
        results: list[Result] = []
        for doc in load_documents(text, strict=self.options.strict):
            results.extend(self._validate_document(doc, filename))
        return results

    def _validate_document(self, doc: Document, filename: str) -> Iterator[Result]:
        if doc.error is not None:
            yield Result(filename=filename, document=doc.index, line=doc.error.line or doc.line,
                         problems=[Problem("yaml", _yaml_message(doc), error=True)])
            return
        obj = doc.obj
        if obj is None:
            return  # an empty document: kubeconform does not count it
        if not isinstance(obj, dict):
            yield Result(filename=filename, document=doc.index, line=doc.line,
                         problems=[Problem("yaml", "error unmarshalling resource: a resource "
                                           f"must be a mapping, not {json_type(obj)}",
                                           error=True)])
            return
        if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
            for item in obj["items"]:
                if isinstance(item, dict):
                    yield self.validate_object(item, filename, doc.index, doc.line)
            return
        yield self.validate_object(obj, filename, doc.index, doc.line)

    def validate_object(self, obj: dict[str, Any], filename: str, document: int | None,
                        line: int | None) -> Result:
        """The schema verdict on one loaded resource."""
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        meta = obj.get("metadata")
        name = namespace = ""
        if isinstance(meta, dict):
            name = meta.get("name") or meta.get("generateName") or ""
            namespace = meta.get("namespace") or ""
        result = Result(filename=filename, document=document, line=line,
                        kind=kind if isinstance(kind, str) else "",
                        name=name if isinstance(name, str) else str(name),
                        namespace=namespace if isinstance(namespace, str) else str(namespace),
                        api_version=api_version if isinstance(api_version, str) else "",
                        obj=obj)
        if not isinstance(kind, str) or not kind:
            result.problems.append(Problem("schema", "resource missing a Kind", error=True))
            return result
        if not isinstance(api_version, str) or not api_version:
            result.problems.append(
                Problem("schema", "resource missing an apiVersion", error=True))
            return result
        opts = self.options
        if opts.skip and (kind in opts.skip or f"{api_version}/{kind}" in opts.skip):
            result.skipped = True
            return result
        if opts.reject and (kind in opts.reject or f"{api_version}/{kind}" in opts.reject):
            result.problems.append(
                Problem("schema", f"prohibited resource kind {kind}", error=True))
            return result
        try:
            schema = opts.store.lookup(kind, api_version)
        except SchemaError as exc:
            result.problems.append(Problem("schema", str(exc), error=True))
            return result
        if schema is None:
            if opts.ignore_missing_schemas:
                result.skipped = True
            else:
                result.problems.append(Problem(
                    "schema", f"could not find schema for {kind} ({api_version})", error=True))
            return result
        validator = schema.validator
        if validator.is_valid(obj):
            return result
        errors = sorted(validator.iter_errors(obj),
                        key=lambda e: [str(p) for p in e.instance_path])
        for error in errors:
            path = list(error.instance_path)
            if (type(error.kind).__name__ == "FalseSchema" and path
                    and list(error.schema_path)[-1:] == ["additionalProperties"]):
                path = path[:-1]  # name the object, as for additionalProperties errors
            result.problems.append(
                Problem("schema", describe(error), path=json_pointer(path)))
        return result


def _yaml_message(doc: Document) -> str:
    err = doc.error
    assert err is not None
    where = f"line {err.line}: " if err.line else ""
    return f"error unmarshalling resource: {where}{err.message}"
