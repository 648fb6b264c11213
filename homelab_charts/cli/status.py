"""``homelab-charts status``: what Flux runs and what blocks it, read live through
kubectl (:mod:`homelab_charts.operations.status`); this module parses and prints."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "status", help="what Flux runs, what waits on what, and why (exit 1 if not Ready)",
        description="Read the cluster's Flux Kustomizations, HelmReleases, sources and "
                    "SealedSecrets (kubectl get ... -A -o json, read-only) and print, "
                    "dependencies first, what is Ready, what waits for what, and the first "
                    "failing condition of each blocked chain; a failing GitRepository is "
                    "named with the OCI fallback. Exit status 0 when everything is Ready, 1 "
                    "when not, 2 when the cluster cannot be read.")
    parser.add_argument("--context", metavar="CTX", default=None,
                        help="kubectl context (default: the current one)")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text (default) or json (for scripts)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from homelab_charts.operations.status import analyse, format_json, format_text, read_live

    out = out or sys.stdout
    items, notes = read_live(context=args.context)
    status = analyse(items, notes)
    out.write(format_json(status) if args.output == "json" else format_text(status))
    return 0 if status.ready else 1
