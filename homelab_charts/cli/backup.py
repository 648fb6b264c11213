"""``homelab-charts backup COMPONENT`` and ``homelab-charts restore COMPONENT``.

Parsing and printing only; the logic is :mod:`homelab_charts.operations.backup`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("component", metavar="COMPONENT",
                        help="postgresql, redis, qdrant or n8n (the components with backups)")
    parser.add_argument("--context", default=None,
                        help="kubectl context (default: the current one); refused unless "
                             "its kube-system UID is the data file's cluster.uid")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be done (and the Job), call no kubectl")
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: nearest folder with cdk8s.yaml)")
    parser.add_argument("--data", type=Path, default=None,
                        help="data file (default: <root>/homelab.yaml)")


def register(sub: Any) -> None:
    backup: argparse.ArgumentParser = sub.add_parser(
        "backup", help="run a component's backup now (a Job from its CronJob)",
        description="Start the component's backup CronJob now as a one-off Job and wait for "
                    "it (docs/BACKUPS.md). Exit 1 when the job fails.")
    _common(backup)
    backup.add_argument("--no-wait", action="store_true", help="start the job and return")
    backup.set_defaults(func=run_backup)

    restore: argparse.ArgumentParser = sub.add_parser(
        "restore", help="restore a component from a restic snapshot into the live cluster",
        description="Render the component's restore Job for the live cluster and apply it, "
                    "stopping the workloads that write to it first (Flux suspended "
                    "meanwhile) and starting them again after (docs/BACKUPS.md).")
    _common(restore)
    which = restore.add_mutually_exclusive_group()
    which.add_argument("--snapshot", metavar="ID", default=None,
                       help="restic snapshot ID (restic snapshots --tag COMPONENT)")
    which.add_argument("--latest", action="store_true",
                       help="the component's newest snapshot (the default)")
    restore.add_argument("--database", metavar="NAME", default=None,
                         help="only this PostgreSQL database (or Qdrant collection)")
    restore.set_defaults(func=run_restore)


def _setup(args: argparse.Namespace) -> tuple[Any, Any]:
    from homelab_charts.operations import backup as ops

    homelab = ops.load_homelab(args.root.resolve() if args.root else None, args.data)
    runner = ops.Runner(kubectl=ops.Kubectl(ops.kubectl_on_path(), context=args.context))
    return homelab, runner


def run_backup(args: argparse.Namespace) -> int:
    from homelab_charts.operations import backup as ops

    homelab, runner = _setup(args)
    return ops.run_backup(homelab, args.component, runner, dry_run=args.dry_run,
                          wait=not args.no_wait)


def run_restore(args: argparse.Namespace) -> int:
    from homelab_charts.operations import backup as ops

    homelab, runner = _setup(args)
    return ops.run_restore(homelab, args.component, runner,
                           snapshot=args.snapshot or "latest", database=args.database,
                           dry_run=args.dry_run)
