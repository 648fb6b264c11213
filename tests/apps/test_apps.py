"""The apps: images, replicas and hosts from the data file, OpenTelemetry, n8n, exposure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homelab_charts import config
from homelab_charts.apps.common import AppRelease
from homelab_charts.base import skip_checkov
from homelab_charts.cli import main
from homelab_charts.errors import ConfigError
from homelab_charts.synth import render
from tests.apps.tree import Pod, Tree, edited_data, enabled_services, homelab_tree
from tests.environments.layouts import seal_dev_credentials
from tests.helpers import as_project, new_component


def instrumented(tree: Tree) -> list[Pod]:
    """The pods set up for OpenTelemetry (their SDK environment is there)."""
    return [p for p in tree.pods() if "OTEL_SERVICE_NAME" in p.env()]


def test_images_replicas_and_hosts_come_from_the_data_file() -> None:
    data = config.load()
    tree = homelab_tree()
    environment = data.cluster.environment
    hosts = {i["spec"]["rules"][0]["host"]: i for i in tree.of_kind("Ingress")}
    for name, service in enabled_services(data).items():
        settings = service.env(environment)
        (pod,) = tree.pods_of_service(service)
        assert pod.containers[0]["image"] == f"{service.image}:{settings.tag}", name
        assert pod.workload["spec"]["replicas"] == settings.replicas, name
        if settings.host:
            assert hosts.pop(settings.host)["metadata"]["namespace"] == pod.namespace
    # Grafana's host is the data file's too (observability.grafana.host).
    assert hosts.pop(data.observability["grafana"]["host"])["metadata"]["namespace"] == \
        "observability"
    assert not hosts, f"Ingress hosts no service of the data file has: {sorted(hosts)}"


def test_dev_cluster_runs_dev_builds(tmp_path: Path) -> None:
    def to_dev(doc: dict[str, Any]) -> None:
        doc["cluster"]["environments"] = ["dev"]
        doc["cluster"]["ingressClassName"] = "internal"

    as_project(tmp_path)  # a repository whose store has dev's credentials
    seal_dev_credentials(tmp_path, tmp_path / "sealed")
    tree = homelab_tree(edited_data(tmp_path, to_dev))
    backend = tree.pod("family-assistant-backend")
    assert backend.namespace == "family-assistant-dev"
    assert backend.containers[0]["image"].endswith(":v2.1.0-a3f5c2b-dev")
    assert backend.workload["spec"]["replicas"] == 1
    assert "deployment.environment=dev" in backend.env()["OTEL_RESOURCE_ATTRIBUTES"]
    hosts = {i["spec"]["rules"][0]["host"] for i in tree.of_kind("Ingress")}
    data = config.load()
    # Grafana's host is the cluster's own (observability.grafana.host), not per environment.
    grafana = data.observability["grafana"]["host"]
    assert hosts == {s.env("dev").host for s in enabled_services(data).values()
                     if s.env("dev").host} | {grafana}
    assert all(".dev." in host for host in hosts - {grafana})
    assert {i["spec"]["ingressClassName"] for i in tree.of_kind("Ingress")} == {"internal"}


def test_otel_environment_of_each_app() -> None:
    tree = homelab_tree()
    data = config.load()
    pods = instrumented(tree)
    assert {"family-assistant-backend", "family-assistant-frontend"} <= {p.name for p in pods}
    for pod in pods:
        env = pod.env()
        name = env["OTEL_SERVICE_NAME"]
        tag = data.service(name).env("prod").tag
        assert env["OTEL_SDK_DISABLED"] == "false"
        assert env["OTEL_SERVICE_NAME"] == name
        attributes = dict(kv.split("=", 1) for kv in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
        assert attributes["service.version"] == tag
        assert attributes["deployment.environment"] == "prod"
        assert attributes["k8s.namespace.name"] == pod.namespace  # Loki's label
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith(
            "http://otel-collector.observability.svc.cluster.local:")
    backend = tree.pod("family-assistant-backend").env()
    assert backend["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4317")
    assert backend["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    frontend = tree.pod("family-assistant-frontend").env()
    assert frontend["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")
    assert not any(k.startswith("OTEL_") for k in tree.pod("n8n").env())


def test_the_otel_switch_disables_the_sdk_of_that_app_only(tmp_path: Path) -> None:
    def rollback(doc: dict[str, Any]) -> None:
        doc["services"]["homelab-dashboard"]["otel"] = False

    tree = homelab_tree(edited_data(tmp_path, rollback))
    assert tree.pod("homelab-dashboard").env()["OTEL_SDK_DISABLED"] == "true"
    assert tree.pod("family-assistant-backend").env()["OTEL_SDK_DISABLED"] == "false"
    depends = {d["name"] for d in
               tree.flux_kustomizations()["homelab-dashboard"]["spec"]["dependsOn"]}
    assert "networking" in depends and "observability" not in depends
    collector = tree.get("NetworkPolicy", "observability", "allow-otel-collector")
    sources = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for rule in collector["spec"]["ingress"] for peer in rule["from"]}
    assert "homelab-dashboard" not in sources
    assert "family-assistant" in sources


def test_backend_reaches_databases_through_services_with_secret_credentials() -> None:
    env = homelab_tree().pod("family-assistant-backend").env()
    assert env["DATABASE_HOST"] == "postgresql.databases.svc.cluster.local"
    assert env["DATABASE_NAME"] == env["DATABASE_USER"] == "family_assistant"
    assert env["REDIS_HOST"] == "redis.databases.svc.cluster.local"
    assert env["QDRANT_URL"] == "http://qdrant.databases.svc.cluster.local:6333"
    # Each is the namespace's copy of a credential shared with the database side.
    for var, name, key in (("DATABASE_PASSWORD", "postgresql-family-assistant", "password"),
                           ("REDIS_PASSWORD", "redis-credentials", "password"),
                           ("QDRANT_API_KEY", "qdrant-credentials", "api-key")):
        assert env[var] == {"secretKeyRef": {"name": name, "key": key}}
    frontend = homelab_tree().pod("family-assistant-frontend").env()
    assert frontend["BACKEND_URL"] == \
        "http://family-assistant-backend.family-assistant.svc.cluster.local:8000"


def test_n8n_uses_postgresql_a_persistent_folder_and_secret_files() -> None:
    tree = homelab_tree()
    pod = tree.pod("n8n")
    env = pod.env()
    assert env["DB_TYPE"] == "postgresdb"
    assert env["DB_POSTGRESDB_HOST"] == "postgresql.databases.svc.cluster.local"
    assert env["DB_POSTGRESDB_PORT"] == "5432"
    assert env["DB_POSTGRESDB_DATABASE"] == env["DB_POSTGRESDB_USER"] == "n8n"
    assert env["N8N_PORT"] == "5678"
    mounts = {m["mountPath"]: m["name"] for m in pod.containers[0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod.spec["volumes"]}
    # n8n's data folder is N8N_USER_FOLDER/.n8n: the claim's mount, whatever HOME is.
    assert f"{env['N8N_USER_FOLDER']}/.n8n" == "/home/node/.n8n"
    data = volumes[mounts["/home/node/.n8n"]]
    claim = tree.get("PersistentVolumeClaim", "n8n", data["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # The password is a file (@n8n/config reads DB_POSTGRESDB_PASSWORD_FILE); n8n 1.x
    # reads the encryption key from N8N_ENCRYPTION_KEY only, so it is a secretKeyRef.
    assert "N8N_ENCRYPTION_KEY_FILE" not in env
    assert env["N8N_ENCRYPTION_KEY"] == {"secretKeyRef": {"name": "n8n-credentials",
                                                          "key": "encryption-key"}}
    assert [k for k, v in env.items() if isinstance(v, dict)] == ["N8N_ENCRYPTION_KEY"]
    secret_dir = env["DB_POSTGRESDB_PASSWORD_FILE"].rsplit("/", 1)[0]
    sources = volumes[mounts[secret_dir]]["projected"]["sources"]
    files = {(s["secret"]["name"], i["key"], i["path"])
             for s in sources for i in s["secret"]["items"]}
    assert files == {("postgresql-n8n", "password", "db-password")}
    assert "CKV_K8S_35" in " ".join(pod.workload["metadata"]["annotations"].values())
    assert pod.spec["securityContext"]["runAsUser"] == 1000
    assert pod.workload["spec"]["strategy"] == {"type": "Recreate"}
    probe = pod.containers[0]["readinessProbe"]["httpGet"]
    assert probe == {"path": "/healthz/readiness", "port": "http"}


def test_n8n_writable_folders_and_internal_task_runner() -> None:
    """Read-only root: n8n writes the editor's static files to ~/.cache/n8n/public and
    npm (community nodes) its cache to ~/.npm; the task runner is a child process talking
    to the broker on loopback, so the container declares no port for it."""
    pod = homelab_tree().pod("n8n")
    container = pod.containers[0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod.spec["volumes"]}
    empty = {m["mountPath"] for m in container["volumeMounts"]
             if "emptyDir" in volumes[m["name"]]}
    assert empty == {"/tmp", "/home/node/.cache", "/home/node/.npm"}
    env = pod.env()
    assert env["N8N_RUNNERS_ENABLED"] == "true"
    assert env["N8N_RUNNERS_MODE"] == "internal"
    assert "N8N_RUNNERS_AUTH_TOKEN" not in env, "only external mode needs a token"
    assert "N8N_RUNNERS_BROKER_LISTEN_ADDRESS" not in env, "default 127.0.0.1"
    assert [p["containerPort"] for p in container["ports"]] == [5678]


def test_n8n_refuses_more_than_one_replica(tmp_path: Path) -> None:
    def scale(doc: dict[str, Any]) -> None:
        doc["services"]["n8n"]["environments"]["prod"]["replicas"] = 2

    with pytest.raises(ConfigError, match=r"services\.n8n\.environments\.prod\.replicas.*"
                                          r"exactly 1 replica"):
        render(config.load(edited_data(tmp_path, scale)))


def test_an_exposed_app_without_a_host_is_a_clear_error(tmp_path: Path) -> None:
    def no_host(doc: dict[str, Any]) -> None:
        del doc["services"]["homelab-dashboard"]["environments"]["prod"]["host"]

    with pytest.raises(ConfigError, match=r"homelab-dashboard\.environments\.prod\.host"):
        render(config.load(edited_data(tmp_path, no_host)))


def test_a_malformed_tag_fails_synthesis_naming_file_and_field(tmp_path: Path,
                                                                 capsys) -> None:
    def bad_tag(doc: dict[str, Any]) -> None:
        doc["services"]["family-assistant-backend"]["environments"]["prod"]["tag"] = "v2.1-prod"

    data = edited_data(tmp_path, bad_tag)
    (tmp_path / "cdk8s.yaml").write_text("app: x\n")
    code = main(["synth", "--root", str(tmp_path), "--data", str(data)])
    err = capsys.readouterr().err
    assert code != 0
    assert str(data) in err
    assert "services.family-assistant-backend.environments.prod.tag" in err
    assert "Traceback" not in err
    assert not (tmp_path / "apps").exists()


def test_app_release_reads_one_service_for_the_cluster_environment() -> None:
    release = AppRelease.from_data(config.load(), "homelab-dashboard")
    assert release.version == release.image.tag
    assert release.environment == "prod"
    no_host = AppRelease("x", release.image, 1, None, True, "prod")
    with pytest.raises(ConfigError, match=r"services\.x\.environments\.prod\.host"):
        no_host.require_host("apps/x")


def test_checkov_skips_are_numbered_annotations_with_reasons() -> None:
    from homelab_charts.base import Manifest

    _, chart = new_component()
    obj = Manifest(chart, "cm", api_version="v1", kind="ConfigMap", name="x")
    skip_checkov(obj, {"CKV_K8S_43": "pinned tags", "CKV_K8S_15": "immutable tags"})
    skip_checkov(obj, {"CKV_K8S_43": "again", "CKV_K8S_40": "image user"})
    assert obj.meta["annotations"] == {
        "checkov.io/skip1": "CKV_K8S_43=pinned tags",
        "checkov.io/skip2": "CKV_K8S_15=immutable tags",
        "checkov.io/skip3": "CKV_K8S_40=image user",
    }
    with pytest.raises(ConfigError, match="reason"):
        skip_checkov(obj, {"CKV_K8S_8": "a=b"})


def test_every_failing_checkov_check_is_skipped_with_a_reason_in_the_tree() -> None:
    tree = homelab_tree()
    for pod in tree.pods():
        annotations = pod.workload["metadata"].get("annotations", {})
        skips = {v.split("=", 1)[0]: v.split("=", 1)[1] for k, v in annotations.items()
                 if k.startswith("checkov.io/skip")}
        assert {"CKV_K8S_43", "CKV_K8S_15"} <= set(skips), pod.ident
        assert all(len(reason) > 20 for reason in skips.values())
