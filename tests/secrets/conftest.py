"""Keys and certificates for the sealing tests: generated once per session (keygen is slow)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    private_key: rsa.RSAPrivateKey
    cert_pem: bytes

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.TraditionalOpenSSL,
                                              serialization.NoEncryption())


def make_cert(key, *, not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None) -> bytes:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def key4096() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    return KeyPair(key, make_cert(key))


@pytest.fixture(scope="session")
def key2048() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyPair(key, make_cert(key))


@pytest.fixture(scope="session")
def other2048() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyPair(key, make_cert(key))


@pytest.fixture(scope="session")
def cert_for():
    """``cert_for(key, not_before=..., not_after=...)``: a self-signed PEM certificate."""
    return make_cert
