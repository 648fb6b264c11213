"""The Sealed Secrets controller (infrastructure/controllers/sealed-secrets.yaml).

A HelmRelease of Bitnami Labs' ``sealed-secrets`` chart (``controllers.sealed-secrets``
of the data file: controller v0.33.1, chart 2.17.9), installed as
``sealed-secrets-controller`` in ``kube-system``: the name and namespace ``kubeseal``
looks for by default, so ``kubeseal --fetch-cert`` and ``homelab-charts seal
--fetch-cert`` need no flags. The chart's ``crds/`` folder holds
the SealedSecret CRD; the HelmRelease installs and upgrades it (``CreateReplace``).

The controller keeps its sealing keys as Secrets labelled
``sealedsecrets.bitnami.com/sealed-secrets-key`` in ``kube-system``;
``scripts/sealing-key.sh`` backs them up and restores them.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Folder
from homelab_charts.flux import FLUX_NAMESPACE, HelmChart, HelmRelease, HelmRepository
from homelab_charts.infrastructure.controllers.base import ChartCrds, Controller, pinned_chart
from homelab_charts.platform import Chart
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Resources

#: kubeseal's defaults (--controller-name, --controller-namespace).
CONTROLLER_NAME = "sealed-secrets-controller"
CONTROLLER_NAMESPACE = "kube-system"
#: The label of the controller's key Secrets (what a backup selects).
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"

SEALED_SECRETS_CRDS = ChartCrds(chart="sealed-secrets",
                                kinds=frozenset({("bitnami.com", "SealedSecret")}))


@register("infrastructure.sealed-secrets", folder="infrastructure/controllers",
          namespace=FLUX_NAMESPACE, shared=True)
class SealedSecretsController(Controller):
    """The controller that turns SealedSecrets into Secrets, from its pinned chart."""

    CRDS = SEALED_SECRETS_CRDS

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> SealedSecretsController:
        """From the chart of ``controllers.sealed-secrets``."""
        return cls(scope, id, chart=pinned_chart(ctx, "sealed-secrets"))

    def __init__(self, scope: Construct, id: str, *, chart: Chart,
                 resources: Resources | None = None) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "controllers"})
        resources = resources or Resources("50m", "500m", "64Mi", "256Mi")
        self.controller_name = CONTROLLER_NAME
        self.target_namespace = CONTROLLER_NAMESPACE
        repository = HelmRepository(self, "repository", name="sealed-secrets",
                                    url=chart.repository, interval="12h")
        values: dict[str, Any] = {
            "fullnameOverride": CONTROLLER_NAME,
            "resources": resources.render(),
            # The chart's defaults, made "restricted" (seccomp, no escalation) and stated
            # so a chart upgrade cannot loosen them silently.
            "podSecurityContext": {"enabled": True, "fsGroup": 65534,
                                   "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": {
                "enabled": True, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                "runAsUser": 1001, "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            # A new sealing key every 30 days; old keys stay to unseal older secrets.
            "keyrenewperiod": "720h",
        }
        self.release = HelmRelease(
            self, "release", name="sealed-secrets", release_name=CONTROLLER_NAME,
            chart=HelmChart(chart="sealed-secrets", version=chart.version, source=repository),
            target_namespace=CONTROLLER_NAMESPACE, values=values,
        )
