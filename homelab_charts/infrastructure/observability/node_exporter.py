"""Prometheus node-exporter: CPU, memory, filesystem and disk figures of every node.

A DaemonSet in the ``telemetry`` namespace (host folders need Pod Security
``privileged``) reading the node's ``/proc``, ``/sys`` and ``/`` through read-only host
mounts, as user nobody with every capability dropped. It shares no host namespace:
network-device figures are therefore the pod's own, not the node's (the price of keeping
hostNetwork and hostPID off); CPU, memory, load, filesystems and disks are the node's.
Prometheus scrapes each pod on ``metrics`` (9100).
"""

from __future__ import annotations

from constructs import Construct

from homelab_charts.base import Component, Folder
from homelab_charts.config import Image
from homelab_charts.infrastructure.observability import telemetry
from homelab_charts.infrastructure.observability.alerts import NODE_ALERTS
from homelab_charts.infrastructure.observability.prometheus import Prometheus, ScrapeTarget
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Container, Port, Probe, Resources, RunAs
from homelab_charts.workloads.daemon import HostMount, NodeDaemon

#: Filesystems and mount points that are not the node's disks.
IGNORED_MOUNTS = "^/(dev|proc|sys|run|var/lib/kubelet/.+|var/lib/containerd/.+|host/.+)($|/)"
IGNORED_FS_TYPES = ("^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|"
                    "fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|"
                    "rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs|tmpfs)$")


@register("infrastructure.node-exporter", folder=telemetry.FOLDER,
          pod_security=telemetry.POD_SECURITY, shared=True)
class NodeExporter(Component):
    """node-exporter (``node-exporter.yaml``) on every node, scraped by ``prometheus``,
    which gets its alerts (node low on memory or disk)."""

    PORT = 9100

    def __init__(self, scope: Construct, id: str, *, image: Image, prometheus: Prometheus,
                 resources: Resources | None = None, name: str = "node-exporter") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "observability"})
        self.daemon = NodeDaemon(
            self, "daemon", name=name, component="metrics",
            container=Container(
                image=image,
                args=("--path.procfs=/host/proc", "--path.sysfs=/host/sys",
                      "--path.rootfs=/host/root", f"--web.listen-address=:{self.PORT}",
                      f"--collector.filesystem.mount-points-exclude={IGNORED_MOUNTS}",
                      f"--collector.filesystem.fs-types-exclude={IGNORED_FS_TYPES}"),
                ports=(Port("metrics", self.PORT),),
                resources=resources or Resources("20m", "250m", "32Mi", "128Mi"),
                readiness=Probe.http("/", "metrics", period_seconds=10),
                liveness=Probe.http("/", "metrics", period_seconds=20, failure_threshold=6),
                # The image's nobody user: /proc, /sys and statfs need no more.
                run_as=RunAs(user=65534, group=65534),
            ),
            host_mounts=(
                HostMount("proc", "/proc", "/host/proc"),
                HostMount("sys", "/sys", "/host/sys"),
                HostMount("root", "/", "/host/root", host_to_container=True),
            ),
            reason="node-exporter reads the node's /proc, /sys and / (read-only) for its "
                   "CPU, memory, filesystem and disk figures",
        )
        prometheus.scrape(ScrapeTarget.of("node-exporter", self.daemon, "metrics"))
        prometheus.add_rule_group(NODE_ALERTS)

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> NodeExporter:
        """The homelab's node-exporter: image from ``infrastructure.node-exporter``."""
        return cls(scope, id, image=ctx.image("node-exporter"),
                   prometheus=ctx.require(Prometheus))
