"""``homelab-charts pull``: what a cluster runs — a tree artifact pulled from a registry
and compared, object by object, with the working tree's files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from homelab_charts.cli.diff import _use_color
from homelab_charts.cli.push import add_registry_options


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "pull", help="pull a tree artifact and diff it against the working tree (exit 1 "
                     "if different)",
        description="Pull a Flux OCI artifact of the tree (what `homelab-charts push` or "
                    "`flux push artifact` wrote), check its media types and digests, unpack "
                    "it into a temporary folder and compare its objects with the working "
                    "tree's files, grouped by Flux Kustomization. Sealed values are never "
                    "shown. Exit status 0 when identical, 1 when different, 2 on an error.")
    parser.add_argument("url", metavar="oci://REGISTRY/REPOSITORY[:TAG|@DIGEST]")
    add_registry_options(parser)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="unpack into DIR (missing or empty) and keep it")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text (default) or json")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: nearest folder with cdk8s.yaml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from homelab_charts.operations.artifact import compare_with_working_tree, pull_artifact
    from homelab_charts.review.diff import format_json, format_text
    from homelab_charts.tree import repository_root

    out = out or sys.stdout
    root = args.root.resolve() if args.root else repository_root()
    pulled = pull_artifact(args.url, insecure=args.insecure, docker_config=args.docker_config)
    compared = compare_with_working_tree(pulled, root, keep=args.keep)
    meta = {"url": pulled.url, "digest": pulled.digest, "cluster": compared.cluster,
            "files": len(compared.files), "annotations": pulled.annotations}
    if args.output == "json":
        out.write(json.dumps({"artifact": meta, "diff": json.loads(format_json(compared.diff))},
                             indent=2) + "\n")
    else:
        notes = pulled.annotations
        out.write(f"{pulled.url}: {pulled.digest}, clusters/{compared.cluster}/ "
                  f"({len(compared.files)} files)\n")
        for key in ("org.opencontainers.image.revision", "org.opencontainers.image.created",
                    "org.opencontainers.image.source"):
            if key in notes:
                out.write(f"  {key.rsplit('.', 1)[1]}: {notes[key]}\n")
        out.write(format_text(compared.diff, color=_use_color(args.color, out)))
    return 0 if compared.diff.identical else 1
