"""Every stateful component is backed up, restorable and watched; the jobs are hardened;
restic's password and the target's credentials exist only as SealedSecrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homelab_charts import config
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.backup import backup_alert_rules, from_data
from homelab_charts.operations.backup import homelab_of, load_homelab, restore_plan
from homelab_charts.validate import policy
from tests.apps.tree import Pod, edited_data, homelab_tree
from tests.conftest import DATA_FILE, REPO_ROOT

#: Workloads with persistent volumes that are deliberately not backed up.
NOT_BACKED_UP = {
    "observability/prometheus": "metrics are re-collected; 15 days of history is not data",
    "observability/loki": "logs are re-collected; losing them loses no user data",
    "observability/jaeger": "traces are re-collected, kept 7 days; losing them loses no user "
                            "data",
}


def persistent(pod: Pod) -> bool:
    claims = pod.workload["spec"].get("volumeClaimTemplates") or [
        v for v in pod.spec.get("volumes", []) if "persistentVolumeClaim" in v]
    return bool(claims) and pod.kind != "CronJob"


@pytest.fixture(scope="module")
def homelab() -> Any:
    return load_homelab(REPO_ROOT)


def test_every_stateful_component_has_a_backup_a_restore_and_alerts(homelab: Any) -> None:
    tree = homelab_tree()
    stateful = {p.ident for p in tree.pods() if persistent(p)} - set(NOT_BACKED_UP)
    assert stateful == {"databases/postgresql", "databases/redis", "databases/qdrant",
                        "n8n/n8n"}
    cronjobs = {f"{c['metadata']['namespace']}/{c['metadata']['name']}"
                for c in tree.of_kind("CronJob")}
    rules = backup_alert_rules(homelab.plans)
    for ident in sorted(stateful):
        namespace, name = ident.split("/")
        assert f"{namespace}/{name}-backup" in cronjobs, ident
        job = restore_plan(homelab, name).job
        assert job["metadata"]["namespace"] == namespace
        assert policy.check([job]) == [], ident
        mine = [r for r in rules if r["labels"]["cronjob"] == f"{name}-backup"]
        assert sorted(r["alert"] for r in mine) == ["BackupJobFailed", "BackupTooOld"]
        assert all(f'"{name}-backup"' in r["expr"] for r in mine)
    assert {"databases/restic-forget", "databases/restic-check"} <= cronjobs
    assert "93600" in next(r["expr"] for r in rules if r["alert"] == "BackupTooOld")
    assert any(r["labels"]["cronjob"] == "restic-check" and r["alert"] == "BackupTooOld"
               for r in rules)


def test_backup_pods_meet_restricted_and_mount_no_token() -> None:
    tree = homelab_tree()
    cronjobs = tree.of_kind("CronJob")
    assert len(cronjobs) == 6
    assert policy.check(cronjobs) == []
    for pod in (p for p in tree.pods() if p.kind == "CronJob"):
        assert pod.spec["automountServiceAccountToken"] is False
        assert pod.spec["securityContext"]["runAsNonRoot"] is True
        for c in pod.containers:
            sc = c["securityContext"]
            assert sc["runAsUser"] != 0 and sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["allowPrivilegeEscalation"] is False
            assert not c["image"].endswith(":latest") and ":" in c["image"]
        for volume in pod.spec["volumes"]:
            assert set(volume) - {"name"} <= {"emptyDir", "configMap", "persistentVolumeClaim"}


def test_restic_credentials_are_only_sealed_secrets() -> None:
    tree = homelab_tree()
    assert tree.of_kind("Secret") == []
    sealed = {(s["metadata"]["namespace"], s["metadata"]["name"]): set(s["spec"]["encryptedData"])
              for s in tree.of_kind("SealedSecret")}
    for namespace in ("databases", "n8n"):
        assert sealed[(namespace, "restic-repository")] == {
            "password", "aws-access-key-id", "aws-secret-access-key"}
    secret_vars = {"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "PGPASSWORD", "REDISCLI_AUTH", "QDRANT_API_KEY"}
    checked = 0
    for pod in (p for p in tree.pods() if p.kind == "CronJob"):
        for c in pod.containers:
            for item in c.get("env", []):
                if item["name"] in secret_vars:
                    assert "value" not in item, (pod.ident, item["name"])
                    ref = item["valueFrom"]["secretKeyRef"]
                    assert ref["key"] in sealed[(pod.namespace, ref["name"])]
                    checked += 1
    assert checked >= 6 * 3


def test_credentials_in_the_data_file_are_refused(tmp_path: Path) -> None:
    def leak(doc: dict[str, Any]) -> None:
        doc["infrastructure"]["backup"]["target"]["s3"]["secretAccessKey"] = "plaintext"

    with pytest.raises(ConfigError, match=r"infrastructure\.backup\.target\.s3"):
        config.load(edited_data(tmp_path, leak))


def test_target_choice_and_defaults(tmp_path: Path) -> None:
    settings = from_data(config.load(DATA_FILE))
    assert settings is not None
    assert settings.target.repository == "s3:https://s3.homelab.lan:9000/homelab-backups/restic"
    assert (settings.target.cidr, settings.target.port) == ("192.168.1.20/32", 9000)
    assert (settings.retention.daily, settings.retention.weekly,
            settings.retention.monthly) == (7, 4, 6)

    def nfs(doc: dict[str, Any]) -> None:
        doc["infrastructure"]["backup"]["target"] = {
            "nfs": {"server": "nas.homelab.lan", "path": "/restic"}}
        del doc["infrastructure"]["backup"]["retention"]

    tree = homelab_tree(edited_data(tmp_path, nfs))
    claim = tree.get("PersistentVolumeClaim", "n8n", "restic-repository")
    assert claim["spec"]["volumeName"] == "restic-n8n"
    volume = tree.get("PersistentVolume", None, "restic-databases")
    assert volume["spec"]["nfs"] == {"server": "nas.homelab.lan", "path": "/restic"}
    forget = tree.get("CronJob", "databases", "restic-forget")
    env = {e["name"]: e.get("value") for e in
           forget["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["KEEP_DAILY"], env["KEEP_WEEKLY"], env["KEEP_MONTHLY"]) == ("7", "4", "6")
    assert env["RESTIC_REPOSITORY"] == "/repository"
    assert "AWS_ACCESS_KEY_ID" not in env
    # NFS is mounted by the kubelet: no egress rule to a target network
    policy_doc = tree.get("NetworkPolicy", "n8n", "allow-n8n-backup") if any(
        p["metadata"]["name"] == "allow-n8n-backup" for p in tree.of_kind("NetworkPolicy")) \
        else None
    assert policy_doc is None


def test_two_targets_are_a_one_line_error_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from homelab_charts.cli import main

    def two(doc: dict[str, Any]) -> None:
        doc["infrastructure"]["backup"]["target"]["rest"] = {"url": "https://b.homelab.lan:8000/x",
                                           "cidr": "192.168.1.21/32"}

    data = edited_data(tmp_path, two)
    (tmp_path / "cdk8s.yaml").write_text("app: x\n")
    assert main(["synth", "--root", str(tmp_path), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert str(data) in err and "infrastructure.backup.target" in err and err.count("\n") == 1
    assert not (tmp_path / "infrastructure").exists()


def _kinds(tree: Any, namespace: str) -> set[str]:
    return {f"{o['kind']}/{o['metadata']['name']}" for _, o in tree.objects
            if o.get("metadata", {}).get("namespace") == namespace}


@pytest.mark.parametrize("entry", ["services.n8n", "infrastructure.qdrant"])
def test_a_disabled_component_takes_its_backup_with_it(entry: str, tmp_path: Path) -> None:
    section, name = entry.split(".")

    def off(doc: dict[str, Any]) -> None:
        doc[section][name]["enabled"] = False
        if name == "qdrant":  # the backend uses Qdrant: switch that off too
            doc["services"]["family-assistant-backend"]["enabled"] = False
            doc["services"]["family-assistant-frontend"]["enabled"] = False

    data = edited_data(tmp_path, off)
    tree = homelab_tree(data)
    cronjobs = {c["metadata"]["name"] for c in tree.of_kind("CronJob")}
    assert f"{name}-backup" not in cronjobs
    assert {"postgresql-backup", "redis-backup", "restic-forget", "restic-check"} <= cronjobs
    policies = {p["metadata"]["name"] for p in tree.of_kind("NetworkPolicy")}
    assert f"allow-{name}-backup" not in policies
    homelab = homelab_of(config.load(data))
    assert name not in homelab.plans
    rules = backup_alert_rules(homelab.plans)
    assert not [r for r in rules if r["labels"]["cronjob"] == f"{name}-backup"]
    if name == "n8n":  # nothing of the backups is left in its namespace
        assert not any(f"{name}/restic-repository" in k for k in
                       {f"{o['metadata']['namespace']}/{o['metadata']['name']}"
                        for o in tree.of_kind("SealedSecret")})
        assert "apps/n8n/backups.yaml" not in tree.files


def test_backups_off_leave_no_trace(tmp_path: Path) -> None:
    def off(doc: dict[str, Any]) -> None:
        doc["infrastructure"]["backup"]["enabled"] = False

    data = edited_data(tmp_path, off)
    tree = homelab_tree(data)
    assert tree.of_kind("CronJob") == []
    assert not [f for f in tree.files if f.endswith("backups.yaml")]
    assert not [s for s in tree.of_kind("SealedSecret")
                if s["metadata"]["name"] == "restic-repository"]
    assert not [p for p in tree.of_kind("NetworkPolicy") if "backup" in p["metadata"]["name"]
                or "restic" in p["metadata"]["name"]]
    homelab = homelab_of(config.load(data))
    assert homelab.plans == {} and backup_alert_rules(None) == []
    with pytest.raises(ConfigError, match=r"infrastructure\.backup: missing or enabled: false"):
        homelab.plan("postgresql")
