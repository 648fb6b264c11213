"""kubeseal's wire format, in Python: hybrid RSA-OAEP(SHA-256) + AES-256-GCM per value.

What the sealed-secrets controller (``pkg/crypto`` upstream) decrypts, byte for byte:

* a fresh random 32-byte AES-256 session key per value;
* the session key encrypted with RSA-OAEP, SHA-256 as hash and MGF1 hash, with the
  *label* of the scope (:func:`encryption_label`) so that a value sealed for one
  Secret cannot be replayed into another;
* the value encrypted with AES-256-GCM under that key, a 12-byte all-zero nonce (the
  key is used once) and no additional data;
* output: 2-byte big-endian length of the RSA ciphertext, the RSA ciphertext (as long
  as the RSA modulus), then the GCM ciphertext with its 16-byte tag;
  base64 (standard alphabet, padded) of all that in ``spec.encryptedData``.

Nothing here logs, formats or raises with a plaintext value in it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from homelab_charts.errors import ConfigError

SESSION_KEY_BYTES = 32
GCM_NONCE = bytes(12)
GCM_TAG_BYTES = 16
MIN_RSA_BITS = 2048

NAMESPACE_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/namespace-wide"
CLUSTER_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/cluster-wide"


class SealScope(enum.StrEnum):
    """Where a sealed value may be decrypted (kubeseal ``--scope``)."""

    STRICT = "strict"
    """Only into a Secret of this exact name and namespace (the default)."""
    NAMESPACE_WIDE = "namespace-wide"
    """Into a Secret of any name in this namespace."""
    CLUSTER_WIDE = "cluster-wide"
    """Into any Secret of the cluster."""

    @property
    def annotations(self) -> dict[str, str]:
        """The annotations kubeseal puts on the SealedSecret (and its template) for the scope."""
        if self is SealScope.NAMESPACE_WIDE:
            return {NAMESPACE_WIDE_ANNOTATION: "true"}
        if self is SealScope.CLUSTER_WIDE:
            return {CLUSTER_WIDE_ANNOTATION: "true"}
        return {}

    @classmethod
    def from_annotations(cls, annotations: dict[str, str] | None, where: str) -> SealScope:
        """The scope the controller reads from a SealedSecret's annotations."""
        annotations = annotations or {}
        cluster = annotations.get(CLUSTER_WIDE_ANNOTATION) == "true"
        namespace = annotations.get(NAMESPACE_WIDE_ANNOTATION) == "true"
        if cluster and namespace:
            raise ConfigError(where, "metadata.annotations",
                              f"both {CLUSTER_WIDE_ANNOTATION} and {NAMESPACE_WIDE_ANNOTATION} "
                              "are set; a SealedSecret has one scope")
        if cluster:
            return cls.CLUSTER_WIDE
        if namespace:
            return cls.NAMESPACE_WIDE
        return cls.STRICT


def encryption_label(scope: SealScope, namespace: str | None, name: str) -> bytes:
    """The RSA-OAEP label: ``namespace/name`` (strict), ``namespace`` or empty (cluster-wide)."""
    if scope is SealScope.CLUSTER_WIDE:
        return b""
    if not namespace:
        raise ValueError(f"a {scope.value} sealed secret needs a namespace")
    if scope is SealScope.NAMESPACE_WIDE:
        return namespace.encode()
    return f"{namespace}/{name}".encode()


def _oaep_with(label: bytes) -> padding.OAEP:
    # cryptography treats label=None and label=b"" alike (an empty label), as Go does.
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()),
                        algorithm=hashes.SHA256(), label=label or None)


def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """kubeseal's ``HybridEncrypt``: the raw bytes (before base64) of one sealed value."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    rsa_ciphertext = public_key.encrypt(session_key, _oaep_with(label))
    sealed = AESGCM(session_key).encrypt(GCM_NONCE, plaintext, None)
    return len(rsa_ciphertext).to_bytes(2, "big") + rsa_ciphertext + sealed


class DecryptionError(Exception):
    """A value could not be unsealed: wrong key, wrong label (scope/name/namespace) or damage.

    The message never contains the value or the key.
    """


def hybrid_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    """kubeseal's ``HybridDecrypt``: the inverse of :func:`hybrid_encrypt`."""
    if len(ciphertext) < 2:
        raise DecryptionError("ciphertext too short")
    rsa_len = int.from_bytes(ciphertext[:2], "big")
    if len(ciphertext) < 2 + rsa_len + GCM_TAG_BYTES:
        raise DecryptionError("ciphertext too short")
    try:
        session_key = private_key.decrypt(ciphertext[2:2 + rsa_len], _oaep_with(label))
    except ValueError:
        raise DecryptionError(
            "RSA-OAEP decryption failed (wrong key, or wrong scope, name or namespace)"
        ) from None
    if len(session_key) != SESSION_KEY_BYTES:
        raise DecryptionError("session key has the wrong length")
    try:
        return AESGCM(session_key).decrypt(GCM_NONCE, ciphertext[2 + rsa_len:], None)
    except InvalidTag:
        raise DecryptionError("AES-GCM authentication failed (value damaged)") from None


