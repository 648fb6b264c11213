"""What the cluster needs before any workload: the controllers' pins, sync timing, TLS, network.

Two sections of the data file::

    controllers:                   # every controller whose custom resources the tree uses
      source-controller: v1.7.4    # installed by flux bootstrap: its version only
      sealed-secrets:              # installed by the tree (the controllers layer):
        version: v0.33.1           #   the controller's release (its CRD schemas)
        chart:                     #   and the Helm chart that installs it
          repository: https://bitnami-labs.github.io/sealed-secrets
          version: 2.17.9          #   (a chart versioned apart from its controller)
      cert-manager:
        version: v1.19.6
        chart: {repository: https://charts.jetstack.io}  # chart version = controller's

    platform:
      sync: {interval: 10m, retryInterval: 2m, timeout: 5m}   # every Flux Kustomization
      tls: {issuer: local-ca}      # or acme, with an acme: block (DNS-01 through Cloudflare)
      network:
        podCidr: 10.42.0.0/16      # k3s defaults
        serviceCidr: 10.43.0.0/16
        nodeCidr: 192.168.1.0/24   # where the nodes, and so the API server, live
        egress:
          n8n: {internet: [80, 443, 465, 587]}

A controller's version is written once: its CRD schemas
(``homelab_charts/data/schemas``, scripts/update-crd-schemas.py) and the chart the tree
installs it with are read from the same entry, and a chart without its own ``version`` is
the controller's version. Every key of ``platform`` is optional; the defaults are the
values above (``nodeCidr`` defaults to the private range 192.168.0.0/16). The JSON schema
checks the shapes; :func:`parse` checks what a schema cannot (a range with host bits
set, an ACME issuer without its settings, egress for a service that does not exist).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homelab_charts.errors import ConfigError

SECTION = "platform"
CONTROLLERS = "controllers"


@dataclass(frozen=True)
class Chart:
    """A Helm chart at an explicit version, from a repository index or an OCI registry."""

    repository: str
    version: str


@dataclass(frozen=True)
class ControllerPin:
    """One entry of ``controllers:``: the release the tree targets and, for a controller
    the tree installs itself, the chart it installs it from."""

    name: str
    version: str
    chart: Chart | None = None


@dataclass(frozen=True)
class SyncSettings:
    """How often Flux reconciles each Kustomization, retries a failure, and waits."""

    interval: str = "10m"
    retry_interval: str = "2m"
    timeout: str = "5m"


@dataclass(frozen=True)
class AcmeSettings:
    """An ACME account solving DNS-01 challenges through Cloudflare."""

    email: str
    server: str = "https://acme-v02.api.letsencrypt.org/directory"
    #: The SealedSecret (namespace cert-manager, key ``api-token``) with the API token.
    cloudflare_token_secret: str = "cloudflare-api-token"


@dataclass(frozen=True)
class TlsSettings:
    """Which ClusterIssuer signs the Ingress certificates: the local CA or ACME."""

    issuer: str = "local-ca"
    acme: AcmeSettings | None = None


@dataclass(frozen=True)
class NetworkSettings:
    """The cluster's address ranges and the internet egress each component may use."""

    pod_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    node_cidr: str = "192.168.0.0/16"
    #: data-file entry name -> ports it may open to any address outside the cluster ranges.
    egress: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def cluster_ranges(self) -> tuple[str, str]:
        """The pod and service ranges (never "the internet")."""
        return (self.pod_cidr, self.service_cidr)

    def internet_ports(self, name: str) -> tuple[int, ...]:
        return tuple(self.egress.get(name, ()))


@dataclass(frozen=True)
class PlatformSettings:
    """The data file's ``platform`` section."""

    sync: SyncSettings = field(default_factory=SyncSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)


def parse_controllers(document: Mapping[str, Any] | None,
                      source: str) -> dict[str, ControllerPin]:
    """The typed ``controllers`` section (already checked against the schema): a bare
    tag, or ``{version, chart: {repository, version?}}``."""
    out: dict[str, ControllerPin] = {}
    for name, raw in (document or {}).items():
        if isinstance(raw, str):
            out[name] = ControllerPin(name, raw)
            continue
        version = raw["version"]
        chart_raw = raw.get("chart")
        chart = None
        if chart_raw is not None:
            chart = Chart(chart_raw["repository"], chart_raw.get("version", version))
        out[name] = ControllerPin(name, version, chart)
    return out


def controller_versions(document: Mapping[str, Any] | None) -> dict[str, str]:
    """``controllers:`` as name -> release tag (what the CRD schemas are generated for)."""
    return {name: raw if isinstance(raw, str) else raw["version"]
            for name, raw in (document or {}).items()}


def _cidr(value: str, source: str, where: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ConfigError(source, where,
                          f"{value!r} has host bits set: use the network address "
                          f"({ipaddress.ip_network(value, strict=False)})") from None
    return value


def parse(document: Mapping[str, Any] | None, source: str,
          entries: frozenset[str] | None = None) -> PlatformSettings:
    """The typed ``platform`` section (already checked against the schema). ``entries``:
    the names of the data file's components (``services`` and ``infrastructure``), which
    ``network.egress`` keys must be."""
    raw = document or {}
    sync_raw = raw.get("sync") or {}
    defaults = SyncSettings()
    sync = SyncSettings(interval=sync_raw.get("interval", defaults.interval),
                        retry_interval=sync_raw.get("retryInterval", defaults.retry_interval),
                        timeout=sync_raw.get("timeout", defaults.timeout))
    tls_raw = raw.get("tls") or {}
    acme_raw = tls_raw.get("acme")
    acme = None
    if acme_raw is not None:
        acme_defaults = AcmeSettings(email=acme_raw["email"])
        acme = AcmeSettings(
            email=acme_raw["email"], server=acme_raw.get("server", acme_defaults.server),
            cloudflare_token_secret=acme_raw.get("cloudflareTokenSecret",
                                                 acme_defaults.cloudflare_token_secret))
    tls = TlsSettings(issuer=tls_raw.get("issuer", "local-ca"), acme=acme)
    if tls.issuer == "acme" and acme is None:
        raise ConfigError(source, f"{SECTION}.tls.acme",
                          "issuer acme needs an acme: block (email, optional server and "
                          "cloudflareTokenSecret)")
    net_raw = raw.get("network") or {}
    egress: dict[str, tuple[int, ...]] = {}
    for name, allowance in sorted((net_raw.get("egress") or {}).items()):
        if entries is not None and name not in entries:
            raise ConfigError(source, f"{SECTION}.network.egress.{name}",
                              f"no component {name!r} in services: or infrastructure:")
        egress[name] = tuple(sorted(allowance["internet"]))
    net = NetworkSettings()
    network = NetworkSettings(
        pod_cidr=_cidr(net_raw.get("podCidr", net.pod_cidr), source,
                       f"{SECTION}.network.podCidr"),
        service_cidr=_cidr(net_raw.get("serviceCidr", net.service_cidr), source,
                           f"{SECTION}.network.serviceCidr"),
        node_cidr=_cidr(net_raw.get("nodeCidr", net.node_cidr), source,
                        f"{SECTION}.network.nodeCidr"),
        egress=egress,
    )
    return PlatformSettings(sync=sync, tls=tls, network=network)
