"""Reports as kubeconform prints them: ``text``, ``json`` and ``junit``."""

from __future__ import annotations

import json
from typing import TextIO

from homelab_charts.validate.model import Report, Result, Status

FORMATS = ("text", "json", "junit")


def render(report: Report, fmt: str, stream: TextIO, *, summary: bool = False,
           verbose: bool = False, elapsed: float = 0.0) -> None:
    if fmt == "text":
        _text(report, stream, summary=summary, verbose=verbose)
    elif fmt == "json":
        _json(report, stream, summary=summary, verbose=verbose)
    elif fmt == "junit":
        _junit(report, stream, elapsed=elapsed)
    else:  # pragma: no cover - argparse restricts the choices
        raise ValueError(f"unknown output format {fmt!r}")


def text_line(result: Result, *, verbose: bool = False) -> str | None:
    """kubeconform's line for a result (None when it prints nothing)."""
    status = result.status
    if not verbose and status is not Status.INVALID and status is not Status.ERROR:
        return None
    label = f" {result.label}" if result.label else ""
    where = result.where
    if status is Status.INVALID:
        return f"{where} -{label} is invalid: {result.message()}"
    if status is Status.ERROR:
        return f"{where} -{label} failed validation: {result.message()}"
    if not verbose:
        return None
    waived = sorted({p.rule or p.check for p in result.problems if p.waived})
    note = f" (waived: {', '.join(waived)})" if waived else ""
    if status is Status.SKIPPED:
        return f"{where} -{label} skipped{note}"
    return f"{where} -{label} is valid{note}"


def _text(report: Report, stream: TextIO, *, summary: bool, verbose: bool) -> None:
    for result in report.results:
        line = text_line(result, verbose=verbose)
        if line is not None:
            stream.write(line + "\n")
    # kubeconform's summary with --summary; else a short line, so success is never silent.
    stream.write((report.summary() if summary else report.short_summary()) + "\n")


def _json(report: Report, stream: TextIO, *, summary: bool, verbose: bool) -> None:
    shown = [r.to_json() for r in report.results
             if verbose or r.status in (Status.INVALID, Status.ERROR)]
    doc: dict[str, object] = {"resources": shown}
    if summary:
        doc["summary"] = {
            "resources": len(report.results),
            "files": len(report.files),
            "valid": report.count(Status.VALID),
            "invalid": report.count(Status.INVALID),
            "errors": report.count(Status.ERROR),
            "skipped": report.count(Status.SKIPPED),
        }
    json.dump(doc, stream, indent=2)
    stream.write("\n")


def _junit(report: Report, stream: TextIO, *, elapsed: float) -> None:
    import xml.etree.ElementTree as ET

    suites: dict[str, list[Result]] = {}
    for result in report.results:
        suites.setdefault(result.filename, []).append(result)
    root = ET.Element("testsuites", {
        "name": "homelab-charts validate",
        "time": f"{elapsed:.3f}",
        "tests": str(len(report.results)),
        "failures": str(report.count(Status.INVALID)),
        "disabled": str(report.count(Status.SKIPPED)),
        "errors": str(report.count(Status.ERROR)),
    })
    for n, (filename, results) in enumerate(suites.items(), start=1):
        statuses = [r.status for r in results]
        suite = ET.SubElement(root, "testsuite", {
            "name": filename,
            "id": str(n),
            "tests": str(len(results)),
            "failures": str(statuses.count(Status.INVALID)),
            "errors": str(statuses.count(Status.ERROR)),
            "disabled": "0",
            "skipped": str(statuses.count(Status.SKIPPED)),
        })
        for result in results:
            name = f"{result.namespace}/{result.name}" if result.namespace else result.name
            if result.document is not None:
                name = f"{name} (document {result.document})".strip()
            case = ET.SubElement(suite, "testcase", {
                "name": name,
                "classname": f"{result.kind}@{result.api_version}",
            })
            status = result.status
            if status is Status.INVALID:
                ET.SubElement(case, "failure", {"message": result.message(), "type": "invalid"})
            elif status is Status.ERROR:
                ET.SubElement(case, "error", {"message": result.message(), "type": "error"})
            elif status is Status.SKIPPED:
                ET.SubElement(case, "skipped", {"message": ""})
    ET.indent(root, space="  ")
    stream.write(ET.tostring(root, encoding="unicode", xml_declaration=False))
    stream.write("\n")
