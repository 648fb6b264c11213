"""The OpenTelemetry Collector as a node agent: every pod's log files, forwarded to the gateway.

A DaemonSet (:class:`~homelab_charts.workloads.daemon.NodeDaemon`) in the ``telemetry``
namespace reads ``/var/log/pods`` of its node read-only with the ``filelog`` receiver
(the ``container`` operator parses the containerd/CRI-O/Docker line formats and takes the
namespace, pod, uid and container names from the file path), adds the pod's metadata
(``k8sattributes``: workload names and ``service.name`` from the
``app.kubernetes.io/name`` label) and the node's (``resourcedetection``), and forwards
everything over OTLP gRPC to the gateway (:mod:`.otel_collector`), which sends it to Loki.
Read offsets are kept in ``/var/lib/otelcol-agent`` on the node (``file_storage``), so a
restarted agent resumes where it stopped instead of re-sending or skipping lines.

The log files are root's (mode 0640 on containerd), hence uid 0 and host folders, hence a
namespace at Pod Security level ``privileged``: the one exception of the tree.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder, skip_checkov
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability import telemetry
from homelab_charts.infrastructure.observability.config_data import (
    ConfigDocument,
)
from homelab_charts.infrastructure.observability.otel_collector import (
    OtelCollector,
    collector_container,
    memory_limit_of,
    memory_limiter,
    pipeline_errors,
    self_telemetry,
)
from homelab_charts.infrastructure.observability.prometheus import Prometheus, ScrapeTarget
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import FieldRef, Port, Resources
from homelab_charts.workloads.access import cluster_role, service_account
from homelab_charts.workloads.daemon import HostMount, NodeDaemon
from homelab_charts.workloads.network import Connection, Egress

CONFIG_PATH = "/etc/otelcol-contrib/config.yaml"
POD_LOGS = "/var/log/pods"
STATE_HOST_PATH = "/var/lib/otelcol-agent"
STATE_PATH = "/var/lib/otelcol-agent"
#: filelog include pattern: /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log
LOG_GLOB = f"{POD_LOGS}/*/*/*.log"
#: Resource attributes taken from pod labels by k8sattributes.
POD_LABEL_ATTRIBUTES = {"service.name": "app.kubernetes.io/name",
                        "service.namespace": "app.kubernetes.io/part-of"}
#: checkov skips on the agent (docs/CHECKOV.md): the privileged namespace's waivers.
AGENT_CHECKOV_SKIPS = {
    "CKV_K8S_38": "k8sattributes and resourcedetection read pods, namespaces, replicasets "
                  "and nodes through the API server with the agent's own read-only account",
    "CKV_K8S_23": "the pod log files are root's (0640); uid 0 with every capability dropped, "
                  "no privilege escalation and a read-only root filesystem",
    "CKV_K8S_40": "runs as uid 0 to read the root-owned pod log files",
}


def own_logs_glob(namespace: str, name: str) -> str:
    """The agent's own log files (left out: a failing export would log about itself)."""
    return f"{POD_LOGS}/{namespace}_{name}-*/{name}/*.log"


def agent_config(*, gateway_endpoint: str, namespace: str, name: str, memory_limit_mib: int,
                 ports: dict[str, int]) -> dict[str, Any]:
    """The agent's configuration file, as data."""
    listen = "${env:POD_IP}"
    return {
        "extensions": {
            "health_check": {"endpoint": f"{listen}:{ports['health']}"},
            "file_storage": {"directory": STATE_PATH, "create_directory": False},
        },
        "receivers": {"filelog": {
            "include": [LOG_GLOB],
            "exclude": [own_logs_glob(namespace, name)],
            "start_at": "end",
            "include_file_path": True,
            "include_file_name": False,
            "storage": "file_storage",
            "operators": [{"type": "container", "id": "container-parser"}],
        }},
        "processors": {
            "memory_limiter": memory_limiter(memory_limit_mib),
            "k8sattributes": {
                "auth_type": "serviceAccount",
                "passthrough": False,
                "filter": {"node_from_env_var": "K8S_NODE_NAME"},
                "extract": {
                    "metadata": ["k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid",
                                 "k8s.deployment.name", "k8s.statefulset.name",
                                 "k8s.daemonset.name", "k8s.node.name",
                                 "k8s.container.name"],
                    "labels": [{"tag_name": tag, "key": key, "from": "pod"}
                               for tag, key in POD_LABEL_ATTRIBUTES.items()],
                },
                "pod_association": [
                    {"sources": [{"from": "resource_attribute", "name": "k8s.pod.uid"}]},
                    {"sources": [{"from": "resource_attribute", "name": "k8s.pod.name"},
                                 {"from": "resource_attribute",
                                  "name": "k8s.namespace.name"}]},
                ],
            },
            "resourcedetection": {
                "detectors": ["env", "k8snode"],
                "k8snode": {"auth_type": "serviceAccount",
                            "node_from_env_var": "K8S_NODE_NAME"},
                "override": False,
                "timeout": "5s",
            },
            "batch": {"send_batch_size": 1024, "send_batch_max_size": 2048, "timeout": "5s"},
        },
        "exporters": {"otlp/gateway": {
            "endpoint": gateway_endpoint,
            "tls": {"insecure": True},
            "sending_queue": {"enabled": True, "storage": "file_storage"},
            "retry_on_failure": {"enabled": True, "max_elapsed_time": "10m"},
        }},
        "service": {
            "extensions": ["health_check", "file_storage"],
            "telemetry": self_telemetry(listen, ports),
            "pipelines": {"logs": {
                "receivers": ["filelog"],
                "processors": ["memory_limiter", "k8sattributes", "resourcedetection", "batch"],
                "exporters": ["otlp/gateway"],
            }},
        },
    }


