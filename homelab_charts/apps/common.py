"""What the apps share: their release settings from the data file, OpenTelemetry
environment, exposure through the ingress controller, the web UI they serve, and checkov
skip annotations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from homelab_charts.base import Component, Manifest
from homelab_charts.config import (
    DEFAULT_ENVIRONMENT,
    DEFAULT_SAMPLING_RATIOS,
    HomelabData,
    Image,
    ResourceSettings,
)
from homelab_charts.errors import ConfigError
from homelab_charts.workloads import Container, Port, Probe, Resources, WebService
from homelab_charts.workloads.network import Connection, Pods
from homelab_charts.workloads.spec import EnvValue
from homelab_charts.workloads.tls import CertificateIssuer, certificate

#: checkov checks skipped on every workload of the homelab, with the reason (docs/CHECKOV.md).
HOMELAB_WIDE_SKIPS: Mapping[str, str] = {
    "CKV_K8S_43": "images are pinned by explicit tags from the schema-checked data file; "
                  "release tags carry the git SHA and are never reused",
    "CKV_K8S_15": "IfNotPresent with immutable pinned tags; Always would make every restart "
                  "depend on the registry being up",
}


@dataclass(frozen=True)
class AppRelease:
    """One service of the data file as the environment being built runs it.

    ``otel`` is on when both the service's switch for the environment and the
    environment's kill switch (``environments.<env>.otel``) are; ``sampling_ratio`` is
    the environment's ``tracesSamplingRatio``; ``resources`` (None: the component's
    defaults) come from the data file.
    """

    name: str
    image: Image
    replicas: int
    host: str | None
    otel: bool
    environment: str
    sampling_ratio: float = DEFAULT_SAMPLING_RATIOS[DEFAULT_ENVIRONMENT]
    resources: Resources | None = None

    @classmethod
    def from_data(cls, data: HomelabData, service: str) -> AppRelease:
        """``service`` in the environment being built (``data.cluster.environment``)."""
        svc = data.service(service)
        environment = data.cluster.environment
        settings = svc.env(environment)
        env = data.environment(environment)
        return cls(name=service, image=svc.image_for(environment), replicas=settings.replicas,
                   host=settings.host, otel=settings.otel and env.otel,
                   environment=environment, sampling_ratio=env.sampling_ratio,
                   resources=_resources(settings.resources, service, environment))

    @property
    def version(self) -> str:
        return self.image.tag

    def require_host(self, where: str) -> str:
        if not self.host:
            raise ConfigError(where, f"services.{self.name}.environments.{self.environment}.host",
                              "an exposed service needs a host name in the data file")
        return self.host


def _resources(settings: ResourceSettings | None, service: str,
               environment: str) -> Resources | None:
    if settings is None:
        return None
    try:
        return Resources(settings.cpu_request, settings.cpu_limit, settings.memory_request,
                         settings.memory_limit)
    except ConfigError as exc:
        raise ConfigError(f"services.{service}.environments.{environment}.resources",
                          exc.field, exc.message) from None


class Telemetry(Protocol):
    """What an app needs of the OpenTelemetry Collector (see OtelCollector)."""

    gateway: WebService
    #: False when the collector has no traces pipeline (``infrastructure.jaeger`` off).
    accepts_traces: bool

    def port_name(self, protocol: str) -> str: ...

    def endpoint(self, protocol: str) -> str: ...


def otel_env(release: AppRelease, *, service_name: str, namespace: str, collector: Telemetry,
             protocol: str) -> dict[str, str]:
    """The OpenTelemetry SDK environment of an app.

    ``OTEL_SDK_DISABLED`` follows the data file's ``otel`` switch (false -> "true"): the
    rollback plan if instrumentation misbehaves, one line in the data file. When the
    collector takes no traces (``infrastructure.jaeger.enabled: false``) the SDK exports
    none (``OTEL_TRACES_EXPORTER=none``) instead of sending spans nobody receives. Traces are
    head-sampled in the SDK at the environment's ratio (``parentbased_traceidratio``: a
    trace is kept or dropped whole, across services). ``k8s.namespace.name`` is set too:
    the gateway adds no Kubernetes attributes, and Loki indexes that one as a label (the
    logs dashboard selects by it).
    """
    attributes = {
        "k8s.namespace.name": namespace,
        "service.namespace": namespace,
        "service.version": release.version,
        "deployment.environment": release.environment,
    }
    return {
        "OTEL_SDK_DISABLED": "false" if release.otel else "true",
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_RESOURCE_ATTRIBUTES": ",".join(f"{k}={v}" for k, v in attributes.items()),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint(protocol),
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        **({} if collector.accepts_traces else {"OTEL_TRACES_EXPORTER": "none"}),
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": format(release.sampling_ratio, "g"),
    }


def send_telemetry(component: Component, web: WebService, *, release: AppRelease,
                   collector: Telemetry, protocol: str) -> list[Connection]:
    """When the release's ``otel`` switch is on: the app uses the collector (Flux waits for
    observability) and may reach its ``protocol`` port. Off, the app does not depend on
    observability at all, so a broken collector cannot hold its rollback back."""
    if not release.otel:
        return []
    if not isinstance(collector, Component):
        raise ConfigError(component.where, "collector",
                          "the OpenTelemetry Collector must be a Component construct")
    component.use(collector)
    return [Connection.to(web, collector.gateway, collector.port_name(protocol))]


class IngressController(Protocol):
    """What an exposed app needs of the ingress controller (see Traefik): its class, its
    pods, and the issuer of the certificates it serves."""

    ingress_class: str
    target_namespace: str | None
    pod_selector: dict[str, str]
    issuer: CertificateIssuer


def controller_pods(controller: IngressController) -> Pods:
    """The ingress controller's pods, as a NetworkPolicy peer."""
    if controller.target_namespace is None:
        raise ConfigError(repr(controller), "target_namespace",
                          "the ingress controller has no namespace")
    return Pods.external("ingress-controller", controller.target_namespace,
                         controller.pod_selector)


