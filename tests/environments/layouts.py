"""Repositories with dev deployed: beside prod on one cluster, or on a cluster of its own.

``side_by_side`` (layout a): ``cluster.environments: [prod, dev]``. ``dev_cluster``
(layout b): ``cluster`` runs prod, ``clusters.homelab-dev`` runs dev. Each copies this
repository's project files into a temporary folder, edits the data file, and seals
random credentials for the dev namespaces (``<namespace>-dev``) with the example
certificate: into ``sealed/`` (layout a) or the dev cluster's own store,
``sealed/_clusters/homelab-dev/`` (layout b).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from homelab_charts.secrets.crypto import SealingCertificate
from homelab_charts.secrets.store import SealedDocument, iter_store, store_path
from tests.helpers import as_project

DEV_CLUSTER = "homelab-dev"
#: Smaller resources for dev's backend (the data file's per-environment override).
DEV_BACKEND_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"},
                         "limits": {"cpu": "250m", "memory": "256Mi"}}


def _shared_namespaces() -> set[str]:
    """Namespaces of the components built once per cluster (``register(shared=True)``)."""
    import homelab_charts.apps
    import homelab_charts.infrastructure  # noqa: F401  (registers the built-in components)
    from homelab_charts.registry import registrations

    return {r.namespace for r in registrations(["homelab_charts"]) if r.shared}


def seal_dev_credentials(root: Path, store: Path) -> list[Path]:
    """Random values, sealed for the example certificate, for every credential of the
    repository's store, in the ``-dev`` namespace, written under ``store``."""
    cert_file = root / "sealed" / "sealed-secrets-cert.pem"
    cert = SealingCertificate.from_pem(cert_file.read_bytes(), str(cert_file))
    written = []
    for _, doc in list(iter_store(root / "sealed")):
        if doc.namespace is None or doc.namespace in _shared_namespaces():
            # a component shared by a cluster's environments, or a credential sealed
            # cluster-wide (copied into every namespace reading it, dev's included): one
            # per cluster, so only another cluster's store needs its own
            if store == root / "sealed":
                continue
            namespace = doc.namespace
        else:
            namespace = f"{doc.namespace}-dev"
        values = {key: secrets.token_urlsafe(24).encode() for key in doc.keys}
        fresh = SealedDocument(name=doc.name, namespace=namespace, scope=doc.scope)
        path = store_path(store, namespace, doc.name)
        fresh.with_values(cert.public_key, values, key_fingerprint=cert.fingerprint).write(path)
        written.append(path)
    return written


def _edit(root: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data_file = root / "homelab.yaml"
    document = yaml.safe_load(data_file.read_text(encoding="utf-8"))
    change(document)
    data_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return data_file


def _dev_values(document: dict[str, Any]) -> None:
    """Smaller resources for dev's backend; dev samples every trace (the default)."""
    backend = document["services"]["family-assistant-backend"]["environments"]["dev"]
    backend["resources"] = DEV_BACKEND_RESOURCES
    document["environments"] = {"dev": {"tracesSamplingRatio": 1.0}}


def side_by_side(root: Path) -> Path:
    """Layout a: one cluster, prod and dev. Returns the data file."""
    as_project(root)

    def change(document: dict[str, Any]) -> None:
        document["cluster"].pop("environment", None)
        document["cluster"]["environments"] = ["prod", "dev"]
        _dev_values(document)

    data_file = _edit(root, change)
    seal_dev_credentials(root, root / "sealed")
    return data_file


def dev_cluster(root: Path) -> Path:
    """Layout b: ``cluster`` runs prod, ``clusters.homelab-dev`` runs dev."""
    as_project(root)

    def change(document: dict[str, Any]) -> None:
        document["cluster"].pop("environment", None)
        document["cluster"]["environments"] = ["prod"]
        document["clusters"] = {DEV_CLUSTER: {"environments": ["dev"]}}
        _dev_values(document)

    data_file = _edit(root, change)
    seal_dev_credentials(root, root / "sealed" / "_clusters" / DEV_CLUSTER)
    return data_file
