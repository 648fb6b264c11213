"""The sealed data store: one kubeseal-compatible SealedSecret manifest per Secret.

``sealed/<namespace>/<name>.yaml`` of the repository (``_cluster/<name>.yaml`` for a
cluster-wide secret sealed without a namespace; :mod:`homelab_charts.project`). Each file
is what ``kubeseal -o yaml`` prints, so its output can be dropped in; ``homelab-charts
seal`` writes them. The ciphertext is data committed to Git: synthesis reads it, never
re-encrypts it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from homelab_charts import yamlsafe
from homelab_charts.errors import ConfigError
from homelab_charts.fsutil import atomic_write_text
from homelab_charts.secrets.crypto import (
    CLUSTER_WIDE_ANNOTATION,
    GCM_TAG_BYTES,
    NAMESPACE_WIDE_ANNOTATION,
    DecryptionError,
    SealScope,
    load_private_keys,
    seal_value,
    unseal_value,
)
from homelab_charts.secrets.values import KEY_RULE, is_valid_key

# The same rules as homelab_charts.base, repeated so that sealing does not load cdk8s.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)

API_VERSION = "bitnami.com/v1alpha1"
KIND = "SealedSecret"
#: Store folder of cluster-wide secrets sealed without a namespace (not a valid namespace).
CLUSTER_FOLDER = "_cluster"
#: Store-only annotation: fingerprint of the public key every value of the file is sealed for.
KEY_ANNOTATION = "homelab-charts/sealing-key-sha256"
SCOPE_ANNOTATIONS = (NAMESPACE_WIDE_ANNOTATION, CLUSTER_WIDE_ANNOTATION)
HEADER = ("# SealedSecret (bitnami.com/v1alpha1): encrypted, safe to commit.\n"
          "# Written by `homelab-charts seal` (kubeseal-compatible); do not edit by hand.\n")

_STRING_MAP_FIELDS = ("labels", "annotations")


def store_path(store: Path, namespace: str | None, name: str) -> Path:
    """Where the store keeps the SealedSecret ``namespace/name``."""
    return store / (namespace or CLUSTER_FOLDER) / f"{name}.yaml"


@dataclass(frozen=True)
class SealedDocument:
    """One SealedSecret as the store holds it (and as ``kubeseal -o yaml`` prints it)."""

    name: str
    namespace: str | None
    scope: SealScope = SealScope.STRICT
    type: str = "Opaque"
    encrypted_data: Mapping[str, str] = field(default_factory=dict)
    #: :func:`~homelab_charts.secrets.crypto.key_fingerprint` of the key all values are
    #: sealed for; None when unknown (a file kubeseal wrote).
    key_fingerprint: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    template_labels: Mapping[str, str] = field(default_factory=dict)
    template_annotations: Mapping[str, str] = field(default_factory=dict)
    immutable: bool | None = None

    def __post_init__(self) -> None:
        if self.scope is not SealScope.CLUSTER_WIDE and not self.namespace:
            raise ValueError(f"a {self.scope.value} SealedSecret needs a namespace")

    @property
    def ident(self) -> str:
        """``namespace/name``, or ``name`` for a secret sealed without a namespace."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(sorted(self.encrypted_data))

    # -- writing -----------------------------------------------------------------------
    def manifest(self, *, store_annotations: bool = True) -> dict[str, Any]:
        """The SealedSecret object, laid out as kubeseal does (encryptedData keys sorted)."""
        meta: dict[str, Any] = {"name": self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        if self.labels:
            meta["labels"] = dict(sorted(self.labels.items()))
        annotations = {**self.annotations, **self.scope.annotations}
        if store_annotations and self.key_fingerprint:
            annotations[KEY_ANNOTATION] = self.key_fingerprint
        if annotations:
            meta["annotations"] = dict(sorted(annotations.items()))
        tmeta: dict[str, Any] = {"name": self.name}
        if self.namespace:
            tmeta["namespace"] = self.namespace
        if self.template_labels:
            tmeta["labels"] = dict(sorted(self.template_labels.items()))
        tannotations = {**self.template_annotations, **self.scope.annotations}
        if tannotations:
            tmeta["annotations"] = dict(sorted(tannotations.items()))
        template: dict[str, Any] = {"metadata": tmeta, "type": self.type}
        if self.immutable is not None:
            template["immutable"] = self.immutable
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": meta,
            "spec": {
                "encryptedData": dict(sorted(self.encrypted_data.items())),
                "template": template,
            },
        }

    def dump(self) -> str:
        """The store file's text: a header comment, then the manifest as block YAML."""
        body = yaml.safe_dump(self.manifest(), sort_keys=False, default_flow_style=False,
                              width=1 << 20, allow_unicode=True)
        return HEADER + body

    def write(self, path: Path) -> None:
        """Write the file atomically (a temporary file in the same folder, then rename)."""
        atomic_write_text(path, self.dump(), mode=0o644, parents=True)

    # -- sealing and unsealing ---------------------------------------------------------
    def with_values(self, public_key: rsa.RSAPublicKey, values: Mapping[str, bytes], *,
                    key_fingerprint: str | None) -> SealedDocument:
        """A copy with ``values`` sealed in; other keys keep their ciphertext byte for byte."""
        data = dict(self.encrypted_data)
        for key, value in values.items():
            data[key] = seal_value(public_key, value, scope=self.scope,
                                   namespace=self.namespace, name=self.name)
        return replace(self, encrypted_data=data, key_fingerprint=key_fingerprint)

    def unseal(self, private_keys: rsa.RSAPrivateKey | Sequence[rsa.RSAPrivateKey],
               where: str | None = None) -> dict[str, bytes]:
        """Every value in clear (recovery with a backed-up controller key; tests)."""
        where = where or f"SealedSecret {self.ident}"
        out: dict[str, bytes] = {}
        for key, encoded in sorted(self.encrypted_data.items()):
            try:
                out[key] = unseal_value(private_keys, encoded, scope=self.scope,
                                        namespace=self.namespace, name=self.name)
            except DecryptionError as exc:
                raise ConfigError(where, f"spec.encryptedData.{key}",
                                  f"cannot be unsealed: {exc}") from None
        return out

    # -- reading -----------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, source: str) -> SealedDocument:
        """Read a store file (or ``kubeseal -o yaml`` output); errors name file and field."""
        try:
            loaded = yamlsafe.load_all(text, source)
        except ConfigError as exc:
            problem, field_name = exc.message, exc.field
            if problem.startswith("invalid YAML: "):
                at = f" at {field_name}" if field_name else ""
                problem = f"not valid YAML ({problem.removeprefix('invalid YAML: ')}{at})"
                field_name = None
            raise ConfigError(exc.where, field_name,
                              f"{problem}; restore it from Git or re-seal it with "
                              "`homelab-charts seal`") from None
        docs = [doc for doc in loaded if doc is not None]
        if len(docs) != 1:
            raise ConfigError(source, None,
                              f"expected exactly one SealedSecret document, found {len(docs)}")
        return cls.from_manifest(docs[0], source)

    @classmethod
    def from_manifest(cls, doc: Any, source: str) -> SealedDocument:
        if not isinstance(doc, dict):
            raise ConfigError(source, None, "expected a mapping (a SealedSecret object)")
        _expect(doc.get("apiVersion") == API_VERSION, source, "apiVersion",
                f"must be {API_VERSION}")
        _expect(doc.get("kind") == KIND, source, "kind", f"must be {KIND}")
        _only(doc, ("apiVersion", "kind", "metadata", "spec", "status"), source, "")
        meta = _mapping(doc.get("metadata"), source, "metadata")
        _only(meta, ("name", "namespace", "labels", "annotations", "creationTimestamp"),
              source, "metadata")
        name = meta.get("name")
        _expect(isinstance(name, str) and DNS_SUBDOMAIN.match(name) is not None, source,
                "metadata.name", "must be a DNS-1123 subdomain")
        namespace = meta.get("namespace")
        _expect(namespace is None or (isinstance(namespace, str)
                                      and DNS_LABEL.match(namespace) is not None),
                source, "metadata.namespace", "must be a DNS-1123 label")
        labels = _string_map(meta.get("labels"), source, "metadata.labels")
        annotations = _string_map(meta.get("annotations"), source, "metadata.annotations")
        scope = SealScope.from_annotations(annotations, source)
        if scope is not SealScope.CLUSTER_WIDE and not namespace:
            raise ConfigError(source, "metadata.namespace",
                              f"missing: a {scope.value} SealedSecret is bound to its namespace")
        fingerprint = annotations.get(KEY_ANNOTATION)
        extra_annotations = {k: v for k, v in annotations.items()
                             if k not in (*SCOPE_ANNOTATIONS, KEY_ANNOTATION)}

        spec = _mapping(doc.get("spec"), source, "spec")
        _only(spec, ("encryptedData", "template"), source, "spec")
        data = _mapping(spec.get("encryptedData"), source, "spec.encryptedData",
                        allow_none=True)
        encrypted: dict[str, str] = {}
        for key, value in data.items():
            field_name = f"spec.encryptedData.{key}"
            if not is_valid_key(key):
                raise ConfigError(source, "spec.encryptedData",
                                  f"{key!r} is not a valid Secret key ({KEY_RULE})")
            _expect(isinstance(value, str), source, field_name, "must be a base64 string")
            _check_ciphertext(value, source, field_name)
            encrypted[key] = value

        template = _mapping(spec.get("template"), source, "spec.template", allow_none=True)
        _only(template, ("metadata", "type", "immutable"), source, "spec.template")
        tmeta = _mapping(template.get("metadata"), source, "spec.template.metadata",
                         allow_none=True)
        _only(tmeta, ("name", "namespace", "labels", "annotations", "creationTimestamp"),
              source, "spec.template.metadata")
        for key, expected in (("name", name), ("namespace", namespace)):
            value = tmeta.get(key)
            if value is not None and value != expected:
                raise ConfigError(source, f"spec.template.metadata.{key}",
                                  f"{value!r} differs from metadata.{key} {expected!r}")
        tlabels = _string_map(tmeta.get("labels"), source, "spec.template.metadata.labels")
        tannotations = _string_map(tmeta.get("annotations"), source,
                                   "spec.template.metadata.annotations")
        tscope = SealScope.from_annotations(tannotations, source)
        if any(k in tannotations for k in SCOPE_ANNOTATIONS) and tscope is not scope:
            raise ConfigError(source, "spec.template.metadata.annotations",
                              f"scope {tscope.value} differs from the SealedSecret's "
                              f"scope {scope.value}")
        secret_type = template.get("type", "Opaque")
        _expect(isinstance(secret_type, str) and secret_type != "", source,
                "spec.template.type", "must be a non-empty string")
        immutable = template.get("immutable")
        _expect(immutable is None or isinstance(immutable, bool), source,
                "spec.template.immutable", "must be true or false")
        return cls(
            name=name, namespace=namespace, scope=scope, type=secret_type,
            encrypted_data=encrypted, key_fingerprint=fingerprint, labels=labels,
            annotations=extra_annotations, template_labels=tlabels,
            template_annotations={k: v for k, v in tannotations.items()
                                  if k not in SCOPE_ANNOTATIONS},
            immutable=immutable,
        )

    @classmethod
    def read(cls, path: Path, source: str | None = None) -> SealedDocument:
        source = source or str(path)
        if not path.exists():
            raise ConfigError(source, None, "no such sealed secret file")
        return cls.parse(yamlsafe.read_text(path, "sealed secret file", source=source), source)


