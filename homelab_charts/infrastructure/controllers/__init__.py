"""The controllers layer: charts that install CRDs the rest of the tree uses."""

from collections.abc import Mapping

from homelab_charts.infrastructure.controllers.base import ChartCrds, Controller
from homelab_charts.infrastructure.controllers.cert_manager import CERT_MANAGER_CRDS, CertManager
from homelab_charts.infrastructure.controllers.sealed_secrets import (
    SEALED_SECRETS_CRDS,
    SealedSecretsController,
)

#: Chart name -> the custom kinds it installs (what ``homelab-charts validate`` counts).
CHART_CRDS: Mapping[str, ChartCrds] = {
    c.chart: c for c in (SEALED_SECRETS_CRDS, CERT_MANAGER_CRDS)
}

__all__ = ["CHART_CRDS", "CertManager", "ChartCrds", "Controller", "SealedSecretsController"]
