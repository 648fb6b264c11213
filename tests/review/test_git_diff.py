"""``homelab-charts diff`` on temporary git repositories: the tree at a revision is read
from git, the other side from disk, another revision or the real synthesis."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from homelab_charts.tree import GitError, default_base, git_tree, resolve_commit

from .conftest import (
    NEW_CIPHERTEXT,
    OLD_CIPHERTEXT,
    OTHER_CIPHERTEXT,
    GitRepo,
    deployment,
    sample_tree,
    sealed_secret,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def changes(doc: dict) -> list[tuple[str, str, str, str]]:
    """(group, status, kind, name) of every change of a ``--output json`` document."""
    return [(g["kustomization"], o["status"], o["kind"], o["name"])
            for g in doc["groups"] for o in g["objects"]]


def test_git_tree_reads_the_revision_not_the_working_tree(committed_repo: GitRepo) -> None:
    head = resolve_commit(committed_repo.root, "HEAD")
    committed_repo.write({"apps/web/deployment.yaml": deployment(replicas=7)})
    before = committed_repo.git("status", "--porcelain")
    files = git_tree(committed_repo.root, head)
    assert files["apps/web/deployment.yaml"] == deployment(replicas=2)
    # bootstrap's folder is not part of the tree; non-YAML files neither
    assert set(files) == set(sample_tree()) - {"clusters/homelab/flux-system/gotk-sync.yaml"}
    assert committed_repo.git("status", "--porcelain") == before == " M apps/web/deployment.yaml\n"


def test_replica_change_is_one_changed_object_in_its_group(committed_repo: GitRepo,
                                                           run_cli) -> None:
    repo = committed_repo
    repo.git("switch", "-q", "-c", "feature")
    repo.write({"apps/web/deployment.yaml": deployment(replicas=3)})
    repo.commit("scale web")
    # default --against: the merge base with main; --head reads the branch from git
    code, out, err = run_cli("diff", "--root", str(repo.root), "--head", "HEAD",
                             "--output", "json")
    assert code == 1, err
    doc = json.loads(out)
    assert changes(doc) == [("web", "changed", "Deployment", "web")]
    (obj,) = doc["groups"][0]["objects"]
    assert "-  replicas: 2\n" in obj["diff"] and "+  replicas: 3\n" in obj["diff"]
    assert obj["file"] == "apps/web/deployment.yaml"
    assert doc["summary"]["changed"] == 1 and doc["summary"]["unchanged"] == 8
    assert "merge-base of HEAD and main" in doc["base"]

    code, text, _ = run_cli("diff", "--root", str(repo.root), "--head", "HEAD",
                            "--color", "never")
    assert code == 1
    assert "Kustomization web (./apps/web)" in text
    assert "changed  Deployment web/web  [apps/web/deployment.yaml]" in text
    assert "1 changed, 8 unchanged" in text


def test_working_tree_files_against_a_ref(committed_repo: GitRepo, run_cli) -> None:
    committed_repo.write({"apps/web/deployment.yaml": deployment(replicas=5)})
    code, out, _ = run_cli("diff", "--root", str(committed_repo.root), "--against", "main",
                           "--tree", "--output", "json")
    assert code == 1
    assert changes(json.loads(out)) == [("web", "changed", "Deployment", "web")]


def test_removed_component_shows_removed_objects(committed_repo: GitRepo, run_cli) -> None:
    repo = committed_repo
    repo.git("rm", "-q", "apps/web/service.yaml")
    repo.commit("drop the web service and ingress")
    code, out, _ = run_cli("diff", "--root", str(repo.root), "--against", "HEAD~1",
                           "--head", "HEAD", "--output", "json")
    assert code == 1
    assert changes(json.loads(out)) == [("web", "removed", "Ingress", "web"),
                                        ("web", "removed", "Service", "web")]


def test_renamed_file_with_identical_objects_is_no_change(committed_repo: GitRepo,
                                                          run_cli) -> None:
    repo = committed_repo
    repo.git("mv", "apps/web/deployment.yaml", "apps/web/web-deployment.yaml")
    repo.write({"apps/web/kustomization.yaml":
                "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                "resources: [web-deployment.yaml, service.yaml]\n"})
    repo.commit("rename")
    code, out, _ = run_cli("diff", "--root", str(repo.root), "--against", "HEAD~1",
                           "--head", "HEAD", "--color", "never")
    assert code == 0
    assert "no changes: 9 objects identical" in out


def test_moving_an_object_to_another_kustomization_is_reported(committed_repo: GitRepo,
                                                               run_cli) -> None:
    repo = committed_repo
    repo.git("mv", "infrastructure/cache/redis.yaml", "apps/web/redis.yaml")
    repo.commit("move redis")
    code, out, _ = run_cli("diff", "--root", str(repo.root), "--against", "HEAD~1",
                           "--head", "HEAD", "--output", "json")
    assert code == 1
    (group,) = json.loads(out)["groups"]
    (obj,) = group["objects"]
    assert (group["kustomization"], obj["status"], obj["movedFrom"], obj["oldFile"]) == \
        ("web", "moved", "cache", "infrastructure/cache/redis.yaml")


def test_resealed_secret_shows_changed_and_no_ciphertext(committed_repo: GitRepo,
                                                         run_cli) -> None:
    repo = committed_repo
    repo.write({"clusters/homelab/secrets/web.yaml": sealed_secret(password=NEW_CIPHERTEXT)})
    repo.commit("re-seal the web password")
    outputs = {}
    for output in ("text", "markdown", "json"):
        code, out, err = run_cli("diff", "--root", str(repo.root), "--against", "HEAD~1",
                                 "--head", "HEAD", "--output", output)
        assert code == 1, err
        outputs[output] = out
        for secret in (OLD_CIPHERTEXT, NEW_CIPHERTEXT, OTHER_CIPHERTEXT, "AgB"):
            assert secret not in out + err, output
        assert "changed (sealed values not shown)" in out, output
        assert "re-sealed: spec.encryptedData.password" in out, output
    doc = json.loads(outputs["json"])
    assert changes(doc) == [("flux-system", "changed", "SealedSecret", "web-credentials")]
    sealed = doc["groups"][0]["objects"][0]["sealed"]
    assert sealed == {"added": [], "removed": [], "resealed": ["spec.encryptedData.password"]}


def test_a_sealed_key_added_shows_by_name_only(committed_repo: GitRepo, run_cli) -> None:
    repo = committed_repo
    text = sealed_secret().replace("    api-key:", f"    token: {NEW_CIPHERTEXT}\n    api-key:")
    repo.write({"clusters/homelab/secrets/web.yaml": text})
    code, out, _ = run_cli("diff", "--root", str(repo.root), "--against", "HEAD", "--tree",
                           "--color", "never")
    assert code == 1
    assert "added: spec.encryptedData.token" in out
    assert "+    token: <sealed>" in out  # the key appears in the diff, its value never
    assert NEW_CIPHERTEXT not in out


def test_bootstrap_folder_is_ignored(committed_repo: GitRepo, run_cli) -> None:
    repo = committed_repo
    repo.write({"clusters/homelab/flux-system/gotk-sync.yaml": "---\nnot: [valid\n"})
    repo.commit("bootstrap upgrade")
    code, out, _ = run_cli("diff", "--root", str(repo.root), "--against", "HEAD~1",
                           "--head", "HEAD")
    assert code == 0, out


def test_unknown_ref_is_a_clear_error(committed_repo: GitRepo, run_cli) -> None:
    code, out, err = run_cli("diff", "--root", str(committed_repo.root), "--against",
                             "no-such-branch", "--tree")
    assert code == 2 and out == ""
    assert "no-such-branch: unknown git revision" in err
    assert "Traceback" not in err


def test_option_like_ref_is_refused(committed_repo: GitRepo) -> None:
    with pytest.raises(GitError, match="is not a git revision"):
        resolve_commit(committed_repo.root, "--output=/tmp/x")


def test_not_a_git_repository(tmp_path: Path, run_cli) -> None:
    (tmp_path / "cdk8s.yaml").write_text("app: x\n")
    env_ceiling = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=tmp_path,
                                 capture_output=True, text=True, check=False)
    if env_ceiling.returncode == 0:
        pytest.skip("the temporary folder is inside a git repository")
    code, _, err = run_cli("diff", "--root", str(tmp_path), "--tree")
    assert code == 2
    assert "not inside a git repository" in err


def test_default_base_without_a_default_branch(git_repo: GitRepo) -> None:
    git_repo.commit("first")
    git_repo.git("branch", "-m", "main", "trunk")
    with pytest.raises(GitError, match="no default branch found"):
        default_base(git_repo.root)


def test_default_base_is_the_merge_base(committed_repo: GitRepo) -> None:
    repo = committed_repo
    base = repo.git("rev-parse", "HEAD").strip()
    repo.git("switch", "-q", "-c", "feature")
    repo.commit("on the branch")
    repo.git("switch", "-q", "main")
    repo.commit("on main")
    repo.git("switch", "-q", "feature")
    where, commit = default_base(repo.root)
    assert (where, commit) == ("merge-base of HEAD and main", base)


def test_invalid_yaml_at_the_ref_names_revision_and_file(committed_repo: GitRepo,
                                                         run_cli) -> None:
    repo = committed_repo
    repo.write({"apps/web/broken.yaml": "---\nkind: [unclosed\n"})
    sha = repo.commit("broken")
    code, _, err = run_cli("diff", "--root", str(repo.root), "--against", "HEAD", "--tree")
    assert code == 2
    assert re.search(rf"error: {sha[:7]}:apps/web/broken\.yaml:\d+: not valid YAML", err), err
