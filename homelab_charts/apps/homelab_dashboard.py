"""Homelab Dashboard (apps/homelab-dashboard/): a web page, exposed, instrumented."""

from __future__ import annotations

from constructs import Construct

from homelab_charts.apps.common import AppRelease, IngressController, Telemetry, web_ui
from homelab_charts.base import Component, Folder
from homelab_charts.infrastructure.networking import Traefik
from homelab_charts.infrastructure.observability import OtelCollector
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Resources
from homelab_charts.workloads.network import Connection


@register("services.homelab-dashboard", folder="apps/homelab-dashboard", id="dashboard")
class HomelabDashboard(Component):
    """The dashboard (``dashboard.yaml``): port 8080, ``/healthz``, exposed at its host."""

    PORT = 8080

    def __init__(self, scope: Construct, id: str, *, release: AppRelease, collector: Telemetry,
                 ingress: IngressController, resources: Resources | None = None) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "homelab-dashboard"})
        ui = web_ui(self, release=release, collector=collector, ingress=ingress,
                    part="dashboard", port=self.PORT,
                    resources=(resources or release.resources
                               or Resources("50m", "250m", "64Mi", "128Mi")))
        self.web = ui.web
        self.service = self.web.service
        self.ingress = ui.ingress
        self.connections: list[Connection] = ui.connections

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> HomelabDashboard:
        return cls(scope, id, release=AppRelease.from_data(ctx.data, "homelab-dashboard"),
                   collector=ctx.require(OtelCollector), ingress=ctx.require(Traefik))
