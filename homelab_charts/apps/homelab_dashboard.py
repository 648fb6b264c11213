"""Homelab Dashboard (apps/homelab-dashboard/): a web page, exposed, instrumented."""

from __future__ import annotations

from constructs import Construct

from homelab_charts.apps.common import (
    AppRelease,
    IngressController,
    Telemetry,
    expose,
    otel_env,
    send_telemetry,
)
from homelab_charts.base import Component
from homelab_charts.workloads import Container, Port, Probe, Resources, WebService
from homelab_charts.workloads.network import Connection
from homelab_charts.workloads.spec import EnvValue


class HomelabDashboard(Component):
    """The dashboard (``dashboard.yaml``): port 8080, ``/healthz``, exposed at its host."""

    PORT = 8080

    def __init__(self, scope: Construct, id: str, *, release: AppRelease, collector: Telemetry,
                 ingress: IngressController, resources: Resources | None = None) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "homelab-dashboard"})
        env: dict[str, EnvValue] = {
            "PORT": str(self.PORT),
            **otel_env(release, service_name=release.name,
                       namespace=self.default_namespace or "", collector=collector,
                       protocol="http/protobuf"),
        }
        self.web = WebService(
            self, "server", name=release.name, replicas=release.replicas, component="dashboard",
            container=Container(
                image=release.image,
                ports=(Port("http", self.PORT),),
                env=env,
                resources=resources or Resources("50m", "250m", "64Mi", "128Mi"),
                readiness=Probe.http("/healthz", "http", period_seconds=10),
                liveness=Probe.http("/healthz", "http", period_seconds=20, failure_threshold=6),
                writable_paths={"tmp": "/tmp"},
            ),
        )
        self.service = self.web.service
        self.ingress, from_controller = expose(self, self.web, release=release,
                                               controller=ingress)
        self.connections: list[Connection] = [from_controller]
        self.connections += send_telemetry(self, self.web, release=release,
                                           collector=collector, protocol="http/protobuf")
