"""Grafana: the dashboards of :mod:`.dashboards` over Prometheus, Loki and Jaeger.

A restricted Deployment of the pinned image (port 3000, home ``/usr/share/grafana``; run
as uid 10472 rather than the image's 472, which it allows) with a read-only root
filesystem: everything Grafana writes (its SQLite database, plugins, logs, ``/tmp``)
goes to emptyDir volumes, because everything it shows is provisioned from
the tree (data sources, a dashboard provider, the dashboards as files); a restarted pod
loses only sessions. The admin user and password are files of a Secret made by a
SealedSecret (``GF_SECURITY_ADMIN_*__FILE``), never environment values; plugin
pre-installation, update checks and usage reporting are off (no egress to the internet).
The UI is exposed at the data file's ``observability.grafana.host`` through the
ingress controller, over TLS (a certificate from the controller's issuer).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.networking import Traefik
from homelab_charts.infrastructure.observability.agent import OtelAgent
from homelab_charts.infrastructure.observability.config_data import (
    CHECKSUM_ANNOTATION,
    ConfigDocument,
    checksum,
)
from homelab_charts.infrastructure.observability.dashboards import (
    DATASOURCES,
    Dashboard,
    dashboards,
)
from homelab_charts.infrastructure.observability.jaeger import Jaeger
from homelab_charts.infrastructure.observability.kube_state_metrics import KubeStateMetrics
from homelab_charts.infrastructure.observability.loki import Loki
from homelab_charts.infrastructure.observability.node_exporter import NodeExporter
from homelab_charts.infrastructure.observability.otel_collector import OtelCollector
from homelab_charts.infrastructure.observability.prometheus import KUBELET_JOBS, Prometheus
from homelab_charts.infrastructure.observability.settings import ObservabilitySettings
from homelab_charts.registry import ClusterContext, register
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.workloads import (
    ConfigFile,
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    WebService,
)
from homelab_charts.workloads.network import Connection, Pods
from homelab_charts.workloads.tls import certificate

PROVISIONING = "/etc/grafana/provisioning"
DASHBOARDS_PATH = "/etc/grafana/dashboards"
ADMIN_PATH = "/etc/grafana/admin"
ADMIN_KEYS = ("admin-user", "admin-password")
DATA_PATH = "/var/lib/grafana"
RUN_AS_UID = 10472


def datasources(*, prometheus: Prometheus, loki: Loki,
                jaeger: Jaeger | None) -> dict[str, Any]:
    """The data sources provisioning file (uids as the dashboards name them)."""
    sources = [
        {"name": "Prometheus", "type": "prometheus", "uid": DATASOURCES["prometheus"],
         "access": "proxy", "url": prometheus.server.url("http"), "isDefault": True,
         "editable": False},
        {"name": "Loki", "type": "loki", "uid": DATASOURCES["loki"], "access": "proxy",
         "url": loki.server.url("http"), "editable": False},
    ]
    if jaeger is not None:
        sources.append({"name": "Jaeger", "type": "jaeger", "uid": DATASOURCES["jaeger"],
                        "access": "proxy", "url": jaeger.query_url, "editable": False})
    return {"apiVersion": 1, "datasources": sources}


def dashboard_provider() -> dict[str, Any]:
    return {"apiVersion": 1, "providers": [{
        "name": "homelab", "folder": "Homelab", "type": "file", "disableDeletion": True,
        "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
    }]}


def dashboard_file(dashboard: Dashboard) -> str:
    return json.dumps(dashboard.render(), indent=2, sort_keys=True) + "\n"


@register("infrastructure.grafana", folder="infrastructure/observability", shared=True)
class Grafana(Component):
    """Grafana (``grafana.yaml``): the homelab's dashboards over Prometheus, Loki and Jaeger.

    Exposed at ``host`` through ``ingress`` (no Ingress without a host); ``jaeger`` adds
    its data source when there is one; ``credentials`` holds :data:`ADMIN_KEYS`;
    ``sources`` (the metric sources the tree has, see :func:`.dashboards.dashboards`)
    picks the dashboard panels, all by default.
    """

    def __init__(self, scope: Construct, id: str, *, image: Image, host: str | None,
                 credentials: SealedSecret, prometheus: Prometheus, loki: Loki,
                 ingress: Traefik | None = None, jaeger: Jaeger | None = None,
                 sources: Collection[str] | None = None,
                 resources: Resources | None = None, name: str = "grafana") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        if host is not None and ingress is None:
            raise ConfigError(self.where, "ingress", f"host {host} needs an ingress controller")
        self.use(prometheus, loki, credentials.component)
        if jaeger is not None:
            self.use(jaeger)
        self.dashboards = dashboards(sources)
        self.datasources = datasources(prometheus=prometheus, loki=loki, jaeger=jaeger)
        sources = ConfigDocument(self, "datasources", name=f"{name}-datasources",
                                 path=f"{PROVISIONING}/datasources/datasources.yaml",
                                 config=self.datasources)
        provider = ConfigDocument(self, "provider", name=f"{name}-dashboard-provider",
                                  path=f"{PROVISIONING}/dashboards/homelab.yaml",
                                  config=dashboard_provider())
        files = {f"{d.uid}.json": dashboard_file(d) for d in self.dashboards}
        board_map = ConfigMapFiles(self, "dashboards", name=f"{name}-dashboards", files=files)
        config_files = [
            sources.file,
            provider.file,
            *(ConfigFile(board_map.object_name, key, f"{DASHBOARDS_PATH}/{key}")
              for key in files),
        ]
        digest = checksum(sources.text + provider.text + "".join(files.values()))
        env: dict[str, str] = {
            "GF_PATHS_DATA": DATA_PATH,
            "GF_PATHS_LOGS": "/var/log/grafana",
            "GF_PATHS_PLUGINS": f"{DATA_PATH}/plugins",
            "GF_PATHS_PROVISIONING": PROVISIONING,
            "GF_SECURITY_ADMIN_USER__FILE": f"{ADMIN_PATH}/admin-user",
            "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{ADMIN_PATH}/admin-password",
            "GF_SECURITY_DISABLE_GRAVATAR": "true",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_PLUGINS_PREINSTALL_DISABLED": "true",
            "GF_NEWS_NEWS_FEED_ENABLED": "false",
            "GF_LOG_MODE": "console",
        }
        if host is not None:
            # The address browsers use: the Ingress serves it over TLS only (the ingress
            # controller redirects http to https), and Grafana builds its redirects, share
            # and alert links from it.
            env["GF_SERVER_ROOT_URL"] = f"https://{host}/"
        self.server = WebService(
            self, "server", name=name, component="dashboards",
            container=Container(
                image=image,
                ports=(Port("http", 3000),),
                env=env,
                resources=resources or Resources("50m", "500m", "128Mi", "512Mi"),
                readiness=Probe.http("/api/health", "http", period_seconds=10),
                liveness=Probe.http("/api/health", "http", period_seconds=20,
                                    failure_threshold=6),
                config_files=tuple(config_files),
                writable_paths={"data": DATA_PATH, "logs": "/var/log/grafana", "tmp": "/tmp"},
                # The image (GF_UID 472, GF_GID 0) runs under any uid: its files are
                # world-readable and everything it writes is an emptyDir owned through
                # fsGroup, so a high uid (checkov CKV_K8S_40) with its own group.
                run_as=RunAs(user=RUN_AS_UID, group=RUN_AS_UID, fs_group=RUN_AS_UID),
            ),
            volumes=({"name": "admin", "secret": {
                "secretName": credentials.object_name, "defaultMode": 0o440,
                "items": [{"key": k, "path": k} for k in ADMIN_KEYS]}},),
            volume_mounts=({"name": "admin", "mountPath": ADMIN_PATH, "readOnly": True},),
            pod_annotations={CHECKSUM_ANNOTATION: digest},
        )
        self.service = self.server.service
        self.connections: list[Connection] = []
        if host is not None and ingress is not None:
            self.use(ingress, ingress.issuer.component)
            cert = certificate(self.server, "certificate", name=f"{self.server.name}-tls",
                               hosts=[host], issuer=ingress.issuer)
            self.server.expose("ingress", host=host, port_name="http",
                               ingress_class=ingress.ingress_class, tls_secret=cert.object_name)
            controller = Pods.external("ingress-controller", ingress.target_namespace or "",
                                       ingress.pod_selector)
            self.connections.append(Connection.to(controller, self.server, "http"))
        self.connections += [
            Connection.to(self.server, prometheus.server, "http"),
            Connection.to(self.server, loki.server, "http"),
        ]
        if jaeger is not None:
            self.connections.append(Connection.to(self.server, jaeger.server, "http-query"))

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Grafana:
        """The homelab's Grafana: image from ``infrastructure.grafana``, host from
        ``observability.grafana.host`` (through Traefik), admin credentials sealed as
        ``grafana-admin``; Jaeger's data source when Jaeger is on, and the dashboard
        panels of the metric sources the tree has (the exporters are built first)."""
        settings = ObservabilitySettings.from_data(ctx.data.observability)
        prometheus = ctx.require(Prometheus)
        collector = ctx.find(OtelCollector)
        for exporter in (OtelAgent, NodeExporter, KubeStateMetrics):
            ctx.find(exporter)  # built now, so Prometheus knows every scrape job
        sources = {t.job for t in prometheus.targets} | {"loki"}
        if prometheus.kubelets:
            sources |= set(KUBELET_JOBS)
        if collector is not None:
            sources.add("otlp")
        host = settings.grafana_host
        return cls(scope, id, image=ctx.image("grafana"), host=host,
                   ingress=ctx.require(Traefik) if host is not None else None,
                   prometheus=prometheus, loki=ctx.require(Loki), jaeger=ctx.find(Jaeger),
                   credentials=ctx.credentials(scope, "grafana-admin", list(ADMIN_KEYS)),
                   sources=sources)


class ConfigMapFiles(Manifest):
    """A ConfigMap of several text files (the dashboards), keys sorted."""

    def __init__(self, scope: Construct, id: str, *, name: str,
                 files: dict[str, str]) -> None:
        data = {key: files[key] for key in sorted(files)}
        super().__init__(scope, id, api_version="v1", kind="ConfigMap", name=name,
                         body={"data": data})
        self.text = "".join(data.values())