@register("infrastructure.otel-agent", folder=telemetry.FOLDER,
          pod_security=telemetry.POD_SECURITY, shared=True)
class OtelAgent(Component):
    """The node agent (``otel-agent.yaml``): pod logs of every node to the gateway.

    Its ServiceAccount may get, list and watch pods, namespaces and replicasets (for
    k8sattributes) and nodes (resourcedetection's ``k8snode``); nothing else.
    """

    def __init__(self, scope: Construct, id: str, *, image: Image, gateway: OtelCollector,
                 prometheus: Prometheus, resources: Resources | None = None,
                 name: str = "otel-agent") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        namespace = self.default_namespace
        if namespace is None:
            raise ConfigError(self.where, "namespace", "the agent needs a namespace")
        resources = resources or Resources("50m", "500m", "64Mi", "256Mi")
        self.use(gateway)
        ports = (Port("metrics", 8888), Port("health", 13133))
        self.config = agent_config(
            gateway_endpoint=f"{gateway.gateway.host}:{gateway.gateway.port('otlp-grpc').port}",
            namespace=namespace, name=name, memory_limit_mib=memory_limit_of(resources),
            ports={p.name: p.port for p in ports})
        errors = pipeline_errors(self.config)
        if errors:
            raise ConfigError(self.where, "config", "; ".join(errors))
        config = ConfigDocument(self, "config", name=f"{name}-config", path=CONFIG_PATH,
                                config=self.config)
        account = service_account(self, "service-account", name=name)
        self.rules = [
            {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["replicasets"],
             "verbs": ["get", "list", "watch"]},
        ]
        cluster_role(self, "cluster-role", name=name, rules=self.rules,
                     service_account=account)
        self.daemon = NodeDaemon(
            self, "daemon", name=name, component="agent",
            container=collector_container(image, config=config, ports=ports,
                                          resources=resources,
                                          env={"K8S_NODE_NAME": FieldRef("spec.nodeName")}),
            host_mounts=(
                HostMount("pod-logs", POD_LOGS, POD_LOGS),
                HostMount("state", STATE_HOST_PATH, STATE_PATH, read_only=False,
                          type="DirectoryOrCreate"),
            ),
            reason="reads the node's pod log files (/var/log/pods, read-only) and keeps its "
                   "read offsets in /var/lib/otelcol-agent",
            run_as_root="the pod log files are root's (0640); every capability is dropped",
            pod_annotations=config.pod_annotations,
            service_account=account.object_name,
        )
        skip_checkov(self.daemon.workload, AGENT_CHECKOV_SKIPS)
        self.connections: list[Connection] = [
            Connection.to(self.daemon, gateway.gateway, "otlp-grpc")]
        self.egress: list[Egress] = [Egress.kube_api(self.daemon)]
        prometheus.scrape(ScrapeTarget.of("otel-agent", self.daemon, "metrics"))

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> OtelAgent:
        """The homelab's log agent: the gateway collector's image
        (``infrastructure.otel-collector``), forwarding to the gateway."""
        return cls(scope, id, image=ctx.image("otel-collector"),
                   gateway=ctx.require(OtelCollector), prometheus=ctx.require(Prometheus))
