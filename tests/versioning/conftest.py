"""Fixtures: throw-away git repositories with real commits and tags, and a CLI runner."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_charts import datafile
from homelab_charts.cli import release as release_cli
from homelab_charts.errors import HomelabError
from tests.conftest import DATA_FILE as DEFAULT_DATA_FILE

DATA = Path("homelab.yaml")
#: The service most release tests move, and a file of its sources (its path globs).
DASH = "homelab-dashboard"
DASH_FILE = "services/homelab-dashboard/app.py"


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch, tmp_path_factory):
    """No user/system git config, a fixed identity, and no CI variables leaking in."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "Test")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "test@example.invalid")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)


class Repo:
    """A git repository for a test: write files, commit them, tag commits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True,
                              text=True, check=True)
        return proc.stdout.strip()

    def write(self, rel: str, text: str) -> Path:
        file = self.path / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        return file

    def commit(self, message: str, *files: str, content: str | None = None) -> str:
        """Change each file in ``files`` (appending a line) and commit; returns the full SHA."""
        for rel in files:
            file = self.path / rel
            file.parent.mkdir(parents=True, exist_ok=True)
            old = file.read_text(encoding="utf-8") if file.exists() else ""
            file.write_text(old + (content or message) + "\n", encoding="utf-8")
            self.git("add", "--", rel)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, commit: str = "HEAD", *, annotated: bool = True) -> None:
        if annotated:
            self.git("tag", "-a", "-m", name, name, commit)
        else:
            self.git("tag", name, commit)

    def argv(self, *argv: str) -> list[str]:
        """A command line of the CLI run on this repository (``--root`` it)."""
        return [*argv, "--root", str(self.path)]

    def release_dashboard(self, version: str = "1.4.2") -> str:
        """A dashboard change (``feat: dashboard``) tagged ``<DASH>/v<version>``, as a
        release of it leaves the history; returns its SHA."""
        sha = self.commit("feat: dashboard", DASH_FILE)
        self.tag(f"{DASH}/v{version}")
        return sha

    def pinned(self, service: str = DASH, env: str = "prod") -> str:
        """The tag the repository's data file pins for ``service`` in ``env``."""
        return datafile.get_service_tag(self.path / DATA, service, env)


@pytest.fixture
def repo(tmp_path) -> Repo:
    """A repository holding a copy of the real data file, committed."""
    r = Repo(tmp_path / "repo")
    (r.path / DATA).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEFAULT_DATA_FILE, r.path / DATA)
    r.git("add", "--", str(DATA))
    r.commit("chore: initial data file")
    return r


@pytest.fixture
def synth_calls(monkeypatch) -> list[tuple[Path, Path]]:
    """Replace the tree synthesis of release/rollback/promote with a recorder of its
    (root, data file) calls (the real one runs in the end-to-end tests)."""
    calls: list[tuple[Path, Path]] = []
    monkeypatch.setattr(release_cli, "synthesize_tree", lambda root, data: calls.append(
        (root, data)))
    return calls


def _full_cli_available() -> bool:
    from homelab_charts.cli import build_parser

    try:
        build_parser()
    except ModuleNotFoundError:  # another sub-command module is not written yet
        return False
    return True


def run_cli(argv: list[str]) -> int:
    """Run one of this module's sub-commands the way ``homelab-charts`` does."""
    from homelab_charts.cli import main

    if _full_cli_available():
        return main(argv)
    parser = argparse.ArgumentParser(prog="homelab-charts")
    sub = parser.add_subparsers(dest="command", required=True)
    release_cli.register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HomelabError as exc:
        print(f"homelab-charts {args.command}: error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture
def cli():
    return run_cli
