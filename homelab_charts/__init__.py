"""homelab-charts: the homelab's Flux CD GitOps tree, generated from cdk8s constructs.

The names a homelab repository builds its own components with, importable from here
(``from homelab_charts import Component, WebService, register``) and documented with
an example each in docs/API.md. They load lazily: ``import homelab_charts`` alone does
not start cdk8s, so the command line stays quick for commands that do not synthesize.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
from typing import TYPE_CHECKING, Any

# jsii prints a multi-line end-of-life banner for Node 20 in every process, and the cdk8s
# CLI checks for upgrades over the network; neither helps a synthesis.
_os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
_os.environ.setdefault("CDK8S_CHECK_UPGRADE", "false")

__version__ = "0.1.0"

#: Public name -> the module that defines it. The stable API: a name leaves only with a
#: major version.
_EXPORTS: dict[str, str] = {
    # the base of every generated file and object
    "Component": "homelab_charts.base",
    "Folder": "homelab_charts.base",
    "Manifest": "homelab_charts.base",
    "TreeApp": "homelab_charts.base",
    "skip_checkov": "homelab_charts.base",
    # errors
    "ConfigError": "homelab_charts.errors",
    "HomelabError": "homelab_charts.errors",
    # the data file
    "HomelabData": "homelab_charts.config",
    "Image": "homelab_charts.config",
    "load_data": "homelab_charts.config",
    # registration and the cluster
    "register": "homelab_charts.registry",
    "ClusterContext": "homelab_charts.registry",
    "Registration": "homelab_charts.registry",
    "PodSecurity": "homelab_charts.registry",
    "HomelabCluster": "homelab_charts.cluster",
    "Layer": "homelab_charts.cluster",
    "NOT_ISOLATED": "homelab_charts.cluster",
    # workloads
    "Container": "homelab_charts.workloads",
    "ConfigFile": "homelab_charts.workloads",
    "FieldRef": "homelab_charts.workloads",
    "Port": "homelab_charts.workloads",
    "Probe": "homelab_charts.workloads",
    "Resources": "homelab_charts.workloads",
    "RunAs": "homelab_charts.workloads",
    "SecretKeyRef": "homelab_charts.workloads",
    "StatefulService": "homelab_charts.workloads",
    "WebService": "homelab_charts.workloads",
    "Workload": "homelab_charts.workloads",
    "NodeDaemon": "homelab_charts.workloads.daemon",
    "HostMount": "homelab_charts.workloads.daemon",
    # network
    "Connection": "homelab_charts.workloads.network",
    "Pods": "homelab_charts.workloads.network",
    "Egress": "homelab_charts.workloads.network",
    "OutsideFlow": "homelab_charts.workloads.network",
    # credentials
    "Credentials": "homelab_charts.workloads",
    "SealedSecret": "homelab_charts.secrets.sealed_secret",
    "SharedCredential": "homelab_charts.secrets.shared",
    "secret_key": "homelab_charts.workloads",
    # apps: release settings, exposure, telemetry
    "AppRelease": "homelab_charts.apps.common",
    "IngressController": "homelab_charts.apps.common",
    "Telemetry": "homelab_charts.apps.common",
    "WebUI": "homelab_charts.apps.common",
    "expose": "homelab_charts.apps.common",
    "otel_env": "homelab_charts.apps.common",
    "send_telemetry": "homelab_charts.apps.common",
    "web_ui": "homelab_charts.apps.common",
    # the built-in components (what ctx.require() asks for)
    "AppDatabase": "homelab_charts.infrastructure.databases",
    "PostgreSQL": "homelab_charts.infrastructure.databases",
    "Qdrant": "homelab_charts.infrastructure.databases",
    "Redis": "homelab_charts.infrastructure.databases",
    "Loki": "homelab_charts.infrastructure.observability",
    "OtelCollector": "homelab_charts.infrastructure.observability",
    "Prometheus": "homelab_charts.infrastructure.observability",
    "Jaeger": "homelab_charts.infrastructure.observability",
    "KubeStateMetrics": "homelab_charts.infrastructure.observability",
    "Grafana": "homelab_charts.infrastructure.observability",
    "OtelAgent": "homelab_charts.infrastructure.observability",
    "NodeExporter": "homelab_charts.infrastructure.observability",
    "Alert": "homelab_charts.infrastructure.observability",
    "RuleGroup": "homelab_charts.infrastructure.observability",
    "Traefik": "homelab_charts.infrastructure.networking",
    "CertManager": "homelab_charts.infrastructure.controllers",
    "ClusterIssuers": "homelab_charts.infrastructure.configs",
    "SealedSecretsController": "homelab_charts.infrastructure.controllers",
    "Backups": "homelab_charts.infrastructure.backup",
    "backup_alert_rules": "homelab_charts.infrastructure.backup",
    # Flux
    "GitRepository": "homelab_charts.flux",
    "HelmChart": "homelab_charts.flux",
    "HelmRelease": "homelab_charts.flux",
    "HelmRepository": "homelab_charts.flux",
    "Kustomization": "homelab_charts.flux",
    "OCIRepository": "homelab_charts.flux",
    "ImagePolicy": "homelab_charts.flux.images",
    "ImageRepository": "homelab_charts.flux.images",
}

#: ``load_data`` is ``config.load`` under a name that says what it loads.
_RENAMED = {"load_data": "load"}

#: The public names (kept equal to the keys of _EXPORTS; tests/test_public_api.py).
__all__ = [
    "NOT_ISOLATED",
    "Alert",
    "AppDatabase",
    "AppRelease",
    "Backups",
    "CertManager",
    "ClusterContext",
    "ClusterIssuers",
    "Component",
    "ConfigError",
    "ConfigFile",
    "Connection",
    "Container",
    "Credentials",
    "Egress",
    "FieldRef",
    "Folder",
    "GitRepository",
    "Grafana",
    "HelmChart",
    "HelmRelease",
    "HelmRepository",
    "HomelabCluster",
    "HomelabData",
    "HomelabError",
    "HostMount",
    "Image",
    "ImagePolicy",
    "ImageRepository",
    "IngressController",
    "Jaeger",
    "KubeStateMetrics",
    "Kustomization",
    "Layer",
    "Loki",
    "Manifest",
    "NodeDaemon",
    "NodeExporter",
    "OCIRepository",
    "OtelAgent",
    "OtelCollector",
    "OutsideFlow",
    "PodSecurity",
    "Pods",
    "Port",
    "PostgreSQL",
    "Probe",
    "Prometheus",
    "Qdrant",
    "Redis",
    "Registration",
    "Resources",
    "RuleGroup",
    "RunAs",
    "SealedSecret",
    "SealedSecretsController",
    "SecretKeyRef",
    "SharedCredential",
    "StatefulService",
    "Telemetry",
    "Traefik",
    "TreeApp",
    "WebService",
    "WebUI",
    "Workload",
    "backup_alert_rules",
    "expose",
    "load_data",
    "otel_env",
    "register",
    "secret_key",
    "send_telemetry",
    "skip_checkov",
    "web_ui",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from homelab_charts.apps.common import (
        AppRelease,
        IngressController,
        Telemetry,
        WebUI,
        expose,
        otel_env,
        send_telemetry,
        web_ui,
    )
    from homelab_charts.base import Component, Folder, Manifest, TreeApp, skip_checkov
    from homelab_charts.cluster import NOT_ISOLATED, HomelabCluster, Layer
    from homelab_charts.config import HomelabData, Image
    from homelab_charts.config import load as load_data
    from homelab_charts.errors import ConfigError, HomelabError
    from homelab_charts.flux import (
        GitRepository,
        HelmChart,
        HelmRelease,
        HelmRepository,
        Kustomization,
        OCIRepository,
    )
    from homelab_charts.flux.images import ImagePolicy, ImageRepository
    from homelab_charts.infrastructure.backup import Backups, backup_alert_rules
    from homelab_charts.infrastructure.configs import ClusterIssuers
    from homelab_charts.infrastructure.controllers import CertManager, SealedSecretsController
    from homelab_charts.infrastructure.databases import AppDatabase, PostgreSQL, Qdrant, Redis
    from homelab_charts.infrastructure.networking import Traefik
    from homelab_charts.infrastructure.observability import Loki, OtelCollector, Prometheus
    from homelab_charts.registry import ClusterContext, Registration, register
    from homelab_charts.secrets.sealed_secret import SealedSecret
    from homelab_charts.secrets.shared import SharedCredential
    from homelab_charts.workloads import (
        ConfigFile,
        Container,
        Credentials,
        FieldRef,
        Port,
        Probe,
        Resources,
        RunAs,
        SecretKeyRef,
        StatefulService,
        WebService,
        Workload,
        secret_key,
    )
    from homelab_charts.workloads.network import Connection, OutsideFlow, Pods
