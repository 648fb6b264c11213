"""Observability (infrastructure/observability/ and infrastructure/telemetry/).

Loki, Prometheus (alert rule groups added by the components whose metrics they read),
the OpenTelemetry Collector gateway, Jaeger, kube-state-metrics and Grafana; the node
daemons (OpenTelemetry agent, node-exporter) in the ``telemetry`` namespace, the tree's
one Pod Security exception (:mod:`.telemetry`). Each registers itself under its
``infrastructure.<name>`` entry of the data file.
"""

from homelab_charts.infrastructure.observability import telemetry
from homelab_charts.infrastructure.observability.agent import OtelAgent
from homelab_charts.infrastructure.observability.alerts import (
    ALERTS,
    Alert,
    RuleGroup,
    rules_file,
)
from homelab_charts.infrastructure.observability.grafana import Grafana
from homelab_charts.infrastructure.observability.jaeger import Jaeger
from homelab_charts.infrastructure.observability.kube_state_metrics import KubeStateMetrics
from homelab_charts.infrastructure.observability.loki import Loki
from homelab_charts.infrastructure.observability.node_exporter import NodeExporter
from homelab_charts.infrastructure.observability.otel_collector import (
    OtelCollector,
    collector_config,
    pipeline_errors,
)
from homelab_charts.infrastructure.observability.prometheus import Prometheus, ScrapeTarget
from homelab_charts.infrastructure.observability.settings import ObservabilitySettings

__all__ = ["ALERTS", "Alert", "Grafana", "Jaeger", "KubeStateMetrics", "Loki", "NodeExporter",
           "ObservabilitySettings", "OtelAgent", "OtelCollector", "Prometheus", "RuleGroup",
           "ScrapeTarget", "collector_config", "pipeline_errors", "rules_file", "telemetry"]
