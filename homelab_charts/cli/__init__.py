"""The ``homelab-charts`` command line.

Each sub-command lives in a module of this package that defines ``register(subparsers)``;
the module keeps heavy imports (cdk8s, jsii) inside its handler so that commands that do
not synthesize start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from homelab_charts import __version__
from homelab_charts.errors import HomelabError

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("synth", "release", "seal", "plan", "validate", "diff", "graph",
                   "cluster", "init", "push", "pull", "status", "backup")


class _Parser(argparse.ArgumentParser):
    """A parser that reports an unknown argument itself, with its own usage.

    Plain argparse hands a sub-command's unknown options up to the top-level parser (which
    prints the top-level usage), and reports ``--wrong`` alone as a missing COMMAND. Here
    every (sub-)parser rejects what it does not know, and a required sub-command is checked
    only after that.
    """

    _command: tuple[str, str] | None = None

    def add_subparsers(self, **kwargs: Any) -> Any:
        if kwargs.pop("required", False):
            dest = kwargs["dest"]
            self._command = (dest, kwargs.get("metavar") or dest)
        kwargs.setdefault("parser_class", _Parser)
        return super().add_subparsers(**kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        if self._command is not None and getattr(parsed, self._command[0], None) is None:
            self.error(f"the following arguments are required: {self._command[1]}")
        return parsed, extras


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or only of ``command``'s module when given (the
    modules import what their commands need: ``validate`` need not load cryptography)."""
    parser = _Parser(
        prog="homelab-charts",
        description="Generate, check and release the homelab's Flux CD GitOps tree.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES if command not in COMMAND_MODULES else (command,):
        importlib.import_module(f"homelab_charts.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return _call(build_parser(argv[0] if argv else None).parse_args(argv))


def console() -> NoReturn:
    """The ``homelab-charts`` executable: :func:`main`, then the exit.

    The cyclic garbage collector is off while modules import and the arguments parse. A
    command registered with ``quick_exit=True`` (``validate``: no helper process left, no
    exit handler, an acyclic heap) keeps it off, and ends with its output flushed but
    without the interpreter's teardown, which would free a large run's objects one by
    one for nothing.
    """
    gc.disable()  # importing and parsing make no cycles worth the collector's passes
    argv = sys.argv[1:]
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    quick = getattr(args, "quick_exit", False)
    if not quick:
        gc.enable()
    code = _call(args)
    if quick:
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to add
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _call(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except HomelabError as exc:
        print(f"homelab-charts {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except (OSError, UnicodeError, ValueError, RecursionError) as exc:
        # The last resort: each of these is meant to be a HomelabError at its source.
        print(f"homelab-charts {args.command}: error: {describe(exc)}", file=sys.stderr)
        return 2


def describe(exc: BaseException) -> str:
    """One line for an error that escaped the checks at its source (no traceback)."""
    if isinstance(exc, OSError) and exc.strerror:
        names = [n for n in (exc.filename, exc.filename2) if n is not None]
        where = f"{' -> '.join(map(str, names))}: " if names else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, UnicodeDecodeError):
        return f"input is not {exc.encoding} text (byte {exc.start}: {exc.reason})"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply"
    return _one_line(str(exc)) or type(exc).__name__


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 500 else line[:480] + "... (cut)"


if __name__ == "__main__":  # pragma: no cover
    console()
