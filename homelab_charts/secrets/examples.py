"""Example credentials: a throwaway sealing certificate and random values sealed for it.

An example repository (this one, or one ``homelab-charts init`` makes) must synthesize
before a cluster exists, so its sealed store holds random values sealed for a certificate
whose private key was never kept: nobody can decrypt them, and the real cluster's values
are sealed later for its controller's certificate (docs/SECRETS.md, "Swapping in the
controller's certificate"). The private key never touches the disk.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from homelab_charts.secrets.crypto import SealingCertificate, SealScope
from homelab_charts.secrets.store import SealedDocument, store_path

#: What the sealed-secrets controller's own certificate says (subject, lifetime).
SUBJECT = "sealed-secret"
VALIDITY = dt.timedelta(days=3650)
KEY_BITS = 4096
#: Bytes of randomness of each example value (URL-safe base64 of them is sealed).
VALUE_BYTES = 32


def throwaway_certificate() -> bytes:
    """A self-signed PEM certificate (CN/O ``sealed-secret``, 10 years, like the
    controller's) for a fresh RSA 4096 key; the key is dropped on return."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, SUBJECT),
                         x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT)])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                     content_commitment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def seal_random(store: Path, certificate: SealingCertificate, *, namespace: str | None,
                name: str, keys: Sequence[str], scope: SealScope = SealScope.STRICT,
                type: str = "Opaque") -> SealedDocument:
    """Seal a fresh random value for each of ``keys`` into the store file of
    ``namespace/name`` (created, or extended: keys already there keep their ciphertext).

    Each value is 32 random bytes, URL-safe base64: a usable password or key. It is never
    written anywhere in clear and is forgotten on return."""
    path = store_path(store, namespace, name)
    document = (SealedDocument.read(path) if path.is_file()
                else SealedDocument(name=name, namespace=namespace, scope=scope, type=type))
    values = {key: secrets.token_urlsafe(VALUE_BYTES).encode("ascii") for key in keys}
    document = document.with_values(certificate.public_key, values,
                                    key_fingerprint=certificate.fingerprint)
    del values
    document.write(path)
    return document
