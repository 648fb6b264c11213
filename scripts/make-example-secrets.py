#!/usr/bin/env python3
"""Make the example cluster's sealing certificate and seal random values for it.

Generates an RSA 4096 key pair in memory, writes only the self-signed certificate
(CN sealed-secret, 10 years, like the sealed-secrets controller's) to
sealed/sealed-secrets-cert.pem, seals random values for every Secret the
homelab needs into sealed/, and forgets the private key: nobody can
decrypt the example secrets. A real cluster swaps in its controller's certificate and
re-seals real values (docs/SECRETS.md). The private key never touches the disk.

    .venv/bin/python scripts/make-example-secrets.py [--force]
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

#: (namespace, name) -> keys: the credentials the homelab's components read. Namespace
#: None: a credential two namespaces read, sealed once cluster-wide
#: (homelab_charts.secrets.shared).
EXAMPLE_SECRETS: dict[tuple[str | None, str], tuple[str, ...]] = {
    ("databases", "postgresql-credentials"): ("postgres-password",),
    ("n8n", "n8n-credentials"): ("encryption-key",),
    (None, "postgresql-family-assistant"): ("password",),
    (None, "postgresql-n8n"): ("password",),
    (None, "redis-credentials"): ("password",),
    (None, "qdrant-credentials"): ("api-key",),
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
    parser.add_argument("--force", action="store_true",
                        help="replace the existing example certificate and sealed files")
    args = parser.parse_args()
    targets = [store_path(STORE_DIR, ns, name) for ns, name in EXAMPLE_SECRETS]
    existing = [p for p in [DEFAULT_CERT, *targets] if p.exists()]
    if existing and not args.force:
        print(f"{existing[0]} exists; pass --force to replace the example certificate and "
              "every example secret", file=sys.stderr)
        return 1
    pem = make_certificate()
    cert = SealingCertificate.from_pem(pem, "generated certificate")
    documents = []
    for (namespace, name), keys in EXAMPLE_SECRETS.items():
        values = {key: secrets.token_urlsafe(32).encode() for key in keys}
        scope = SealScope.STRICT if namespace else SealScope.CLUSTER_WIDE
        doc = SealedDocument(name=name, namespace=namespace, scope=scope)
        documents.append(doc.with_values(cert.public_key, values,
                                         key_fingerprint=cert.fingerprint))
        del values
    atomic_write_text(DEFAULT_CERT, pem.decode("ascii"), mode=0o644, parents=True)
    for doc in documents:
        path = store_path(STORE_DIR, doc.namespace, doc.name)
        doc.write(path)
        print(f"sealed {doc.ident} ({', '.join(doc.keys)}) -> {path.relative_to(REPO)}")
    print(f"certificate ({cert.fingerprint}) -> {DEFAULT_CERT.relative_to(REPO)}; "
          "private key discarded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
