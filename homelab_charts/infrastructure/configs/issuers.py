"""Certificate issuers (infrastructure/configs/issuers.yaml): the homelab's own CA, or ACME.

The local CA, the homelab default, needs nothing outside the cluster:

1. ``selfsigned``, a self-signed ClusterIssuer, signs only
2. the ``homelab-root-ca`` Certificate (a CA, ECDSA P-256, ten years) in cert-manager's
   namespace, whose key pair is the Secret ``homelab-root-ca``;
3. ``homelab-ca``, a CA ClusterIssuer reading that Secret, signs every Ingress
   certificate. Clients trust the homelab by trusting ``homelab-root-ca``'s certificate
   (docs/GETTING-STARTED.md shows how to export it).

With ``platform.tls.issuer: acme`` in the data file, ``letsencrypt`` (an ACME
ClusterIssuer solving DNS-01 through Cloudflare, its API token a SealedSecret in
cert-manager's namespace) signs them instead; the local CA stays available.

The data-file entry ``infrastructure.issuers`` turns the layer on; the ingress
controller requires it (every Ingress gets a certificate from :attr:`ClusterIssuers.default`).
"""

from __future__ import annotations

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.controllers.cert_manager import NAMESPACE as CA_NAMESPACE
from homelab_charts.infrastructure.controllers.cert_manager import CertManager
from homelab_charts.platform import TlsSettings
from homelab_charts.registry import ClusterContext, register
from homelab_charts.secrets.sealed_secret import SealedSecret

CERT_MANAGER_API = "cert-manager.io/v1"
ROOT_CA_NAME = "homelab-root-ca"
CA_ISSUER_NAME = "homelab-ca"
ACME_ISSUER_NAME = "letsencrypt"
ACME_TOKEN_KEY = "api-token"


class Issuer:
    """A ClusterIssuer as a Certificate names it (``issuerRef``), and its component."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.name = manifest.object_name
        self.component = manifest.component

    def ref(self) -> dict[str, str]:
        return {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": self.name}


@register("infrastructure.issuers", folder="infrastructure/configs", namespace=CA_NAMESPACE,
          shared=True)
class ClusterIssuers(Component):
    """The issuers of the cluster; :attr:`default` signs the Ingress certificates.

    ``cert_manager`` is the controller serving them; ``ca_namespace`` its namespace
    (where a CA ClusterIssuer reads its Secret). With ACME, ``acme_token`` is the
    SealedSecret holding the Cloudflare token.
    """

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> ClusterIssuers:
        """The issuers ``platform.tls`` of the data file asks for."""
        tls = ctx.data.platform.tls
        token = None
        if tls.acme is not None:
            token = ctx.credentials(scope, tls.acme.cloudflare_token_secret,
                                    keys=[ACME_TOKEN_KEY])
        cert_manager = ctx.require(CertManager)
        return cls(scope, id, tls=tls, cert_manager=cert_manager,
                   ca_namespace=cert_manager.target_namespace, acme_token=token)

    def __init__(self, scope: Construct, id: str, *, tls: TlsSettings, ca_namespace: str,
                 cert_manager: Component | None = None,
                 acme_token: SealedSecret | None = None) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "configs"})
        if cert_manager is not None:
            self.use(cert_manager)
        self.self_signed = Manifest(self, "selfsigned", api_version=CERT_MANAGER_API,
                                    kind="ClusterIssuer", name="selfsigned",
                                    body={"spec": {"selfSigned": {}}})
        self.root_ca = Manifest(self, "root-ca", api_version=CERT_MANAGER_API,
                                kind="Certificate", name=ROOT_CA_NAME, namespace=ca_namespace,
                                body={"spec": {
                                    "isCA": True,
                                    "commonName": "homelab root CA",
                                    "secretName": ROOT_CA_NAME,
                                    "duration": "87600h",
                                    "renewBefore": "720h",
                                    "privateKey": {"algorithm": "ECDSA", "size": 256,
                                                   "rotationPolicy": "Never"},
                                    "issuerRef": Issuer(self.self_signed).ref(),
                                }})
        self.local_ca = Issuer(Manifest(self, "ca", api_version=CERT_MANAGER_API,
                                        kind="ClusterIssuer", name=CA_ISSUER_NAME,
                                        body={"spec": {"ca": {"secretName": ROOT_CA_NAME}}}))
        self.acme: Issuer | None = None
        if tls.issuer == "acme" or tls.acme is not None:
            if tls.acme is None or acme_token is None:
                raise ConfigError(self.where, "platform.tls.acme",
                                  "an ACME issuer needs the acme settings and the sealed "
                                  "Cloudflare API token")
            self.use(acme_token.component)
            solver = {"dns01": {"cloudflare": {"apiTokenSecretRef": acme_token.key_ref(
                ACME_TOKEN_KEY)}}}
            self.acme = Issuer(Manifest(self, "acme", api_version=CERT_MANAGER_API,
                                        kind="ClusterIssuer", name=ACME_ISSUER_NAME,
                                        body={"spec": {"acme": {
                                            "email": tls.acme.email,
                                            "server": tls.acme.server,
                                            "privateKeySecretRef": {
                                                "name": f"{ACME_ISSUER_NAME}-account"},
                                            "solvers": [solver],
                                        }}}))
        self.default = self.acme if tls.issuer == "acme" and self.acme else self.local_ca
