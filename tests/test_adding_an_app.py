"""docs/ADDING-AN-APP.md, run end to end so the guide cannot rot.

The module and the data-file entry are taken from the guide's code blocks into a copy of
this repository (``as_project``); its shell blocks (sealing the credential with
``homelab-charts seal``, then ``homelab-charts synth`` and ``homelab-charts validate``)
run there with bash, the real command line on the PATH. The result is read back: the
app, its database, its policies and its sealed credential are in the tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apps.tree import Tree
from tests.conftest import REPO_ROOT
from tests.helpers import as_project

GUIDE = REPO_ROOT / "docs" / "ADDING-AN-APP.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MODULE_PATH = re.compile(r"^`(my_homelab/[\w/]+\.py)`:", re.M)
CLI = Path(sys.executable).parent / "homelab-charts"


def blocks(kind: str) -> list[str]:
    return [body for info, body in BLOCK.findall(GUIDE.read_text(encoding="utf-8"))
            if info == kind]


def merge(target: dict[str, Any], addition: dict[str, Any]) -> None:
    for key, value in addition.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] += [v for v in value if v not in target[key]]
        else:
            target[key] = value


@pytest.fixture(scope="module")
def guide_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("guide")
    root = as_project(work / "homelab")
    # 1. The module, at the path the guide names.
    (module_path,) = MODULE_PATH.findall(GUIDE.read_text(encoding="utf-8"))
    (source,) = blocks("python")
    target = root / module_path
    target.parent.mkdir(parents=True)
    for package in (target.parent, target.parent.parent):
        (package / "__init__.py").write_text("", encoding="utf-8")
    target.write_text(source, encoding="utf-8")
    # 2. The data-file entry, added to the repository's homelab.yaml.
    (entry,) = blocks("yaml")
    data_file = root / "homelab.yaml"
    document = yaml.safe_load(data_file.read_text(encoding="utf-8"))
    merge(document, yaml.safe_load(entry))
    data_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return root


def run_shell(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{CLI.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_guide_runs_end_to_end(guide_repo: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed (apt-get install bash)")
    assert CLI.is_file(), f"{CLI} missing: run scripts/run test (installs the project)"
    seal, build = blocks("sh")
    sealed = run_shell(guide_repo, seal)
    assert sealed.returncode == 0, sealed.stderr
    assert (guide_repo / "sealed" / "_cluster" / "postgresql-notes.yaml").is_file()
    commands = build.strip().splitlines()
    assert commands == ["homelab-charts synth", "homelab-charts validate"]
    synth = run_shell(guide_repo, commands[0])
    assert synth.returncode == 0, synth.stderr
    assert "warning" not in synth.stderr
    # nothing beside the repository: the CRD schemas ship in the package
    assert not (guide_repo.parent / "shared").exists()
    validated = run_shell(guide_repo, commands[1])
    assert validated.returncode == 0, validated.stdout + validated.stderr

    files = {p.relative_to(guide_repo).as_posix(): p.read_text(encoding="utf-8")
             for top in ("clusters", "infrastructure", "apps")
             for p in sorted((guide_repo / top).rglob("*.yaml"))
             if "flux-system" not in p.parts}
    tree = Tree(files)
    assert {"apps/notes/notes.yaml", "apps/notes/network-policies.yaml",
            "apps/notes/kustomization.yaml", "infrastructure/secrets/notes.yaml"} <= set(files)
    notes = tree.flux_kustomizations()["notes"]
    assert {d["name"] for d in notes["spec"]["dependsOn"]} == {
        "databases", "networking", "observability", "namespaces", "secrets", "controllers",
        "configs"}
    ingress = tree.get("Ingress", "notes", "notes")["spec"]
    assert ingress["rules"][0]["host"] == "notes.homelab.lan"
    assert ingress["tls"] == [{"hosts": ["notes.homelab.lan"], "secretName": "notes-tls"}]
    assert tree.get("NetworkPolicy", "notes", "default-deny")
    (job,) = tree.of_kind("Job", "databases")
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "\\getenv password APP_DB_PASSWORD_NOTES" in script
    allow = yaml.safe_dump(tree.get("NetworkPolicy", "databases", "allow-postgresql"))
    assert "kubernetes.io/metadata.name: notes" in allow
    env = tree.pod("notes").env()
    assert env["DATABASE_PASSWORD"] == {"secretKeyRef": {"name": "postgresql-notes",
                                                         "key": "password"}}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector.")
    # One sealing input, a copy in each namespace that reads it.
    for namespace in ("notes", "databases"):
        sealed_secret = tree.get("SealedSecret", namespace, "postgresql-notes")
        assert set(sealed_secret["spec"]["encryptedData"]) == {"password"}
