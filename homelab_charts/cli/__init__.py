"""The ``homelab-charts`` command line.

Each sub-command lives in a module of this package that defines ``register(subparsers)``;
the module keeps heavy imports (cdk8s, jsii) inside its handler so that commands that do
not synthesize start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from homelab_charts import __version__
from homelab_charts.errors import HomelabError

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("synth", "release", "seal", "plan", "validate", "diff", "graph")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="homelab-charts",
        description="Generate, check and release the homelab's Flux CD GitOps tree.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"homelab_charts.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HomelabError as exc:
        print(f"homelab-charts {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
