"""Telemetry of the whole homelab: log paths, scrape jobs, cardinality, alerts, promtool."""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_charts.base import Folder, TreeApp
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability import (
    ALERTS,
    Alert,
    ObservabilitySettings,
    RuleGroup,
    pipeline_errors,
    rules_file,
)
from homelab_charts.infrastructure.observability.cardinality import (
    METRIC_LABEL_ATTRIBUTES,
    PROCESSOR,
    cardinality_errors,
    label_attributes,
)
from homelab_charts.infrastructure.observability.prometheus import (
    KUBELET_JOBS,
    RULES_PATH,
    SERVICE_ACCOUNT_DIR,
    Prometheus,
)
from tests.apps.tree import Tree, edited_data, homelab_tree

IMG = Image("docker.io/example/image", "1.0.0")
PROMTOOL = shutil.which("promtool")
NO_PROMTOOL = ("promtool is not installed (Debian/Ubuntu: apt-get install prometheus; "
               ".ci/run installs it in CI)")
#: Pods the tree does not create but whose logs the agents read all the same.
OUTSIDE_PODS = [("kube-system", "coredns-6799fbcd5-abcde", "coredns"),
                ("networking", "traefik-5c9d8f7b6-xyz12", "traefik"),
                ("flux-system", "kustomize-controller-7b9c-abcde", "manager")]


def config_of(tree: Tree, namespace: str, name: str, key: str) -> dict[str, Any]:
    return yaml.safe_load(tree.get("ConfigMap", namespace, name)["data"][key])


def otel_configs(tree: Tree) -> dict[str, dict[str, Any]]:
    return {name: config_of(tree, ns, f"{name}-config", "config.yaml")
            for ns, name in (("observability", "otel-collector"), ("telemetry", "otel-agent"),
                             ("observability", "jaeger"))
            if any(cm["metadata"]["name"] == f"{name}-config"
                   for cm in tree.of_kind("ConfigMap", ns))}


def jaeger_off_tree(tmp_path: Path) -> Tree:
    def edit(doc: dict[str, Any]) -> None:
        doc["infrastructure"]["jaeger"]["enabled"] = False

    return homelab_tree(edited_data(tmp_path, edit))


# --- logs --------------------------------------------------------------------------

def test_every_namespaces_pods_have_a_log_path_to_loki() -> None:
    tree = homelab_tree()
    agent_pod = tree.pod("otel-agent")
    agent = config_of(tree, "telemetry", "otel-agent-config", "config.yaml")
    receiver = agent["receivers"]["filelog"]
    assert receiver["operators"][0]["type"] == "container"
    mounts = {m["mountPath"]: m for m in agent_pod.containers[0]["volumeMounts"]}
    assert mounts["/var/log/pods"]["readOnly"] is True
    # The agent runs on every node, tainted ones included.
    assert agent_pod.kind == "DaemonSet"
    assert agent_pod.spec["tolerations"] == [{"operator": "Exists"}]

    def collected(path: str) -> bool:
        return (any(fnmatch.fnmatch(path, g) for g in receiver["include"])
                and not any(fnmatch.fnmatch(path, g) for g in receiver.get("exclude", [])))

    pods = [(p.namespace, f"{p.name}-0", p.containers[0]["name"]) for p in tree.pods()]
    skipped = []
    for namespace, pod, container in pods + OUTSIDE_PODS:
        path = f"/var/log/pods/{namespace}_{pod}_0b1c2d3e-aaaa-bbbb-cccc-000000000000/" \
               f"{container}/0.log"
        if not collected(path):
            skipped.append((namespace, pod))
    # Only the agent's own logs are left out (exporting its own export errors would loop).
    assert skipped == [("telemetry", "otel-agent-0")]
    assert {ns for ns, _, _ in pods} >= {"databases", "observability", "telemetry",
                                         "family-assistant", "homelab-dashboard", "n8n"}
    # The agent's only pipeline ends at the gateway, whose logs pipeline ends at Loki.
    assert agent["service"]["pipelines"]["logs"]["exporters"] == ["otlp/gateway"]
    gateway_host = agent["exporters"]["otlp/gateway"]["endpoint"]
    assert gateway_host == "otel-collector.observability.svc.cluster.local:4317"
    gateway = config_of(tree, "observability", "otel-collector-config", "config.yaml")
    assert "otlp" in gateway["service"]["pipelines"]["logs"]["receivers"]
    assert gateway["service"]["pipelines"]["logs"]["exporters"] == ["otlphttp/loki"]
    assert gateway["exporters"]["otlphttp/loki"]["endpoint"] == \
        "http://loki.observability.svc.cluster.local:3100/otlp"


