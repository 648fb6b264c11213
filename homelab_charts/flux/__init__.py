"""Layer 1: typed Flux resources (sources, Kustomization, HelmRelease)."""

from homelab_charts.flux.common import FLUX_NAMESPACE, FLUX_SYSTEM_REPOSITORY, ObjectReference
from homelab_charts.flux.helmrelease import HelmChart, HelmRelease, Remediation, ValuesFrom
from homelab_charts.flux.kustomization import Kustomization, SubstituteFrom
from homelab_charts.flux.notification import Receiver, webhook_path
from homelab_charts.flux.sources import GitRef, GitRepository, HelmRepository, OCIRef, OCIRepository

__all__ = [
    "FLUX_NAMESPACE",
    "FLUX_SYSTEM_REPOSITORY",
    "GitRef",
    "GitRepository",
    "HelmChart",
    "HelmRelease",
    "HelmRepository",
    "Kustomization",
    "OCIRef",
    "OCIRepository",
    "ObjectReference",
    "Receiver",
    "Remediation",
    "SubstituteFrom",
    "ValuesFrom",
    "webhook_path",
]
