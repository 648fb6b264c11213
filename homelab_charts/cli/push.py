"""``homelab-charts push``: the tree at a commit as a Flux OCI artifact, pushed to a
registry (:mod:`homelab_charts.operations.artifact`); this module parses and prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--insecure", action="store_true",
                        help="plain HTTP (a registry without TLS, as the homelab's)")
    parser.add_argument("--docker-config", type=Path, default=None, metavar="FILE",
                        help="credentials as `docker login` writes them (default: "
                             "$DOCKER_CONFIG/config.json, else ~/.docker/config.json)")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "push", help="push the tree at a commit to an OCI registry, as `flux push artifact`",
        description="Package clusters/<cluster>/ (without flux-system/), infrastructure/ and "
                    "apps/ as committed at --ref into a Flux OCI artifact (the media types "
                    "and annotations of `flux push artifact`, reproducible: the same commit "
                    "gives the same digest) and push it. A cluster whose data file sets "
                    "cluster.source.kind: oci reads it from there.")
    parser.add_argument("url", metavar="oci://REGISTRY/REPOSITORY:TAG")
    parser.add_argument("--ref", default="HEAD", metavar="REV",
                        help="the commit to package (default: HEAD; uncommitted changes are "
                             "never pushed)")
    parser.add_argument("--branch", default=None,
                        help="branch named in the revision annotation (default: the "
                             "checked-out branch when --ref is HEAD)")
    parser.add_argument("--source", default=None, metavar="URL",
                        help="the repository's address for the source annotation (default: "
                             "the origin remote, credentials removed)")
    parser.add_argument("--cluster", default=None, metavar="NAME",
                        help="the cluster whose tree to push (default: the data file's)")
    add_registry_options(parser)
    parser.add_argument("--reconcile", default=None, metavar="URL",
                        help="then POST to this Flux Receiver webhook URL so Flux applies "
                             "the push now (https://HOST/hook/<digest>)")
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: nearest folder with cdk8s.yaml)")
    parser.add_argument("--data", type=Path, default=None,
                        help="data file naming the cluster (default: <root>/homelab.yaml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from homelab_charts.errors import ConfigError
    from homelab_charts.operations.artifact import cluster_name, push_tree, reconcile
    from homelab_charts.tree import repository_root

    out = out or sys.stdout
    root = args.root.resolve() if args.root else repository_root()
    cluster = args.cluster or cluster_name(root, args.data)
    result = push_tree(root, args.url, ref=args.ref, cluster=cluster, branch=args.branch,
                       source=args.source, insecure=args.insecure,
                       docker_config=args.docker_config)
    out.write(f"pushed clusters/{cluster}/, infrastructure/, apps/ ({result.files} files) "
              f"at {result.commit.revision} to {result.url}\n")
    out.write(f"created {result.commit.created}, layer {result.layer_digest}\n")
    out.write(f"{result.pinned}\n")
    if args.reconcile:
        try:
            status = reconcile(args.reconcile)
        except ConfigError as exc:
            print(f"homelab-charts push: warning: pushed, but {exc}; Flux picks the "
                  "artifact up at its next interval", file=sys.stderr)
            return 1
        out.write(f"reconcile requested (the Receiver answered {status})\n")
    return 0