def test_agent_reads_kubernetes_metadata_with_a_minimal_role() -> None:
    tree = homelab_tree()
    agent = config_of(tree, "telemetry", "otel-agent-config", "config.yaml")
    pipeline = agent["service"]["pipelines"]["logs"]["processors"]
    assert pipeline == ["memory_limiter", "k8sattributes", "resourcedetection", "batch"]
    assert agent["processors"]["k8sattributes"]["filter"] == {
        "node_from_env_var": "K8S_NODE_NAME"}
    assert "k8snode" in agent["processors"]["resourcedetection"]["detectors"]
    role = tree.get("ClusterRole", None, "telemetry-otel-agent")
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
               for r in rule["resources"] for v in rule["verbs"]}
    assert granted == {(g, r, v) for g, r in (("", "pods"), ("", "namespaces"), ("", "nodes"),
                                              ("apps", "replicasets"))
                       for v in ("get", "list", "watch")}
    pod = tree.pod("otel-agent")
    assert pod.env()["K8S_NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    sc = pod.containers[0]["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True


def test_both_collector_tiers_have_health_probes_and_self_metrics() -> None:
    tree = homelab_tree()
    for name, ns in (("otel-collector", "observability"), ("otel-agent", "telemetry")):
        config = config_of(tree, ns, f"{name}-config", "config.yaml")
        assert "health_check" in config["service"]["extensions"]
        health_port = int(config["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1])
        reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
        container = tree.pod(name).containers[0]
        for probe in ("livenessProbe", "readinessProbe"):
            port = container[probe]["httpGet"]["port"]
            assert tree.pod(name).ports()[port][0] == health_port
        assert tree.pod(name).ports()["metrics"][0] == reader["prometheus"]["port"]
        # Collector 0.135: an explicit reader exposes counters with _total and units as
        # suffixes (its internal/e2e metric stability test); the default reader would not,
        # and the alerts and dashboards query the suffixed names.
        assert not {"without_units", "without_type_suffix"} & set(reader["prometheus"])


# --- pipelines and cardinality ------------------------------------------------------

def test_otel_pipelines_have_no_dangling_components(tmp_path: Path) -> None:
    for tree in (homelab_tree(), jaeger_off_tree(tmp_path)):
        configs = otel_configs(tree)
        assert {"otel-collector", "otel-agent"} <= set(configs)
        for name, config in configs.items():
            assert pipeline_errors(config) == [], name
    broken = copy.deepcopy(otel_configs(homelab_tree())["otel-agent"])
    broken["exporters"]["debug"] = {}
    assert pipeline_errors(broken) == ["exporter 'debug' is defined but no pipeline uses it"]
    broken["receivers"]["otlp"] = {"protocols": {"grpc": {}}}
    assert "receiver 'otlp' is defined but no pipeline uses it" in pipeline_errors(broken)


def test_only_the_listed_resource_attributes_become_metric_labels() -> None:
    gateway = otel_configs(homelab_tree())["otel-collector"]
    metrics = gateway["service"]["pipelines"]["metrics"]
    assert PROCESSOR in metrics["processors"]
    assert label_attributes(gateway, "metrics") == METRIC_LABEL_ATTRIBUTES
    assert cardinality_errors(gateway) == []
    # Without the processor the conversion would copy every attribute: the check fails.
    unlimited = copy.deepcopy(gateway)
    unlimited["service"]["pipelines"]["metrics"]["processors"].remove(PROCESSOR)
    assert label_attributes(unlimited, "metrics") is None
    assert "every resource attribute" in cardinality_errors(unlimited)[0]
    # A processor keeping a per-instance attribute fails as well.
    widened = copy.deepcopy(gateway)
    statements = widened["processors"][PROCESSOR]["metric_statements"][0]["statements"]
    statements[0] = statements[0].replace('"k8s.pod.name"', '"k8s.pod.name", "process.pid"')
    assert cardinality_errors(widened) == [
        "pipeline metrics: resource attributes process.pid would become metric labels"]
    # Turning the conversion off needs no processor.
    off = copy.deepcopy(unlimited)
    off["exporters"]["prometheusremotewrite"]["resource_to_telemetry_conversion"] = {
        "enabled": False}
    assert cardinality_errors(off) == []


def test_jaeger_switch_off_removes_jaeger_and_the_traces_pipeline(tmp_path: Path) -> None:
    on, off = homelab_tree(), jaeger_off_tree(tmp_path)
    assert on.pod("jaeger").workload["kind"] == "Deployment"
    jaeger = config_of(on, "observability", "jaeger-config", "config.yaml")
    backend = jaeger["extensions"]["jaeger_storage"]["backends"]["badger_main"]["badger"]
    assert backend["ttl"] == {"spans": "168h"} and backend["ephemeral"] is False
    claim = on.get("PersistentVolumeClaim", "observability", "jaeger-data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert on.pod("jaeger").workload["spec"]["strategy"] == {"type": "Recreate"}
    gateway_on = otel_configs(on)["otel-collector"]
    # the apps' SDKs sample at their environment's ratio; the collector keeps what it gets
    assert gateway_on["processors"]["probabilistic_sampler"] == {"sampling_percentage": 100.0}
    gateway = otel_configs(off)["otel-collector"]
    assert "traces" not in gateway["service"]["pipelines"]
    assert "probabilistic_sampler" not in gateway["processors"]
    assert not any("jaeger" in name for name in gateway["exporters"])
    assert not [p for p in off.pods() if p.name == "jaeger"]
    assert not any("jaeger" in path for path in off.files)
    text = "".join(off.files.values())
    assert "jaeger.observability.svc" not in text
    # The apps' SDKs stop exporting spans instead of sending them to no pipeline.
    for tree, expected in ((on, None), (off, "none")):
        env = tree.pod("family-assistant-backend").env()
        assert env.get("OTEL_TRACES_EXPORTER") == expected


def test_observability_settings_come_from_the_data_file(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["observability"] = {"prometheus": {"retention": "30d", "storageSize": "20Gi"},
                                "loki": {"retention": "336h"},
                                "alerting": {"alertmanagerUrl": "http://am.homelab.lan:9093"}}

    tree = homelab_tree(edited_data(tmp_path, edit))
    prometheus = tree.pod("prometheus")
    assert "--storage.tsdb.retention.time=30d" in prometheus.containers[0]["args"]
    claim = prometheus.workload["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    loki = config_of(tree, "observability", "loki-config", "config.yaml")
    assert loki["limits_config"]["retention_period"] == "336h"
    config = config_of(tree, "observability", "prometheus-config", "prometheus.yml")
    assert config["alerting"] == {"alertmanagers": [{
        "scheme": "http", "static_configs": [{"targets": ["am.homelab.lan:9093"]}]}]}
    policy = tree.get("NetworkPolicy", "observability", "allow-prometheus")
    anywhere = [rule for rule in policy["spec"]["egress"]
                if rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]]
    assert [p["port"] for p in anywhere[0]["ports"]] == [9093]
    # The API server and the kubelets run on the nodes: their range only.
    nodes = [rule for rule in policy["spec"]["egress"]
             if rule["to"] == [{"ipBlock": {"cidr": "192.168.1.0/24"}}]]
    assert [p["port"] for p in nodes[0]["ports"]] == [443, 6443, 10250]
    # Defaults apply to what the section leaves out; Jaeger is on by default.
    assert ObservabilitySettings.from_data({}) == ObservabilitySettings()
    assert ObservabilitySettings().prometheus_retention == "15d"
    with pytest.raises(ConfigError, match="alertmanager_url"):
        Prometheus(Folder(TreeApp(), "f", path="x/y", namespace="o"), "p", image=IMG,
                   alertmanager_url="am:9093")


def test_a_bad_observability_value_names_the_field(tmp_path: Path) -> None:
    from homelab_charts import config

    def edit(doc: dict[str, Any]) -> None:
        doc["observability"]["prometheus"]["retention"] = "two weeks"

    with pytest.raises(ConfigError) as raised:
        config.load(edited_data(tmp_path, edit))
    assert "observability.prometheus.retention" in str(raised.value)


# --- metrics: every source has a scrape job -----------------------------------------

def test_every_metric_source_has_a_scrape_job() -> None:
    tree = homelab_tree()
    config = config_of(tree, "observability", "prometheus-config", "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    dedicated: dict[tuple[str, str], str] = {}
    for job in jobs.values():
        for sd in job.get("kubernetes_sd_configs", []):
            if sd["role"] == "pod" and "selectors" in sd:
                port = job["relabel_configs"][0]["regex"]
                for ns in sd["namespaces"]["names"]:
                    dedicated[(ns, sd["selectors"][0]["label"])] = port
    for pod in tree.pods():
        metric_ports = [n for n in pod.ports() if n == "metrics"]
        annotated = pod.annotations.get("prometheus.io/scrape") == "true"
        if not metric_ports and not annotated:
            continue
        selector = ",".join(f"{k}={v}" for k, v in sorted(
            (k, v) for k, v in pod.labels.items()
            if k in ("app.kubernetes.io/instance", "app.kubernetes.io/name")))
        assert annotated or dedicated.get((pod.namespace, selector)) == "metrics", pod.ident
    # Node and container figures, the Flux controllers and the object states.
    for job, path in KUBELET_JOBS.items():
        assert jobs[job]["metrics_path"] == path
        assert jobs[job]["kubernetes_sd_configs"] == [{"role": "node"}]
        assert jobs[job]["scheme"] == "https"
        assert jobs[job]["authorization"]["credentials_file"].startswith(SERVICE_ACCOUNT_DIR)
    flux = jobs["flux"]["kubernetes_sd_configs"][0]
    assert flux["namespaces"] == {"names": ["flux-system"]}
    assert jobs["flux"]["relabel_configs"][0]["regex"] == "http-prom"
    assert jobs["kube-state-metrics"]["honor_labels"] is True
    assert {"node-exporter", "otel-agent", "otel-collector", "jaeger"} <= set(jobs)
    role = tree.get("ClusterRole", None, "observability-kube-state-metrics")
    flux_groups = {g for rule in role["rules"] for g in rule["apiGroups"] if "fluxcd" in g}
    assert flux_groups == {"kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
                           "source.toolkit.fluxcd.io"}
    assert all(rule["verbs"] == ["list", "watch"] for rule in role["rules"])


def test_node_exporter_mounts_the_host_read_only_without_host_namespaces() -> None:
    pod = homelab_tree().pod("node-exporter")
    assert pod.namespace == "telemetry" and pod.kind == "DaemonSet"
    volumes = {v["name"]: v["hostPath"]["path"] for v in pod.spec["volumes"] if "hostPath" in v}
    assert volumes == {"proc": "/proc", "sys": "/sys", "root": "/"}
    for mount in pod.containers[0]["volumeMounts"]:
        if mount["name"] in volumes:
            assert mount["readOnly"] is True
    assert pod.spec["securityContext"]["runAsUser"] == 65534
    args = pod.containers[0]["args"]
    assert {"--path.procfs=/host/proc", "--path.sysfs=/host/sys",
            "--path.rootfs=/host/root"} <= set(args)


# --- Prometheus config and rules: promtool and structure ----------------------------

def _prometheus_files(tree: Tree) -> tuple[dict[str, Any], str]:
    config = config_of(tree, "observability", "prometheus-config", "prometheus.yml")
    rules = tree.get("ConfigMap", "observability", "prometheus-rules")["data"]["alerts.yml"]
    return config, rules


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False,
                          timeout=120)


def _service_account_dir(tmp_path: Path) -> Path:
    """A token and a real CA certificate where promtool looks for the pod's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text("token\n")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder


@pytest.mark.skipif(PROMTOOL is None, reason=NO_PROMTOOL)
def test_promtool_accepts_the_rules_file(tmp_path: Path) -> None:
    _, rules = _prometheus_files(homelab_tree())
    path = tmp_path / "alerts.yml"
    path.write_text(rules)
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    groups = yaml.safe_load(rules)["groups"]
    count = sum(len(g["rules"]) for g in groups)
    assert count > len(ALERTS)  # the backups' alerts come on top of the telemetry ones
    assert f"SUCCESS: {count} rules found" in result.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(rules.replace("== 0", "== == 0", 1))
    assert _promtool("check", "rules", str(broken)).returncode != 0


@pytest.mark.skipif(PROMTOOL is None, reason=NO_PROMTOOL)
def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    """The config as written; where promtool lacks Kubernetes discovery (Debian's 2.42
    build), the same config with each ``kubernetes_sd_configs`` swapped for a static
    target, so everything else (relabelling, TLS, authorization, rule files, alerting)
    is still promtool's to judge; the discovery blocks are the structural test's."""
    config, rules = _prometheus_files(homelab_tree())
    accounts = _service_account_dir(tmp_path)
    (tmp_path / "alerts.yml").write_text(rules)
    config["alerting"] = {"alertmanagers": [{"scheme": "http", "static_configs": [
        {"targets": ["alertmanager.example:9093"]}]}]}

    def write(document: dict[str, Any]) -> Path:
        text = yaml.safe_dump(document, sort_keys=False)
        text = text.replace(SERVICE_ACCOUNT_DIR, str(accounts))
        text = text.replace(RULES_PATH, str(tmp_path / "alerts.yml"))
        path = tmp_path / "prometheus.yml"
        path.write_text(text)
        return path

    result = _promtool("check", "config", str(write(config)))
    if result.returncode != 0 and "kubernetes_sd_configs not found" in result.stdout + \
            result.stderr:
        static = copy.deepcopy(config)
        for job in static["scrape_configs"]:
            if job.pop("kubernetes_sd_configs", None) is not None:
                job["static_configs"] = [{"targets": ["127.0.0.1:9"]}]
        result = _promtool("check", "config", str(write(static)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout + result.stderr


KUBERNETES_SD_ROLES = {"node", "pod", "service", "endpoints", "endpointslice", "ingress"}
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def test_prometheus_config_structure() -> None:
    """What promtool cannot check without Kubernetes discovery, checked here."""
    config, _ = _prometheus_files(homelab_tree())
    names = [job["job_name"] for job in config["scrape_configs"]]
    assert len(names) == len(set(names))
    assert config["rule_files"] == [RULES_PATH]
    for job in config["scrape_configs"]:
        for sd in job.get("kubernetes_sd_configs", []):
            assert set(sd) <= {"role", "namespaces", "selectors"}, job["job_name"]
            assert sd["role"] in KUBERNETES_SD_ROLES
            for selector in sd.get("selectors", []):
                assert selector["role"] == sd["role"]
                for term in selector["label"].split(","):
                    key, _, value = term.partition("=")
                    assert key and value, (job["job_name"], term)
        for relabel in job.get("relabel_configs", []):
            re.compile(relabel.get("regex", "(.*)"))
            for source in relabel.get("source_labels", []):
                assert LABEL_NAME.match(source), source
            if "target_label" in relabel:
                assert LABEL_NAME.match(relabel["target_label"].replace("$", "_"))
    # The mounted rules file is the one the config names.
    pod = homelab_tree().pod("prometheus")
    assert RULES_PATH in {m["mountPath"] for m in pod.containers[0]["volumeMounts"]}


# --- alerts ---------------------------------------------------------------------------

def test_every_alert_has_a_summary_a_runbook_and_a_severity() -> None:
    _, text = _prometheus_files(homelab_tree())
    groups = yaml.safe_load(text)["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {r["alert"] for r in rules
            if not r["alert"].startswith(("BackupTooOld_", "BackupJobFailed_"))} == {
        "OtelCollectorDown", "OtelCollectorRefusingData", "OtelExporterFailing",
        "LokiIngestionFailing", "LokiDown", "FluxReconciliationNotReady", "PodCrashLooping",
        "PersistentVolumeFillingUp", "NodeLowMemory", "NodeLowDisk"}
    for rule in rules:
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["runbook"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning")
    flux = next(r for r in rules if r["alert"] == "FluxReconciliationNotReady")
    assert flux["for"] == "15m" and "Kustomization|HelmRelease" in flux["expr"]
    pvc = next(r for r in rules if r["alert"] == "PersistentVolumeFillingUp")
    assert "> 0.85" in pvc["expr"]
    with pytest.raises(ConfigError, match="summary"):
        Alert("X", "up == 0", "5m", "warning", " ", "do something")
    with pytest.raises(ConfigError, match=f"alert '{ALERTS[0].name}' is defined twice"):
        rules_file([RuleGroup("a", (ALERTS[0],)), RuleGroup("b", (ALERTS[0],))])
    # Each group comes from the component whose metrics it reads.
    # (the backups add theirs through the same hook: tests/backup/)
    assert [g["name"] for g in groups
            if not g["name"].startswith(("backup-", "restic-"))] == [
        "kubelet", "otel-collector", "cluster-state", "node"]


def test_a_component_adds_its_alerts_through_the_rule_group_hook() -> None:
    """``Prometheus.add_rule_group`` is how any component adds alerts (the backups will)."""
    prometheus = Prometheus(Folder(TreeApp(), "f", path="x/y", namespace="o"), "p", image=IMG)
    assert "rule_files" not in prometheus.config
    before = prometheus.server.workload.body["spec"]["template"]["metadata"]["annotations"]
    rules_checksum = before["checksum/rules"]
    group = RuleGroup("backups", (Alert("BackupMissing", "absent(up)", "1h", "warning",
                                        "No backup ran", "Check the CronJob"),))
    prometheus.add_rule_group(group)
    assert prometheus.config["rule_files"] == [RULES_PATH]
    after = prometheus.server.workload.body["spec"]["template"]["metadata"]["annotations"]
    assert after["checksum/rules"] != rules_checksum
    assert [g.name for g in prometheus.rule_groups] == ["backups"]
    with pytest.raises(ConfigError, match="rule group 'backups' is added twice"):
        prometheus.add_rule_group(group)


def test_disabled_exporters_take_their_alerts_and_scrape_jobs_along(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        for name in ("node-exporter", "kube-state-metrics", "otel-agent"):
            doc["infrastructure"][name]["enabled"] = False

    tree = homelab_tree(edited_data(tmp_path, edit))
    config, rules = _prometheus_files(tree)
    assert {g["name"] for g in yaml.safe_load(rules)["groups"]} == {"kubelet", "otel-collector"}
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert not jobs & {"node-exporter", "kube-state-metrics", "otel-agent"}
    # Nothing is left in telemetry: no namespace, no exception, no Flux Kustomization.
    assert "telemetry" not in {ns["metadata"]["name"] for ns in tree.of_kind("Namespace")}
    assert "telemetry" not in tree.flux_kustomizations()


def test_ci_installs_promtool() -> None:
    """The promtool checks run in CI: .ci/run installs Debian's prometheus package."""
    script = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    packages = script.split("system_packages=(", 1)[1].split(")", 1)[0]
    assert re.search(r"^\s*prometheus\b", packages, re.MULTILINE), packages