def iter_store(store: Path) -> Iterator[tuple[Path, SealedDocument]]:
    """Every SealedSecret of the store, sorted by path; each checked against its path."""
    if not store.is_dir():
        return
    for path in sorted(store.glob("*/*.yaml")):
        doc = SealedDocument.read(path)
        expected = store_path(store, doc.namespace, doc.name)
        if expected != path:
            raise ConfigError(str(path), "metadata",
                              f"holds {doc.namespace or ''}/{doc.name}, which belongs in "
                              f"{expected.relative_to(store)}")
        yield path, doc


def sealing_keys(store: Path) -> dict[str, list[str]]:
    """Key fingerprint -> the SealedSecrets of the store sealed for it (files with the
    :data:`KEY_ANNOTATION`; files that do not read are left out)."""
    keys: dict[str, list[str]] = {}
    if not store.is_dir():
        return keys
    for path in sorted(store.glob("*/*.yaml")):
        try:
            doc = SealedDocument.read(path)
        except ConfigError:
            continue
        if doc.key_fingerprint:
            keys.setdefault(doc.key_fingerprint, []).append(doc.ident)
    return keys


def load_key_backup(data: bytes, source: str) -> list[rsa.RSAPrivateKey]:
    """Controller private keys from a backup: PEM, or the YAML of the key Secrets.

    The YAML form is what ``kubectl get secret -n kube-system -l
    sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`` prints (a List of
    ``kubernetes.io/tls`` Secrets, or one Secret); each ``data["tls.key"]`` is used.
    """
    if re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", data) and b"tls.key" not in data:
        return load_private_keys(data, source)
    try:
        docs = yamlsafe.load_all(yamlsafe.decode(data, source, "key backup"), source)
    except ConfigError as exc:
        raise ConfigError(source, exc.field,
                          "neither a PEM private key nor the YAML of the controller's key "
                          f"Secrets ({exc.message})") from None
    secrets: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            secrets.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
        elif isinstance(doc, dict):
            secrets.append(doc)
    keys: list[rsa.RSAPrivateKey] = []
    for index, secret in enumerate(secrets):
        data = secret.get("data")
        encoded = data.get("tls.key") if isinstance(data, dict) else None
        if not isinstance(encoded, str):
            continue
        try:
            pem = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(source, f"item {index}: data.tls.key", "not valid base64") from None
        keys.extend(load_private_keys(pem, f"{source}: item {index}: data.tls.key"))
    if not keys:
        raise ConfigError(source, None, "no private key found (expected data.tls.key)")
    return keys


