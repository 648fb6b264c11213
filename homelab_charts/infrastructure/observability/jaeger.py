"""Jaeger v2: trace storage and UI, one all-in-one pod with Badger on a persistent volume.

Jaeger v2 is an OpenTelemetry Collector distribution: its configuration is a collector
file (:func:`jaeger_config`) with an OTLP receiver, the ``jaeger_storage`` extension (one
Badger backend on the volume, spans kept ``retention``) and ``jaeger_query`` (the UI and
API, which Grafana's Jaeger data source reads). The gateway collector exports its sampled
traces here over OTLP gRPC; nothing else talks to it. One replica (Badger is an embedded
database on a ReadWriteOnce volume), replaced with ``Recreate``.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest
from homelab_charts.config import Image
from homelab_charts.infrastructure.observability.config_data import (
    ConfigDocument,
    duration_seconds,
)
from homelab_charts.infrastructure.observability.prometheus import Prometheus, ScrapeTarget
from homelab_charts.infrastructure.observability.settings import ObservabilitySettings
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import (
    Container,
    FieldRef,
    Port,
    Probe,
    Resources,
    RunAs,
    WebService,
)
from homelab_charts.workloads.spec import quantity

CONFIG_PATH = "/etc/jaeger/config.yaml"
DATA_PATH = "/badger"
STORE = "badger_main"


def jaeger_config(*, retention: str, ports: dict[str, int]) -> dict[str, Any]:
    """Jaeger's configuration file, as data."""
    listen = "${env:POD_IP}"
    return {
        "extensions": {
            "healthcheckv2": {"use_v2": True,
                              "http": {"endpoint": f"{listen}:{ports['health']}"}},
            "jaeger_storage": {"backends": {STORE: {"badger": {
                "directories": {"keys": f"{DATA_PATH}/keys", "values": f"{DATA_PATH}/values"},
                "ephemeral": False,
                "ttl": {"spans": retention},
            }}}},
            "jaeger_query": {
                "storage": {"traces": STORE},
                "http": {"endpoint": f"{listen}:{ports['http-query']}"},
                "grpc": {"endpoint": f"{listen}:{ports['grpc-query']}"},
            },
        },
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"{listen}:{ports['otlp-grpc']}"},
        }}},
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "telemetry": {
                "resource": {"service.name": "jaeger"},
                "logs": {"level": "info"},
                "metrics": {"level": "normal", "readers": [{"pull": {"exporter": {
                    "prometheus": {"host": listen, "port": ports["metrics"]}}}}]},
            },
            "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                                     "exporters": ["jaeger_storage_exporter"]}},
        },
    }


@register("infrastructure.jaeger", folder="infrastructure/observability", shared=True)
class Jaeger(Component):
    """Jaeger (``jaeger.yaml``): traces kept ``retention`` (7 days by default) on a volume.

    :attr:`otlp_grpc_endpoint` is where the gateway collector sends spans,
    :attr:`query_url` what Grafana reads.
    """

    def __init__(self, scope: Construct, id: str, *, image: Image,
                 prometheus: Prometheus | None = None, retention: str = "168h",
                 storage_size: str = "5Gi", storage_class: str | None = None,
                 resources: Resources | None = None, name: str = "jaeger") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        duration_seconds(self.where, "retention", retention)
        quantity(storage_size, "storage_size")
        self.retention = retention
        ports = (Port("otlp-grpc", 4317), Port("http-query", 16686), Port("grpc-query", 16685),
                 Port("metrics", 8888), Port("health", 13133))
        self.config = jaeger_config(retention=retention, ports={p.name: p.port for p in ports})
        config = ConfigDocument(self, "config", name=f"{name}-config", path=CONFIG_PATH,
                                config=self.config)
        claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                      "resources": {"requests": {"storage": storage_size}}}
        if storage_class:
            claim_spec["storageClassName"] = storage_class
        claim = Manifest(self, "data", api_version="v1", kind="PersistentVolumeClaim",
                         name=f"{name}-data", body={"spec": claim_spec})
        self.server = WebService(
            self, "server", name=name, component="traces", strategy="Recreate",
            container=Container(
                image=image,
                args=(f"--config={CONFIG_PATH}",),
                ports=ports,
                env={"POD_IP": FieldRef("status.podIP")},
                resources=resources or Resources("100m", "1", "256Mi", "1Gi"),
                readiness=Probe.http("/status", "health", period_seconds=10),
                liveness=Probe.http("/status", "health", period_seconds=20,
                                    failure_threshold=6),
                config_files=(config.file,),
                writable_paths={"tmp": "/tmp"},
                # The image's jaeger user (USER 10001); fsGroup makes the volume its own.
                run_as=RunAs(user=10001, group=10001, fs_group=10001),
            ),
            volumes=({"name": "data",
                      "persistentVolumeClaim": {"claimName": claim.object_name}},),
            volume_mounts=({"name": "data", "mountPath": DATA_PATH},),
            pod_annotations=config.pod_annotations,
        )
        self.service = self.server.service
        if prometheus is not None:
            prometheus.scrape(ScrapeTarget.of("jaeger", self.server, "metrics"))

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Jaeger:
        """The homelab's Jaeger: image from ``infrastructure.jaeger``, retention and
        storage from ``observability.jaeger``, scraped by Prometheus when there is one.
        ``infrastructure.jaeger.enabled: false`` leaves it out, and the collector then
        has no traces pipeline."""
        settings = ObservabilitySettings.from_data(ctx.data.observability)
        return cls(scope, id, image=ctx.image("jaeger"), prometheus=ctx.find(Prometheus),
                   retention=settings.jaeger_retention,
                   storage_size=settings.jaeger_storage_size,
                   storage_class=ctx.settings.storage_class_name)

    @property
    def otlp_grpc_endpoint(self) -> str:
        """``host:port`` of the OTLP gRPC receiver (what an OTLP exporter needs)."""
        port = self.server.port("otlp-grpc")
        return f"{self.server.host}:{port.port}"

    @property
    def query_url(self) -> str:
        return self.server.url("http-query")
