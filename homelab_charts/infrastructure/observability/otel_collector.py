"""The OpenTelemetry Collector in gateway mode: one Deployment and Service for every app.

Raw manifests (a Deployment through :class:`~homelab_charts.workloads.WebService`)
rather than the opentelemetry-collector Helm chart or the operator: the chart's values
would hold the whole collector configuration anyway, and here that configuration is a
Python dict (:func:`collector_config`) checked by :func:`pipeline_errors` before it is
written into a ConfigMap.

Pipelines: OTLP in (gRPC 4317, HTTP 4318) ->
``memory_limiter`` (first, so the collector refuses data instead of being OOM-killed) ->
``probabilistic_sampler`` (traces only, 10%) -> ``batch`` -> logs to Loki (its OTLP
endpoint), metrics to Prometheus (remote write, only the resource attributes
:mod:`.cardinality` keeps becoming labels), traces to Jaeger (OTLP) when
``jaeger_endpoint`` is set (no traces pipeline otherwise). The node agents
(:mod:`.agent`) forward the pods' log files here over OTLP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability import cardinality
from homelab_charts.infrastructure.observability.alerts import COLLECTOR_ALERTS
from homelab_charts.infrastructure.observability.config_data import (
    ConfigDocument,
)
from homelab_charts.infrastructure.observability.jaeger import Jaeger
from homelab_charts.infrastructure.observability.loki import Loki
from homelab_charts.infrastructure.observability.prometheus import Prometheus, ScrapeTarget
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
from homelab_charts.workloads.network import Connection
from homelab_charts.workloads.spec import EnvValue, quantity

CONFIG_PATH = "/etc/otelcol-contrib/config.yaml"
#: OTLP protocols an SDK may use (``OTEL_EXPORTER_OTLP_PROTOCOL``) -> collector port name.
PROTOCOL_PORTS = {"grpc": "otlp-grpc", "http/protobuf": "otlp-http"}
#: Share of the memory limit the memory_limiter allows (hard limit) and keeps for spikes.
MEMORY_LIMITER_SHARE = 0.8
MEMORY_SPIKE_SHARE = 0.2
PIPELINE_SECTIONS = ("receivers", "processors", "exporters")
JAEGER_EXPORTER = "otlp/jaeger"


def pipeline_errors(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``config``'s pipelines: undefined or empty references.

    Every pipeline needs at least one receiver and one exporter, and may name only
    receivers, processors and exporters defined in the top-level sections; every defined
    receiver and exporter is used by a pipeline (none dangles); service extensions must
    be defined under ``extensions``.
    """
    errors: list[str] = []
    service = config.get("service")
    if not isinstance(service, Mapping) or not isinstance(service.get("pipelines"), Mapping):
        return ["service.pipelines is missing"]
    pipelines = service["pipelines"]
    if not pipelines:
        errors.append("service.pipelines is empty")
    for name, pipeline in pipelines.items():
        signal = str(name).split("/", 1)[0]
        if signal not in ("traces", "metrics", "logs", "profiles"):
            errors.append(f"pipeline {name}: {signal!r} is not a signal type")
        if not isinstance(pipeline, Mapping):
            errors.append(f"pipeline {name}: not a mapping")
            continue
        for section in PIPELINE_SECTIONS:
            defined = config.get(section) or {}
            names = pipeline.get(section, [])
            if section != "processors" and not names:
                errors.append(f"pipeline {name}: no {section}")
            errors.extend(f"pipeline {name}: {section[:-1]} {ref!r} is not defined "
                          f"under {section}" for ref in names if ref not in defined)
            if len(set(names)) != len(names):
                errors.append(f"pipeline {name}: {section} listed twice")
    for section in ("receivers", "exporters"):
        used = {ref for pipeline in pipelines.values() if isinstance(pipeline, Mapping)
                for ref in pipeline.get(section, [])}
        errors.extend(f"{section[:-1]} {name!r} is defined but no pipeline uses it"
                      for name in (config.get(section) or {}) if name not in used)
    defined_extensions = config.get("extensions") or {}
    errors.extend(f"extension {ext!r} is not defined under extensions"
                  for ext in service.get("extensions", []) if ext not in defined_extensions)
    return errors


def self_telemetry(listen: str, ports: Mapping[str, int]) -> dict[str, Any]:
    """``service.telemetry`` of a collector: info logs, its own metrics on ``metrics``.

    An explicit pull reader without ``without_units``/``without_type_suffix``: the
    collector's default reader sets both, this one exposes the suffixed names the alerts
    and dashboards query (``otelcol_exporter_send_failed_log_records_total``,
    ``otelcol_process_memory_rss_bytes``).
    """
    return {
        "logs": {"level": "info"},
        "metrics": {"level": "normal", "readers": [{"pull": {"exporter": {
            "prometheus": {"host": listen, "port": ports["metrics"]}}}}]},
    }