def _expect(ok: bool, source: str, field_name: str, message: str) -> None:
    if not ok:
        raise ConfigError(source, field_name, message)


def _mapping(value: Any, source: str, field_name: str, *,
             allow_none: bool = False) -> dict[str, Any]:
    if value is None and allow_none:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(source, field_name, "must be a mapping")
    return value


def _string_map(value: Any, source: str, field_name: str) -> dict[str, str]:
    mapping = _mapping(value, source, field_name, allow_none=True)
    for key, item in mapping.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ConfigError(source, f"{field_name}.{key}", "must map strings to strings")
    return dict(mapping)


def _only(mapping: Mapping[str, Any], allowed: Sequence[str], source: str, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            field_name = f"{where}.{key}" if where else str(key)
            raise ConfigError(source, field_name,
                              f"unsupported field (allowed here: {', '.join(allowed)})")


def _check_ciphertext(value: str, source: str, field_name: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(source, field_name, "not valid base64") from None
    if len(raw) < 2:
        raise ConfigError(source, field_name, "too short to be a sealed value")
    rsa_len = int.from_bytes(raw[:2], "big")
    if rsa_len < 256 or len(raw) < 2 + rsa_len + GCM_TAG_BYTES:
        raise ConfigError(source, field_name,
                          "not a sealed value (bad length prefix or truncated)")
