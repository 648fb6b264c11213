"""Which cluster a tree is for: ``homelab-charts cluster bind``.

A cluster is identified by the UID of its ``kube-system`` Namespace: it is created with
the cluster and never changes, while kubectl context names are per person and per
kubeconfig. :func:`bind` records it in the data file (``cluster.uid``); synthesis writes
it into ``clusters/<name>/cluster-identity.yaml`` and the manual scripts refuse any
cluster whose UID differs (see :mod:`homelab_charts.operations.manual`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_charts import datafile, project
from homelab_charts.errors import ConfigError

UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: What the scripts run to read a live cluster's identity (documented, for a manual bind).
UID_QUERY = ("get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}")


def live_uid(context: str, *, kubectl: str = "kubectl", timeout: int = 30) -> str:
    """The kube-system Namespace UID of the cluster of kubectl ``context``."""
    exe = shutil.which(kubectl)
    if exe is None:
        raise ConfigError("kubectl", None, "not found on PATH: install kubectl, or pass --uid")
    argv = [exe, "--context", context, *UID_QUERY, f"--request-timeout={timeout}s"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"--context {context}", None,
                          f"the cluster did not answer within {timeout}s") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise ConfigError(f"--context {context}", None,
                          f"cannot read the kube-system Namespace: {detail}")
    uid = proc.stdout.strip()
    return check_uid(uid, f"--context {context}")


def check_uid(uid: str, where: str) -> str:
    if not UID.match(uid):
        raise ConfigError(where, None, f"{uid!r} is not a Namespace UID "
                                       "(8-4-4-4-12 lower-case hexadecimal digits)")
    return uid


@dataclass(frozen=True)
class Binding:
    """The result of :func:`bind`: the cluster name and its old and new UID."""

    data_file: Path
    cluster: str
    uid: str
    previous: str | None

    @property
    def changed(self) -> bool:
        return self.previous != self.uid


def bind(uid: str, data_file: Path | None = None) -> Binding:
    """Record ``uid`` as ``cluster.uid`` in the data file (comments and layout kept)."""
    file = Path(data_file) if data_file is not None else project.data_file()
    check_uid(uid, "--uid")
    previous: list[str | None] = []

    def change(document: Any) -> None:
        cluster = document.get("cluster") if isinstance(document, dict) else None
        if not isinstance(cluster, dict):
            raise ConfigError(str(file), "cluster", "missing")
        old = cluster.get("uid")
        previous.append(str(old) if old else None)
        cluster["uid"] = uid

    data = datafile.edit(file, change)
    return Binding(file, data.cluster.name, uid, previous[0])


def require_bound_cluster(cluster: str, uid: str | None, context: str, *,
                          kubectl: str = "kubectl") -> str:
    """Refuse (ConfigError, exit 2) unless kubectl ``context`` reaches the cluster the
    tree ``clusters/<cluster>/`` is bound to (``uid``: ``cluster.uid`` of the data file):
    the rule and the words of the manual scripts' ``require_binding``
    (scripts/lib/common.sh). Only reads (one ``kubectl get namespace kube-system``);
    every command that changes a live cluster from Python calls this first. Returns the
    live UID."""
    if not uid:
        raise ConfigError(
            f"clusters/{cluster}", None,
            f"bound to no cluster (no cluster.uid in the data file); refusing to touch "
            f"context {context!r}. If {context!r} is the right cluster: homelab-charts "
            f"cluster bind --context {context}, then synthesize and commit")
    live = live_uid(context, kubectl=kubectl)
    if live != uid:
        raise ConfigError(
            f"context {context}", None,
            f"wrong cluster: clusters/{cluster} is bound to cluster {cluster!r} (kube-system "
            f"UID {uid}), but context {context!r} is the cluster with kube-system UID {live}; "
            "nothing was changed (switch context, or rebind with homelab-charts cluster bind)")
    return live
