"""Every `homelab-charts ...` command shown in README.md and docs/*.md exists in the CLI.

Commands are read from fenced code blocks (```` ``` ````), also when run as
`scripts/run cli ...`; each is parsed by the real parser (`build_parser()`), so a renamed
sub-command or option, or a missing one, fails here. Placeholders (`SERVICE`, `<app>`,
`$TAG`) stand for values; where an option only takes some values, a placeholder is
replaced by one of them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
#: Fenced blocks read as shell: these info strings, or none (diagrams use `text`, `mermaid`).
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console", "zsh"}
OPERATORS = re.compile(r"\|\||&&|;|\||\$\(|\)|`")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$|^<[^>]+>$|\$|^\.\.\.$|^\{\{.*\}\}$")


@dataclass(frozen=True)
class Shown:
    file: str
    line: int
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: homelab-charts {' '.join(self.argv)}"


def code_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each fenced block, continuation lines joined."""
    blocks: list[tuple[int, list[str]]] = []
    fence: str | None = None
    shell = console = False
    current: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, current = match.group(2)[0] * 3, []
                shell = match.group(3).lower() in SHELL_BLOCKS
                console = match.group(3).lower() == "console"
            continue
        if match and match.group(2).startswith(fence) and not line.strip()[3:].strip("`~"):
            if shell:
                if console:  # a terminal session: commands follow the prompt, the rest is output
                    current = [(n, text) for n, text in current if text.lstrip().startswith("$")]
                blocks.append(_join(current))
            fence = None
            continue
        current.append((number, line))
    return [b for b in blocks if b[1]]


def _join(lines: list[tuple[int, str]]) -> tuple[int, list[str]]:
    joined: list[str] = []
    first = lines[0][0] if lines else 0
    pending = ""
    for _, line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending)
    return first, joined


def commands_in(path: Path) -> list[Shown]:
    shown: list[Shown] = []
    rel = path.relative_to(REPO).as_posix()
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    for first, block in code_blocks(text):
        for line in block:
            number = _line_number(lines, line, first)
            stripped = re.sub(r"(^|\s)#.*$", "", line).strip()
            stripped = re.sub(r"^\$\s+", "", stripped)
            for segment in OPERATORS.split(stripped):
                argv = _homelab_argv(segment)
                if argv is not None:
                    shown.append(Shown(rel, number, argv))
    return shown


def _line_number(lines: list[str], line: str, first: int) -> int:
    head = line.strip().split("  ")[0][:40]
    for number in range(first, len(lines) + 1):
        if head and head in lines[number - 1]:
            return number
    return first


def _homelab_argv(segment: str) -> tuple[str, ...] | None:
    try:
        tokens = shlex.split(segment)
    except ValueError:
        tokens = segment.split()
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
        tokens = tokens[1:]  # VAR=value before a command
    # Only a command in command position counts (not "... touched by homelab-charts").
    if tokens and (tokens[0] == "homelab-charts" or tokens[0].endswith("/homelab-charts")):
        rest = tokens[1:]
    elif tokens[:2] == ["scripts/run", "cli"]:
        rest = tokens[2:]
    else:
        return None
    argv = []
    for arg in rest:
        if re.match(r"^\d?[<>]", arg):
            break  # a redirection ends the command
        arg = arg.strip("[]")
        if arg and arg != "...":
            argv.append(arg)
    return tuple(argv)


def _fill_placeholders(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Replace placeholders given to options that take fixed choices by a valid choice."""
    out = list(argv)
    current = parser
    i = 0
    while i < len(out):
        arg = out[i]
        subparsers = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if subparsers and not arg.startswith("-") and arg in subparsers[0].choices:
            current = subparsers[0].choices[arg]
        elif arg.startswith("--"):
            option = arg.split("=", 1)[0]
            action = current._option_string_actions.get(option)
            if action is not None and action.choices and i + 1 < len(out) \
                    and "=" not in arg and PLACEHOLDER.search(out[i + 1]):
                out[i + 1] = str(next(iter(action.choices)))
                i += 1
        i += 1
    return out


def parse(argv: tuple[str, ...]) -> tuple[int, str]:
    from homelab_charts.cli import build_parser

    parser = build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(_fill_placeholders(parser, list(argv)))
        except SystemExit as exc:
            return int(exc.code or 0), err.getvalue().strip()
    return 0, ""


SHOWN = [cmd for doc in DOCS if doc.exists() for cmd in commands_in(doc)]


def test_the_docs_show_commands() -> None:
    files = {cmd.file for cmd in SHOWN}
    assert "docs/MANUAL-GITOPS-WORKFLOW.md" in files
    assert len(SHOWN) >= 5


@pytest.mark.parametrize("shown", SHOWN, ids=str)
def test_command_exists_in_the_cli(shown: Shown) -> None:
    assert shown.argv, f"{shown}: no sub-command"
    code, message = parse(shown.argv)
    assert code == 0, f"{shown}\n  {message}"


def test_extraction(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "Text `homelab-charts inline` is not a command.\n"
        "```sh\n"
        "$ homelab-charts plan --only apps  # comment --nope\n"
        "TAG=$(homelab-charts release SERVICE --env ENV --dry-run) && echo \"$TAG\"\n"
        "scripts/run cli validate \\\n"
        "  --summary > out.txt\n"
        "git status\n"
        "echo never touched by homelab-charts\n"
        "```\n"
        "    homelab-charts indented --is-not-read\n"
        "```text\n"
        "code ──► homelab-charts synth ──► tree\n"
        "```\n")
    global REPO
    saved, REPO = REPO, tmp_path
    try:
        found = [c.argv for c in commands_in(doc)]
    finally:
        REPO = saved
    assert found == [
        ("plan", "--only", "apps"),
        ("release", "SERVICE", "--env", "ENV", "--dry-run"),
        ("validate", "--summary"),
    ]


def test_unknown_commands_and_options_are_caught() -> None:
    assert parse(("plan", "--only", "apps"))[0] == 0
    code, message = parse(("plan", "--no-such-option"))
    assert code == 2 and "unrecognized arguments" in message
    code, message = parse(("no-such-command",))
    assert code == 2 and "invalid choice" in message
    # A placeholder for a choice is replaced; a wrong literal choice is not.
    assert parse(("plan", "--only", "LAYER"))[0] == 0
    assert parse(("plan", "--only", "databases"))[0] == 2
