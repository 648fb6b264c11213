"""``homelab-charts cluster bind``: record which cluster the tree is for.

The logic is :mod:`homelab_charts.operations.binding`; this module parses arguments and
prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "cluster", help="bind the tree to one cluster (the manual scripts refuse others)",
        description="Commands about the cluster the tree is for.")
    commands = parser.add_subparsers(dest="cluster_command", metavar="COMMAND", required=True)
    bind = commands.add_parser(
        "bind", help="record the cluster's kube-system Namespace UID in the data file",
        description="Read the UID of the kube-system Namespace of kubectl context CTX (or "
                    "take --uid) and record it as cluster.uid in the data file. Synthesis "
                    "writes it into infrastructure/namespaces/cluster-identity.yaml; "
                    "scripts/manual-deploy.sh and scripts/verify-deployment.sh refuse any "
                    "other cluster. Run `homelab-charts synth` and commit afterwards.")
    source = bind.add_mutually_exclusive_group(required=True)
    source.add_argument("--context", metavar="CTX",
                        help="kubectl context of the cluster (read-only: one `kubectl get "
                             "namespace kube-system`)")
    source.add_argument("--uid", metavar="UID",
                        help="the UID itself (kubectl get namespace kube-system -o "
                             "jsonpath='{.metadata.uid}')")
    bind.add_argument("--cluster", metavar="NAME", default=None,
                      help="the cluster to bind: the data file's `cluster` (default) or an "
                           "entry of `clusters:` (a second cluster, e.g. for dev)")
    bind.add_argument("--data", type=Path, default=None, metavar="FILE",
                      help="data file to edit (default: the project's)")
    bind.set_defaults(func=run_bind)


def run_bind(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from homelab_charts.operations.binding import bind, live_uid

    out = out or sys.stdout
    uid = live_uid(args.context) if args.context else args.uid
    result = bind(uid, args.data, args.cluster)
    if result.previous and result.changed:
        print(f"homelab-charts cluster: warning: cluster {result.cluster!r} was bound to "
              f"kube-system UID {result.previous}; it is now bound to another cluster",
              file=sys.stderr)
    via = f" (context {args.context!r})" if args.context else ""
    state = "bound" if result.changed else "already bound"
    out.write(f"cluster {result.cluster!r} {state} to kube-system UID {uid}{via} in "
              f"{result.data_file}\n")
    if result.changed:
        out.write("next: homelab-charts synth, then commit the data file and "
                  "infrastructure/namespaces/cluster-identity.yaml\n")
    return 0
