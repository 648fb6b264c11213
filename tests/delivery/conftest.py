"""A homelab repository in a temporary folder whose data file reads the tree from OCI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homelab_charts.cli import main
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
