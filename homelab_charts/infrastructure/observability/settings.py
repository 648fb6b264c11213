"""The data file's ``observability:`` section, with its defaults, as typed settings.

The section holds what the telemetry components are built with (retention and storage of
each store, Grafana's host, where alerts go); which of them exist is the
``infrastructure:`` entries' business (``infrastructure.jaeger.enabled: false`` leaves
Jaeger and the collector's traces pipeline out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObservabilitySettings:
    """Retention and storage of each store, Grafana's host, the Alertmanager."""

    prometheus_retention: str = "15d"
    prometheus_retention_size: str = "8GB"
    prometheus_storage_size: str = "10Gi"
    loki_retention: str = "168h"
    loki_storage_size: str = "10Gi"
    jaeger_retention: str = "168h"
    jaeger_storage_size: str = "5Gi"
    grafana_host: str | None = None
    alertmanager_url: str | None = None

    @classmethod
    def from_data(cls, raw: Mapping[str, Any]) -> ObservabilitySettings:
        """From the (schema-checked) section; what it leaves out keeps its default."""
        defaults = cls()

        def get(section: str, key: str, default: Any) -> Any:
            return (raw.get(section) or {}).get(key, default)

        return cls(
            prometheus_retention=get("prometheus", "retention", defaults.prometheus_retention),
            prometheus_retention_size=get("prometheus", "retentionSize",
                                          defaults.prometheus_retention_size),
            prometheus_storage_size=get("prometheus", "storageSize",
                                        defaults.prometheus_storage_size),
            loki_retention=get("loki", "retention", defaults.loki_retention),
            loki_storage_size=get("loki", "storageSize", defaults.loki_storage_size),
            jaeger_retention=get("jaeger", "retention", defaults.jaeger_retention),
            jaeger_storage_size=get("jaeger", "storageSize", defaults.jaeger_storage_size),
            grafana_host=get("grafana", "host", None),
            alertmanager_url=get("alerting", "alertmanagerUrl", None),
        )
