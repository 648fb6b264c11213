"""How the cluster receives the tree: the source its Flux Kustomizations read, and the
webhook that makes Flux reconcile at once (the data file's ``cluster.source`` and
``cluster.receiver``).

* ``git`` (the default): bootstrap's GitRepository ``flux-system``; nothing is generated.
* ``oci``: ``clusters/<name>/source.yaml`` holds an OCIRepository following the tree that
  ``homelab-charts push`` puts in a registry (pinned by tag or semver range, its pull
  credential sealed, ``insecure`` for plain HTTP) and a root Kustomization ``<name>``
  applying ``./clusters/<name>`` from it, so the cluster keeps reconciling, pruning and
  healing from the local registry without reaching a Git server. Every Kustomization of
  the tree reads that OCIRepository. It carries :data:`TREE_SOURCE_LABEL`, which tells
  the tree readers (``homelab_charts.tree``) that it serves this repository's tree.
* ``cluster.receiver``: the ``receiver`` layer (``infrastructure/receiver/receiver.yaml``)
  holds a generic Receiver reconciling the tree's source (token sealed in
  ``flux-system``, in the secrets layer) and an Ingress routing ``https://<host>/hook/``
  to notification-controller's ``webhook-receiver`` Service, its certificate from the
  ingress controller's issuer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from homelab_charts.base import Component, Folder, Manifest
from homelab_charts.config import TREE_SOURCE_LABEL, HomelabData
from homelab_charts.errors import ConfigError
from homelab_charts.flux import (
    FLUX_NAMESPACE,
    FLUX_SYSTEM_REPOSITORY,
    Kustomization,
    ObjectReference,
    OCIRef,
    OCIRepository,
    Receiver,
)
from homelab_charts.flux.notification import (
    WEBHOOK_PREFIX,
    WEBHOOK_SERVICE,
    WEBHOOK_SERVICE_PORT,
)
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.workloads.tls import CertificateIssuer, certificate

#: The Secret type of a registry credential (what ``docker login`` writes).
DOCKER_CONFIG_TYPE = "kubernetes.io/dockerconfigjson"

class IngressController(Protocol):
    """What the Receiver's Ingress needs of the ingress controller (see Traefik)."""

    ingress_class: str
    issuer: CertificateIssuer


#: ``credentials(namespace, name, keys, type)``: a SealedSecret of the tree.
Credentials = Callable[[str, str, list[str], str], SealedSecret]


def tree_source(cluster: Folder, data: HomelabData,
                credentials: Callable[[str, str, list[str], str], object]
                ) -> Manifest | ObjectReference:
    """The source every Kustomization of the tree reads (see the module's docstring)."""
    settings = data.cluster
    source = settings.source
    if source.kind != "oci":
        return FLUX_SYSTEM_REPOSITORY
    where = f"{data.path}: cluster.source"
    if source.url is None:
        raise ConfigError(where, "url", "an oci source needs url: oci://REGISTRY/REPOSITORY")
    component = Component(cluster, "source", namespace=FLUX_NAMESPACE)
    if source.secret_ref:
        credentials(FLUX_NAMESPACE, source.secret_ref, [".dockerconfigjson"], DOCKER_CONFIG_TYPE)
    repository = OCIRepository(
        component, "repository", name=settings.name, url=source.url,
        ref=OCIRef(tag=source.tag, semver=source.semver), interval=source.interval,
        secret_name=source.secret_ref, insecure=source.insecure,
        labels={TREE_SOURCE_LABEL: "true"})
    # The root: applies clusters/<name>/ (the Kustomizations of every layer, the cluster
    # identity, this file) from the artifact, as bootstrap's flux-system does from Git.
    Kustomization(component, "root", name=settings.name, path=f"./{cluster.path}",
                  source=repository, interval="10m", timeout="5m", wait=False)
    return repository


def receiver(layer: Folder, data: HomelabData, source: Manifest | ObjectReference,
             credentials: Credentials, *, ingress: IngressController) -> Receiver | None:
    """The webhook Receiver of ``cluster.receiver`` and its Ingress (served over TLS
    with a certificate from ``ingress``'s issuer) in ``layer``, or None."""
    settings = data.cluster
    hook = settings.receiver
    if hook is None:
        return None
    component = Component(layer, "receiver", namespace=FLUX_NAMESPACE)
    component.use(ingress.issuer.component)
    token = credentials(FLUX_NAMESPACE, hook.secret_ref, ["token"], "Opaque")
    component.use(token.component)
    created = Receiver(component, "receiver", name=settings.name, resources=[source],
                       secret_name=hook.secret_ref)
    tls_secret = f"{settings.name}-receiver-tls"
    certificate(component, "certificate", name=tls_secret, hosts=[hook.host],
                issuer=ingress.issuer)
    Manifest(component, "ingress", api_version="networking.k8s.io/v1", kind="Ingress",
             name=f"{settings.name}-receiver", body={"spec": {
                 "ingressClassName": ingress.ingress_class,
                 "tls": [{"hosts": [hook.host], "secretName": tls_secret}],
                 "rules": [{"host": hook.host, "http": {"paths": [{
                     "path": WEBHOOK_PREFIX, "pathType": "Prefix",
                     "backend": {"service": {"name": WEBHOOK_SERVICE,
                                             "port": {"number": WEBHOOK_SERVICE_PORT}}},
                 }]}}],
             }})
    return created
