"""Layer 3: hardened building blocks every component uses."""

from homelab_charts.workloads.credentials import Credentials, secret_key
from homelab_charts.workloads.pod import selector_labels
from homelab_charts.workloads.spec import (
    ConfigFile,
    Container,
    FieldRef,
    Port,
    Probe,
    Resources,
    RunAs,
    SecretKeyRef,
)
from homelab_charts.workloads.stateful import StatefulService
from homelab_charts.workloads.web import WebService
from homelab_charts.workloads.workload import Workload

__all__ = [
    "ConfigFile",
    "Container",
    "Credentials",
    "FieldRef",
    "Port",
    "Probe",
    "Resources",
    "RunAs",
    "SecretKeyRef",
    "StatefulService",
    "WebService",
    "Workload",
    "secret_key",
    "selector_labels",
]
