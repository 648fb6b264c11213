"""cert-manager (infrastructure/controllers/cert-manager.yaml): certificates for every Ingress.

Its own namespace (``restricted``, like every namespace of the tree; default deny, with
the flows its pods need as :attr:`CertManager.outside_flows`) and a HelmRelease of the
Jetstack chart at the version of ``controllers.cert-manager`` (whose CRD schemas
``homelab-charts validate`` uses). The chart renders its CRDs from templates when
``crds.enabled`` is true; ``crds.keep`` leaves them (and every Certificate) in place if
the release is ever uninstalled. The issuers live in the ``configs`` layer
(:mod:`homelab_charts.infrastructure.configs.issuers`).
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Folder
from homelab_charts.flux import FLUX_NAMESPACE, HelmChart, HelmRelease, HelmRepository
from homelab_charts.infrastructure.controllers.base import ChartCrds, Controller, pinned_chart
from homelab_charts.infrastructure.namespaces import namespace
from homelab_charts.platform import Chart, NetworkSettings
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Port, Resources
from homelab_charts.workloads.network import OutsideFlow, Pods

NAMESPACE = "cert-manager"
#: The chart's webhook port (``webhook.securePort``), called by the API server.
WEBHOOK_PORT = 10250
#: The controller's metrics port (``prometheus`` scrape annotations of the chart).
METRICS_PORT = 9402

CERT_MANAGER_CRDS = ChartCrds(
    chart="cert-manager",
    kinds=frozenset({
        ("cert-manager.io", "Certificate"), ("cert-manager.io", "CertificateRequest"),
        ("cert-manager.io", "Issuer"), ("cert-manager.io", "ClusterIssuer"),
        ("acme.cert-manager.io", "Order"), ("acme.cert-manager.io", "Challenge"),
    }),
    values_switch=("crds", "enabled"),
)


def _hardened() -> dict[str, Any]:
    """A container securityContext meeting "restricted" (a new dict each time: the YAML
    writer would turn a dict used twice into an anchor and aliases)."""
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}}


def _pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


@register("infrastructure.cert-manager", folder="infrastructure/controllers",
          namespace=FLUX_NAMESPACE, shared=True)
class CertManager(Controller):
    """cert-manager from its pinned chart, with its CRDs, in namespace ``cert-manager``.

    ``network`` (the data file's ``platform.network``) places the API server its pods
    talk to; with ``acme`` its controller may also reach ACME servers and DNS on the
    internet.
    """

    CRDS = CERT_MANAGER_CRDS

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> CertManager:
        """From the chart of ``controllers.cert-manager``."""
        platform = ctx.data.platform
        return cls(scope, id, chart=pinned_chart(ctx, "cert-manager"),
                   network=platform.network, acme=platform.tls.acme is not None)

    def __init__(self, scope: Construct, id: str, *, chart: Chart,
                 network: NetworkSettings | None = None, acme: bool = False) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "controllers"})
        network = network or NetworkSettings()
        self.target_namespace = NAMESPACE
        self.namespace_object = namespace(self, "namespace", NAMESPACE)
        repository = HelmRepository(self, "repository", name="jetstack", url=chart.repository,
                                    interval="12h")
        values: dict[str, Any] = {
            "crds": {"enabled": True, "keep": True},
            # Leader election in its own namespace (the chart's default is kube-system).
            "global": {"leaderElection": {"namespace": NAMESPACE}},
            "resources": Resources("10m", "200m", "64Mi", "256Mi").render(),
            "securityContext": _pod_security(),
            "containerSecurityContext": _hardened(),
            "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
            "webhook": {
                "securePort": WEBHOOK_PORT,
                "resources": Resources("10m", "100m", "32Mi", "128Mi").render(),
                "securityContext": _pod_security(), "containerSecurityContext": _hardened(),
            },
            "cainjector": {
                "resources": Resources("10m", "100m", "64Mi", "256Mi").render(),
                "securityContext": _pod_security(), "containerSecurityContext": _hardened(),
            },
            "startupapicheck": {
                "securityContext": _pod_security(), "containerSecurityContext": _hardened(),
            },
        }
        self.release = HelmRelease(
            self, "release", name="cert-manager", release_name="cert-manager",
            chart=HelmChart(chart="cert-manager", version=chart.version, source=repository),
            target_namespace=NAMESPACE, values=values,
        )
        #: Every pod of the release, its webhook's, its controller's (the chart's labels).
        self.pod_selector = {"app.kubernetes.io/instance": "cert-manager"}
        self.webhook_selector = {**self.pod_selector, "app.kubernetes.io/component": "webhook"}
        self.controller_selector = {**self.pod_selector,
                                    "app.kubernetes.io/component": "controller"}
        self.webhook_port = WEBHOOK_PORT
        #: What its chart-made pods need once the namespace is default-deny: every pod
        #: the API server; the webhook is called by the API server (from a node address
        #: a policy cannot pin down); with ACME, the controller the internet (HTTPS, and
        #: DNS to check DNS-01 propagation at the authoritative servers).
        everything = Pods.external("cert-manager", NAMESPACE, self.pod_selector)
        webhook = Pods.external("cert-manager-webhook", NAMESPACE, self.webhook_selector,
                                ports=[Port("https", WEBHOOK_PORT)])
        self.outside_flows: list[OutsideFlow] = [
            OutsideFlow.kube_api(everything, network.node_cidr),
            OutsideFlow.from_anywhere(webhook, ["https"]),
        ]
        if acme:
            controller = Pods.external("cert-manager-controller", NAMESPACE,
                                       self.controller_selector)
            self.outside_flows += [
                OutsideFlow.internet(controller, [443, 53],
                                     cluster_ranges=network.cluster_ranges),
                OutsideFlow.internet(controller, [53], cluster_ranges=network.cluster_ranges,
                                     protocol="UDP"),
            ]
