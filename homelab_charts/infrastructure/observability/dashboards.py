"""Grafana dashboards as data: panels are Python values, rendered to Grafana's JSON model.

Each :class:`Dashboard` is a title, a uid and panels; a :class:`Panel` is a title, a
data source (``prometheus`` or ``loki``, the uids Grafana's provisioned data sources
get), its queries and the metric source they read (``source``: a Prometheus scrape job,
``otlp`` for what the collector writes, ``loki``). :func:`dashboards` lists the
homelab's, keeping only the panels whose source the tree has (node-exporter off: no node
panels): the collectors' health,
the services' request rate, errors and latency (from their OpenTelemetry metrics), logs
per namespace and app, node and container resources, and Flux's reconciliations. The
layout (``gridPos``) is computed: two panels a row, full width for tables and logs.
Queries use only metrics the tree's own exporters produce (tests/observability checks
each against what each exporter publishes).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from homelab_charts.errors import ConfigError

DATASOURCES = {"prometheus": "prometheus", "loki": "loki", "jaeger": "jaeger"}
PANEL_KINDS = ("timeseries", "table", "logs", "stat")
SIGNALS = {"spans": "traces", "metric_points": "metrics", "log_records": "logs"}
RATE = "5m"
_WIDTH = 24
_HEIGHT = 8


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    datasource: str = "prometheus"
    kind: str = "timeseries"
    unit: str = "short"
    description: str = ""
    #: Where the queried metrics come from (a scrape job, ``otlp`` or ``loki``).
    source: str = "otel-collector"

    def __post_init__(self) -> None:
        if self.datasource not in DATASOURCES:
            raise ConfigError(f"panel {self.title}", "datasource",
                              f"{self.datasource!r} is not one of {', '.join(DATASOURCES)}")
        if self.kind not in PANEL_KINDS:
            raise ConfigError(f"panel {self.title}", "kind",
                              f"{self.kind!r} is not one of {', '.join(PANEL_KINDS)}")
        if not self.queries:
            raise ConfigError(f"panel {self.title}", "queries", "a panel needs a query")

    @property
    def full_width(self) -> bool:
        return self.kind in ("table", "logs")


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = field(default=("homelab",))

    def render(self) -> dict[str, Any]:
        """Grafana's dashboard JSON model."""
        panels: list[dict[str, Any]] = []
        x = y = 0
        for number, panel in enumerate(self.panels, start=1):
            width = _WIDTH if panel.full_width else _WIDTH // 2
            if x + width > _WIDTH:
                x, y = 0, y + _HEIGHT
            source = {"type": panel.datasource, "uid": DATASOURCES[panel.datasource]}
            targets = []
            for index, query in enumerate(panel.queries):
                target: dict[str, Any] = {"refId": chr(ord("A") + index), "datasource": source,
                                          "expr": query.expr}
                if query.legend:
                    target["legendFormat"] = query.legend
                if panel.kind == "table":
                    target.update(instant=True, format="table")
                targets.append(target)
            rendered: dict[str, Any] = {
                "id": number, "type": panel.kind, "title": panel.title, "datasource": source,
                "gridPos": {"x": x, "y": y, "w": width, "h": _HEIGHT},
                "targets": targets,
            }
            if panel.description:
                rendered["description"] = panel.description
            if panel.kind in ("timeseries", "stat"):
                rendered["fieldConfig"] = {"defaults": {"unit": panel.unit}, "overrides": []}
            panels.append(rendered)
            x += width
            if x >= _WIDTH:
                x, y = 0, y + _HEIGHT
        return {
            "uid": self.uid, "title": self.title, "tags": list(self.tags),
            "editable": False, "schemaVersion": 39, "version": 1,
            "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
            "timezone": "browser", "panels": panels,
        }

    def queries(self) -> list[tuple[str, str]]:
        """(data source, expression) of every query."""
        return [(p.datasource, q.expr) for p in self.panels for q in p.queries]


def _per_signal(title: str, metric: str, by: str, unit: str = "short") -> list[Panel]:
    """One panel per signal of a collector counter (source: the gateway's job)."""
    return [Panel(f"{title}: {signal}",
                  (Query(f"sum by ({by}) (rate(otelcol_{metric}_{item}_total[{RATE}]))",
                         "{{" + by.replace(", ", "}} {{") + "}}"),), unit=unit)
            for item, signal in SIGNALS.items()]


def collector_health() -> Dashboard:
    panels = [
        *_per_signal("Accepted", "receiver_accepted", "job, receiver"),
        *_per_signal("Refused (memory_limiter)", "receiver_refused", "job, receiver"),
        *_per_signal("Exported", "exporter_sent", "job, exporter"),
        *_per_signal("Dropped: send failed", "exporter_send_failed", "job, exporter"),
        *_per_signal("Dropped: queue full", "exporter_enqueue_failed", "job, exporter"),
        Panel("Export queue fill", (
            Query("max by (job, exporter) (otelcol_exporter_queue_size) / "
                  "max by (job, exporter) (otelcol_exporter_queue_capacity)",
                  "{{job}} {{exporter}}"),), unit="percentunit"),
        Panel("Memory (RSS) per collector pod", (
            Query("max by (job, pod) (otelcol_process_memory_rss_bytes)", "{{pod}}"),),
            unit="bytes",
            description="The memory_limiter refuses data above 80% of the limit."),
        Panel("Collectors up", (Query("up{job=~\"otel-collector|otel-agent\"}", "{{pod}}"),),
              kind="stat"),
    ]
    return Dashboard("homelab-collector", "OpenTelemetry Collector health", tuple(panels))


