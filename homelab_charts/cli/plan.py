"""``homelab-charts plan``: the order in which the manual GitOps path applies the tree.

The plan itself is :func:`homelab_charts.operations.manual.build_plan`; this module parses
arguments and prints. Output, one step a line (``#`` lines are comments)::

    <layer> <method> <name> <path> <target-namespace or ->

``layer`` is ``secrets`` (older trees only: Namespaces, the cluster identity and
SealedSecrets kept in ``clusters/<cluster>/``), ``infrastructure`` (the generated tree
keeps those in its ``namespaces`` and ``secrets`` Kustomizations) or ``apps``; ``method``
is ``file`` (``kubectl apply -f``), ``kustomize`` (``kubectl apply -k``) or ``suspended``
(a Kustomization suspended in Git: rendered and kept, never applied nor pruned).

``--objects FILE`` (``-`` for stdin) instead lists the objects of rendered YAML (the output
of ``kubectl kustomize``) as ``<kind>[.<group>]/<name> <namespace or -> <flags>``; the scripts
use it to find the workloads to wait for, the Services to check and the prune set.
``--cluster-identity`` prints the cluster the tree is bound to, ``<name> <kube-system UID>``
(``-`` for what is not recorded).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

from homelab_charts.errors import ConfigError, HomelabError
from homelab_charts.operations.manual import (
    LAYERS,
    build_plan,
    cluster_binding,
    rendered_objects,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan", help="print the manual apply order of the tree (scripts/manual-deploy.sh)",
        description="Print the order in which scripts/manual-deploy.sh applies the tree, "
                    "one step a line: <layer> <method> <name> <path> <target-namespace>.",
    )
    add_arguments(parser)
    parser.set_defaults(func=handle)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root holding clusters/ (default: the nearest folder "
                             "with cdk8s.yaml, else with clusters/, from the current one up)")
    parser.add_argument("--cluster", default="homelab",
                        help="cluster folder under clusters/ (default: homelab)")
    parser.add_argument("--only", choices=LAYERS, action="append", metavar="LAYER",
                        help="only this layer (secrets, infrastructure, apps); repeatable")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--objects", metavar="FILE",
                        help="instead, list the objects of rendered YAML in FILE (- for stdin)")
    parser.add_argument("--target-namespace", metavar="NS",
                        help="with --objects: the namespace of namespaced objects "
                             "(a Flux targetNamespace)")
    parser.add_argument("--cluster-identity", action="store_true",
                        help="instead, print the cluster the tree is bound to: "
                             "<name> <kube-system UID> (- when not recorded)")


def handle(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    if args.objects is not None:
        target = args.target_namespace if args.target_namespace not in (None, "-") else None
        if args.objects == "-":
            objects = list(rendered_objects(sys.stdin, target_namespace=target))
        else:
            path = Path(args.objects)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(str(path), None, f"cannot read: {exc.strerror}") from None
            objects = list(rendered_objects(text, where=str(path), target_namespace=target))
        if args.format == "json":
            json.dump([asdict(o) for o in objects], out, indent=2)
            out.write("\n")
        else:
            out.writelines(o.line() + "\n" for o in objects)
        return 0
    if args.root is None:
        from homelab_charts.tree import repository_root  # PyYAML only, no cdk8s

        args.root = repository_root()
    if args.cluster_identity:
        identity = cluster_binding(args.root, args.cluster)
        if args.format == "json":
            json.dump(asdict(identity) if identity else None, out, indent=2)
            out.write("\n")
        else:
            out.write(f"{identity.name if identity else '-'} "
                      f"{(identity.uid if identity else None) or '-'}\n")
        return 0
    steps = build_plan(args.root, args.cluster)
    if args.only:
        steps = [s for s in steps if s.layer in args.only]
    if args.format == "json":
        json.dump([asdict(s) for s in steps], out, indent=2)
        out.write("\n")
    else:
        out.write("# layer method name path target-namespace\n")
        out.writelines(s.line() + "\n" for s in steps)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m homelab_charts.cli.plan`` (what the scripts run: it needs
    only PyYAML, not the rest of the CLI)."""
    parser = argparse.ArgumentParser(prog="homelab-charts plan")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return handle(args)
    except HomelabError as exc:
        print(f"homelab-charts plan: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
