#!/usr/bin/env python3
"""Make the example cluster's sealing certificate and seal random values for it.

Generates an RSA 4096 key pair in memory, writes only the self-signed certificate
(CN sealed-secret, 10 years, like the sealed-secrets controller's) to
sealed/sealed-secrets-cert.pem, seals random values for every credential the
homelab's components ask for into sealed/ (found by building the tree: the same code as
`homelab-charts init`), and forgets the private key: nobody can decrypt the example
secrets. A real cluster swaps in its controller's certificate and re-seals real values
(docs/SECRETS.md). The private key never touches the disk.
``--missing`` instead seals only the example secrets the store lacks (a credential a new
component reads), for the certificate already there, and leaves the rest untouched.

    .venv/bin/python scripts/make-example-secrets.py [--force]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from homelab_charts import project  # noqa: E402
from homelab_charts.errors import HomelabError  # noqa: E402
from homelab_charts.fsutil import atomic_write_text  # noqa: E402
from homelab_charts.scaffold import seal_example_credentials  # noqa: E402
from homelab_charts.secrets.crypto import SealingCertificate  # noqa: E402
from homelab_charts.secrets.examples import throwaway_certificate  # noqa: E402
from homelab_charts.secrets.store import iter_store, store_path  # noqa: E402

STORE_DIR = project.store_dir(REPO)
DEFAULT_CERT = project.cert_file(REPO)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true",
                        help="replace the existing example certificate and sealed files")
    parser.add_argument("--missing", action="store_true",
                        help="seal only what the store lacks, for its certificate")
    args = parser.parse_args()
    if args.missing:
        return seal_missing()
    existing = [DEFAULT_CERT] if DEFAULT_CERT.exists() else []
    if STORE_DIR.is_dir():
        existing += [path for path, _ in iter_store(STORE_DIR)]
    if existing and not args.force:
        print(f"{existing[0]} exists; pass --force to replace the example certificate and "
              "every example secret", file=sys.stderr)
        return 1
    pem = throwaway_certificate()
    cert = SealingCertificate.from_pem(pem, "generated certificate")
    try:
        # Sealed into an empty store first: every credential gets fresh values, and the
        # repository's files change only once all of them are sealed.
        with tempfile.TemporaryDirectory() as scratch:
            documents = seal_example_credentials(REPO, cert, store=Path(scratch))
    except HomelabError as exc:
        print(f"make-example-secrets: error: {exc}", file=sys.stderr)
        return 2
    atomic_write_text(DEFAULT_CERT, pem.decode("ascii"), mode=0o644, parents=True)
    for doc in documents:
        path = store_path(STORE_DIR, doc.namespace, doc.name)
        doc.write(path)
        print(f"sealed {doc.ident} ({', '.join(doc.keys)}) -> {path.relative_to(REPO)}")
    print(f"certificate ({cert.fingerprint}) -> {DEFAULT_CERT.relative_to(REPO)}; "
          "private key discarded")
    return 0


def seal_missing() -> int:
    """Seal the example credentials the store lacks, for the certificate in the store."""
    if not DEFAULT_CERT.is_file():
        print(f"{DEFAULT_CERT} does not exist; run without --missing to make it",
              file=sys.stderr)
        return 1
    cert = SealingCertificate.from_pem(DEFAULT_CERT.read_bytes(), str(DEFAULT_CERT))
    try:
        documents = seal_example_credentials(REPO, cert, store=STORE_DIR)
    except HomelabError as exc:
        print(f"make-example-secrets: error: {exc}", file=sys.stderr)
        return 2
    for doc in documents:
        print(f"sealed {doc.ident} ({', '.join(doc.keys)}) -> "
              f"{store_path(STORE_DIR, doc.namespace, doc.name).relative_to(REPO)}")
    if not documents:
        print("every example secret is sealed already")
    return 0


if __name__ == "__main__":
    sys.exit(main())
