"""What validation reports: one :class:`Result` per resource, with its problems."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.Enum):
    """kubeconform's verdicts for one resource."""

    VALID = "valid"
    INVALID = "invalid"  # the resource breaks its schema, the Flux graph or a policy
    ERROR = "error"  # it could not be validated: unreadable YAML, no schema, rejected kind
    SKIPPED = "skipped"  # --skip, or no schema with --ignore-missing-schemas


#: The checks a problem can come from.
CHECKS = ("yaml", "schema", "kustomize", "flux", "policy")


@dataclass(slots=True)
class Problem:
    """One thing wrong with a resource: ``path`` is a JSON pointer into it ('' = whole)."""

    check: str
    message: str
    path: str | None = None
    rule: str | None = None
    error: bool = False  # an ERROR (could not validate), not an INVALID verdict
    waived: bool = False

    def text(self) -> str:
        rule = f"{self.rule}: " if self.rule else ""
        where = f"at '{self.path}': " if self.path is not None else ""
        return f"{rule}{where}{self.message}"


@dataclass(slots=True)
class Result:
    """The verdict on one resource (or on a file/folder that yielded none)."""

    filename: str
    document: int | None = None  # 1-based index of the YAML document in the file
    line: int | None = None
    kind: str = ""
    name: str = ""
    namespace: str = ""
    api_version: str = ""
    skipped: bool = False
    problems: list[Problem] = field(default_factory=list)
    obj: Any = None  # the loaded resource (not serialized)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its fields, in order (results come back from the worker processes;
        the default, a state dictionary per result, takes twice as long)."""
        return (Result, (self.filename, self.document, self.line, self.kind, self.name,
                         self.namespace, self.api_version, self.skipped, self.problems,
                         self.obj))

    @property
    def status(self) -> Status:
        if not self.problems:  # the common case, asked for several times per result
            return Status.SKIPPED if self.skipped else Status.VALID
        active = [p for p in self.problems if not p.waived]
        if any(p.error for p in active):
            return Status.ERROR
        if active:
            return Status.INVALID
        if self.skipped:
            return Status.SKIPPED
        return Status.VALID

    @property
    def where(self) -> str:
        """``file (document N)`` — where the resource is."""
        if self.document is None:
            return self.filename
        return f"{self.filename} (document {self.document})"

    @property
    def label(self) -> str:
        """``Kind name`` (``Kind namespace/name`` when namespaced)."""
        name = f"{self.namespace}/{self.name}" if self.namespace and self.name else self.name
        return " ".join(p for p in (self.kind, name) if p)

    def message(self) -> str:
        return " - ".join(p.text() for p in self.problems if not p.waived)

    def to_json(self) -> dict[str, Any]:
        status = self.status
        return {
            "filename": self.filename,
            "document": self.document,
            "line": self.line,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "version": self.api_version,
            "status": "status" + status.value.capitalize(),
            "msg": self.message(),
            "validationErrors": [
                {"check": p.check, "rule": p.rule, "path": p.path, "msg": p.message,
                 "waived": p.waived}
                for p in self.problems
            ],
        }


@dataclass
class Report:
    """Everything a run found."""

    results: list[Result] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        return not any(r.status in (Status.INVALID, Status.ERROR) for r in self.results)

    def short_summary(self) -> str:
        """One line for people: ``valid: 57 resources in 23 files`` (or what failed)."""
        n, files = len(self.results), len(self.files)
        counted = (f"{n} resource{'s' if n != 1 else ''} in {files} "
                   f"file{'s' if files != 1 else ''}")
        skipped = self.count(Status.SKIPPED)
        tail = f" ({skipped} skipped)" if skipped else ""
        bad, errors = self.count(Status.INVALID), self.count(Status.ERROR)
        if not bad and not errors:
            return f"valid: {counted}{tail}"
        return f"not valid: {bad} invalid, {errors} not validated, of {counted}{tail}"

    def summary(self) -> str:
        n = len(self.results)
        files = len(self.files)
        return (f"Summary: {n} resource{'s' if n != 1 else ''} found in {files} "
                f"file{'s' if files != 1 else ''} - Valid: {self.count(Status.VALID)}, "
                f"Invalid: {self.count(Status.INVALID)}, Errors: {self.count(Status.ERROR)}, "
                f"Skipped: {self.count(Status.SKIPPED)}")
