"""``homelab-charts backup`` and ``restore`` against a fake kubectl that records its calls.

The repository is a temporary copy bound (``cluster.uid``) to the fake cluster's
kube-system UID; the identity check is the manual path's (operations/binding.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from homelab_charts.cli import main
from homelab_charts.operations import backup as ops
from homelab_charts.validate import policy
from tests.helpers import as_project
from tests.scripts.gitops_sandbox import CLUSTER_UID, FAKE_KUBECTL

STATUS = "jsonpath={.status.succeeded}/{.status.failed}"


UID_QUERY = "jsonpath={.metadata.uid}"
#: Calls that change the cluster.
MUTATING = ("apply", "create", "scale", "patch", "delete", "wait")


class FakeCluster:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        bin_dir = root / "bin"
        bin_dir.mkdir()
        kubectl = bin_dir / "kubectl"
        kubectl.write_text(FAKE_KUBECTL)
        kubectl.chmod(0o755)
        self.log = root / "calls.jsonl"
        self.rules_file = root / "rules.json"
        self.rules: list[dict[str, object]] = []
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_KUBECTL_LOG", str(self.log))
        monkeypatch.setenv("FAKE_KUBECTL_RULES", str(self.rules_file))
        monkeypatch.setenv("FAKE_KUBECTL_STATE", str(root / "kubectl-context"))
        monkeypatch.setattr(ops.Runner, "poll_seconds", 0)
        self.rule("family-assistant-backend", "jsonpath={.spec.replicas}", stdout="2")
        self.rule("redis", "jsonpath={.spec.replicas}", stdout="1")
        self.rule("n8n", "jsonpath={.spec.replicas}", stdout="1")

    def rule(self, *args: str, stdout: str = "", stderr: str = "", rc: int = 0) -> None:
        self.rules.insert(0, {"args": list(args), "stdout": stdout, "stderr": stderr, "rc": rc})
        self.rules_file.write_text(json.dumps(self.rules))

    def entries(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def calls(self) -> list[list[str]]:
        return [list(e["argv"]) for e in self.entries()]  # type: ignore[arg-type]


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    return FakeCluster(tmp_path, monkeypatch)


@pytest.fixture(autouse=True)
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of this repository's project files, bound to the fake cluster."""
    root = as_project(tmp_path / "repo")
    bind(root / "homelab.yaml", CLUSTER_UID)
    monkeypatch.setitem(ROOTS, "root", root)
    return root


ROOTS: dict[str, Path] = {}


def bind(data_file: Path, uid: str | None) -> None:
    text = data_file.read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("  uid: "))
    if uid is not None:
        text = text.replace("\ncluster:\n", f"\ncluster:\n  uid: {uid}\n", 1)
    data_file.write_text(text + "\n")


def cli(*args: str) -> int:
    return main([*args, "--root", str(ROOTS["root"])])


def changes(calls: list[list[str]]) -> list[list[str]]:
    return [c for c in calls if c and c[0] in MUTATING]


def verbs(calls: list[list[str]]) -> list[str]:
    """Each call as 'verb target' (what changed, in order)."""
    out = []
    for argv in calls:
        if argv[0] == "scale":
            out.append(f"scale {argv[1]}/{argv[2]} {argv[-1]}")
        elif argv[0] == "patch":
            out.append(f"patch {argv[2]} {argv[-1]}")
        elif argv[0] in ("apply", "create"):
            out.append(argv[0])
    return out


