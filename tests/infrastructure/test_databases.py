"""The three databases in the generated tree: probes that fit each server, hardening."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def objects(file: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((REPO / file).read_text()) if d]


def statefulset(file: str) -> dict:
    (sts,) = [o for o in objects(file) if o["kind"] == "StatefulSet"]
    return sts


@pytest.mark.parametrize(("file", "image_prefix", "probe_kind"), [
    ("infrastructure/databases/postgresql.yaml", "docker.io/library/postgres:", "exec"),
    ("infrastructure/databases/redis.yaml", "docker.io/library/redis:", "exec"),
    ("infrastructure/databases/qdrant.yaml", "docker.io/qdrant/qdrant:", "httpGet"),
])
def test_database_statefulsets(file: str, image_prefix: str, probe_kind: str) -> None:
    sts = statefulset(file)
    (ctr,) = sts["spec"]["template"]["spec"]["containers"]
    assert ctr["image"].startswith(image_prefix) and not ctr["image"].endswith(":latest")
    assert probe_kind in ctr["readinessProbe"] and "livenessProbe" in ctr
    assert sts["metadata"]["namespace"] == "databases"
    labels = sts["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "homelab-charts"
    assert labels["app.kubernetes.io/part-of"] == "databases"
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "local-path"
    services = [o for o in objects(file) if o["kind"] == "Service"]
    assert sorted(s["metadata"]["name"] for s in services) == sorted(
        [sts["metadata"]["name"], sts["spec"]["serviceName"]])


def test_postgresql_reads_its_superuser_password_and_a_job_syncs_the_app_roles() -> None:
    docs = objects("infrastructure/databases/postgresql.yaml")
    (ctr,) = statefulset("infrastructure/databases/postgresql.yaml")["spec"]["template"][
        "spec"]["containers"]
    env = {e["name"]: e for e in ctr["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "postgresql-credentials", "key": "postgres-password"}
    assert not [e for e in env if e.startswith("APP_DB_PASSWORD")]
    (job,) = [d for d in docs if d["kind"] == "Job"]
    (task,) = job["spec"]["template"]["spec"]["containers"]
    job_env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in task["env"]}
    assert job_env["APP_DB_PASSWORD_FAMILY_ASSISTANT"] == {
        "name": "postgresql-family-assistant", "key": "password"}
    assert job_env["APP_DB_PASSWORD_N8N"] == {"name": "postgresql-n8n", "key": "password"}
    script = task["command"][-1]
    assert "\\getenv password APP_DB_PASSWORD_N8N" in script
    sealed = objects("infrastructure/secrets/databases.yaml")
    names = {s["metadata"]["name"] for s in sealed}
    assert {"postgresql-credentials", "postgresql-family-assistant", "postgresql-n8n"} <= names


def test_namespaces_enforce_restricted_pod_security() -> None:
    for ns in objects("infrastructure/namespaces/namespaces.yaml"):
        # telemetry (node daemons) is the listed exception: tests/test_wiring.py.
        expected = "privileged" if ns["metadata"]["name"] == "telemetry" else "restricted"
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == expected
    names = {ns["metadata"]["name"] for ns in objects("infrastructure/namespaces/namespaces.yaml")}
    assert {"databases", "networking"} <= names


def test_qdrant_keeps_snapshots_on_its_volume_and_may_start_slowly() -> None:
    sts = statefulset("infrastructure/databases/qdrant.yaml")
    (ctr,) = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in ctr["env"]}
    data_mount = next(m["mountPath"] for m in ctr["volumeMounts"] if m["name"] == "data")
    assert env["QDRANT__STORAGE__SNAPSHOTS_PATH"].startswith(data_mount + "/")
    probe = ctr["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 300
