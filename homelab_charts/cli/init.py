"""``homelab-charts init DIR``: a new homelab repository that uses homelab-charts.

The repository is made by :func:`homelab_charts.scaffold.init`; this module parses
arguments and prints what was made.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init", help="make a new homelab repository (data file, example app, CI, tree)",
        description="Make a new homelab repository in DIR that uses homelab-charts (pinned "
                    "to this version): homelab.yaml, cdk8s.yaml, an example app in "
                    "my_homelab/apps/, example credentials sealed for a throwaway "
                    "certificate, scripts/run, CI, tests and the synthesized tree. DIR "
                    "must be new or empty; no file is ever overwritten.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="the folder to make it in")
    parser.add_argument("--without", action="append", default=[], metavar="NAME",
                        help="leave this component out (enabled: false in homelab.yaml), "
                             "e.g. qdrant, n8n; repeatable")
    parser.add_argument("--with", dest="with_", action="append", default=[], metavar="NAME",
                        help="turn on a component the template leaves off, e.g. "
                             "homelab-dashboard; repeatable")
    parser.add_argument("--force", action="store_true",
                        help="add to a folder that is not empty (still never overwrites a "
                             "file: an existing one is an error and nothing is written)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from homelab_charts.scaffold import init

    result = init(args.dir, enable=args.with_, disable=args.without, force=args.force)
    names = ", ".join(entry.split(".", 1)[1] for entry in result.enabled) or "none"
    print(f"created {result.root}: {len(result.files)} files")
    print(f"components: {names}")
    if result.disabled:
        off = ", ".join(entry.split(".", 1)[1] for entry in result.disabled)
        print(f"left out (enabled: false in homelab.yaml): {off}")
    for credential in result.credentials:
        print(f"sealed example credential {credential}")
    print(f"sealing certificate {result.fingerprint} (throwaway: its private key is "
          "discarded; re-seal for your controller, see README.md)")
    print(f"next: cd {args.dir} && scripts/run synth && scripts/run test")
    return 0
