"""Typed pieces of a workload: resources, ports, probes, environment, security.

Every value is checked when it is created, so a typo fails at construction with the
field named, not when Kubernetes rejects the object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.secrets.refs import SecretKeyRef

_QUANTITY = re.compile(r"^(?P<num>[0-9]+(\.[0-9]+)?)(?P<unit>m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_UNITS = {None: 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")


def quantity(value: str, field_name: str) -> Decimal:
    """The numeric value of a Kubernetes quantity (``250m``, ``512Mi``)."""
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError("resources", field_name,
                          f"{value!r} is not a Kubernetes quantity (e.g. 250m, 1, 512Mi, 1Gi)")
    return Decimal(match["num"]) * Decimal(_UNITS[match["unit"]])


@dataclass(frozen=True)
class Resources:
    """CPU and memory requests and limits (both always set: no unbounded container)."""

    cpu_request: str = "50m"
    cpu_limit: str = "500m"
    memory_request: str = "64Mi"
    memory_limit: str = "256Mi"

    def __post_init__(self) -> None:
        for kind in ("cpu", "memory"):
            request = quantity(getattr(self, f"{kind}_request"), f"{kind}_request")
            limit = quantity(getattr(self, f"{kind}_limit"), f"{kind}_limit")
            if request > limit:
                raise ConfigError("resources", f"{kind}_request",
                                  f"request {getattr(self, f'{kind}_request')} exceeds "
                                  f"limit {getattr(self, f'{kind}_limit')}")

    def render(self) -> dict[str, Any]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class Port:
    """A named container port, exposed by the Service on ``service_port`` (default: same)."""

    name: str
    port: int
    service_port: int | None = None
    protocol: str = "TCP"

    def __post_init__(self) -> None:
        if not _PORT_NAME.match(self.name):
            raise ConfigError("ports", "name",
                              f"{self.name!r} is not a valid port name (<= 15 chars, a-z0-9-)")
        for what, value in (("port", self.port), ("service_port", self.service_port)):
            if value is not None and not (isinstance(value, int) and 1 <= value <= 65535):
                raise ConfigError("ports", f"{self.name}.{what}", f"{value!r} is not a port")
        if self.protocol not in ("TCP", "UDP", "SCTP"):
            raise ConfigError("ports", f"{self.name}.protocol", f"{self.protocol!r} is unknown")


@dataclass(frozen=True)
class Probe:
    """A liveness or readiness check: HTTP GET, TCP connect or a command."""

    http_path: str | None = None
    port: str | int | None = None
    command: tuple[str, ...] | None = None
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 3
    failure_threshold: int = 3

    @classmethod
    def http(cls, path: str, port: str | int, **kwargs: Any) -> Probe:
        return cls(http_path=path, port=port, **kwargs)

    @classmethod
    def tcp(cls, port: str | int, **kwargs: Any) -> Probe:
        return cls(port=port, **kwargs)

    @classmethod
    def exec(cls, *command: str, **kwargs: Any) -> Probe:
        return cls(command=tuple(command), **kwargs)

    def __post_init__(self) -> None:
        kinds = sum(x is not None for x in (self.http_path, self.command))
        if self.command is None and self.port is None:
            raise ConfigError("probe", "port", "an HTTP or TCP probe needs a port")
        if kinds > 1:
            raise ConfigError("probe", "command", "a probe is HTTP, TCP or a command, not several")
        if self.http_path is not None and not self.http_path.startswith("/"):
            raise ConfigError("probe", "http_path", f"{self.http_path!r} must start with /")

    def render(self) -> dict[str, Any]:
        out: dict[str, Any]
        if self.command is not None:
            out = {"exec": {"command": list(self.command)}}
        elif self.http_path is not None:
            out = {"httpGet": {"path": self.http_path, "port": self.port}}
        else:
            out = {"tcpSocket": {"port": self.port}}
        if self.initial_delay_seconds:
            out["initialDelaySeconds"] = self.initial_delay_seconds
        out["periodSeconds"] = self.period_seconds
        out["timeoutSeconds"] = self.timeout_seconds
        out["failureThreshold"] = self.failure_threshold
        return out


@dataclass(frozen=True)
class FieldRef:
    """An environment value from the pod itself (``metadata.namespace``, ``status.podIP``)."""

    field_path: str


EnvValue = str | SecretKeyRef | FieldRef


def render_env(env: Mapping[str, EnvValue]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ConfigError("env", name, "not a valid environment variable name")
        if isinstance(value, str):
            out.append({"name": name, "value": value})
        elif isinstance(value, SecretKeyRef):
            out.append({"name": name,
                        "valueFrom": {"secretKeyRef": {"name": value.name, "key": value.key}}})
        elif isinstance(value, FieldRef):
            out.append({"name": name,
                        "valueFrom": {"fieldRef": {"fieldPath": value.field_path}}})
        else:
            raise ConfigError("env", name,
                              f"value of type {type(value).__name__} (use str, SecretKeyRef "
                              "or FieldRef; numbers must be quoted)")
    return out


@dataclass(frozen=True)
class RunAs:
    """The numeric user and group a container runs as (never root)."""

    user: int = 65532
    group: int = 65532
    fs_group: int | None = None

    def __post_init__(self) -> None:
        if self.user == 0 or self.group == 0:
            raise ConfigError("run_as", "user", "containers never run as root (uid/gid 0)")


@dataclass(frozen=True)
class ConfigFile:
    """A file mounted read-only from a ConfigMap key."""

    config_map: str
    key: str
    mount_path: str


@dataclass(frozen=True)
class Container:
    """What differs between workloads; the hardening around it is fixed."""

    image: Image
    ports: tuple[Port, ...] = ()
    env: Mapping[str, EnvValue] = field(default_factory=dict)
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    resources: Resources = field(default_factory=Resources)
    liveness: Probe | None = None
    readiness: Probe | None = None
    startup: Probe | None = None
    #: Writable scratch folders (emptyDir) for a read-only root filesystem: name -> path.
    writable_paths: Mapping[str, str] = field(default_factory=dict)
    config_files: tuple[ConfigFile, ...] = ()
    run_as: RunAs = field(default_factory=RunAs)
    working_dir: str | None = None
