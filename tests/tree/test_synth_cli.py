"""`homelab-charts synth [--check]` and `cdk8s synth`, end to end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from homelab_charts.cli import main
from homelab_charts.synth import synth_tree
from homelab_charts.writer import HEADER
from tests.helpers import as_project

REPO = Path(__file__).resolve().parents[2]


def project(root: Path) -> Path:
    """``root`` made a project root (a folder holding cdk8s.yaml)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cdk8s.yaml").write_text("language: python\n")
    return root


def test_the_committed_tree_is_in_sync_with_the_code(capsys) -> None:
    assert main(["synth", "--check", "--root", str(REPO)]) == 0, capsys.readouterr().out
    assert "in sync" in capsys.readouterr().out


def test_check_lists_differing_missing_and_stale_files_and_writes_nothing(tmp_path: Path,
                                                                          capsys) -> None:
    synth_tree(as_project(tmp_path))
    (tmp_path / "infrastructure/databases/redis.yaml").write_text(HEADER + "---\nedited: 1\n")
    (tmp_path / "infrastructure/databases/qdrant.yaml").unlink()
    stale = tmp_path / "apps/old/old.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text(HEADER + "---\nkind: ConfigMap\n")
    assert main(["synth", "--check", "--root", str(as_project(tmp_path))]) == 1
    out = capsys.readouterr()
    assert "differs: infrastructure/databases/redis.yaml" in out.out
    assert "missing: infrastructure/databases/qdrant.yaml" in out.out
    assert "stale:   apps/old/old.yaml" in out.out
    assert "out of date" in out.err
    assert stale.exists() and not (tmp_path / "infrastructure/databases/qdrant.yaml").exists()


def test_synth_writes_then_reports_nothing_to_do(tmp_path: Path, capsys) -> None:
    assert main(["synth", "--root", str(as_project(tmp_path))]) == 0
    first = capsys.readouterr().out
    assert "wrote   clusters/homelab/infrastructure.yaml" in first
    assert main(["synth", "--root", str(as_project(tmp_path))]) == 0
    assert " 0 written, 0 removed" in capsys.readouterr().out


def test_bad_data_file_is_a_clear_error_and_nothing_is_written(tmp_path: Path, capsys) -> None:
    data = tmp_path / "homelab.yaml"
    text = (REPO / "homelab.yaml").read_text()
    data.write_text(text.replace("tag: v2.1.0-a3f5c2b-prod", "tag: v2.1-a3f5c2b-prod", 1))
    out = project(tmp_path / "tree")
    assert main(["synth", "--root", str(out), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert str(data) in err
    assert "services.family-assistant-backend.environments.prod.tag" in err
    assert "'v2.1-a3f5c2b-prod' is not a release tag" in err
    assert sorted(p.name for p in out.iterdir()) == ["cdk8s.yaml"]


def test_root_defaults_to_the_folder_holding_cdk8s_yaml(tmp_path: Path, monkeypatch,
                                                       capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--check"]) == 2
    assert "no cdk8s.yaml here or above" in capsys.readouterr().err
    as_project(tmp_path)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["synth", "-q"]) == 0
    assert (tmp_path / "clusters/homelab/apps.yaml").exists() or \
        (tmp_path / "clusters/homelab/infrastructure.yaml").exists()


CDK8S = REPO / "node_modules" / ".bin" / "cdk8s"


@pytest.mark.skipif(not CDK8S.exists(), reason="the cdk8s CLI is not installed in "
                    "node_modules/ (scripts/run installs it)")
def test_cdk8s_synth_writes_the_same_tree_and_keeps_other_files(tmp_path: Path) -> None:
    as_project(tmp_path)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / "README.md").write_text("mine\n")
    env = {**os.environ, "CDK8S_CHECK_UPGRADE": "false",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run([str(CDK8S), "synth"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for top in ("clusters", "infrastructure"):
        for path in (REPO / top).rglob("*.yaml"):
            rel = path.relative_to(REPO)
            if "flux-system" in rel.parts:
                continue
            assert (tmp_path / rel).read_bytes() == path.read_bytes(), rel
    assert (tmp_path / "README.md").read_text() == "mine\n"
    flat = (tmp_path / "dist" / "homelab.k8s.yaml").read_text()
    assert flat.startswith(HEADER) and "kind: StatefulSet" in flat
    assert "kustomize.config.k8s.io" not in flat  # build files are not objects
    assert "generated files under clusters/" in proc.stderr
