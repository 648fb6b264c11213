"""A node daemon: one pod per node (a DaemonSet) that reads the node itself.

The only building block that bends the "restricted" Pod Security Standard, and only as
far as it must: it mounts host folders (``hostPath``, read-only unless a mount says
otherwise) and, when ``run_as_root`` gives a reason, runs as uid 0 to read root-owned
files. Everything else of the hardened pod template stays: no privilege escalation,
every capability dropped, RuntimeDefault seccomp, a read-only root filesystem, no host
network, PID or IPC namespace, requests, limits and probes. Each exception is written on
the DaemonSet as a policy waiver with its reason (``policy.homelab-charts.io/waive``),
so ``homelab-charts validate`` reports a new one instead of accepting it silently. The
namespace holding a node daemon must be labelled ``privileged`` (hostPath is forbidden
from ``baseline`` up); the cluster definition does that and states why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.pod import pod_template
from homelab_charts.workloads.spec import Container
from homelab_charts.workloads.workload import Workload

WAIVE_ANNOTATION = "policy.homelab-charts.io/waive"
REASON_ANNOTATION = "policy.homelab-charts.io/waive-reason"
_HOST_PATH_TYPES = ("Directory", "DirectoryOrCreate", "File")


@dataclass(frozen=True)
class HostMount:
    """A folder of the node mounted into the container (read-only by default)."""

    name: str
    host_path: str
    mount_path: str
    read_only: bool = True
    type: str = "Directory"
    #: See host mounts made after the pod started (node-exporter's view of ``/``).
    host_to_container: bool = False

    def __post_init__(self) -> None:
        for field, value in (("host_path", self.host_path), ("mount_path", self.mount_path)):
            if not value.startswith("/"):
                raise ConfigError("host mount", f"{self.name}.{field}",
                                  f"{value!r} must be absolute")
        if self.type not in _HOST_PATH_TYPES:
            raise ConfigError("host mount", f"{self.name}.type",
                              f"{self.type!r} is not one of {', '.join(_HOST_PATH_TYPES)}")


class NodeDaemon(Workload):
    """A DaemonSet running ``container`` on every node (control plane included).

    ``host_mounts`` are the node folders it reads; ``run_as_root`` (a reason, or None)
    runs it as uid 0, for files only root may read. ``reason`` says why the host mounts
    are needed; both reasons go into the waiver annotations.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, container: Container,
                 host_mounts: Sequence[HostMount], reason: str,
                 run_as_root: str | None = None, component: str = "agent",
                 pod_annotations: Mapping[str, str] | None = None,
                 service_account: str | None = None) -> None:
        super().__init__(scope, id, name=name, container=container, component=component,
                         pod_annotations=pod_annotations)
        if not host_mounts:
            raise ConfigError(self.node.path, "host_mounts",
                              "a node daemon without host mounts belongs in a Deployment")
        if not reason.strip():
            raise ConfigError(self.node.path, "reason", "say why the host mounts are needed")
        names = [m.name for m in host_mounts]
        if len(set(names)) != len(names):
            raise ConfigError(self.node.path, "host_mounts", "two host mounts share a name")
        self.host_mounts = tuple(host_mounts)
        self.runs_as_root = run_as_root is not None
        mounts: list[dict[str, Any]] = []
        volumes: list[dict[str, Any]] = []
        for mount in host_mounts:
            entry: dict[str, Any] = {"name": mount.name, "mountPath": mount.mount_path,
                                     "readOnly": mount.read_only}
            if mount.host_to_container:
                entry["mountPropagation"] = "HostToContainer"
            mounts.append(entry)
            volumes.append({"name": mount.name,
                            "hostPath": {"path": mount.host_path, "type": mount.type}})
        template = pod_template(name, container, labels=self.pod_labels, owner=self,
                                annotations=self.pod_annotations, extra_mounts=mounts,
                                extra_volumes=volumes, service_account=service_account)
        waived = ["PSS-007"]
        reasons = [reason.strip()]
        if run_as_root is not None:
            if not run_as_root.strip():
                raise ConfigError(self.node.path, "run_as_root", "say why it runs as root")
            waived.append("PSS-001")
            reasons.append(run_as_root.strip())
            _run_as_root(template["spec"])
        # Tolerate every taint: a node whose pods' logs or figures are missing is the one
        # that needs looking at.
        template["spec"]["tolerations"] = [{"operator": "Exists"}]
        self.workload = Manifest(
            self, "daemonset", api_version="apps/v1", kind="DaemonSet", name=name,
            labels=self.pod_labels,
            annotations={WAIVE_ANNOTATION: ",".join(waived),
                         REASON_ANNOTATION: "; ".join(reasons)},
            body={"spec": {
                "revisionHistoryLimit": 3,
                "updateStrategy": {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxUnavailable": 1}},
                "selector": {"matchLabels": dict(self.selector)},
                "template": template,
            }})


def _run_as_root(pod: dict[str, Any]) -> None:
    """uid/gid 0, still without privilege escalation and with every capability dropped."""
    for context in (pod["securityContext"],
                    *(c["securityContext"] for c in pod["containers"])):
        context["runAsNonRoot"] = False
        context["runAsUser"] = 0
        context["runAsGroup"] = 0
