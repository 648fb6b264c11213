"""Prometheus: scrapes itself, the OpenTelemetry Collector and every annotated pod.

Raw manifests (a StatefulSet through :class:`~homelab_charts.workloads.StatefulService`)
rather than kube-prometheus-stack: the stack's operator, CRDs, node exporter (host
namespaces, which the "restricted" Pod Security Standard forbids) and Grafana are far
more than a single Prometheus needs. Pods opt in to scraping with the usual annotations
(``prometheus.io/scrape``, ``/port``, ``/path``, which :class:`Workload` sets from its
``metrics_port``). The collector pushes OTLP metrics here through the remote-write
receiver; ``retention`` (time) and ``retention_size`` (disk) bound the volume.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest, skip_checkov
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability.config_data import (
    CHECKSUM_ANNOTATION,
    ConfigDocument,
    duration_seconds,
)
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import (
    ConfigFile,
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    StatefulService,
    Workload,
)
from homelab_charts.workloads.network import Connection, Pods, as_pods

CONFIG_PATH = "/etc/prometheus/prometheus.yml"
DATA_PATH = "/prometheus"
_SIZE = re.compile(r"^[0-9]+(B|KB|MB|GB|TB|PB|EB)$")
ANNOTATED_PODS_JOB = "kubernetes-pods"
#: checkov CKV_K8S_38: why this pod mounts a service account token.
TOKEN_REASON = ("pod discovery lists pods through the API server; the token's account may "
                "only get, list and watch pods")


@dataclass(frozen=True)
class ScrapeTarget:
    """A dedicated scrape job: the pods of ``pods`` on their ``port`` (by name)."""

    job: str
    pods: Pods
    port: str
    path: str = "/metrics"

    @classmethod
    def of(cls, job: str, workload: Workload | Pods, port: str,
           path: str = "/metrics") -> ScrapeTarget:
        pods = as_pods(workload)
        pods.port(port)
        return cls(job, pods, port, path)


def _pod_labels(source: str, target: str) -> dict[str, Any]:
    return {"source_labels": [source], "target_label": target}


_COMMON_RELABEL = [
    _pod_labels("__meta_kubernetes_namespace", "namespace"),
    _pod_labels("__meta_kubernetes_pod_name", "pod"),
    _pod_labels("__meta_kubernetes_pod_label_app_kubernetes_io_name", "app"),
]


def scrape_config(*, cluster: str, interval: str, self_port: int,
                  targets: Sequence[ScrapeTarget]) -> dict[str, Any]:
    """``prometheus.yml`` as data."""
    jobs: list[dict[str, Any]] = [{
        "job_name": "prometheus",
        "static_configs": [{"targets": [f"localhost:{self_port}"]}],
    }]
    for target in targets:
        selector = ",".join(f"{k}={v}" for k, v in target.pods.labels)
        jobs.append({
            "job_name": target.job,
            "metrics_path": target.path,
            "kubernetes_sd_configs": [{
                "role": "pod",
                "namespaces": {"names": [target.pods.namespace]},
                "selectors": [{"role": "pod", "label": selector}],
            }],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_container_port_name"],
                 "action": "keep", "regex": target.port},
                *_COMMON_RELABEL,
            ],
        })
    jobs.append({
        "job_name": ANNOTATED_PODS_JOB,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
             "action": "keep", "regex": "true"},
            {"source_labels": ["__meta_kubernetes_pod_phase"],
             "action": "drop", "regex": "Pending|Succeeded|Failed|Unknown"},
            {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
             "action": "replace", "regex": "(.+)", "target_label": "__metrics_path__"},
            {"source_labels": ["__address__",
                               "__meta_kubernetes_pod_annotation_prometheus_io_port"],
             "action": "replace", "regex": r"([^:]+)(?::\d+)?;(\d+)",
             "replacement": "$1:$2", "target_label": "__address__"},
            *_COMMON_RELABEL,
        ],
    })
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "external_labels": {"cluster": cluster}},
        "scrape_configs": jobs,
    }


@register("infrastructure.prometheus", folder="infrastructure/observability", shared=True)
class Prometheus(Component):
    """Prometheus (``prometheus.yaml``) with ``retention`` (default 15d) on a volume.

    Pod discovery reads pods through the API server, so this is the one workload with a
    service account token: a ServiceAccount bound to a ClusterRole that may only get,
    list and watch pods. ``connections`` lists the scrape flows a dedicated job opens
    (the cluster adds the annotated pods it finds).
    """

    PORT = 9090

    def __init__(self, scope: Construct, id: str, *, image: Image, retention: str = "15d",
                 retention_size: str | None = "8GB", storage_size: str = "10Gi",
                 storage_class: str | None = None, scrape_interval: str = "30s",
                 cluster_name: str = "homelab", targets: Sequence[ScrapeTarget] = (),
                 resources: Resources | None = None, name: str = "prometheus") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        duration_seconds(self.where, "retention", retention)
        duration_seconds(self.where, "scrape_interval", scrape_interval)
        if retention_size is not None and not _SIZE.match(retention_size):
            raise ConfigError(self.where, "retention_size",
                              f"{retention_size!r} is not a size such as 8GB (units B, KB, MB, "
                              "GB, TB, PB, EB)")
        self.retention = retention
        self.retention_size = retention_size
        self.cluster_name = cluster_name
        self.scrape_interval = scrape_interval
        self.targets: list[ScrapeTarget] = []
        self.connections: list[Connection] = []
        config = ConfigDocument(self, "config", name=f"{name}-config", key="prometheus.yml",
                                config=self._render_config())
        self._config = config
        args = [f"--config.file={CONFIG_PATH}", f"--storage.tsdb.path={DATA_PATH}",
                f"--storage.tsdb.retention.time={retention}"]
        if retention_size:
            args.append(f"--storage.tsdb.retention.size={retention_size}")
        args += ["--web.enable-remote-write-receiver", f"--web.listen-address=:{self.PORT}"]

        account = Manifest(self, "service-account", api_version="v1", kind="ServiceAccount",
                           name=name, body={"automountServiceAccountToken": False})
        namespace = self.default_namespace or ""
        role = Manifest(self, "cluster-role", api_version="rbac.authorization.k8s.io/v1",
                        kind="ClusterRole", name=f"{namespace}-{name}-discovery",
                        body={"rules": [{"apiGroups": [""], "resources": ["pods"],
                                         "verbs": ["get", "list", "watch"]}]})
        Manifest(self, "cluster-role-binding", api_version="rbac.authorization.k8s.io/v1",
                 kind="ClusterRoleBinding", name=role.object_name, body={
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                 "kind": "ClusterRole", "name": role.object_name},
                     "subjects": [{"kind": "ServiceAccount", "name": account.object_name,
                                   "namespace": namespace}],
                 })
        self.server = StatefulService(
            self, "server", name=name, component="metrics",
            container=Container(
                image=image,
                args=tuple(args),
                ports=(Port("http", self.PORT),),
                resources=resources or Resources("200m", "1", "512Mi", "2Gi"),
                startup=Probe.http("/-/ready", "http", period_seconds=5, failure_threshold=60),
                readiness=Probe.http("/-/ready", "http", period_seconds=10),
                liveness=Probe.http("/-/healthy", "http", period_seconds=20,
                                    failure_threshold=6),
                writable_paths={"tmp": "/tmp"},
                config_files=(ConfigFile(config.object_name, config.key, CONFIG_PATH),),
                # The image's nobody user.
                run_as=RunAs(user=65534, group=65534, fs_group=65534),
            ),
            data_path=DATA_PATH, storage_size=storage_size, storage_class=storage_class,
            pod_annotations={CHECKSUM_ANNOTATION: config.checksum},
            # The one pod that talks to the API server: its own account, token mounted.
            service_account=account.object_name,
        )
        skip_checkov(self.server.workload, {"CKV_K8S_38": TOKEN_REASON})
        self.service_account = account
        self.service = self.server.service
        for target in targets:
            self.scrape(target)

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Prometheus:
        """The homelab's Prometheus: image from ``infrastructure.prometheus``, the
        cluster's name as the ``cluster`` label of every series."""
        return cls(scope, id, image=ctx.image("prometheus"), cluster_name=ctx.settings.name,
                   storage_class=ctx.settings.storage_class_name)

    @property
    def config(self) -> dict[str, Any]:
        """``prometheus.yml`` as data (what the ConfigMap holds)."""
        return dict(self._config.config)

    def _render_config(self) -> dict[str, Any]:
        return scrape_config(cluster=self.cluster_name, interval=self.scrape_interval,
                             self_port=self.PORT, targets=self.targets)

    def scrape(self, target: ScrapeTarget) -> None:
        """Add a dedicated job for ``target`` (and the network flow it needs).

        The ConfigMap and the pod template's checksum are updated, so components created
        after Prometheus (the collector, which sends it metrics) can still be scraped.
        """
        if target.job in {"prometheus", ANNOTATED_PODS_JOB, *(t.job for t in self.targets)}:
            raise ConfigError(self.where, "targets", f"job {target.job!r} is defined twice")
        self.targets.append(target)
        self._config.update(self._render_config())
        template = self.server.workload.body["spec"]["template"]["metadata"]
        template.setdefault("annotations", {})[CHECKSUM_ANNOTATION] = self._config.checksum
        self.connections.append(Connection.to(self.server, target.pods, target.port))

    @property
    def remote_write_url(self) -> str:
        return f"{self.server.url('http')}/api/v1/write"
