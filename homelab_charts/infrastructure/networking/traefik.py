"""Traefik, the ingress controller, as a Flux HelmRelease of the official chart."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder
from homelab_charts.flux import HelmChart, HelmRelease, HelmRepository
from homelab_charts.infrastructure.configs import ClusterIssuers
from homelab_charts.platform import NetworkSettings
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Port, Resources
from homelab_charts.workloads.network import OutsideFlow, Pods
from homelab_charts.workloads.tls import CertificateIssuer

CHART_REPOSITORY = "https://traefik.github.io/charts"
CHART_VERSION = "37.3.0"

#: The chart's ``metrics`` entry point (its default port, stated so it cannot drift).
METRICS_PORT = 9100
#: The chart's entry points (container ports, stated so they cannot drift): plain HTTP,
#: which only redirects, and HTTPS.
WEB_PORT = 8000
WEBSECURE_PORT = 8443


@register("infrastructure.traefik", folder="infrastructure/networking", shared=True)
class Traefik(Component):
    """Traefik from its Helm chart (pinned ``chart_version``), serving ``ingress_class``.

    Every Ingress it serves gets a certificate from ``issuer``; port 80 (``web``) only
    redirects to 443 (``websecure``). Its namespace is default-deny like every other:
    :attr:`outside_flows` lets clients from anywhere reach its entry points and lets it
    reach the API server on the nodes' range (``network``). Other components reach it
    through ``ingress_class`` (their Ingress objects) and ``pods`` (NetworkPolicies that
    let it in and out); Prometheus
    scrapes ``metrics_port``. With ``metrics.prometheus`` set, the chart's pod template
    annotates the pods itself (``prometheus.io/scrape``/``port``/``path``, the port taken
    from ``ports.metrics.port``). A top-level ``podAnnotations`` is no key of this chart
    (it reads ``deployment.podAnnotations``), and repeating the chart's own annotations
    there would render duplicate keys, so none are given.
    """

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Traefik:
        """The homelab's ingress controller, serving the data file's ``ingressClassName``
        with certificates from the default issuer (``infrastructure.issuers``)."""
        return cls(scope, id, ingress_class=ctx.settings.ingress_class_name,
                   issuer=ctx.require(ClusterIssuers).default,
                   network=ctx.data.platform.network)

    def __init__(self, scope: Construct, id: str, *, issuer: CertificateIssuer,
                 ingress_class: str = "traefik", network: NetworkSettings | None = None,
                 chart_version: str = CHART_VERSION, replicas: int = 1,
                 resources: Resources | None = None, service_type: str = "LoadBalancer") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "networking"})
        resources = resources or Resources("100m", "500m", "64Mi", "256Mi")
        network = network or NetworkSettings()
        self.ingress_class = ingress_class
        #: Signs the certificate of every Ingress this controller serves.
        self.issuer = issuer
        self.target_namespace = self.default_namespace
        self.pod_selector = {"app.kubernetes.io/name": "traefik"}
        self.metrics_port = METRICS_PORT
        self.entry_points = (Port("web", WEB_PORT), Port("websecure", WEBSECURE_PORT))
        #: The chart's pods as a NetworkPolicy peer: entry points and metrics.
        self.pods = Pods.external("ingress-controller", self.target_namespace or "",
                                  self.pod_selector,
                                  ports=[*self.entry_points, Port("metrics", METRICS_PORT)])
        self.outside_flows: list[OutsideFlow] = [
            OutsideFlow.from_anywhere(self.pods, [p.name for p in self.entry_points]),
            OutsideFlow.kube_api(self.pods, network.node_cidr),
        ]
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
            "ports": {
                # Plain HTTP only redirects (permanently) to HTTPS (chart 37: redirections).
                "web": {"port": WEB_PORT, "redirections": {"entryPoint": {
                    "to": "websecure", "scheme": "https", "permanent": True}}},
                "websecure": {"port": WEBSECURE_PORT, "tls": {"enabled": True}},
                "metrics": {"port": METRICS_PORT},
            },
            "metrics": {"prometheus": {"entryPoint": "metrics"}},
            "logs": {"access": {"enabled": True}},
        }
        self.release = HelmRelease(
            self, "release", name="traefik",
            chart=HelmChart(chart="traefik", version=chart_version, source=repository),
            values=values,
        )
