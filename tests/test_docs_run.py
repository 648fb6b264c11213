"""Every `homelab-charts ...` command of README.md and docs/ that can run here, runs.

tests/test_docs_commands.py checks that each shown command parses; this module runs the
ones that need nothing but the repository, each in its own fresh clone of the committed
tree with nothing beside it (no ../shared), as a new user would. A command that cannot run
here (it needs a live cluster, a private key, a value the reader supplies) is listed in
NOT_RUN with the reason, so a new command is run by default and skipping one is explicit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_docs_commands import PLACEHOLDER, SHOWN, Shown

REPO = Path(__file__).resolve().parents[1]

#: Sub-commands whose shown uses cannot run here, and why.
NOT_RUN_COMMANDS = {
    "seal": "seals values the reader supplies (tests/secrets/ run seal on test data)",
    "reseal": "needs the controller's private key (tests/secrets/ run it on a test key)",
    "unseal": "needs the controller's private key (tests/secrets/ run it on a test key)",
    "status": "reads a live cluster through kubectl (tests use recorded kubectl output)",
    "cluster": "reads a live cluster through kubectl (tests use a fake kubectl)",
    "backup": "creates a Job in a live cluster (tests use a fake kubectl)",
    "restore": "applies a Job to a live cluster (tests use a fake kubectl)",
    "push": "pushes to an OCI registry (tests start a local one)",
    "pull": "pulls from an OCI registry (tests start a local one)",
}

#: Shown commands that need a history a fresh clone does not have, and why.
NOT_RUN_ARGV = {
    ("rollback", "family-assistant-backend", "--env", "prod", "--previous"):
        "needs an earlier prod pin in the data file's git history (an operator's repository; "
        "tests/versioning/test_cli.py runs --previous on a git fixture with that history)",
    ("release", "homelab-dashboard", "--env", "prod", "--ref", "homelab-dashboard/v1.5.0",
     "--allow-unmerged", "INC-42: hotfix while the reviewer is away", "--dry-run"):
        "names a release tag of an operator's repository (tests/versioning/"
        "test_release_reviewed.py runs the override on a git fixture)",
}

#: Exit codes other than 0 that a shown command is documented to give in a fresh clone.
EXPECTED_EXIT: dict[tuple[str, ...], int] = {
    # The shipped data file runs prod only: promote refuses (docs/RELEASING.md says so).
    ("promote", "family-assistant-backend", "--from", "dev", "--to", "prod", "--dry-run"): 2,
}

SVG_COMMAND = ("graph", "--output", "svg")


def _has_placeholder(argv: tuple[str, ...]) -> bool:
    return any(PLACEHOLDER.search(arg) for arg in argv)


def _why_not(shown: Shown) -> str | None:
    """Why ``shown`` is not run here, or None when it is."""
    if not shown.argv or shown.argv[0].startswith("-"):
        return None
    reason = NOT_RUN_COMMANDS.get(shown.argv[0]) or NOT_RUN_ARGV.get(shown.argv)
    if reason is not None:
        return reason
    if _has_placeholder(shown.argv):
        return "holds a placeholder for the reader to fill in (parsed by test_docs_commands)"
    if shown.argv[:3] == SVG_COMMAND and shutil.which("dot") is None:
        return "Graphviz `dot` is not installed (apt-get install graphviz)"
    return None


RUNNABLE = [s for s in SHOWN if _why_not(s) is None]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare repository holding the working tree as one commit on main, tagged the way
    the docs' examples expect (v1.2.0; an earlier prod release of every service)."""
    work = tmp_path_factory.mktemp("work") / "homelab"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, files):
        rel = name.decode()
        source = REPO / rel
        if not source.is_file():
            continue  # deleted in the working tree
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    env_git = ("-c", "user.name=docs", "-c", "user.email=docs@example.invalid")
    _git(work.parent, "init", "-q", "-b", "main", str(work))
    _git(work, "add", "-A")
    _git(work, *env_git, "commit", "-q", "-m", "the repository as the docs describe it")
    _git(work, *env_git, "tag", "-a", "-m", "v1.2.0", "v1.2.0")
    bare = work.parent / "origin.git"
    _git(work.parent, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def _fresh_clone(origin: Path, where: Path) -> Path:
    clone = where / "clone"
    _git(where, "clone", "-q", str(origin), str(clone))
    for name in (".venv", "node_modules"):
        if (REPO / name).exists():
            (clone / name).symlink_to(REPO / name)
    return clone


def test_the_docs_have_commands_to_run() -> None:
    assert len(RUNNABLE) >= 5, [str(s) for s in RUNNABLE]


@pytest.mark.parametrize("shown", RUNNABLE, ids=str)
def test_shown_command_runs_in_a_fresh_clone(shown: Shown, origin: Path, tmp_path: Path) -> None:
    clone = _fresh_clone(origin, tmp_path)
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "CDK8S_CHECK_UPGRADE": "false", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "homelab_charts", *shown.argv], cwd=clone,
                          env=env, capture_output=True, text=True, timeout=600)
    expected = EXPECTED_EXIT.get(shown.argv, 0)
    assert proc.returncode == expected, (
        f"{shown}: exit {proc.returncode}, expected {expected}\n"
        f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
    traceback = re.search(r"^Traceback", proc.stderr, re.MULTILINE)
    assert traceback is None, proc.stderr


def test_every_command_not_run_says_why() -> None:
    skipped = {str(s): _why_not(s) for s in SHOWN if _why_not(s) is not None}
    assert all(skipped.values())
