"""``homelab-charts diff`` with the real synthesis: the tree committed in a temporary
repository is compared with the tree synthesized in memory from a changed data file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from homelab_charts import config
from homelab_charts.tree import read_disk_tree, synthesized_tree
from tests.conftest import DATA_FILE, REPO_ROOT, STORE_DIR

from .conftest import GitRepo

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(scope="module")
def real_tree() -> dict[str, str]:
    from homelab_charts.synth import render

    return render(config.load())


def project_files() -> dict[str, str]:
    """What makes a folder a homelab repository: cdk8s.yaml, the data file, the store."""
    files = {"cdk8s.yaml": (REPO_ROOT / "cdk8s.yaml").read_text(encoding="utf-8"),
             "homelab.yaml": DATA_FILE.read_text(encoding="utf-8")}
    for path in sorted(STORE_DIR.rglob("*")):
        if path.is_file():
            files[path.relative_to(REPO_ROOT).as_posix()] = path.read_text(encoding="utf-8")
    return files


def committed_real_tree(tmp_path: Path, real_tree: dict[str, str]) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write(real_tree)
    repo.write(project_files())
    repo.write({"README.md": "hand-written, not part of the tree\n",
                "infrastructure/networking/extra.yaml":
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hand-written, "
                    "namespace: networking}\n"})
    repo.commit("the synthesized tree")
    return repo


def changed_data(tmp_path: Path, old: str, new: str) -> Path:
    data = DATA_FILE.read_text(encoding="utf-8")
    assert data.count(old) == 1, f"{old!r} not found once in the data file"
    changed = tmp_path / "homelab.yaml"
    changed.write_text(data.replace(old, new), encoding="utf-8")
    return changed


def json_changes(doc: dict) -> list[tuple[str, str, str, str, str]]:
    return [(g["kustomization"], o["status"], o["kind"], o["namespace"], o["name"])
            for g in doc["groups"] for o in g["objects"]]


def test_changed_image_tag_shows_in_the_databases_group(tmp_path: Path, real_tree,
                                                        run_cli) -> None:
    repo = committed_real_tree(tmp_path, real_tree)
    data = changed_data(tmp_path, "tag: 17.6-alpine3.22", "tag: 17.7-alpine3.22")
    code, out, err = run_cli("diff", "--root", str(repo.root), "--data", str(data),
                             "--output", "json")
    assert code == 1, err
    doc = json.loads(out)
    # the image, and the app.kubernetes.io/version label the Services carry too; the
    # role-sync Job runs the same image: a new image is a new Job (its name's digest);
    # the backup CronJob dumps with the server's own image (pg_dump matches the server)
    changes = json_changes(doc)
    jobs = [c for c in changes if c[2] == "Job"]
    assert [c[1] for c in jobs] == ["added", "removed"]
    assert all(c[4].startswith("postgresql-role-sync-") for c in jobs)
    assert [c for c in changes if c[2] != "Job"] == [
        ("databases", "changed", "CronJob", "databases", "postgresql-backup"),
        ("databases", "changed", "Service", "databases", "postgresql"),
        ("databases", "changed", "Service", "databases", "postgresql-headless"),
        ("databases", "changed", "StatefulSet", "databases", "postgresql"),
    ]
    (diff,) = [o["diff"] for o in doc["groups"][0]["objects"] if o["kind"] == "StatefulSet"]
    assert "-        image: docker.io/library/postgres:17.6-alpine3.22\n" in diff
    assert "+        image: docker.io/library/postgres:17.7-alpine3.22\n" in diff
    # the hand-written manifest on disk is part of the synthesized side too: only the
    # replaced Job is "removed"
    assert doc["summary"]["removed"] == 1
    assert "merge-base of HEAD and main" in doc["base"]
    assert doc["head"] == "working tree (synthesized)"

    # the unchanged data file synthesizes exactly the committed tree
    code, out, _ = run_cli("diff", "--root", str(repo.root), "--color", "never")
    assert code == 0, out
    assert "no changes" in out


def test_changed_app_replicas_is_one_changed_object(tmp_path: Path, real_tree,
                                                    run_cli) -> None:
    if not any(path.startswith("apps/family-assistant/") for path in real_tree):
        pytest.skip("the constructs do not render apps/family-assistant/ yet")
    repo = committed_real_tree(tmp_path, real_tree)
    data = changed_data(tmp_path, "tag: v2.1.0-a3f5c2b-prod\n        replicas: 2\n  "
                                  "family-assistant-frontend",
                        "tag: v2.1.0-a3f5c2b-prod\n        replicas: 3\n  "
                        "family-assistant-frontend")
    code, out, err = run_cli("diff", "--root", str(repo.root), "--data", str(data),
                             "--output", "json")
    assert code == 1, err
    doc = json.loads(out)
    changes = json_changes(doc)
    assert len(changes) == 1, changes
    group, status, kind, namespace, _ = changes[0]
    assert (group, status, kind, namespace) == ("family-assistant", "changed", "Deployment",
                                                "family-assistant")
    diff = doc["groups"][0]["objects"][0]["diff"]
    assert "-  replicas: 2\n" in diff and "+  replicas: 3\n" in diff


def test_synthesized_tree_drops_stale_generated_files(tmp_path: Path, real_tree) -> None:
    from .conftest import HEADER, write_files

    write_files(tmp_path, {"apps/gone/old.yaml": HEADER + "apiVersion: v1\nkind: ConfigMap\n"
                                                          "metadata: {name: old}\n",
                           "apps/mine/own.yaml": "apiVersion: v1\nkind: ConfigMap\n"
                                                 "metadata: {name: own}\n"})
    files = synthesized_tree(tmp_path, DATA_FILE)
    assert "apps/gone/old.yaml" not in files
    assert "apps/mine/own.yaml" in files
    assert {k: v for k, v in files.items() if k != "apps/mine/own.yaml"} == {
        k: v for k, v in real_tree.items()}
    assert set(read_disk_tree(tmp_path)) == {"apps/gone/old.yaml", "apps/mine/own.yaml"}