def memory_limiter(memory_limit_mib: int) -> dict[str, Any]:
    """The memory_limiter processor sized from the container's memory limit."""
    return {
        "check_interval": "1s",
        "limit_mib": int(memory_limit_mib * MEMORY_LIMITER_SHARE),
        "spike_limit_mib": int(memory_limit_mib * MEMORY_SPIKE_SHARE),
    }


def memory_limit_of(resources: Resources) -> int:
    """The container's memory limit in MiB: what the memory_limiter and ``GOMEMLIMIT`` are
    sized from."""
    return int(quantity(resources.memory_limit, "memory_limit") / 2**20)


def collector_container(image: Image, *, config: ConfigDocument, ports: tuple[Port, ...],
                        resources: Resources, env: Mapping[str, EnvValue] | None = None,
                        run_as: RunAs | None = None) -> Container:
    """The collector binary as the gateway and the node agents run it: reading ``config``,
    listening on the pod's IP (``POD_IP``, then ``env``), its Go heap (``GOMEMLIMIT``) held
    under the memory_limiter's limit, probed on the health_check extension's ``health``
    port, ``/tmp`` its one writable folder."""
    go_limit = int(memory_limit_of(resources) * MEMORY_LIMITER_SHARE)
    return Container(
        image=image,
        args=(f"--config={config.path}",),
        ports=ports,
        env={"POD_IP": FieldRef("status.podIP"), **(env or {}), "GOMEMLIMIT": f"{go_limit}MiB"},
        resources=resources,
        readiness=Probe.http("/", "health", period_seconds=10),
        liveness=Probe.http("/", "health", period_seconds=20, failure_threshold=6),
        config_files=(config.file,),
        writable_paths={"tmp": "/tmp"},
        run_as=run_as or RunAs(),
    )


def collector_config(*, loki_url: str, prometheus_url: str, sampling_percentage: float,
                     memory_limit_mib: int, jaeger_endpoint: str | None,
                     ports: Mapping[str, int]) -> dict[str, Any]:
    """The gateway's configuration file, as data.

    Without ``jaeger_endpoint`` there is no traces pipeline at all (and no sampler): the
    collector then accepts no spans rather than passing them to an exporter that drops them.
    """
    listen = "${env:POD_IP}"
    processors: dict[str, Any] = {"memory_limiter": memory_limiter(memory_limit_mib)}
    if jaeger_endpoint:
        processors["probabilistic_sampler"] = {"sampling_percentage": sampling_percentage}
    processors[cardinality.PROCESSOR] = cardinality.metric_label_processor()
    processors["batch"] = {"send_batch_size": 1024, "send_batch_max_size": 2048,
                           "timeout": "5s"}
    exporters: dict[str, Any] = {
        "otlphttp/loki": {"endpoint": loki_url},
        "prometheusremotewrite": {
            "endpoint": prometheus_url,
            # Only the attributes the transform processor keeps (cardinality.py).
            "resource_to_telemetry_conversion": {"enabled": True},
        },
    }
    pipelines: dict[str, Any] = {}
    if jaeger_endpoint:
        exporters[JAEGER_EXPORTER] = {"endpoint": jaeger_endpoint, "tls": {"insecure": True}}
        pipelines["traces"] = {
            "receivers": ["otlp"],
            "processors": ["memory_limiter", "probabilistic_sampler", "batch"],
            "exporters": [JAEGER_EXPORTER]}
    pipelines["metrics"] = {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", cardinality.PROCESSOR, "batch"],
        "exporters": ["prometheusremotewrite"]}
    pipelines["logs"] = {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                         "exporters": ["otlphttp/loki"]}
    return {
        "extensions": {"health_check": {"endpoint": f"{listen}:{ports['health']}"}},
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"{listen}:{ports['otlp-grpc']}"},
            "http": {"endpoint": f"{listen}:{ports['otlp-http']}"},
        }}},
        "processors": processors,
        "exporters": exporters,
        "service": {
            "extensions": ["health_check"],
            "telemetry": self_telemetry(listen, ports),
            "pipelines": pipelines,
        },
    }


@register("infrastructure.otel-collector", folder="infrastructure/observability",
          shared=True)
