"""``homelab-charts synth [--check]``: write the generated tree, or check it is in sync."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "synth", help="synthesize the Flux tree (same result as `cdk8s synth`)",
        description="Synthesize clusters/, infrastructure/ and apps/ from the constructs and "
                    "the data file. With --check, write nothing and exit 1 when the committed "
                    "tree differs from what the code produces.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the files that differ and exit 1 if any")
    parser.add_argument("--root", type=Path, default=None,
                        help="project root, a folder holding cdk8s.yaml (default: the nearest "
                             "one from the current folder up)")
    parser.add_argument("--data", type=Path, default=None,
                        help="data file (default: <root>/homelab.yaml)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from homelab_charts.project import check_root, find_root
    from homelab_charts.synth import synth_tree

    root = check_root(args.root) if args.root else find_root()
    result = synth_tree(root, data_file=args.data, check=args.check, progress=not args.quiet)
    changes = result.changes
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.check:
        if not changes.changed:
            if not args.quiet:
                print(f"in sync: {len(result.files)} generated files")
            return 0
        for rel in changes.written:
            print(f"differs: {rel}" if (root / rel).exists() else f"missing: {rel}")
        for rel in changes.removed:
            print(f"stale:   {rel}")
        for rel in changes.leftovers:
            print(f"leftover: {rel} (an interrupted synth; the next synth finishes or "
                  "deletes it)")
        print("the generated tree is out of date: run `homelab-charts synth` and commit",
              file=sys.stderr)
        return 1
    for rel in changes.leftovers:
        print(f"homelab-charts synth: recovered {rel}, left by an interrupted run",
              file=sys.stderr)
    if not args.quiet:
        for rel in changes.written:
            print(f"wrote   {rel}")
        for rel in changes.removed:
            print(f"removed {rel}")
        print(f"{len(result.files)} generated files: {len(changes.written)} written, "
              f"{len(changes.removed)} removed, {changes.unchanged} unchanged")
    return 0
