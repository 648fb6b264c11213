"""Grafana: hardened, provisioned, and every query names what the tree's exporters produce.

:data:`CATALOG` is what each metric source of the tree publishes (from the upstream
exporters' documentation at the pinned versions: OpenTelemetry Collector 0.135 internal
telemetry, node-exporter 1.9, kube-state-metrics 2.16 plus the Flux custom resource
state configuration, kubelet and cAdvisor, the Flux controllers, and the apps' OTLP
HTTP server metrics through remote write). Every dashboard and alert query may name only
those metrics, with their labels or the labels the scrape job adds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_charts.infrastructure.observability import ALERTS
from homelab_charts.infrastructure.observability.dashboards import Dashboard, dashboards
from tests.apps.tree import Tree, edited_data, homelab_tree

# --- what the exporters publish -------------------------------------------------------

_OTEL_ITEMS = ("spans", "metric_points", "log_records")
_COLLECTOR = {
    **{f"otelcol_receiver_{kind}_{item}_total": {"receiver", "transport"}
       for kind in ("accepted", "refused") for item in _OTEL_ITEMS},
    **{f"otelcol_exporter_{kind}_{item}_total": {"exporter"}
       for kind in ("sent", "send_failed", "enqueue_failed") for item in _OTEL_ITEMS},
    "otelcol_exporter_queue_size": {"exporter", "data_type"},
    "otelcol_exporter_queue_capacity": {"exporter", "data_type"},
    "otelcol_process_memory_rss_bytes": set(),
}
_HTTP = {"http_request_method", "http_response_status_code", "http_route",
         "service_name", "service_namespace", "deployment_environment",
         "k8s_namespace_name", "k8s_pod_name"}
#: source (a scrape job, or "otlp" for remote write) -> metric -> labels.
CATALOG: dict[str, dict[str, set[str]]] = {
    "otel-collector": _COLLECTOR,
    "otel-agent": _COLLECTOR,
    "node-exporter": {
        "node_cpu_seconds_total": {"cpu", "mode"},
        "node_memory_MemAvailable_bytes": set(),
        "node_memory_MemTotal_bytes": set(),
        **{f"node_filesystem_{m}": {"device", "fstype", "mountpoint"}
           for m in ("avail_bytes", "size_bytes", "readonly")},
    },
    "kube-state-metrics": {
        "kube_pod_container_status_restarts_total": {"namespace", "pod", "container", "uid"},
        "kube_pod_container_status_waiting_reason": {"namespace", "pod", "container", "uid",
                                                     "reason"},
        # the backup CronJobs' alerts (kube-state-metrics' cronjob and job metrics)
        "kube_cronjob_status_last_successful_time": {"namespace", "cronjob"},
        "kube_cronjob_created": {"namespace", "cronjob"},
        "kube_job_status_failed": {"namespace", "job_name", "reason"},
        "kube_job_owner": {"namespace", "job_name", "owner_kind", "owner_name",
                           "owner_is_controller"},
        "gotk_resource_info": {"customresource_group", "customresource_kind",
                               "customresource_version", "name", "exported_namespace",
                               "ready", "suspended"},
    },
    "kubelet": {"kubelet_volume_stats_used_bytes": {"namespace", "persistentvolumeclaim"},
                "kubelet_volume_stats_capacity_bytes": {"namespace", "persistentvolumeclaim"}},
    "cadvisor": {m: {"container", "id", "image", "name", "namespace", "pod"}
                 for m in ("container_cpu_usage_seconds_total",
                           "container_memory_working_set_bytes")},
    "flux": {"gotk_reconcile_duration_seconds_bucket": {"kind", "name", "exported_namespace",
                                                        "le"},
             "controller_runtime_reconcile_errors_total": {"controller"}},
    "otlp": {"http_server_request_duration_seconds_count": _HTTP,
             "http_server_request_duration_seconds_bucket": _HTTP | {"le"}},
    "*": {"up": set()},
}
#: Labels a scrape job adds: pod discovery (namespace, pod, app, node), node discovery.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "app", "node"}
#: Loki's index labels for OTLP logs: the resource attributes Loki 3.5 indexes by default
#: (distributor.otlp.default_resource_attributes_as_index_labels), dots as "_".
LOKI_LABELS = {"service_name", "service_namespace", "deployment_environment",
               "k8s_namespace_name", "k8s_pod_name", "k8s_container_name",
               "k8s_deployment_name", "k8s_statefulset_name", "k8s_daemonset_name",
               "k8s_replicaset_name", "k8s_job_name", "k8s_cronjob_name",
               "k8s_cluster_name", "service_instance_id"}

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENT = re.compile(r"(?<![\w.\"])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w\"])")


def promql_references(expr: str) -> tuple[list[tuple[str | None, dict[str, str]]], set[str]]:
    """(metric or None, {label: matcher op+value}) per selector, and the grouping labels."""
    selectors: list[tuple[str | None, dict[str, str]]] = []
    grouping = {label.strip() for _, labels in _GROUPING.findall(expr)
                for label in labels.split(",") if label.strip()}
    rest = _GROUPING.sub(" ", expr)

    def take(match: re.Match[str]) -> str:
        matchers = {name: op + value for name, op, value in _MATCHER.findall(match[2])}
        selectors.append((match[1], matchers))
        return " "
    rest = _SELECTOR.sub(take, rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', " ", rest)
    for match in _IDENT.finditer(rest):
        name = match[1]
        after = rest[match.end():].lstrip()
        if name.lower() in _KEYWORDS or after.startswith("("):
            continue
        selectors.append((name, {}))
    return selectors, grouping


def metric_sources(tree: Tree) -> dict[str, dict[str, set[str]]]:
    """The catalog entries whose source exists in ``tree``."""
    config = yaml.safe_load(tree.get("ConfigMap", "observability", "prometheus-config")
                            ["data"]["prometheus.yml"])
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    gateway = yaml.safe_load(tree.get("ConfigMap", "observability", "otel-collector-config")
                             ["data"]["config.yaml"])
    if "prometheusremotewrite" in gateway["exporters"]:
        jobs.add("otlp")
    return {source: metrics for source, metrics in CATALOG.items()
            if source in jobs or source == "*"}


def promql_problems(expr: str, sources: dict[str, dict[str, set[str]]]) -> list[str]:
    known: dict[str, set[str]] = {}
    for metrics in sources.values():
        for name, labels in metrics.items():
            known.setdefault(name, set()).update(labels)
    selectors, grouping = promql_references(expr)
    problems = []
    used: set[str] = set()
    for metric, matchers in selectors:
        names = [metric] if metric else []
        if "__name__" in matchers:
            pattern = matchers.pop("__name__")[2:]
            names = [n for n in known if re.fullmatch(pattern, n)]
            if not names:
                problems.append(f"no exported metric matches __name__=~{pattern!r}")
        for name in names:
            if name not in known:
                problems.append(f"metric {name} is not exported by the tree")
                continue
            used |= known[name]
            for label in matchers:
                if label not in known[name] | TARGET_LABELS:
                    problems.append(f"{name} has no label {label}")
    for label in grouping - used - TARGET_LABELS:
        problems.append(f"grouping label {label} is on none of the metrics used")
    return problems


def logql_problems(expr: str) -> list[str]:
    selectors, grouping = promql_references(re.sub(r'\|~\s*"[^"]*"', " ", expr))
    problems = [f"{metric} is not a LogQL selector" for metric, _ in selectors if metric]
    for _, matchers in selectors:
        problems += [f"Loki has no label {label}" for label in matchers
                     if label not in LOKI_LABELS]
    problems += [f"Loki has no label {label}" for label in grouping - LOKI_LABELS]
    return problems


# --- tests ------------------------------------------------------------------------------

def provisioned_dashboards(tree: Tree) -> list[dict[str, Any]]:
    import json

    data = tree.get("ConfigMap", "observability", "grafana-dashboards")["data"]
    return [json.loads(text) for text in data.values()]


def query_problems(tree: Tree) -> tuple[int, list[tuple[str, str, list[str]]]]:
    """How many dashboard queries ``tree`` provisions, and those naming what it lacks."""
    sources = metric_sources(tree)
    found = []
    checked = 0
    for board in provisioned_dashboards(tree):
        for panel in board["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == "prometheus":
                    problems = promql_problems(target["expr"], sources)
                else:
                    problems = logql_problems(target["expr"])
                if problems:
                    found.append((board["uid"], panel["title"], problems))
                checked += 1
    return checked, found


def test_disabled_exporters_take_their_dashboard_panels_along(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        for name in ("node-exporter", "kube-state-metrics"):
            doc["infrastructure"][name]["enabled"] = False

    tree = homelab_tree(edited_data(tmp_path, edit))
    checked, problems = query_problems(tree)
    assert checked >= 20 and problems == []
    titles = {p["title"] for b in provisioned_dashboards(tree) for p in b["panels"]}
    assert "Node memory used" not in titles and "Container restarts (1h)" not in titles
    assert "Container memory (working set)" in titles  # the kubelets' cAdvisor remains
    # The same panels would name metrics nobody produces in that tree.
    all_exprs = [e for d in dashboards() for s, e in d.queries() if s == "prometheus"]
    assert any(promql_problems(e, metric_sources(tree)) for e in all_exprs)


def test_every_dashboard_query_names_only_exported_metrics_and_labels() -> None:
    tree = homelab_tree()
    sources = metric_sources(tree)
    assert set(sources) == set(CATALOG), "every catalogued source is in the tree"
    boards = provisioned_dashboards(tree)
    assert {b["uid"] for b in boards} == {d.uid for d in dashboards()}
    checked, problems = query_problems(tree)
    assert problems == []
    assert checked >= 30


def _backup_groups() -> list:
    """The rule groups the backups add to Prometheus (one per component, per namespace's
    repository maintenance)."""
    from homelab_charts import Backups, load_data
    from homelab_charts.cluster import HomelabCluster
    from homelab_charts.infrastructure.observability.prometheus import Prometheus
    from homelab_charts.synth import build_app

    app = build_app(load_data())
    cluster = next(c for c in app.node.children if isinstance(c, HomelabCluster))
    prometheus = cluster.get(Prometheus)
    assert cluster.get(Backups) is not None and prometheus is not None
    return [g for g in prometheus.rule_groups if g.name.startswith(("backup-", "restic-"))]


def test_every_alert_names_only_exported_metrics_and_labels() -> None:
    tree = homelab_tree()
    sources = metric_sources(tree)
    text = tree.get("ConfigMap", "observability", "prometheus-rules")["data"]["alerts.yml"]
    rules = [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]
    backups = {a.name for g in _backup_groups() for a in g.alerts}
    assert backups  # the backups' own alerts (docs/BACKUPS.md) are checked here too
    assert {r["alert"] for r in rules} == {a.name for a in ALERTS} | backups
    for rule in rules:
        assert not promql_problems(rule["expr"], sources), (
            rule["alert"], promql_problems(rule["expr"], sources))


def test_the_query_check_catches_unknown_metrics_and_labels() -> None:
    sources = metric_sources(homelab_tree())
    assert promql_problems("sum by (mode) (rate(node_cpu_seconds_total[5m]))", sources) == []
    assert promql_problems("rate(node_cpu_seconds_total{core=\"0\"}[5m])", sources) == [
        "node_cpu_seconds_total has no label core"]
    assert promql_problems("sum by (service) (rate(http_requests_total[5m]))", sources) == [
        "metric http_requests_total is not exported by the tree",
        "grouping label service is on none of the metrics used"]
    assert promql_problems('rate({__name__=~"otelcol_nothing_.+"}[5m])', sources) == [
        "no exported metric matches __name__=~'otelcol_nothing_.+'"]
    assert logql_problems('sum by (app) (count_over_time({namespace="x"}[5m]))') == [
        "Loki has no label namespace", "Loki has no label app"]


def test_dashboards_cover_what_the_issue_asks_for() -> None:
    text = {d.uid: " ".join(e for _, e in d.queries()) for d in dashboards()}
    collector = text["homelab-collector"]
    for item in ("spans", "metric_points", "log_records"):
        for kind in ("receiver_accepted", "receiver_refused", "exporter_sent",
                     "exporter_send_failed"):
            assert f"otelcol_{kind}_{item}_total" in collector
    assert "otelcol_exporter_queue_size" in collector
    assert "http_server_request_duration_seconds_bucket" in text["homelab-services"]
    assert "k8s_namespace_name" in text["homelab-logs"] and "service_name" in \
        text["homelab-logs"]
    assert "container_memory_working_set_bytes" in text["homelab-resources"]
    assert "node_memory_MemAvailable_bytes" in text["homelab-resources"]
    assert "gotk_resource_info" in text["homelab-flux"]
    # The layout never overlaps and stays in Grafana's 24 columns.
    for dashboard in dashboards():
        cells = set()
        for panel in dashboard.render()["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24
            for col in range(pos["x"], pos["x"] + pos["w"]):
                for row in range(pos["y"], pos["y"] + pos["h"]):
                    assert (col, row) not in cells, (dashboard.uid, panel["title"])
                    cells.add((col, row))


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (Debian/Ubuntu: apt-get install "
                           "prometheus; .ci/run installs it in CI)")
def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    exprs = [e for d in dashboards() for s, e in d.queries() if s == "prometheus"]
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query{n}", "expr": e} for n, e in enumerate(exprs)]}]}
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_datasources_follow_the_jaeger_switch(tmp_path: Path) -> None:
    def datasources(tree: Tree) -> dict[str, str]:
        text = tree.get("ConfigMap", "observability", "grafana-datasources")["data"][
            "datasources.yaml"]
        return {d["uid"]: d["url"] for d in yaml.safe_load(text)["datasources"]}

    assert datasources(homelab_tree()) == {
        "prometheus": "http://prometheus.observability.svc.cluster.local:9090",
        "loki": "http://loki.observability.svc.cluster.local:3100",
        "jaeger": "http://jaeger.observability.svc.cluster.local:16686"}

    def off(doc: dict[str, Any]) -> None:
        doc["infrastructure"]["jaeger"]["enabled"] = False

    assert set(datasources(homelab_tree(edited_data(tmp_path, off)))) == {"prometheus", "loki"}


def test_grafana_is_hardened_and_reads_its_admin_credentials_from_files() -> None:
    tree = homelab_tree()
    pod = tree.pod("grafana")
    container = pod.containers[0]
    assert container["image"] == "docker.io/grafana/grafana:12.1.1"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod.spec["securityContext"]["runAsUser"] == 10472
    env = pod.env()
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/admin/admin-password"
    assert not any(isinstance(v, dict) and "secretKeyRef" in v for v in env.values())
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"
    writable = {v["name"] for v in pod.spec["volumes"] if "emptyDir" in v}
    assert writable == {"data", "logs", "tmp"}
    secret = next(v for v in pod.spec["volumes"] if "secret" in v)["secret"]
    sealed = tree.get("SealedSecret", "observability", secret["secretName"])
    assert set(sealed["spec"]["encryptedData"]) == {"admin-user", "admin-password"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/etc/grafana/provisioning/datasources/datasources.yaml" in mounts
    assert {f"/etc/grafana/dashboards/{d.uid}.json" for d in dashboards()} <= mounts
    ingress = tree.get("Ingress", "observability", "grafana")
    assert ingress["spec"]["rules"][0]["host"] == "grafana.homelab.lan"
    # Served over TLS only: Grafana's own links and redirects must use https.
    assert ingress["spec"]["tls"][0]["hosts"] == ["grafana.homelab.lan"]
    assert env["GF_SERVER_ROOT_URL"] == "https://grafana.homelab.lan/"


def test_a_dashboard_renders_deterministically() -> None:
    first = [d.render() for d in dashboards()]
    assert first == [d.render() for d in dashboards()]
    assert all(isinstance(d, Dashboard) for d in dashboards())