class OtelCollector(Component):
    """The collector (``otel-collector.yaml``) every app sends traces, metrics and logs to.

    ``resources`` default to the issue's numbers (CPU 200m/1, memory 256Mi/512Mi); the
    memory_limiter is sized from the memory *limit*: it refuses data above 80% of it and
    starts shedding at 60%, and ``GOMEMLIMIT`` makes the Go runtime collect before that.
    ``jaeger_endpoint`` (``host:4317``) sends the sampled traces to Jaeger; without it the
    collector has no traces pipeline (:attr:`accepts_traces` is false).
    Prometheus gets a dedicated scrape job for the collector's own metrics.
    """

    def __init__(self, scope: Construct, id: str, *, image: Image, loki: Loki,
                 prometheus: Prometheus, sampling_percentage: float = 10.0,
                 jaeger_endpoint: str | None = None, jaeger: Jaeger | None = None,
                 replicas: int = 1,
                 resources: Resources | None = None, name: str = "otel-collector") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        if isinstance(sampling_percentage, bool) or not 0 < sampling_percentage <= 100:
            raise ConfigError(self.where, "sampling_percentage",
                              f"{sampling_percentage!r} must be above 0 and at most 100")
        if jaeger_endpoint is not None and (":" not in jaeger_endpoint
                                            or "://" in jaeger_endpoint):
            raise ConfigError(self.where, "jaeger_endpoint",
                              f"{jaeger_endpoint!r} must be host:port of Jaeger's OTLP gRPC "
                              "receiver, e.g. jaeger-collector.observability.svc:4317")
        if jaeger is not None:
            jaeger_endpoint = jaeger.otlp_grpc_endpoint
        resources = resources or Resources("200m", "1", "256Mi", "512Mi")
        self.use(loki, prometheus)
        ports = (Port("otlp-grpc", 4317), Port("otlp-http", 4318), Port("metrics", 8888),
                 Port("health", 13133))
        self.config = collector_config(
            loki_url=loki.otlp_logs_url, prometheus_url=prometheus.remote_write_url,
            sampling_percentage=sampling_percentage,
            memory_limit_mib=memory_limit_of(resources),
            jaeger_endpoint=jaeger_endpoint, ports={p.name: p.port for p in ports})
        errors = pipeline_errors(self.config) + cardinality.cardinality_errors(self.config)
        if errors:
            raise ConfigError(self.where, "config", "; ".join(errors))
        config = ConfigDocument(self, "config", name=f"{name}-config", path=CONFIG_PATH,
                                config=self.config)
        self.gateway = WebService(
            self, "gateway", name=name, replicas=replicas, component="collector",
            container=collector_container(image, config=config, ports=ports,
                                          resources=resources,
                                          # The image's otel user.
                                          run_as=RunAs(user=10001, group=10001)),
            pod_annotations=config.pod_annotations,
        )
        self.service = self.gateway.service
        self.accepts_traces = jaeger_endpoint is not None
        self.connections: list[Connection] = [
            Connection.to(self.gateway, loki.server, "http"),
            Connection.to(self.gateway, prometheus.server, "http"),
        ]
        if jaeger is not None:
            self.use(jaeger)
            self.connections.append(Connection.to(self.gateway, jaeger.server, "otlp-grpc"))
        prometheus.scrape(ScrapeTarget.of("otel-collector", self.gateway, "metrics"))

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> OtelCollector:
        """The homelab's collector: image from ``infrastructure.otel-collector``, sending
        logs to Loki, metrics to Prometheus (with the collector alerts) and traces to
        Jaeger when ``infrastructure.jaeger`` is on (no traces pipeline otherwise). It keeps
        every trace it receives: the apps' SDKs sample at their environment's ratio
        (``tracesSamplingRatio``), so one collector serves a cluster's environments at
        different ratios."""
        prometheus = ctx.require(Prometheus)
        collector = cls(scope, id, image=ctx.image("otel-collector"), loki=ctx.require(Loki),
                        prometheus=prometheus, jaeger=ctx.find(Jaeger),
                        sampling_percentage=100.0)
        prometheus.add_rule_group(COLLECTOR_ALERTS)
        return collector

    def port_name(self, protocol: str) -> str:
        """The collector port an SDK using ``protocol`` (grpc, http/protobuf) connects to."""
        try:
            return PROTOCOL_PORTS[protocol]
        except KeyError:
            raise ConfigError(self.where, "protocol",
                              f"{protocol!r} is not one of {', '.join(PROTOCOL_PORTS)}") from None

    def endpoint(self, protocol: str) -> str:
        """``OTEL_EXPORTER_OTLP_ENDPOINT`` for an SDK using ``protocol``."""
        return self.gateway.url(self.port_name(protocol))
