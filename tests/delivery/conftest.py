"""A homelab repository in a temporary folder whose data file reads the tree from OCI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from homelab_charts.cli import main
from tests.delivery.registry import RunningRegistry, registry
from tests.helpers import as_project

OCI_SOURCE = """\
  source:
    kind: oci
    url: oci://registry.homelab.lan:5000/homelab-tree
    tag: main
    secretRef: registry-pull
    insecure: true
  receiver:
    host: flux-hook.homelab.lan
"""

REGISTRY_AUTH = {"auths": {"registry.homelab.lan:5000": {"auth": "cHVsbGVyOnMzY3JldA=="}}}


def set_cluster_keys(data_file: Path, block: str) -> None:
    """Insert ``block`` (YAML lines indented under ``cluster:``) into the data file."""
    text = data_file.read_text()
    anchor = "  storageClassName: local-path\n"
    assert anchor in text
    data_file.write_text(text.replace(anchor, anchor + block, 1))


def seal_delivery_credentials(root: Path) -> None:
    """The registry pull credential and the webhook token, sealed for the example cert."""
    store = root / "sealed"
    assert main(["seal", "--store", str(store), "--cert",
                 str(store / "sealed-secrets-cert.pem"), "-n", "flux-system",
                 "--name", "registry-pull", "--type", "kubernetes.io/dockerconfigjson",
                 f".dockerconfigjson={json.dumps(REGISTRY_AUTH)}"]) == 0
    assert main(["seal", "--store", str(store), "--cert",
                 str(store / "sealed-secrets-cert.pem"), "-n", "flux-system",
                 "--name", "flux-receiver-token", "token=0123456789abcdef"]) == 0


@pytest.fixture
def oci_project(tmp_path: Path) -> Path:
    """A repository (cdk8s.yaml, data file, store) whose cluster reads the tree from OCI
    and has a webhook Receiver; its credentials sealed, nothing synthesized yet."""
    root = as_project(tmp_path / "repo")
    set_cluster_keys(root / "homelab.yaml", OCI_SOURCE)
    seal_delivery_credentials(root)
    return root


@pytest.fixture(scope="module")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A real registry (plain HTTP on 127.0.0.1), one per test module."""
    with registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    """``git ARGS`` in ``cwd``; ``date`` sets the author's and committer's date."""
    env = {**os.environ, **({"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
                            if date else {})}
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                           *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def committed_repo(tmp_path: Path) -> Path:
    """A git repository holding this repository's tree (as committed) on main, with an
    origin URL carrying a credential (never to appear in the artifact)."""
    from tests.conftest import REPO_ROOT

    root = as_project(tmp_path / "repo")
    for top in ("clusters", "infrastructure", "apps"):
        shutil.copytree(REPO_ROOT / top, root / top)
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "remote", "add", "origin",
        "https://x-access-token:ghp_secret@github.com/example/homelab-charts.git")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the tree", date="2025-03-04T05:06:07+02:00")
    return root