def seal_value(public_key: rsa.RSAPublicKey, value: bytes, *, scope: SealScope,
               namespace: str | None, name: str) -> str:
    """One ``spec.encryptedData`` entry: base64 of :func:`hybrid_encrypt`."""
    label = encryption_label(scope, namespace, name)
    return base64.b64encode(hybrid_encrypt(public_key, value, label)).decode("ascii")


def unseal_value(private_keys: rsa.RSAPrivateKey | Sequence[rsa.RSAPrivateKey], encoded: str, *,
                 scope: SealScope, namespace: str | None, name: str) -> bytes:
    """Decrypt one ``spec.encryptedData`` entry, trying each key (the controller keeps old ones)."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("not valid base64") from None
    label = encryption_label(scope, namespace, name)
    keys = [private_keys] if isinstance(private_keys, rsa.RSAPrivateKey) else list(private_keys)
    if not keys:
        raise DecryptionError("no private key given")
    last: DecryptionError | None = None
    for key in keys:
        try:
            return hybrid_decrypt(key, raw, label)
        except DecryptionError as exc:
            last = exc
    assert last is not None
    raise last


def key_fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """``sha256:<hex>`` of the DER SubjectPublicKeyInfo: which key a value was sealed for."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class SealingCertificate:
    """The controller's public certificate (``kubeseal --fetch-cert``), checked."""

    source: str
    certificate: x509.Certificate
    public_key: rsa.RSAPublicKey

    @classmethod
    def from_pem(cls, data: bytes, source: str) -> SealingCertificate:
        """Parse a PEM certificate; a ConfigError naming ``source`` if it is not usable.

        Not PEM, not an X.509 certificate, not RSA, or an RSA key under 2048 bits are
        errors. Validity dates are checked separately (:meth:`validity_problem`).
        """
        if b"-----BEGIN CERTIFICATE-----" not in data:
            hint = ("it holds a private key, not a certificate"
                    if b"PRIVATE KEY-----" in data else
                    "expected a PEM certificate (-----BEGIN CERTIFICATE-----), "
                    "as `kubeseal --fetch-cert` prints")
            raise ConfigError(source, None, f"not a PEM certificate: {hint}")
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError:
            raise ConfigError(
                source, None, "the PEM CERTIFICATE block is not a valid X.509 certificate"
            ) from None
        try:
            key = cert.public_key()
        except (ValueError, TypeError):
            raise ConfigError(source, None, "the certificate's public key cannot be read") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ConfigError(source, None,
                              f"the certificate's key is {type(key).__name__.lstrip('_')}, "
                              "not RSA; the sealed-secrets controller uses RSA keys")
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(source, None,
                              f"the certificate's RSA key has {key.key_size} bits; "
                              f"at least {MIN_RSA_BITS} are required")
        return cls(source=source, certificate=cert, public_key=key)

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)

    @property
    def key_size(self) -> int:
        return self.public_key.key_size

    def validity_problem(self, now: dt.datetime | None = None) -> str | None:
        """Why the certificate is outside its validity period now, or None if it is not."""
        now = now or dt.datetime.now(dt.UTC)
        not_before = self.certificate.not_valid_before_utc
        not_after = self.certificate.not_valid_after_utc
        if now < not_before:
            return f"the certificate is not valid before {not_before.isoformat()}"
        if now > not_after:
            return f"the certificate expired on {not_after.isoformat()}"
        return None


def load_private_keys(data: bytes, source: str) -> list[rsa.RSAPrivateKey]:
    """RSA private keys from PEM text: one or more ``PRIVATE KEY`` blocks, in order.

    For a controller key backup exported as YAML, see
    :func:`homelab_charts.secrets.store.load_key_backup`.
    """
    keys: list[rsa.RSAPrivateKey] = []
    text = data.decode("ascii", errors="replace")
    blocks = []
    start = 0
    while True:
        begin = text.find("-----BEGIN ", start)
        if begin < 0:
            break
        header_end = text.find("-----", begin + 11)
        if header_end < 0:
            break
        label = text[begin + 11:header_end]
        end_marker = f"-----END {label}-----"
        end = text.find(end_marker, header_end)
        if end < 0:
            raise ConfigError(source, None, f"unterminated PEM block {label!r}")
        if label.endswith("PRIVATE KEY"):
            blocks.append(text[begin:end + len(end_marker)])
        start = end + len(end_marker)
    if not blocks:
        raise ConfigError(source, None, "no PEM private key found (-----BEGIN ... PRIVATE KEY)")
    for index, block in enumerate(blocks, 1):
        try:
            key = serialization.load_pem_private_key(block.encode("ascii"), password=None)
        except (ValueError, TypeError):
            raise ConfigError(source, None,
                              f"private key #{index} cannot be read "
                              "(encrypted keys are not supported)") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(source, None, f"private key #{index} is not an RSA key")
        keys.append(key)
    return keys
