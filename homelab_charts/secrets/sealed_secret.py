"""The SealedSecret construct: a credential of the homelab, sealed data read from the store.

A component that needs credentials declares the Secret it uses and the keys it reads::

    creds = SealedSecret(chart, "credentials", name="postgresql-credentials",
                         namespace="databases", keys=["postgres-password"])
    container = Container(image=image, env={**creds.env("POSTGRES_PASSWORD",
                                                        "postgres-password")})

The ciphertext comes from the repository's ``sealed/<namespace>/<name>.yaml`` (written
by ``homelab-charts seal``); synthesis copies it, never re-encrypts, so re-synthesis is
byte-for-byte stable. A missing file, a scope/name/namespace mismatch or a declared key
that was never sealed fails synthesis with the command that fixes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from constructs import Construct

from homelab_charts import project
from homelab_charts.base import Manifest, app_of, component_of, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.secrets.crypto import SealScope
from homelab_charts.secrets.refs import SecretKeyRef
from homelab_charts.secrets.store import (
    API_VERSION,
    KIND,
    SealedDocument,
    store_path,
)
from homelab_charts.secrets.values import check_key

if TYPE_CHECKING:
    from homelab_charts.secrets.shared import SharedCredential


def seal_command(name: str, namespace: str | None, scope: SealScope,
                 keys: Sequence[str]) -> str:
    """The ``homelab-charts seal`` command line that creates or updates this secret."""
    parts = ["homelab-charts seal"]
    if namespace:
        parts.append(f"--namespace {namespace}")
    parts.append(f"--name {name}")
    if scope is not SealScope.STRICT:
        parts.append(f"--scope {scope.value}")
    parts.extend(f"{key}=..." for key in keys)
    return " ".join(parts)


class MissingSealedData(ConfigError):
    """A SealedSecret's data is not in the store (no file, or keys not sealed there).

    Besides the one-line message it says what is missing, so a tool can seal it
    (``homelab-charts init`` seals example values for every credential a tree asks for).
    """

    def __init__(self, where: str, field: str, message: str, *, namespace: str | None,
                 name: str, keys: Sequence[str], scope: SealScope, type: str,
                 path: Path) -> None:
        super().__init__(where, field, message)
        self.namespace = namespace
        self.name = name
        self.keys = tuple(keys)
        self.scope = scope
        self.type = type
        self.path = path


class SealedSecret(Manifest):
    """A ``bitnami.com/v1alpha1`` SealedSecret whose encrypted data lives in the store.

    ``keys`` are the Secret keys the homelab reads; each must be sealed in the store file
    (it may hold more). ``labels``/``annotations`` go on the SealedSecret,
    ``template_labels``/``template_annotations`` on the Secret the controller creates.
    For a cluster-wide secret sealed without a namespace, leave ``namespace`` unset: it
    is read from ``<store>/_cluster/<name>.yaml`` and applied in the component's namespace
    (:class:`~homelab_charts.secrets.shared.SharedCredential` makes such copies, one
    per namespace that reads the credential). ``template_data`` adds keys the controller
    renders from the sealed values (``spec.template.data``, Go templates), e.g. a
    configuration file holding a password.
    """

    def __init__(self, parent: Construct, id: str, /, *, name: str,
                 namespace: str | None = None, keys: Sequence[str],
                 scope: SealScope | str = SealScope.STRICT, type: str = "Opaque",
                 labels: Mapping[str, str] | None = None,
                 annotations: Mapping[str, str] | None = None,
                 template_labels: Mapping[str, str] | None = None,
                 template_annotations: Mapping[str, str] | None = None,
                 template_data: Mapping[str, str] | None = None,
                 store: Path | None = None) -> None:
        where = construct_path(parent, id)
        try:
            seal_scope = SealScope(scope)
        except ValueError:
            allowed = ", ".join(s.value for s in SealScope)
            raise ConfigError(where, "scope", f"{scope!r} is not one of {allowed}") from None
        component = component_of(parent)
        effective_ns = namespace if namespace is not None else component.default_namespace
        if seal_scope is SealScope.CLUSTER_WIDE:
            lookup_ns = namespace
        else:
            if effective_ns is None:
                raise ConfigError(where, "namespace",
                                  f"a {seal_scope.value} SealedSecret needs a namespace "
                                  "(none given and the component has no default)")
            lookup_ns = effective_ns
        if isinstance(keys, str) or not keys:
            raise ConfigError(where, "keys", "declare the Secret keys used, as a list")
        declared = tuple(check_key(key, where, "keys") for key in keys)
        duplicates = sorted({k for k in declared if declared.count(k) > 1})
        if duplicates:
            raise ConfigError(where, "keys", f"declared more than once: {', '.join(duplicates)}")

        app = app_of(parent)
        store_dir = (store if store is not None
                     else app.store if app is not None and app.store is not None
                     else project.store_dir())
        path = store_path(store_dir, lookup_ns, name)
        command = seal_command(name, lookup_ns, seal_scope, declared)
        if not path.is_file():
            raise MissingSealedData(
                where, "store",
                f"no sealed data for {lookup_ns + '/' if lookup_ns else ''}{name}: "
                f"{path} does not exist; create it with: {command}",
                namespace=lookup_ns, name=name, keys=declared, scope=seal_scope, type=type,
                path=path)
        doc = SealedDocument.read(path)
        if doc.name != name or doc.namespace != lookup_ns:
            raise ConfigError(str(path), "metadata",
                              f"holds {doc.ident}, but the construct {where} expects "
                              f"{lookup_ns + '/' if lookup_ns else ''}{name}")
        if doc.scope is not seal_scope:
            raise ConfigError(where, "scope",
                              f"{seal_scope.value} declared, but {path} is sealed "
                              f"{doc.scope.value}; re-seal with: {command} --replace")
        if doc.type != type:
            raise ConfigError(where, "type",
                              f"{type!r} declared, but {path} has spec.template.type "
                              f"{doc.type!r}; re-seal with --type {type}")
        self._check_sealed(declared, doc, path, where, lookup_ns, seal_scope)

        super().__init__(
            parent, id, api_version=API_VERSION, kind=KIND, name=name, namespace=effective_ns,
            labels={**doc.labels, **(labels or {})},
            annotations={**doc.annotations, **(annotations or {}), **seal_scope.annotations}
            or None,
        )
        template_meta: dict[str, Any] = {"name": name}
        if self.object_namespace is not None:
            template_meta["namespace"] = self.object_namespace
        merged_labels = {**doc.template_labels, **(template_labels or {})}
        if merged_labels:
            template_meta["labels"] = dict(sorted(merged_labels.items()))
        merged_annotations = {**doc.template_annotations, **(template_annotations or {}),
                              **seal_scope.annotations}
        if merged_annotations:
            template_meta["annotations"] = dict(sorted(merged_annotations.items()))
        template: dict[str, Any] = {"metadata": template_meta, "type": type}
        if doc.immutable is not None:
            template["immutable"] = doc.immutable
        if template_data:
            clash = sorted(set(template_data) & set(doc.encrypted_data))
            if clash:
                raise ConfigError(where, "template_data",
                                  f"{', '.join(clash)} is also a sealed key")
            for key in template_data:
                check_key(key, where, "template_data")
            template["data"] = dict(sorted(template_data.items()))
        self.body["spec"] = {
            "encryptedData": dict(sorted(doc.encrypted_data.items())),
            "template": template,
        }
        self.seal_scope = seal_scope
        self.store_file = path
        self.sealed = doc
        self._keys = declared
        self._template_keys = tuple(sorted(template_data or ()))
        #: The credential this is a copy of, when it is shared between namespaces.
        self.shared: SharedCredential | None = None

    @staticmethod
    def _check_sealed(keys: Sequence[str], doc: SealedDocument, path: Path, where: str,
                      namespace: str | None, scope: SealScope) -> None:
        missing = [key for key in keys if key not in doc.encrypted_data]
        if missing:
            raise MissingSealedData(
                where, "keys",
                f"not sealed in {path}: {', '.join(missing)}; add with: "
                f"{seal_command(doc.name, namespace, scope, missing)}",
                namespace=namespace, name=doc.name, keys=missing, scope=scope, type=doc.type,
                path=path)

    def declare(self, *keys: str) -> None:
        """Declare more keys the homelab reads (each must be sealed in the store file):
        a database asked for by an app declares its password key this way."""
        new = [check_key(key, self.where, "keys") for key in keys if key not in self._keys]
        self._check_sealed(new, self.sealed, self.store_file, self.where, self.sealed.namespace,
                           self.seal_scope)
        self._keys = (*self._keys, *new)

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of what the Secret is made of (name, ciphertext, template data).

        Re-sealing a value changes it (sealing is randomised), so a pod template that
        carries the digest of the Secrets it reads rolls when one of them is re-sealed.
        """
        spec = self.body["spec"]
        material = {"name": self.object_name, "namespace": self.object_namespace,
                    "encryptedData": spec["encryptedData"],
                    "data": spec["template"].get("data", {})}
        text = json.dumps(material, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def template_keys(self) -> tuple[str, ...]:
        """The keys the controller renders from ``template_data``."""
        return self._template_keys

    @property
    def secret_name(self) -> str:
        """The name of the Secret the controller creates (the SealedSecret's name)."""
        return self.object_name

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys the homelab declared it reads (all sealed in the store)."""
        return self._keys

    def key_ref(self, key: str) -> dict[str, str]:
        """A ``secretKeyRef`` (``{name, key}``) for a declared key (or a key of
        ``template_data``); ConfigError otherwise."""
        if key not in self._keys and key not in self._template_keys:
            raise ConfigError(self.where, "keys",
                              f"{key!r} is not a declared key of Secret {self.secret_name} "
                              f"(declared: {', '.join(self._keys)})")
        return {"name": self.secret_name, "key": key}

    def secret_key(self, key: str) -> SecretKeyRef:
        """An environment value (a :class:`~homelab_charts.workloads.Container` ``env``
        value) reading a declared ``key`` of this Secret."""
        ref = self.key_ref(key)
        return SecretKeyRef(name=ref["name"], key=ref["key"])

    def env(self, env_name: str, key: str) -> dict[str, SecretKeyRef]:
        """``{env_name: <key of this Secret>}``, to merge into a Container's ``env``."""
        return {env_name: self.secret_key(key)}


class Digested(Protocol):
    """Anything with a :attr:`SealedSecret.digest`."""

    @property
    def digest(self) -> str: ...


def combined_digest(secrets: Iterable[Digested]) -> str:
    """One ``sha256:<hex>`` over the digests of ``secrets`` (order does not matter)."""
    digests = sorted({s.digest for s in secrets})
    return "sha256:" + hashlib.sha256("\n".join(digests).encode("utf-8")).hexdigest()
