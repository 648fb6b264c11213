"""Observability (infrastructure/observability/): OpenTelemetry Collector, Loki, Prometheus."""

from homelab_charts.infrastructure.observability.loki import Loki
from homelab_charts.infrastructure.observability.otel_collector import (
    OtelCollector,
    collector_config,
    pipeline_errors,
)
from homelab_charts.infrastructure.observability.prometheus import Prometheus, ScrapeTarget

__all__ = ["Loki", "OtelCollector", "Prometheus", "ScrapeTarget", "collector_config",
           "pipeline_errors"]
