"""Fixtures of the script tests: see gitops_sandbox.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.scripts.gitops_sandbox import FAKE_KUBECTL, Sandbox, git, write_tree

TOOLS = ("bash", "env", "git", "sed", "grep", "sort", "date", "mktemp", "cat", "rm", "dirname")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """A tree of the older layout (Namespaces, identity, secrets in clusters/homelab/)."""
    return make_sandbox(tmp_path)


@pytest.fixture
def layered_sandbox(tmp_path: Path) -> Sandbox:
    """A tree as synthesis writes it now (clusters/homelab/ holds Kustomizations only)."""
    return make_sandbox(tmp_path, layered=True)


def make_sandbox(tmp_path: Path, *, layered: bool = False) -> Sandbox:
    root = tmp_path / "repo"
    root.mkdir()
    write_tree(root, layered=layered)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "release: family-assistant-backend v2.1.1")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed")
        (bin_dir / tool).symlink_to(found)
    fake = bin_dir / "kubectl"
    fake.write_text(FAKE_KUBECTL)
    fake.chmod(0o755)
    return Sandbox(root=root, bin=bin_dir, log=tmp_path / "kubectl.log",
                   rules_file=tmp_path / "rules.json", state_file=tmp_path / "context")
