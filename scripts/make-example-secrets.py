#!/usr/bin/env python3
"""Make the example cluster's sealing certificate and seal random values for it.

Generates an RSA 4096 key pair in memory, writes only the self-signed certificate
(CN sealed-secret, 10 years, like the sealed-secrets controller's) to
sealed/sealed-secrets-cert.pem, seals random values for every Secret the
homelab needs into sealed/, and forgets the private key: nobody can
decrypt the example secrets. A real cluster swaps in its controller's certificate and
re-seals real values (docs/SECRETS.md). The private key never touches the disk.
``--missing`` instead seals only the example secrets the store lacks (a credential a new
component reads), for the certificate already there, and leaves the rest untouched.

    .venv/bin/python scripts/make-example-secrets.py [--force | --missing]
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from homelab_charts import project  # noqa: E402
from homelab_charts.fsutil import atomic_write_text  # noqa: E402
from homelab_charts.secrets.crypto import SealingCertificate, SealScope  # noqa: E402
from homelab_charts.secrets.store import SealedDocument, store_path  # noqa: E402

STORE_DIR = project.store_dir(REPO)
DEFAULT_CERT = project.cert_file(REPO)

#: (namespace, name) -> keys: the credentials the homelab's components read.
EXAMPLE_SECRETS: dict[tuple[str, str], tuple[str, ...]] = {
    ("databases", "postgresql-credentials"): (
        "postgres-password", "family-assistant-password", "n8n-password"),
    ("databases", "redis-credentials"): ("redis-password",),
    ("databases", "qdrant-credentials"): ("api-key",),
    ("family-assistant", "family-assistant-credentials"): (
        "postgres-password", "redis-password", "qdrant-api-key"),
    ("n8n", "n8n-credentials"): ("db-password", "encryption-key"),
    ("observability", "grafana-admin"): ("admin-user", "admin-password"),
}


def make_certificate() -> bytes:
    """A self-signed certificate for a fresh key; the key is dropped on return."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                     content_commitment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true",
                      help="replace the existing example certificate and sealed files")
    mode.add_argument("--missing", action="store_true",
                      help="seal only the example secrets not in the store yet, for the "
                           "certificate already there")
    args = parser.parse_args()
    if args.missing:
        return seal_missing()
    targets = [store_path(STORE_DIR, ns, name) for ns, name in EXAMPLE_SECRETS]
    existing = [p for p in [DEFAULT_CERT, *targets] if p.exists()]
    if existing and not args.force:
        print(f"{existing[0]} exists; pass --force to replace the example certificate and "
              "every example secret, or --missing to add only the absent ones",
              file=sys.stderr)
        return 1
    pem = make_certificate()
    cert = SealingCertificate.from_pem(pem, "generated certificate")
    documents = seal_random(cert, EXAMPLE_SECRETS)
    atomic_write_text(DEFAULT_CERT, pem.decode("ascii"), mode=0o644, parents=True)
    write(documents)
    print(f"certificate ({cert.fingerprint}) -> {DEFAULT_CERT.relative_to(REPO)}; "
          "private key discarded")
    return 0


def seal_missing() -> int:
    """Seal the example secrets the store lacks for the certificate in the store."""
    if not DEFAULT_CERT.is_file():
        print(f"{DEFAULT_CERT} does not exist; run without --missing to make it",
              file=sys.stderr)
        return 1
    cert = SealingCertificate.from_pem(DEFAULT_CERT.read_bytes(), str(DEFAULT_CERT))
    missing = {ident: keys for ident, keys in EXAMPLE_SECRETS.items()
               if not store_path(STORE_DIR, *ident).exists()}
    write(seal_random(cert, missing))
    if not missing:
        print("every example secret is sealed already")
    return 0


def seal_random(cert: SealingCertificate,
                wanted: dict[tuple[str, str], tuple[str, ...]]) -> list[SealedDocument]:
    """Random values for ``wanted``, sealed (strict scope) for ``cert``."""
    documents = []
    for (namespace, name), keys in wanted.items():
        values = {key: secrets.token_urlsafe(32).encode() for key in keys}
        doc = SealedDocument(name=name, namespace=namespace, scope=SealScope.STRICT)
        documents.append(doc.with_values(cert.public_key, values,
                                         key_fingerprint=cert.fingerprint))
        del values
    return documents


def write(documents: list[SealedDocument]) -> None:
    for doc in documents:
        path = store_path(STORE_DIR, doc.namespace, doc.name)
        doc.write(path)
        print(f"sealed {doc.ident} ({', '.join(doc.keys)}) -> {path.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