def test_restore_postgresql_stops_its_writers_applies_the_job_and_starts_them_again(
        cluster: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    cluster.rule(STATUS, stdout="1/")
    assert cli("restore", "postgresql", "--latest") == 0
    calls = cluster.calls()
    # read-only first: the context, then the identity of the cluster behind it
    assert calls[0] == ["config", "current-context"]
    assert calls[1][:1] == ["get"] and UID_QUERY in calls[1]
    assert cluster.entries()[1]["context"] == "fake-homelab"
    suspend, resume = '{"spec": {"suspend": true}}', '{"spec": {"suspend": false}}'
    assert verbs(calls) == [
        f"patch family-assistant {suspend}", f"patch n8n {suspend}",
        "scale deployment/family-assistant-backend --replicas=0",
        "scale deployment/n8n --replicas=0",
        "apply",
        "scale deployment/n8n --replicas=1",
        "scale deployment/family-assistant-backend --replicas=2",
        f"patch n8n {resume}", f"patch family-assistant {resume}",
    ]
    waits = [c for c in calls if c[:2] == ["wait", "--for=delete"]]
    assert [w[4] for w in waits] == [
        "app.kubernetes.io/instance=family-assistant-backend,"
        "app.kubernetes.io/name=family-assistant-backend",
        "app.kubernetes.io/instance=n8n,app.kubernetes.io/name=n8n"]
    [applied] = [e for e in cluster.entries() if e["argv"][:3] == ["apply", "-f", "-"]]
    job = yaml.safe_load(applied["stdin"])  # type: ignore[arg-type]
    assert job["kind"] == "Job" and job["metadata"]["namespace"] == "databases"
    assert policy.check([job]) == []
    pod = job["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["restic"]
    fetch_env = {e["name"]: e.get("value") for e in pod["initContainers"][0]["env"]}
    assert fetch_env["RESTORE_SNAPSHOT"] == "latest"
    assert pod["containers"][0]["command"] == ["sh", "/scripts/postgresql-load.sh"]
    assert ["logs", f"job/{job['metadata']['name']}", "-n", "databases", "--all-containers",
            "--prefix"] in calls
    assert "restore postgresql: done" in capsys.readouterr().out


OTHER_UID = "0badc0de-0000-4000-8000-000000000000"


@pytest.mark.parametrize("command", [("restore", "redis"), ("backup", "postgresql"),
                                     ("restore", "n8n", "--context", "work-prod")])
def test_another_cluster_is_refused_before_any_change(
        command: tuple[str, ...], cluster: FakeCluster,
        capsys: pytest.CaptureFixture[str]) -> None:
    cluster.rule("kube-system", UID_QUERY, stdout=OTHER_UID)
    cluster.rule(STATUS, stdout="1/")
    assert cli(*command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "wrong cluster: clusters/homelab is bound to cluster 'homelab'" in err
    assert CLUSTER_UID in err and OTHER_UID in err and "nothing was changed" in err
    assert changes(cluster.calls()) == []
    assert any(UID_QUERY in c for c in cluster.calls())


def test_an_unbound_tree_is_refused_before_any_change(
        cluster: FakeCluster, repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bind(repository / "homelab.yaml", None)
    assert cli("restore", "postgresql") == 2
    err = capsys.readouterr().err
    assert "bound to no cluster" in err and "homelab-charts cluster bind --context" in err
    assert err.count("\n") == 1
    assert changes(cluster.calls()) == []


def test_an_unreachable_cluster_is_refused_before_any_change(
        cluster: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    cluster.rule("kube-system", UID_QUERY, rc=1, stderr="error: connection refused\n")
    assert cli("backup", "redis") == 2
    err = capsys.readouterr().err
    assert "cannot read the kube-system Namespace: error: connection refused" in err
    assert changes(cluster.calls()) == []


def test_a_failed_restore_job_still_restarts_the_writers_and_exits_1(
        cluster: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    cluster.rule(STATUS, stdout="/1")
    assert cli("restore", "redis", "--snapshot", "6c62e05a") == 1
    assert verbs(cluster.calls()) == [
        'patch databases {"spec": {"suspend": true}}',
        'patch family-assistant {"spec": {"suspend": true}}',
        "scale deployment/family-assistant-backend --replicas=0",
        "scale statefulset/redis --replicas=0",
        "apply",
        "scale statefulset/redis --replicas=1",
        "scale deployment/family-assistant-backend --replicas=2",
        'patch family-assistant {"spec": {"suspend": false}}',
        'patch databases {"spec": {"suspend": false}}',
    ]
    [applied] = [e for e in cluster.entries() if e["argv"][:3] == ["apply", "-f", "-"]]
    assert "6c62e05a" in applied["stdin"]  # type: ignore[operator]
    assert "restore redis: FAILED" in capsys.readouterr().out


def test_backup_runs_the_cronjob_now(cluster: FakeCluster,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    cluster.rule(STATUS, stdout="1/")
    assert cli("backup", "qdrant") == 0
    [create] = [c for c in cluster.calls() if c[0] == "create"]
    assert create[:3] == ["create", "job", "--from=cronjob/qdrant-backup"]
    assert create[3].startswith("qdrant-backup-manual-") and create[-2:] == ["-n", "databases"]
    assert "backup qdrant: done" in capsys.readouterr().out


def test_dry_run_prints_the_job_and_calls_no_kubectl(
        cluster: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("restore", "postgresql", "--database", "n8n", "--dry-run") == 0
    out = capsys.readouterr().out
    assert cluster.calls() == []
    assert "#   scale deployment n8n/n8n to 0" in out
    job = yaml.safe_load(out.split("---\n", 1)[1])
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]
           ["env"]}
    assert env["RESTORE_DATABASE"] == "n8n"
    assert cli("backup", "n8n", "--dry-run") == 0
    assert "kubectl create job --from=cronjob/n8n-backup" in capsys.readouterr().out
    assert cluster.calls() == []


@pytest.mark.parametrize(("args", "message"), [
    (("restore", "redis", "--database", "x", "--dry-run"), "restore it whole"),
    (("restore", "loki", "--dry-run"), "'loki' has no backups"),
    (("restore", "qdrant", "--snapshot", "latest;rm", "--dry-run"), "not a restic snapshot ID"),
])
def test_bad_requests_are_one_line_errors(args: tuple[str, ...], message: str,
                                          cluster: FakeCluster,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert cluster.calls() == []


def test_snapshot_and_latest_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["restore", "redis", "--latest", "--snapshot", "abcdef12"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
