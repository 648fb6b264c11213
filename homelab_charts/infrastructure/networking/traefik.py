"""Traefik, the ingress controller, as a Flux HelmRelease of the official chart."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder
from homelab_charts.flux import HelmChart, HelmRelease, HelmRepository
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Resources

CHART_REPOSITORY = "https://traefik.github.io/charts"
CHART_VERSION = "37.3.0"

#: The chart's ``metrics`` entry point (its default port, stated so it cannot drift).
METRICS_PORT = 9100


@register("infrastructure.traefik", folder="infrastructure/networking", shared=True)
class Traefik(Component):
    """Traefik from its Helm chart (pinned ``chart_version``), serving ``ingress_class``.

    Other components reach it through ``ingress_class`` (their Ingress objects) and
    ``pod_selector``/``target_namespace`` (NetworkPolicies that let it in); Prometheus
    scrapes ``metrics_port``. With ``metrics.prometheus`` set, the chart's pod template
    annotates the pods itself (``prometheus.io/scrape``/``port``/``path``, the port taken
    from ``ports.metrics.port``). A top-level ``podAnnotations`` is no key of this chart
    (it reads ``deployment.podAnnotations``), and repeating the chart's own annotations
    there would render duplicate keys, so none are given.
    """

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Traefik:
        """The homelab's ingress controller, serving the data file's ``ingressClassName``."""
        return cls(scope, id, ingress_class=ctx.settings.ingress_class_name)

    def __init__(self, scope: Construct, id: str, *, ingress_class: str = "traefik",
                 chart_version: str = CHART_VERSION, replicas: int = 1,
                 resources: Resources | None = None, service_type: str = "LoadBalancer") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "networking"})
        resources = resources or Resources("100m", "500m", "64Mi", "256Mi")
        self.ingress_class = ingress_class
        self.target_namespace = self.default_namespace
        self.pod_selector = {"app.kubernetes.io/name": "traefik"}
        self.metrics_port = METRICS_PORT
        repository = HelmRepository(self, "repository", name="traefik", url=CHART_REPOSITORY,
                                    interval="12h", namespace=self.target_namespace)
        values: dict[str, Any] = {
            "deployment": {"replicas": replicas},
            "ingressClass": {"enabled": True, "isDefaultClass": True, "name": ingress_class},
            "providers": {
                "kubernetesIngress": {"enabled": True},
                "kubernetesCRD": {"enabled": False},
            },
            "service": {"type": service_type},
            "resources": resources.render(),
            # The chart's defaults already meet "restricted"; stated so a chart upgrade
            # cannot loosen them silently.
            "podSecurityContext": {
                "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "securityContext": {
                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
            "ports": {"metrics": {"port": METRICS_PORT}},
            "metrics": {"prometheus": {"entryPoint": "metrics"}},
            "logs": {"access": {"enabled": True}},
        }
        self.release = HelmRelease(
            self, "release", name="traefik",
            chart=HelmChart(chart="traefik", version=chart_version, source=repository),
            values=values,
        )
