"""kube-state-metrics: the API objects' state as metrics (restarts, phases, Flux Ready).

One restricted Deployment with a read-only account. It reports the few built-in kinds the
dashboards and alerts use (:data:`RESOURCES`) and, through its custom resource state
configuration (:func:`flux_resource_state`), ``gotk_resource_info`` for the Flux objects
the tree uses: Flux 2.1 dropped the controllers' own ``gotk_reconcile_condition``, and
this is the replacement Flux documents (label ``ready`` is the Ready condition's status).
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder, skip_checkov
from homelab_charts.config import Image
from homelab_charts.flux.common import HELM_API, KUSTOMIZE_API, SOURCE_API
from homelab_charts.infrastructure.observability.alerts import CLUSTER_STATE_ALERTS
from homelab_charts.infrastructure.observability.config_data import (
    ConfigDocument,
)
from homelab_charts.infrastructure.observability.prometheus import Prometheus, ScrapeTarget
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import (
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    WebService,
)
from homelab_charts.workloads.access import cluster_role, service_account
from homelab_charts.workloads.network import Egress

CONFIG_PATH = "/etc/kube-state-metrics/custom-resources.yaml"
#: Built-in kinds reported (plural resource names, as --resources takes them).
RESOURCES = ("cronjobs", "daemonsets", "deployments", "jobs", "namespaces", "nodes",
             "persistentvolumeclaims", "pods", "statefulsets")
_API_GROUPS = {"daemonsets": "apps", "deployments": "apps", "statefulsets": "apps",
               "cronjobs": "batch", "jobs": "batch",  # the backups' alerts read these
               "namespaces": "", "nodes": "", "persistentvolumeclaims": "", "pods": ""}
#: Flux kinds reported as gotk_resource_info: (apiVersion, kind, plural).
FLUX_KINDS = ((KUSTOMIZE_API, "Kustomization", "kustomizations"),
              (HELM_API, "HelmRelease", "helmreleases"),
              (SOURCE_API, "GitRepository", "gitrepositories"),
              (SOURCE_API, "HelmRepository", "helmrepositories"),
              (SOURCE_API, "OCIRepository", "ocirepositories"))
TOKEN_REASON = ("kube-state-metrics lists and watches the reported kinds through the API "
                "server with its own read-only account")


def flux_resource_state() -> dict[str, Any]:
    """The custom resource state configuration: one ``gotk_resource_info`` per object."""
    resources = []
    for api_version, kind, _ in FLUX_KINDS:
        group, version = api_version.split("/")
        resources.append({
            "groupVersionKind": {"group": group, "version": version, "kind": kind},
            "metricNamePrefix": "gotk",
            "metrics": [{
                "name": "resource_info",
                "help": "The current state of a Flux object.",
                "each": {"type": "Info", "info": {"labelsFromPath": {
                    "name": ["metadata", "name"]}}},
                "labelsFromPath": {
                    "exported_namespace": ["metadata", "namespace"],
                    "ready": ["status", "conditions", "[type=Ready]", "status"],
                    "suspended": ["spec", "suspend"],
                },
            }],
        })
    return {"kind": "CustomResourceStateMetrics", "spec": {"resources": resources}}


@register("infrastructure.kube-state-metrics", folder="infrastructure/observability",
          shared=True)
class KubeStateMetrics(Component):
    """kube-state-metrics (``kube-state-metrics.yaml``), scraped by ``prometheus``, which
    gets its alerts (Flux not Ready, pods crash-looping)."""

    def __init__(self, scope: Construct, id: str, *, image: Image, prometheus: Prometheus,
                 resources: Resources | None = None,
                 name: str = "kube-state-metrics") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        config = ConfigDocument(self, "config", name=f"{name}-config", path=CONFIG_PATH,
                                config=flux_resource_state())
        account = service_account(self, "service-account", name=name)
        by_group: dict[str, list[str]] = {}
        for resource in RESOURCES:
            by_group.setdefault(_API_GROUPS[resource], []).append(resource)
        for api_version, _, plural in FLUX_KINDS:
            by_group.setdefault(api_version.split("/")[0], []).append(plural)
        # The custom resource state reader watches CRDs to notice when a kind appears.
        by_group["apiextensions.k8s.io"] = ["customresourcedefinitions"]
        self.rules = [{"apiGroups": [group], "resources": sorted(plurals),
                       "verbs": ["list", "watch"]} for group, plurals in sorted(by_group.items())]
        cluster_role(self, "cluster-role", name=name, rules=self.rules,
                     service_account=account)
        self.server = WebService(
            self, "server", name=name, component="metrics",
            container=Container(
                image=image,
                args=("--port=8080", "--telemetry-port=8081",
                      f"--resources={','.join(RESOURCES)}",
                      f"--custom-resource-state-config-file={CONFIG_PATH}"),
                ports=(Port("metrics", 8080), Port("telemetry", 8081)),
                resources=resources or Resources("20m", "250m", "64Mi", "256Mi"),
                readiness=Probe.http("/readyz", "telemetry", period_seconds=10),
                liveness=Probe.http("/livez", "metrics", period_seconds=20,
                                    failure_threshold=6),
                config_files=(config.file,),
                # The image's nobody user.
                run_as=RunAs(user=65534, group=65534),
            ),
            pod_annotations=config.pod_annotations,
            service_account=account.object_name,
        )
        skip_checkov(self.server.workload, {"CKV_K8S_38": TOKEN_REASON})
        self.service = self.server.service
        self.egress: list[Egress] = [Egress.kube_api(self.server)]
        prometheus.scrape(ScrapeTarget.of("kube-state-metrics", self.server, "metrics",
                                          honor_labels=True))
        prometheus.add_rule_group(CLUSTER_STATE_ALERTS)

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> KubeStateMetrics:
        """The homelab's kube-state-metrics: image from ``infrastructure.kube-state-metrics``."""
        return cls(scope, id, image=ctx.image("kube-state-metrics"),
                   prometheus=ctx.require(Prometheus))