def services() -> Dashboard:
    count = "http_server_request_duration_seconds_count"
    rate = f"sum by (service_name) (rate({count}[{RATE}]))"
    errors = (f"sum by (service_name) (rate({count}{{http_response_status_code=~\"5..\"}}"
              f"[{RATE}]))")
    return Dashboard("homelab-services", "Services (OpenTelemetry)", (
        Panel("Request rate", (Query(rate, "{{service_name}}"),), unit="reqps",
              source="otlp"),
        Panel("Error ratio (5xx)", (Query(f"{errors} / {rate}", "{{service_name}}"),),
              unit="percentunit", source="otlp"),
        Panel("Latency p50 / p95", (
            Query("histogram_quantile(0.5, sum by (service_name, le) "
                  f"(rate(http_server_request_duration_seconds_bucket[{RATE}])))",
                  "p50 {{service_name}}"),
            Query("histogram_quantile(0.95, sum by (service_name, le) "
                  f"(rate(http_server_request_duration_seconds_bucket[{RATE}])))",
                  "p95 {{service_name}}"),
        ), unit="s", source="otlp"),
        Panel("Requests by route", (
            Query(f"sum by (service_name, http_route) (rate({count}[{RATE}]))",
                  "{{service_name}} {{http_route}}"),), unit="reqps", source="otlp"),
    ))


def logs() -> Dashboard:
    stream = '{k8s_namespace_name=~".+"}'
    return Dashboard("homelab-logs", "Logs", (
        Panel("Log lines per namespace", (
            Query(f"sum by (k8s_namespace_name) (count_over_time({stream} [{RATE}]))",
                  "{{k8s_namespace_name}}"),), datasource="loki", source="loki"),
        Panel("Log lines per app", (
            Query(f"sum by (service_name) (count_over_time({stream} [{RATE}]))",
                  "{{service_name}}"),), datasource="loki", source="loki"),
        Panel("Lines mentioning errors per app", (
            Query(f'sum by (service_name) (count_over_time({stream} |~ "(?i)error" '
                  f"[{RATE}]))", "{{service_name}}"),), datasource="loki", source="loki"),
        Panel("Recent logs", (Query(stream),), datasource="loki", kind="logs", source="loki"),
    ))


def resources() -> Dashboard:
    fs = 'fstype!~"tmpfs|overlay|squashfs"'
    return Dashboard("homelab-resources", "Nodes and containers", (
        Panel("Node CPU busy", (
            Query(f'1 - avg by (node) (rate(node_cpu_seconds_total{{mode="idle"}}[{RATE}]))',
                  "{{node}}"),), unit="percentunit", source="node-exporter"),
        Panel("Node memory used", (
            Query("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
                  "{{node}}"),), unit="percentunit", source="node-exporter"),
        Panel("Node filesystems used", (
            Query(f"1 - node_filesystem_avail_bytes{{{fs}}} / "
                  f"node_filesystem_size_bytes{{{fs}}}", "{{node}} {{mountpoint}}"),),
            unit="percentunit", source="node-exporter"),
        Panel("Volumes used", (
            Query("kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes",
                  "{{namespace}}/{{persistentvolumeclaim}}"),), unit="percentunit",
              source="kubelet"),
        Panel("Container CPU", (
            Query("sum by (namespace, pod) (rate(container_cpu_usage_seconds_total"
                  f'{{container!=""}}[{RATE}]))', "{{namespace}}/{{pod}}"),), unit="short",
              source="cadvisor"),
        Panel("Container memory (working set)", (
            Query('sum by (namespace, pod) (container_memory_working_set_bytes{container!=""})',
                  "{{namespace}}/{{pod}}"),), unit="bytes", source="cadvisor"),
        Panel("Container restarts (1h)", (
            Query("sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total"
                  "[1h])) > 0"),), kind="table", source="kube-state-metrics"),
    ))


def flux() -> Dashboard:
    return Dashboard("homelab-flux", "Flux reconciliation", (
        Panel("Not Ready", (
            Query('count by (customresource_kind) (gotk_resource_info{ready!="True"})',
                  "{{customresource_kind}}"),), kind="stat", source="kube-state-metrics"),
        Panel("Reconcile errors", (
            Query(f"sum by (controller) (rate(controller_runtime_reconcile_errors_total"
                  f"[{RATE}]))", "{{controller}}"),), source="flux"),
        Panel("Reconcile duration p95", (
            Query("histogram_quantile(0.95, sum by (kind, le) "
                  f"(rate(gotk_reconcile_duration_seconds_bucket[{RATE}])))", "{{kind}}"),),
            unit="s", source="flux"),
        Panel("Objects", (
            Query("max by (customresource_kind, exported_namespace, name, ready, suspended) "
                  "(gotk_resource_info)"),), kind="table", source="kube-state-metrics"),
    ))


def dashboards(sources: Collection[str] | None = None) -> tuple[Dashboard, ...]:
    """The homelab's dashboards; with ``sources``, only the panels reading one of them
    (and only the dashboards left with a panel)."""
    out: tuple[Dashboard, ...] = (collector_health(), services(), logs(), resources(), flux())
    if sources is not None:
        kept = (replace(d, panels=tuple(p for p in d.panels if p.source in sources))
                for d in out)
        out = tuple(d for d in kept if d.panels)
    uids = [d.uid for d in out]
    if len(set(uids)) != len(uids):
        raise ConfigError("dashboards", "uid", "two dashboards share a uid")
    return out
