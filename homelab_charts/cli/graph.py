"""``homelab-charts graph``: the Flux dependency graph (Kustomizations, HelmReleases and
the sources they read), layered by ``dependsOn``, as Mermaid, DOT, SVG or JSON.

Each cluster's Flux graph is its own: a tree of several clusters (``clusters/<a>/``,
``clusters/<b>/``) is drawn as one graph per cluster, side by side, each in a box titled
``cluster <name>`` (JSON: a ``clusters`` list); ``--cluster NAME`` draws one, exactly as
the graph of a tree of one cluster.

Exit status: 0, or 1 when a reference points at an object missing from the tree (of its
cluster) or ``dependsOn`` has a cycle (the graph is still written, the missing node drawn
red); 2 on bad input (a ``--cluster`` the tree has no folder for) or when SVG rendering is
unavailable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

from homelab_charts.fsutil import atomic_write_text

OUTPUTS = ("mermaid", "dot", "svg", "json")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "graph", help="draw the Flux Kustomization/HelmRelease dependency graph",
        description="Read the Flux Kustomizations, HelmReleases and sources of the tree and "
                    "print their dependsOn/source graph, layered from infrastructure to "
                    "apps. Exit status 1 when a reference is missing or dependsOn has a "
                    "cycle.")
    parser.add_argument("--output", choices=OUTPUTS, default="mermaid",
                        help="mermaid (default), dot, svg (rendered by Graphviz) or json")
    parser.add_argument("-o", "--out", type=Path, default=None, metavar="FILE",
                        help="write to FILE (atomically) instead of standard output")
    parser.add_argument("--ref", metavar="REF", default=None,
                        help="read the tree committed at git revision REF instead of the "
                             "files on disk")
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: nearest folder with cdk8s.yaml "
                             "or clusters/)")
    parser.add_argument("--cluster", metavar="NAME", default=None,
                        help="only the graph of cluster NAME (clusters/NAME/); default: "
                             "every cluster's, each in a box of its own")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from homelab_charts.review.graph import (
        build_graphs,
        problems,
        to_dot,
        to_json,
        to_mermaid,
        to_svg,
    )
    from homelab_charts.tree import Tree, repository_root, resolve_commit

    out = out or sys.stdout
    root = args.root.resolve() if args.root else repository_root()
    if args.ref:
        tree = Tree.from_git(root, resolve_commit(root, args.ref), label=args.ref)
    else:
        tree = Tree.from_disk(root)
    graphs = build_graphs(tree, cluster=args.cluster)
    render = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg, "json": to_json}
    text = render[args.output](graphs)
    if args.out is not None:
        atomic_write_text(args.out, text, mode=0o644, parents=True)
    else:
        out.write(text)
    found = problems(graphs)
    for problem in found:
        print(f"homelab-charts graph: warning: {problem}", file=sys.stderr)
    return 1 if found else 0
