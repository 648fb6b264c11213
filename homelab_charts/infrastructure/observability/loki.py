"""Loki: log storage, single binary, filesystem storage on a persistent volume.

Raw manifests (a StatefulSet through :class:`~homelab_charts.workloads.StatefulService`)
rather than the Helm chart: the chart's single-binary mode brings a gateway, caches and a
canary a homelab does not need, and every value that matters here fits in one config file.
Retention is enforced by the compactor (``retention_enabled``), which deletes chunks older
than ``limits_config.retention_period``; without the compactor the period is ignored.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability.config_data import (
    ConfigDocument,
    duration_seconds,
)
from homelab_charts.infrastructure.observability.settings import ObservabilitySettings
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import (
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    StatefulService,
)

CONFIG_PATH = "/etc/loki/config.yaml"
DATA_PATH = "/loki"


def loki_config(*, retention: str, http_port: int, grpc_port: int) -> dict[str, Any]:
    """Loki's configuration file, as data."""
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": http_port, "grpc_listen_port": grpc_port,
                   "log_level": "info"},
        "common": {
            "instance_addr": "127.0.0.1",
            "path_prefix": DATA_PATH,
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {"filesystem": {"chunks_directory": f"{DATA_PATH}/chunks",
                                       "rules_directory": f"{DATA_PATH}/rules"}},
        },
        "schema_config": {"configs": [{
            "from": "2025-01-01", "store": "tsdb", "object_store": "filesystem",
            "schema": "v13", "index": {"prefix": "index_", "period": "24h"},
        }]},
        "limits_config": {
            "retention_period": retention,
            # OTLP logs keep their resource attributes as structured metadata.
            "allow_structured_metadata": True,
            "volume_enabled": True,
            "reject_old_samples": True,
            "reject_old_samples_max_age": retention,
        },
        "compactor": {
            "working_directory": f"{DATA_PATH}/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "delete_request_store": "filesystem",
        },
        "analytics": {"reporting_enabled": False},
    }


@register("infrastructure.loki", folder="infrastructure/observability", shared=True)
class Loki(Component):
    """Loki (``loki.yaml``): logs kept ``retention`` (7 days by default), then deleted.

    The OpenTelemetry Collector pushes logs to :attr:`otlp_logs_url` (Loki's native OTLP
    endpoint); ``server.service`` is the Service, ``server`` the StatefulService.
    """

    HTTP_PORT = 3100
    GRPC_PORT = 9095

    def __init__(self, scope: Construct, id: str, *, image: Image, retention: str = "168h",
                 storage_size: str = "10Gi", storage_class: str | None = None,
                 resources: Resources | None = None, name: str = "loki") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        seconds = duration_seconds(self.where, "retention", retention)
        if seconds % 86400:
            raise ConfigError(self.where, "retention",
                              f"{retention!r} must be a whole number of days (the index "
                              "period is 24h), e.g. 168h")
        self.retention = retention
        self.config = loki_config(retention=retention, http_port=self.HTTP_PORT,
                                  grpc_port=self.GRPC_PORT)
        config = ConfigDocument(self, "config", name=f"{name}-config", path=CONFIG_PATH,
                                config=self.config)
        self.server = StatefulService(
            self, "server", name=name, component="logs",
            container=Container(
                image=image,
                args=(f"-config.file={CONFIG_PATH}", "-target=all"),
                ports=(Port("http", self.HTTP_PORT),),
                resources=resources or Resources("100m", "1", "256Mi", "1Gi"),
                startup=Probe.http("/ready", "http", period_seconds=5, failure_threshold=60),
                readiness=Probe.http("/ready", "http", period_seconds=10),
                liveness=Probe.tcp("http", period_seconds=20, failure_threshold=6),
                writable_paths={"tmp": "/tmp"},
                config_files=(config.file,),
                # The image's loki user.
                run_as=RunAs(user=10001, group=10001, fs_group=10001),
            ),
            data_path=DATA_PATH, storage_size=storage_size, storage_class=storage_class,
            metrics_port="http",
            pod_annotations=config.pod_annotations,
        )
        self.service = self.server.service

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Loki:
        """The homelab's Loki: image from ``infrastructure.loki``, retention and storage
        from ``observability.loki``."""
        settings = ObservabilitySettings.from_data(ctx.data.observability)
        return cls(scope, id, image=ctx.image("loki"), retention=settings.loki_retention,
                   storage_size=settings.loki_storage_size,
                   storage_class=ctx.settings.storage_class_name)

    @property
    def otlp_logs_url(self) -> str:
        """Where OTLP/HTTP log exporters send (``/v1/logs`` is appended by the exporter)."""
        return f"{self.server.url('http')}/otlp"
