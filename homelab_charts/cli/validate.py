"""``homelab-charts validate [PATHS]``: schema, kustomize, Flux graph and policy checks.

Exit status: 0 when everything is valid, 1 when a resource is invalid or could not be
validated (unreadable YAML, missing schema, failed kustomize build), 2 on usage or I/O
errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from homelab_charts.validate.schemas import DEFAULT_KUBERNETES_VERSION


def _kinds(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="validate the generated tree (schemas, kustomize builds, Flux graph, policy)",
        description="Validate Kubernetes manifests the way CI's kubeconform does, build the "
                    "folders Flux Kustomizations point at, check the Flux object graph and "
                    "the workload policy. Default PATHS: clusters/, infrastructure/ and apps/ "
                    "of the repository. Exit 0 valid, 1 invalid, 2 usage or I/O error.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATHS",
                        help="files or folders to validate")
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: the Git work tree around the "
                             "current folder); Kustomization paths are relative to it")
    parser.add_argument("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION,
                        metavar="VERSION",
                        help=f"Kubernetes version to validate against "
                             f"(default {DEFAULT_KUBERNETES_VERSION})")
    parser.add_argument("--schema-location", action="append", default=None, metavar="LOC",
                        help="schema location, as in kubeconform: 'default' (the bundled "
                             "Kubernetes schemas), 'packaged-crds' (the CRD schemas shipped "
                             "with homelab-charts), a folder, or a path template "
                             "({{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json); "
                             "repeatable; replaces the default list 'default packaged-crds'")
    parser.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                        help="reject unknown fields and duplicate keys (default: on)")
    parser.add_argument("--ignore-missing-schemas", action="store_true",
                        help="skip resources that have no schema instead of failing")
    parser.add_argument("--skip", action="append", default=[], type=_kinds, metavar="KINDS",
                        help="comma-separated kinds (or apiVersion/Kind) to skip")
    parser.add_argument("--reject", action="append", default=[], type=_kinds, metavar="KINDS",
                        help="comma-separated kinds (or apiVersion/Kind) to reject")
    parser.add_argument("--summary", action="store_true", help="print a summary line")
    parser.add_argument("--verbose", action="store_true",
                        help="also list valid and skipped resources")
    parser.add_argument("--output", choices=("text", "json", "junit"), default="text",
                        help="output format (default text)")
    parser.add_argument("--engine", choices=("builtin", "kubeconform"), default="builtin",
                        help="schema engine: built in, or the kubeconform binary on PATH")
    parser.add_argument("--no-kustomize", dest="kustomize", action="store_false",
                        help="do not build the folders Flux Kustomizations point at")
    parser.add_argument("--no-flux", dest="flux", action="store_false",
                        help="do not check the Flux graph")
    parser.add_argument("--no-policy", dest="policy", action="store_false",
                        help="do not check the workload policy")
    parser.set_defaults(func=handle, quick_exit=True)


def handle(args: argparse.Namespace) -> int:
    from homelab_charts.validate.output import render
    from homelab_charts.validate.runner import Options, validate

    options = Options(
        paths=args.paths or None, root=args.root,
        kubernetes_version=args.kubernetes_version,
        schema_locations=args.schema_location, strict=args.strict,
        ignore_missing_schemas=args.ignore_missing_schemas,
        skip=frozenset(k for group in args.skip for k in group),
        reject=frozenset(k for group in args.reject for k in group),
        engine=args.engine, kustomize=args.kustomize, flux=args.flux, policy=args.policy,
        progress=args.output == "text",
    )
    started = time.perf_counter()
    report = validate(options)
    for note in report.notes:
        print(f"homelab-charts validate: note: {note}", file=sys.stderr)
    render(report, args.output, sys.stdout, summary=args.summary, verbose=args.verbose,
           elapsed=time.perf_counter() - started)
    return 0 if report.ok else 1
