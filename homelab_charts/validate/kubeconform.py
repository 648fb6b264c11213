"""``--engine kubeconform``: the real kubeconform binary with equivalent flags.

kubeconform runs with ``-output json -verbose`` and its verdicts become
:class:`~homelab_charts.validate.model.Result` objects, so the Flux graph, policy and
kustomize checks add to them and every output format works as with the built-in engine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from homelab_charts.errors import ConfigError
from homelab_charts.validate.model import Problem, Result
from homelab_charts.validate.schemas import SchemaLocation

TIMEOUT = 600


def binary() -> str | None:
    return shutil.which("kubeconform")


@dataclass
class KubeconformOptions:
    kubernetes_version: str
    schema_locations: Sequence[SchemaLocation]
    strict: bool = True
    ignore_missing_schemas: bool = False
    skip: frozenset[str] = frozenset()
    reject: frozenset[str] = frozenset()


def arguments(opts: KubeconformOptions) -> list[str]:
    """kubeconform flags equivalent to the built-in engine's options."""
    args = ["-output", "json", "-verbose", "-kubernetes-version", opts.kubernetes_version]
    if opts.strict:
        args.append("-strict")
    if opts.ignore_missing_schemas:
        args.append("-ignore-missing-schemas")
    if opts.skip:
        args += ["-skip", ",".join(sorted(opts.skip))]
    if opts.reject:
        args += ["-reject", ",".join(sorted(opts.reject))]
    for location in opts.schema_locations:
        if location.bundled:
            args += ["-schema-location", "default"]
        elif len(location.templates) == 1:
            args += ["-schema-location", location.templates[0]]
        else:  # a folder: kubeconform's own layout, then the CRDs-catalog layout
            args += ["-schema-location", location.spec.rstrip("/") or "/"]
            args += ["-schema-location", location.templates[-1]]
    return args


def run(exe: str, opts: KubeconformOptions, files: Sequence[str], *,
        stdin: str | None = None, stdin_name: str = "stdin") -> list[Result]:
    """Runs kubeconform on ``files`` (or on ``stdin``) and reads its verdicts."""
    cmd = [exe, *arguments(opts), *(files if stdin is None else ["-"])]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin,
                              timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError("kubeconform", None, f"cannot run {exe}: {exc}") from exc
    try:
        data = json.loads(proc.stdout or "{}")
        resources = data.get("resources") or []
    except (ValueError, AttributeError) as exc:
        raise ConfigError("kubeconform", None,
                          f"unexpected output (exit {proc.returncode}): "
                          f"{(proc.stderr or proc.stdout).strip()[:500]}") from exc
    if proc.returncode not in (0, 1):
        raise ConfigError("kubeconform", None,
                          f"exit {proc.returncode}: {proc.stderr.strip()[:500]}")
    return [_result(r, stdin_name if stdin is not None else None) for r in resources
            if isinstance(r, dict) and r.get("status") not in (None, "", "statusEmpty")]


def _result(entry: dict[str, object], filename: str | None) -> Result:
    status = str(entry.get("status") or "")
    result = Result(filename=filename or str(entry.get("filename") or ""),
                    kind=str(entry.get("kind") or ""), name=str(entry.get("name") or ""),
                    api_version=str(entry.get("version") or ""))
    msg = str(entry.get("msg") or "")
    details = entry.get("validationErrors")
    if status == "statusInvalid":
        if isinstance(details, list) and details:
            for d in details:
                if isinstance(d, dict):
                    result.problems.append(Problem("schema", str(d.get("msg") or ""),
                                                   path=str(d.get("path") or "")))
        else:
            result.problems.append(Problem("schema", msg or "invalid"))
    elif status == "statusError":
        result.problems.append(Problem("schema", msg or "error", error=True))
    elif status == "statusSkipped":
        result.skipped = True
    return result