def expose(component: Component, web: WebService, *, release: AppRelease,
           controller: IngressController, port_name: str = "http") -> tuple[Manifest,
                                                                              Connection]:
    """An Ingress for ``web`` at the release's host, served over TLS with a Certificate
    for that host from the controller's issuer, and the flow it needs from the
    controller's pods. The component then uses the controller and the issuer (Flux
    dependsOn)."""
    if not isinstance(controller, Component):
        raise ConfigError(component.where, "ingress", "the ingress controller must be a "
                          "Component construct")
    component.use(controller, controller.issuer.component)
    host = release.require_host(component.where)
    cert = certificate(web, "certificate", name=f"{web.name}-tls", hosts=[host],
                       issuer=controller.issuer)
    ingress = web.expose("ingress", host=host, port_name=port_name,
                         ingress_class=controller.ingress_class, tls_secret=cert.object_name)
    return ingress, Connection.to(controller_pods(controller), web, port_name)


#: What a web UI sends its telemetry with (browsers' OTLP exporters speak HTTP).
WEB_UI_OTEL_PROTOCOL = "http/protobuf"


@dataclass(frozen=True)
class WebUI:
    """An app's web UI as :func:`web_ui` made it."""

    web: WebService
    ingress: Manifest
    #: From the ingress controller, then (when ``otel`` is on) to the collector.
    connections: list[Connection]


def web_ui(component: Component, *, release: AppRelease, collector: Telemetry,
           ingress: IngressController, part: str, port: int, resources: Resources,
           env: Mapping[str, EnvValue] | None = None) -> WebUI:
    """The web UI of an app, served by ``component``: one container on ``port`` (``http``)
    with ``/healthz`` readiness and liveness probes and a writable ``/tmp``, its
    environment ``PORT``, then ``env``, then the OpenTelemetry SDK's (OTLP over HTTP), a
    WebService ``server`` labelled ``component: part``, exposed at the release's host
    through ``ingress``, sending telemetry when the release's ``otel`` switch is on."""
    container_env: dict[str, EnvValue] = {
        "PORT": str(port),
        **(env or {}),
        **otel_env(release, service_name=release.name,
                   namespace=component.default_namespace or "", collector=collector,
                   protocol=WEB_UI_OTEL_PROTOCOL),
    }
    web = WebService(
        component, "server", name=release.name, replicas=release.replicas, component=part,
        container=Container(
            image=release.image,
            ports=(Port("http", port),),
            env=container_env,
            resources=resources,
            readiness=Probe.http("/healthz", "http", period_seconds=10),
            liveness=Probe.http("/healthz", "http", period_seconds=20, failure_threshold=6),
            writable_paths={"tmp": "/tmp"},
        ),
    )
    ingress_object, from_controller = expose(component, web, release=release,
                                             controller=ingress)
    connections = [from_controller]
    connections += send_telemetry(component, web, release=release, collector=collector,
                                  protocol=WEB_UI_OTEL_PROTOCOL)
    return WebUI(web=web, ingress=ingress_object, connections=connections)
