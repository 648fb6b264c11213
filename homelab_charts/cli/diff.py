"""``homelab-charts diff``: what a change does to the cluster, object by object.

Compares the tree at a git revision (default: the merge base of HEAD with the default
branch) with the tree the working tree's code and data file synthesize (in memory, nothing
is written), grouped by the Flux Kustomization that applies each object.
Exit status: 0 identical, 1 different, 2 usage or git error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO, Any

OUTPUTS = ("text", "markdown", "json")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "diff", help="diff the rendered objects against a git revision (exit 1 if different)",
        description="Synthesize the tree from the working tree's code and data file (in "
                    "memory) and compare its objects, matched by API group, kind, namespace "
                    "and name, with the tree committed at a git revision; grouped by the Flux "
                    "Kustomization applying them. Sealed values are never shown. Exit status "
                    "0 when identical, 1 when different, 2 on a usage or git error.")
    parser.add_argument("--against", metavar="REF", default=None,
                        help="git revision to compare with (default: the merge base of HEAD "
                             "and origin/HEAD, origin/main, origin/master, main or master)")
    head = parser.add_mutually_exclusive_group()
    head.add_argument("--tree", action="store_true",
                      help="compare the generated files on disk instead of synthesizing")
    head.add_argument("--head", metavar="REF", default=None,
                      help="compare with the tree committed at REF instead of synthesizing")
    parser.add_argument("--output", choices=OUTPUTS, default="text",
                        help="text (default), markdown (a pull-request comment) or json")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour text output (auto: when stdout is a terminal and "
                             "NO_COLOR is unset)")
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: nearest folder with cdk8s.yaml)")
    parser.add_argument("--data", type=Path, default=None,
                        help="data file to synthesize from (default: <root>/homelab.yaml)")
    parser.set_defaults(func=run)


def _use_color(choice: str, stream: IO[str]) -> bool:
    if choice != "auto":
        return choice == "always"
    try:
        return stream.isatty() and "NO_COLOR" not in os.environ
    except (AttributeError, ValueError):
        return False


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from homelab_charts.review.diff import diff_trees, format_json, format_markdown, format_text
    from homelab_charts.tree import (
        default_base,
        git_tree,
        read_disk_tree,
        repository_root,
        resolve_commit,
        synthesized_tree,
    )

    out = out or sys.stdout
    root = args.root.resolve() if args.root else repository_root()
    if args.against:
        commit = resolve_commit(root, args.against)
        base = f"{args.against}" if args.against.startswith(commit[:7]) \
            else f"{args.against} ({commit[:7]})"
    else:
        where, commit = default_base(root)
        base = f"{where} ({commit[:7]})"
    old = git_tree(root, commit)
    head_where = ""
    if args.head:
        head_commit = resolve_commit(root, args.head)
        new = git_tree(root, head_commit)
        head, head_where = f"{args.head} ({head_commit[:7]})", head_commit[:7]
    elif args.tree:
        new = read_disk_tree(root)
        head = "working tree files"
    else:
        new = synthesized_tree(root, args.data)
        head = "working tree (synthesized)"
    text_mode = args.output == "text"
    result = diff_trees(old, new, base=base, head=head, base_where=commit[:7],
                        head_where=head_where, progress=None if text_mode else False)
    if args.output == "json":
        out.write(format_json(result))
    elif args.output == "markdown":
        out.write(format_markdown(result))
    else:
        out.write(format_text(result, color=_use_color(args.color, out)))
    return 0 if result.identical else 1
