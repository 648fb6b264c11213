"""TLS for an exposed service: a cert-manager Certificate per host, named in the Ingress.

The Ingress lists each host under ``tls`` with the Secret the Certificate fills; the
ingress controller serves that certificate. The issuer (a ClusterIssuer of the configs
layer) is passed in as a construct reference, so the component using it is applied
after the issuer exists.
"""

from __future__ import annotations

from typing import Protocol

from constructs import Construct

from homelab_charts.base import Component, Manifest

CERT_MANAGER_API = "cert-manager.io/v1"


class CertificateIssuer(Protocol):
    """What a Certificate needs of its issuer (see infrastructure.configs.Issuer)."""

    component: Component

    def ref(self) -> dict[str, str]: ...


def certificate(scope: Construct, id: str, *, name: str, hosts: list[str],
                issuer: CertificateIssuer) -> Manifest:
    """The Certificate ``name`` for ``hosts``, stored in the Secret ``name``."""
    return Manifest(scope, id, api_version=CERT_MANAGER_API, kind="Certificate", name=name,
                    body={"spec": {
                        "secretName": name,
                        "dnsNames": list(hosts),
                        "privateKey": {"algorithm": "ECDSA", "size": 256,
                                       "rotationPolicy": "Always"},
                        "issuerRef": issuer.ref(),
                    }})
