"""Prometheus alerting rules, as data: each with a summary and a runbook line.

An :class:`Alert` is one rule; a :class:`RuleGroup` a named list of them. The component
whose metrics a group reads adds it to Prometheus (``Prometheus.add_rule_group``):
Prometheus its kubelet group (:data:`KUBELET_ALERTS`), the gateway collector the
collector and Loki ingestion groups, kube-state-metrics the Flux and pod groups,
node-exporter the node group. A component that is off takes its alerts with it, so every
expression names only metrics the tree's exporters produce. :func:`rules_file` renders
the file Prometheus loads (``rule_files``). Where firing alerts go is the data file's
``observability.alerting.alertmanagerUrl`` (without it they show in Prometheus and
Grafana only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from homelab_charts.errors import ConfigError

SEVERITIES = ("critical", "warning")


@dataclass(frozen=True)
class Alert:
    """One alerting rule: fires when ``expr`` has held ``for_``."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    runbook: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ConfigError(f"alert {self.name}", "severity",
                              f"{self.severity!r} is not one of {', '.join(SEVERITIES)}")
        for field in ("summary", "runbook"):
            if not getattr(self, field).strip():
                raise ConfigError(f"alert {self.name}", field, "must not be empty")

    def render(self) -> dict[str, Any]:
        return {"alert": self.name, "expr": self.expr, "for": self.for_,
                "labels": {"severity": self.severity},
                "annotations": {"summary": self.summary, "runbook": self.runbook}}


_REFUSED = ('rate({__name__=~"otelcol_receiver_refused_'
            '(spans|metric_points|log_records)_total"}[5m])')
_SEND_FAILED = ('rate({__name__=~"otelcol_exporter_send_failed_'
                '(spans|metric_points|log_records)_total"}[5m])')

@dataclass(frozen=True)
class RuleGroup:
    """A named group of alerting rules (one ``groups`` entry of the rules file)."""

    name: str
    alerts: tuple[Alert, ...]

    def __post_init__(self) -> None:
        if not self.alerts:
            raise ConfigError(f"rule group {self.name}", "alerts", "a group needs an alert")

    def render(self) -> dict[str, Any]:
        return {"name": self.name, "rules": [a.render() for a in self.alerts]}


COLLECTOR_ALERTS = RuleGroup("otel-collector", (
    Alert("OtelCollectorDown",
          'up{job=~"otel-collector|otel-agent"} == 0',
          "5m", "critical",
          "OpenTelemetry collector {{ $labels.pod }} ({{ $labels.job }}) is not answering "
          "scrapes",
          "kubectl -n {{ $labels.namespace }} describe pod {{ $labels.pod }}; check its logs "
          "and the health_check port 13133; apps and agents buffer until it is back."),
    Alert("OtelCollectorRefusingData",
          f"sum by (job, pod, receiver) ({_REFUSED}) > 0",
          "10m", "warning",
          "Collector {{ $labels.pod }} refuses data on receiver {{ $labels.receiver }}",
          "The memory_limiter is refusing: raise the collector's memory limit in "
          "otel_collector.py or find the sender that floods it (Grafana, Collector health)."),
    Alert("OtelExporterFailing",
          f"sum by (job, pod, exporter) ({_SEND_FAILED}) > 0",
          "10m", "warning",
          "Collector {{ $labels.pod }} fails to send through {{ $labels.exporter }}",
          "Check the exporter's target (Loki, Prometheus, Jaeger or the gateway) is Ready "
          "and the NetworkPolicy allows the flow; the collector log names the error."),
    Alert("LokiIngestionFailing",
          'sum by (pod) (rate(otelcol_exporter_send_failed_log_records_total'
          '{exporter="otlphttp/loki"}[5m])) > 0',
          "10m", "critical",
          "Logs are not reaching Loki (the gateway's Loki exporter fails)",
          "kubectl -n observability logs statefulset/loki; check the volume is not full "
          "(PersistentVolumeFillingUp) and /ready answers."),
    Alert("LokiDown",
          'up{job="kubernetes-pods", app="loki"} == 0',
          "5m", "critical",
          "Loki {{ $labels.pod }} is not answering scrapes",
          "kubectl -n observability describe pod {{ $labels.pod }}; logs queue in the "
          "collectors until it is back."),
))

CLUSTER_STATE_ALERTS = RuleGroup("cluster-state", (
    Alert("FluxReconciliationNotReady",
          'max by (customresource_kind, exported_namespace, name) (gotk_resource_info'
          '{customresource_kind=~"Kustomization|HelmRelease", ready!="True", '
          'suspended!="true"}) == 1',
          "15m", "critical",
          "Flux {{ $labels.customresource_kind }} {{ $labels.exported_namespace }}/"
          "{{ $labels.name }} has not been Ready for 15 minutes",
          "flux get all -A; flux logs --kind={{ $labels.customresource_kind }} "
          "--name={{ $labels.name }}; fix the commit or `flux reconcile` it."),
    Alert("PodCrashLooping",
          'max by (namespace, pod, container) (kube_pod_container_status_waiting_reason'
          '{reason="CrashLoopBackOff"}) == 1',
          "15m", "warning",
          "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} "
          "is crash-looping",
          "kubectl -n {{ $labels.namespace }} logs {{ $labels.pod }} -c "
          "{{ $labels.container }} --previous; Grafana's Logs dashboard has the history."),
))

KUBELET_ALERTS = RuleGroup("kubelet", (
    Alert("PersistentVolumeFillingUp",
          "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes / "
          "kubelet_volume_stats_capacity_bytes) > 0.85",
          "10m", "warning",
          "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over 85% "
          "full",
          "Shorten the store's retention in homelab.yaml (observability:) or grow the "
          "claim; Prometheus and Loki stop ingesting when their disk is full."),
))

NODE_ALERTS = RuleGroup("node", (
    Alert("NodeLowMemory",
          "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.10",
          "10m", "warning",
          "Node {{ $labels.node }} has less than 10% memory available",
          "kubectl top pods -A --sort-by=memory; lower a limit or move a workload."),
    Alert("NodeLowDisk",
          'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / '
          'node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < 0.10 '
          'and node_filesystem_readonly == 0',
          "10m", "warning",
          "Node {{ $labels.node }} filesystem {{ $labels.mountpoint }} has less than 10% "
          "free",
          "Prune images (k3s crictl rmi --prune), old logs, or the volumes on that disk."),
))

#: Every group the homelab's components add (when all of them are on).
GROUPS: tuple[RuleGroup, ...] = (KUBELET_ALERTS, COLLECTOR_ALERTS, CLUSTER_STATE_ALERTS,
                                 NODE_ALERTS)
ALERTS: tuple[Alert, ...] = tuple(a for g in GROUPS for a in g.alerts)


def rule_group_errors(groups: Sequence[RuleGroup]) -> list[str]:
    """Group names and alert names used twice."""
    errors = []
    names = [g.name for g in groups]
    errors += [f"rule group {n!r} is added twice" for n in sorted(set(names))
               if names.count(n) > 1]
    alerts = [a.name for g in groups for a in g.alerts]
    errors += [f"alert {n!r} is defined twice" for n in sorted(set(alerts))
               if alerts.count(n) > 1]
    return errors


def rules_file(groups: Sequence[RuleGroup]) -> dict[str, Any]:
    """The rules file as data."""
    errors = rule_group_errors(groups)
    if errors:
        raise ConfigError("alerts", "groups", "; ".join(errors))
    return {"groups": [g.render() for g in groups]}
