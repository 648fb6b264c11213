"""The ``telemetry`` layer: the node daemons, and the tree's one Pod Security exception.

The OpenTelemetry agent and node-exporter read host folders (``hostPath``), which every
Pod Security level but ``privileged`` forbids, so their namespace enforces
``privileged``; every other namespace enforces ``restricted``. The exception is declared
here, once (:data:`POD_SECURITY`), and both components register with it; the cluster
writes it on the Namespace (labels, the reason as an annotation and a policy waiver), it
is listed in docs/ARCHITECTURE.md and pinned by a test. Default deny applies to the
namespace like to every other; the daemons themselves still drop every capability, never
escalate and share no host namespace (:mod:`homelab_charts.workloads.daemon`).
"""

from __future__ import annotations

from homelab_charts.registry import PodSecurity

NAMESPACE = "telemetry"
FOLDER = f"infrastructure/{NAMESPACE}"
REASON = ("the OpenTelemetry agent reads the pods' log files and node-exporter the "
          "node's /proc, /sys and / through read-only hostPath mounts, which only the "
          "privileged level admits")
POD_SECURITY = PodSecurity("privileged", REASON)
