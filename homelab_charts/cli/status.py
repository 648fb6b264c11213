"""``homelab-charts status``: what Flux runs and what blocks it, read live through
kubectl (:mod:`homelab_charts.operations.status`); this module parses and prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "status", help="what Flux runs, what waits on what, and why (exit 1 if not Ready)",
        description="Read the cluster's Flux Kustomizations, HelmReleases, sources and "
                    "SealedSecrets (kubectl get ... -A -o json, read-only) and print, "
                    "dependencies first, what is Ready, what waits for what, and the first "
                    "failing condition of each blocked chain; a failing GitRepository is "
                    "named with the OCI fallback; with --cluster, compared with that "
                    "cluster's part of the tree. Exit status 0 when everything is Ready, 1 "
                    "when not, 2 when the cluster cannot be read or is not the one "
                    "--cluster is bound to.")
    parser.add_argument("--context", metavar="CTX", default=None,
                        help="kubectl context (default: the current one)")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text (default) or json (for scripts)")
    parser.add_argument("--cluster", metavar="NAME", default=None,
                        help="compare with cluster NAME of the tree (clusters/NAME/): refuse "
                             "a context that is not the cluster it is bound to, and list "
                             "the Kustomizations it defines that the cluster lacks")
    parser.add_argument("--root", type=Path, default=None,
                        help="with --cluster: repository root (default: nearest folder "
                             "with cdk8s.yaml or clusters/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from homelab_charts.operations.status import (
        analyse,
        check_cluster,
        compare_with_tree,
        format_json,
        format_text,
        read_live,
    )

    out = out or sys.stdout
    tree = None
    cluster_notes: list[str] = []
    if args.cluster is not None:
        from homelab_charts.tree import Tree, repository_root

        tree = Tree.from_disk(args.root.resolve() if args.root else repository_root())
        tree.for_cluster(args.cluster)  # an unknown cluster: exit 2 before kubectl
        cluster_notes = check_cluster(tree, args.cluster, context=args.context)
    items, notes = read_live(context=args.context)
    status = analyse(items, [*cluster_notes, *notes])
    if tree is not None:
        compare_with_tree(status, tree, args.cluster)
    out.write(format_json(status) if args.output == "json" else format_text(status))
    return 0 if status.ready else 1
