"""scripts/sealing-key.sh: backing up and restoring the controller's keys, with a fake
kubectl that records every call."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts.gitops_sandbox import SCRIPTS, Sandbox

NAMES = "secret/sealed-secrets-keyabcde\nsecret/sealed-secrets-keyfghij\n"
BACKUP = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: sealed-secrets-keyabcde, namespace: kube-system}
  type: kubernetes.io/tls
  data: {tls.crt: Y2VydA==, tls.key: a2V5}
"""


def run(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    for tool in ("mv", "chmod"):
        link = sandbox.bin / tool
        if not link.exists():
            link.symlink_to(shutil.which(tool) or f"/bin/{tool}")
    sandbox.rules_file.write_text(json.dumps(sandbox.rules))
    env = {"PATH": str(sandbox.bin), "HOME": str(sandbox.root.parent), "LANG": "C.UTF-8",
           "FAKE_KUBECTL_LOG": str(sandbox.log),
           "FAKE_KUBECTL_RULES": str(sandbox.rules_file),
           "FAKE_KUBECTL_STATE": str(sandbox.state_file),
           "HOMELAB_CHARTS_PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPTS / "sealing-key.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def pinned(sandbox: Sandbox) -> list[list[str]]:
    """The cluster calls, each pinned (--context) to the context current at start."""
    entries = sandbox.cluster_calls()
    assert all(e["context"] == "fake-homelab" for e in entries), entries
    return [e["argv"] for e in entries]


@pytest.fixture
def keys(sandbox: Sandbox) -> Sandbox:
    sandbox.rule("get", "secret", "-o", "name", stdout=NAMES)
    sandbox.rule("get", "secret", "-o", "yaml", stdout=BACKUP)
    return sandbox


def test_backup_writes_the_keys_privately_outside_the_repository(
        keys: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "offline" / "main.key"
    target.parent.mkdir()
    result = run(keys, "backup", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_text() == BACKUP
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "saved 2 key(s)" in result.stderr
    label = "sealedsecrets.bitnami.com/sealed-secrets-key"
    assert pinned(keys) == [
        ["-n", "kube-system", "get", "secret", "-l", label, "-o", "name"],
        ["-n", "kube-system", "get", "secret", "-l", label, "-o", "yaml"],
    ]
    assert [p.name for p in target.parent.iterdir()] == ["main.key"]  # no temporary left


def test_backup_dry_run_lists_and_writes_nothing(keys: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "main.key"
    result = run(keys, "backup", str(target), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == NAMES
    assert not target.exists()
    assert all("yaml" not in call for call in keys.calls())


@pytest.mark.parametrize("where", ["inside", "existing", "no-keys"])
def test_backup_refusals_leave_no_file(sandbox: Sandbox, tmp_path: Path, where: str) -> None:
    target = tmp_path / "main.key"
    if where == "inside":
        target = SCRIPTS.parent / "main.key"
    if where == "existing":
        target.write_text("old backup")
    if where != "no-keys":
        sandbox.rule("get", "secret", "-o", "name", stdout=NAMES)
    result = run(sandbox, "backup", str(target))
    assert result.returncode == 2
    assert result.stderr.startswith("sealing-key: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    if where == "existing":
        assert target.read_text() == "old backup"
    else:
        assert not target.exists()
    assert all("yaml" not in call for call in sandbox.calls())


def test_restore_dry_run_validates_on_the_server_and_restarts_nothing(
        sandbox: Sandbox, tmp_path: Path) -> None:
    backup = tmp_path / "main.key"
    backup.write_text(BACKUP)
    result = run(sandbox, "restore", str(backup), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert pinned(sandbox) == [
        ["-n", "kube-system", "apply", "--dry-run=server", "-f", str(backup)]]


def test_restore_applies_and_restarts_the_controller(sandbox: Sandbox, tmp_path: Path) -> None:
    backup = tmp_path / "main.key"
    backup.write_text(BACKUP)
    result = run(sandbox, "restore", str(backup))
    assert result.returncode == 0, result.stderr
    assert pinned(sandbox) == [
        ["-n", "kube-system", "apply", "-f", str(backup)],
        ["-n", "kube-system", "get", "deployment", "sealed-secrets-controller", "-o", "name"],
        ["-n", "kube-system", "rollout", "restart", "deployment/sealed-secrets-controller"],
    ]


def test_restore_refuses_a_file_without_keys(sandbox: Sandbox, tmp_path: Path) -> None:
    backup = tmp_path / "notes.yaml"
    backup.write_text("kind: ConfigMap\n")
    result = run(sandbox, "restore", str(backup))
    assert result.returncode == 2 and "holds no tls.key" in result.stderr
    assert pinned(sandbox) == []


def test_usage_errors(sandbox: Sandbox) -> None:
    for args in ([], ["copy", "x"], ["backup"], ["restore", "a", "b"],
                 ["restore", "x", "--force"]):
        result = run(sandbox, *args)
        assert result.returncode == 2, args
    assert "backup  FILE" in run(sandbox, "--help").stdout
    sandbox.remove_kubectl()
    assert "kubectl not found" in run(sandbox, "backup", os.devnull + ".x").stderr
