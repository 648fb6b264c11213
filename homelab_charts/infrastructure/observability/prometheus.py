"""Prometheus: scrapes itself, the collectors, exporters, kubelets, Flux and annotated pods.

Raw manifests (a StatefulSet through :class:`~homelab_charts.workloads.StatefulService`)
rather than kube-prometheus-stack: the stack's operator, CRDs, node exporter (host
namespaces, which the "restricted" Pod Security Standard forbids) and Grafana are far
more than a single Prometheus needs. Pods opt in to scraping with the usual annotations
(``prometheus.io/scrape``, ``/port``, ``/path``, which :class:`Workload` sets from its
``metrics_port``). The collector pushes OTLP metrics here through the remote-write
receiver; ``retention`` (time) and ``retention_size`` (disk) bound the volume.

Alerting rules come in groups (:class:`~.alerts.RuleGroup`) that components add with
:meth:`Prometheus.add_rule_group`, the hook for any component's alerts: the file
``alerts.yml`` of the ConfigMap ``prometheus-rules``, listed under ``rule_files`` once a
group exists. Firing alerts go to the data file's Alertmanager, when it names one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from constructs import Construct

from homelab_charts.base import Component, Folder, skip_checkov
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability.alerts import (
    KUBELET_ALERTS,
    RuleGroup,
    rule_group_errors,
    rules_file,
)
from homelab_charts.infrastructure.observability.config_data import (
    ConfigDocument,
    duration_seconds,
)
from homelab_charts.infrastructure.observability.settings import ObservabilitySettings
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import (
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    StatefulService,
    Workload,
)
from homelab_charts.workloads.access import cluster_role, service_account
from homelab_charts.workloads.network import Connection, Egress, Pods, as_pods

CONFIG_PATH = "/etc/prometheus/prometheus.yml"
DATA_PATH = "/prometheus"
_SIZE = re.compile(r"^[0-9]+(B|KB|MB|GB|TB|PB|EB)$")
ANNOTATED_PODS_JOB = "kubernetes-pods"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: Kubelet scrape jobs -> metrics path on the kubelet's port.
KUBELET_JOBS = {"kubelet": "/metrics", "cadvisor": "/metrics/cadvisor"}
KUBELET_PORT = 10250
RULES_PATH = "/etc/prometheus/rules/alerts.yml"
RULES_CHECKSUM_ANNOTATION = "checksum/rules"
#: The Flux controllers' pods (flux bootstrap's, in flux-system) and their metrics port.
FLUX_CONTROLLERS = Pods.external("flux-controllers", "flux-system",
                                 {"app.kubernetes.io/part-of": "flux"},
                                 ports=[Port("http-prom", 8080)])
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")
#: checkov CKV_K8S_38: why this pod mounts a service account token.
TOKEN_REASON = ("pod and node discovery read the API server and the kubelets; the token's "
                "account may only read pods and nodes and get nodes/metrics")


@dataclass(frozen=True)
class ScrapeTarget:
    """A dedicated scrape job: the pods of ``pods`` on their ``port`` (by name)."""

    job: str
    pods: Pods
    port: str
    path: str = "/metrics"
    #: Keep the target's own ``namespace``/``pod`` labels (kube-state-metrics reports
    #: other objects; its series must not be relabelled as its own pod's).
    honor_labels: bool = False

    @classmethod
    def of(cls, job: str, workload: Workload | Pods, port: str,
           path: str = "/metrics", honor_labels: bool = False) -> ScrapeTarget:
        pods = as_pods(workload)
        pods.port(port)
        return cls(job, pods, port, path, honor_labels)


def _pod_labels(source: str, target: str) -> dict[str, Any]:
    return {"source_labels": [source], "target_label": target}


_COMMON_RELABEL = [
    _pod_labels("__meta_kubernetes_namespace", "namespace"),
    _pod_labels("__meta_kubernetes_pod_name", "pod"),
    _pod_labels("__meta_kubernetes_pod_label_app_kubernetes_io_name", "app"),
    _pod_labels("__meta_kubernetes_pod_node_name", "node"),
]


def kubelet_jobs() -> list[dict[str, Any]]:
    """The kubelets (``/metrics``: volume usage) and their cAdvisor (container figures).

    Node discovery gives each node's kubelet address (InternalIP:10250); Prometheus
    authenticates with its token, whose account may ``get nodes/metrics`` (the kubelet
    authorizes ``/metrics`` and ``/metrics/cadvisor`` with that subresource; no
    ``nodes/proxy``, which would also allow exec into pods). The kubelet's serving
    certificate is not issued for the addresses it is reached on in every cluster, so the
    name is not verified; the CA still is for the API server (pod discovery).
    """
    jobs = []
    for job, path in KUBELET_JOBS.items():
        jobs.append({
            "job_name": job,
            "scheme": "https",
            "metrics_path": path,
            "authorization": {"credentials_file": f"{SERVICE_ACCOUNT_DIR}/token"},
            "tls_config": {"ca_file": f"{SERVICE_ACCOUNT_DIR}/ca.crt",
                           "insecure_skip_verify": True},
            "kubernetes_sd_configs": [{"role": "node"}],
            "relabel_configs": [_pod_labels("__meta_kubernetes_node_name", "node")],
        })
    return jobs


def alerting_config(alertmanager_url: str) -> dict[str, Any]:
    """``alerting`` for one Alertmanager at ``alertmanager_url`` (http[s]://host:port[/prefix])."""
    parts = urlsplit(alertmanager_url)
    manager: dict[str, Any] = {"scheme": parts.scheme,
                               "static_configs": [{"targets": [parts.netloc]}]}
    if parts.path.strip("/"):
        manager["path_prefix"] = parts.path
    return {"alertmanagers": [manager]}


def scrape_config(*, cluster: str, interval: str, self_port: int,
                  targets: Sequence[ScrapeTarget], kubelets: bool = False,
                  rule_files: Sequence[str] = (),
                  alertmanager_url: str | None = None) -> dict[str, Any]:
    """``prometheus.yml`` as data."""
    jobs: list[dict[str, Any]] = [{
        "job_name": "prometheus",
        "static_configs": [{"targets": [f"localhost:{self_port}"]}],
    }]
    for target in targets:
        selector = ",".join(f"{k}={v}" for k, v in target.pods.labels)
        job: dict[str, Any] = {"job_name": target.job}
        if target.honor_labels:
            job["honor_labels"] = True
        jobs.append({
            **job,
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
    if kubelets:
        jobs.extend(kubelet_jobs())
    out: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "external_labels": {"cluster": cluster}},
    }
    if alertmanager_url:
        out["alerting"] = alerting_config(alertmanager_url)
    if rule_files:
        out["rule_files"] = list(rule_files)
    out["scrape_configs"] = jobs
    return out


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
                 kubelets: bool = False, rule_groups: Sequence[RuleGroup] = (),
                 alertmanager_url: str | None = None,
                 resources: Resources | None = None, name: str = "prometheus") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        duration_seconds(self.where, "retention", retention)
        duration_seconds(self.where, "scrape_interval", scrape_interval)
        if retention_size is not None and not _SIZE.match(retention_size):
            raise ConfigError(self.where, "retention_size",
                              f"{retention_size!r} is not a size such as 8GB (units B, KB, MB, "
                              "GB, TB, PB, EB)")
        if alertmanager_url is not None and not _URL.match(alertmanager_url):
            raise ConfigError(self.where, "alertmanager_url",
                              f"{alertmanager_url!r} is not an http(s)://host[:port][/path] URL")
        self.retention = retention
        self.retention_size = retention_size
        self.cluster_name = cluster_name
        self.kubelets = kubelets
        self.alertmanager_url = alertmanager_url
        self.rule_groups: list[RuleGroup] = []
        self.scrape_interval = scrape_interval
        self.targets: list[ScrapeTarget] = []
        self.connections: list[Connection] = []
        config = ConfigDocument(self, "config", name=f"{name}-config", path=CONFIG_PATH,
                                config=self._render_config())
        self._config = config
        rules = ConfigDocument(self, "rules", name=f"{name}-rules", path=RULES_PATH,
                               config=rules_file(()), annotation=RULES_CHECKSUM_ANNOTATION)
        self._rules = rules
        config_files = [config.file, rules.file]
        annotations = {**config.pod_annotations, **rules.pod_annotations}
        args = [f"--config.file={CONFIG_PATH}", f"--storage.tsdb.path={DATA_PATH}",
                f"--storage.tsdb.retention.time={retention}"]
        if retention_size:
            args.append(f"--storage.tsdb.retention.size={retention_size}")
        args += ["--web.enable-remote-write-receiver", f"--web.listen-address=:{self.PORT}"]

        account = service_account(self, "service-account", name=name)
        self.access_rules: list[dict[str, Any]] = [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
        if kubelets:
            self.access_rules = [
                {"apiGroups": [""], "resources": ["nodes", "pods"],
                 "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
            ]
        cluster_role(self, "cluster-role", name=f"{name}-discovery", rules=self.access_rules,
                     service_account=account)
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
                config_files=tuple(config_files),
                # The image's nobody user.
                run_as=RunAs(user=65534, group=65534, fs_group=65534),
            ),
            data_path=DATA_PATH, storage_size=storage_size, storage_class=storage_class,
            pod_annotations=annotations,
            # The one pod that talks to the API server: its own account, token mounted.
            service_account=account.object_name,
        )
        skip_checkov(self.server.workload, {"CKV_K8S_38": TOKEN_REASON})
        self.service_account = account
        self.service = self.server.service
        # Outside the pod network: the API server (discovery), the kubelets (the nodes,
        # port 10250), the Alertmanager (its port, any address).
        self.egress: list[Egress] = [Egress.kube_api(self.server)]
        if kubelets:
            self.egress.append(Egress.to(self.server, "the kubelets",
                                         Port("kubelet", KUBELET_PORT), on_nodes=True))
        if self.alertmanager_port is not None:
            self.egress.append(Egress.to(self.server, "the Alertmanager",
                                         Port("alertmanager", self.alertmanager_port)))
        for target in targets:
            self.scrape(target)
        for group in rule_groups:
            self.add_rule_group(group)

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Prometheus:
        """The homelab's Prometheus: image from ``infrastructure.prometheus``, retention,
        storage and Alertmanager from ``observability`` (ObservabilitySettings), the
        cluster's name as the ``cluster`` label of every series; it scrapes the kubelets
        (with their alerts) and the Flux controllers."""
        settings = ObservabilitySettings.from_data(ctx.data.observability)
        prometheus = cls(scope, id, image=ctx.image("prometheus"),
                         cluster_name=ctx.settings.name,
                         storage_class=ctx.settings.storage_class_name,
                         retention=settings.prometheus_retention,
                         retention_size=settings.prometheus_retention_size,
                         storage_size=settings.prometheus_storage_size, kubelets=True,
                         rule_groups=[KUBELET_ALERTS],
                         alertmanager_url=settings.alertmanager_url)
        prometheus.scrape(ScrapeTarget.of("flux", FLUX_CONTROLLERS, "http-prom"))
        return prometheus

    @property
    def config(self) -> dict[str, Any]:
        """``prometheus.yml`` as data (what the ConfigMap holds)."""
        return dict(self._config.config)

    def _render_config(self) -> dict[str, Any]:
        return scrape_config(cluster=self.cluster_name, interval=self.scrape_interval,
                             self_port=self.PORT, targets=self.targets, kubelets=self.kubelets,
                             rule_files=[RULES_PATH] if self.rule_groups else [],
                             alertmanager_url=self.alertmanager_url)

    def _rerender(self) -> None:
        self._config.update(self._render_config())
        annotations = self.server.workload.body["spec"]["template"]["metadata"] \
            .setdefault("annotations", {})
        annotations.update(self._config.pod_annotations)
        annotations.update(self._rules.pod_annotations)

    def add_rule_group(self, group: RuleGroup) -> None:
        """Add ``group``'s alerting rules (the hook for any component's alerts: call it
        from ``create`` with ``ctx.require(Prometheus)``, or ``ctx.find(Prometheus)``
        when the alerts are optional). A group or alert name used twice is an error."""
        errors = rule_group_errors([*self.rule_groups, group])
        if errors:
            raise ConfigError(self.where, "rule_groups", "; ".join(errors))
        self.rule_groups.append(group)
        self._rules.update(rules_file(self.rule_groups))
        self._rerender()

    def scrape(self, target: ScrapeTarget) -> None:
        """Add a dedicated job for ``target`` (and the network flow it needs).

        The ConfigMap and the pod template's checksum are updated, so components created
        after Prometheus (the collector, which sends it metrics) can still be scraped.
        """
        if target.job in {"prometheus", ANNOTATED_PODS_JOB, *KUBELET_JOBS,
                          *(t.job for t in self.targets)}:
            raise ConfigError(self.where, "targets", f"job {target.job!r} is defined twice")
        self.targets.append(target)
        self._rerender()
        self.connections.append(Connection.to(self.server, target.pods, target.port))

    @property
    def alertmanager_port(self) -> int | None:
        """The port alerts are sent to (None without an Alertmanager)."""
        if self.alertmanager_url is None:
            return None
        parts = urlsplit(self.alertmanager_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def remote_write_url(self) -> str:
        return f"{self.server.url('http')}/api/v1/write"
