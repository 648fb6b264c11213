"""The wire format: round trips per scope, labels, byte layout, certificate checks."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homelab_charts.errors import ConfigError
from homelab_charts.secrets.crypto import (
    DecryptionError,
    SealingCertificate,
    SealScope,
    encryption_label,
    hybrid_decrypt,
    hybrid_encrypt,
    key_fingerprint,
    load_private_keys,
    seal_value,
    unseal_value,
)
from homelab_charts.secrets.values import SECRET_KEY

VALUE = b"s3cr3t-P@ssw0rd\x00\xff"


@pytest.mark.parametrize("scope", list(SealScope))
def test_round_trip_4096_every_scope(key4096, scope):
    sealed = seal_value(key4096.public_key, VALUE, scope=scope, namespace="databases",
                        name="postgresql-credentials")
    assert unseal_value(key4096.private_key, sealed, scope=scope, namespace="databases",
                        name="postgresql-credentials") == VALUE


def test_labels_per_scope():
    assert encryption_label(SealScope.STRICT, "databases", "redis") == b"databases/redis"
    assert encryption_label(SealScope.NAMESPACE_WIDE, "databases", "redis") == b"databases"
    assert encryption_label(SealScope.CLUSTER_WIDE, "databases", "redis") == b""
    assert encryption_label(SealScope.CLUSTER_WIDE, None, "redis") == b""
    with pytest.raises(ValueError, match="needs a namespace"):
        encryption_label(SealScope.STRICT, None, "redis")


@pytest.mark.parametrize(("scope", "namespace", "name"), [
    (SealScope.STRICT, "databases", "other-name"),
    (SealScope.STRICT, "other-namespace", "redis-credentials"),
    (SealScope.NAMESPACE_WIDE, "other-namespace", "redis-credentials"),
    (SealScope.NAMESPACE_WIDE, "databases", "redis-credentials"),   # strict-sealed, ns label
    (SealScope.CLUSTER_WIDE, "databases", "redis-credentials"),     # strict-sealed, empty label
])
def test_wrong_label_fails(key4096, scope, namespace, name):
    sealed = seal_value(key4096.public_key, VALUE, scope=SealScope.STRICT,
                        namespace="databases", name="redis-credentials")
    with pytest.raises(DecryptionError) as info:
        unseal_value(key4096.private_key, sealed, scope=scope, namespace=namespace, name=name)
    assert "wrong" in str(info.value)


def test_namespace_wide_ignores_name_but_not_namespace(key2048):
    sealed = seal_value(key2048.public_key, VALUE, scope=SealScope.NAMESPACE_WIDE,
                        namespace="n8n", name="a")
    assert unseal_value(key2048.private_key, sealed, scope=SealScope.NAMESPACE_WIDE,
                        namespace="n8n", name="b") == VALUE
    with pytest.raises(DecryptionError):
        unseal_value(key2048.private_key, sealed, scope=SealScope.NAMESPACE_WIDE,
                     namespace="databases", name="a")


def test_wrong_key_fails_and_key_list_is_tried_in_order(key2048, other2048):
    sealed = seal_value(key2048.public_key, VALUE, scope=SealScope.CLUSTER_WIDE,
                        namespace=None, name="x")
    with pytest.raises(DecryptionError):
        unseal_value(other2048.private_key, sealed, scope=SealScope.CLUSTER_WIDE,
                     namespace=None, name="x")
    assert unseal_value([other2048.private_key, key2048.private_key], sealed,
                        scope=SealScope.CLUSTER_WIDE, namespace=None, name="x") == VALUE


def test_output_layout_matches_the_documented_bytes(key4096):
    """2-byte big-endian RSA length, RSA block = key size, GCM with zero nonce and tag."""
    encoded = seal_value(key4096.public_key, VALUE, scope=SealScope.STRICT,
                         namespace="n8n", name="n8n-credentials")
    raw = base64.b64decode(encoded, validate=True)      # standard alphabet, padded
    assert base64.b64encode(raw).decode() == encoded
    rsa_len = int.from_bytes(raw[:2], "big")
    assert rsa_len == 512 == key4096.public_key.key_size // 8
    assert raw[:2] == b"\x02\x00"
    assert len(raw) == 2 + rsa_len + len(VALUE) + 16
    # Decrypt by hand, with the primitives only, as the controller does.
    session_key = key4096.private_key.decrypt(
        raw[2:2 + rsa_len],
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                     label=b"n8n/n8n-credentials"))
    assert len(session_key) == 32
    assert AESGCM(session_key).decrypt(bytes(12), raw[2 + rsa_len:], None) == VALUE


def test_each_seal_uses_a_fresh_session_key(key2048):
    one = hybrid_encrypt(key2048.public_key, VALUE, b"l")
    two = hybrid_encrypt(key2048.public_key, VALUE, b"l")
    assert one != two
    assert hybrid_decrypt(key2048.private_key, one, b"l") == VALUE


@pytest.mark.parametrize("damage", ["truncate", "flip-gcm", "flip-rsa", "short"])
def test_damaged_ciphertext_fails_without_showing_anything(key2048, damage):
    raw = bytearray(hybrid_encrypt(key2048.public_key, VALUE, b"l"))
    if damage == "truncate":
        raw = raw[:100]
    elif damage == "flip-gcm":
        raw[-1] ^= 1
    elif damage == "flip-rsa":
        raw[10] ^= 1
    else:
        raw = raw[:1]
    with pytest.raises(DecryptionError) as info:
        hybrid_decrypt(key2048.private_key, bytes(raw), b"l")
    assert VALUE.decode("latin-1") not in str(info.value)


def test_not_base64_is_a_decryption_error(key2048):
    with pytest.raises(DecryptionError, match="base64"):
        unseal_value(key2048.private_key, "not base64!", scope=SealScope.CLUSTER_WIDE,
                     namespace=None, name="x")


secret_keys = st.from_regex(SECRET_KEY, fullmatch=True).filter(
    lambda k: len(k) <= 253 and k not in (".", ".."))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(secret_keys, st.binary(max_size=2048), min_size=1, max_size=4),
       scope=st.sampled_from(list(SealScope)))
def test_property_any_bytes_any_key_round_trip(key2048, values, scope):
    for key, value in values.items():
        sealed = seal_value(key2048.public_key, value, scope=scope, namespace="databases",
                            name=key.lower().strip("-._")[:50] or "x")
        raw = base64.b64decode(sealed)
        assert int.from_bytes(raw[:2], "big") == 256
        assert len(raw) == 2 + 256 + len(value) + 16
        assert unseal_value(key2048.private_key, sealed, scope=scope, namespace="databases",
                            name=key.lower().strip("-._")[:50] or "x") == value


# -- certificates -------------------------------------------------------------------------

def test_certificate_accepted(key4096):
    cert = SealingCertificate.from_pem(key4096.cert_pem, "cert.pem")
    assert cert.key_size == 4096
    assert cert.validity_problem() is None
    assert cert.fingerprint == key_fingerprint(key4096.public_key)
    assert cert.fingerprint.startswith("sha256:") and len(cert.fingerprint) == 7 + 64


@pytest.mark.parametrize(("data", "message"), [
    (b"hello", "not a PEM certificate"),
    (b"", "not a PEM certificate"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a valid X.509"),
])
def test_certificate_not_pem(data, message):
    with pytest.raises(ConfigError, match=message) as info:
        SealingCertificate.from_pem(data, "pub.pem")
    assert info.value.where == "pub.pem"


def test_certificate_private_key_given_instead(key2048):
    with pytest.raises(ConfigError, match="private key, not a certificate"):
        SealingCertificate.from_pem(key2048.private_pem, "key.pem")


def test_certificate_not_rsa(cert_for):
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ConfigError, match="not RSA"):
        SealingCertificate.from_pem(cert_for(key), "ec.pem")


def test_certificate_too_small(cert_for):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigError, match="1024 bits; at least 2048"):
        SealingCertificate.from_pem(cert_for(key), "small.pem")


def test_certificate_expired_and_not_yet_valid(key2048, cert_for):
    now = dt.datetime.now(dt.UTC)
    expired = SealingCertificate.from_pem(
        cert_for(key2048.private_key, not_before=now - dt.timedelta(days=30),
                 not_after=now - dt.timedelta(days=1)), "old.pem")
    assert "expired" in expired.validity_problem()
    future = SealingCertificate.from_pem(
        cert_for(key2048.private_key, not_before=now + dt.timedelta(days=1),
                 not_after=now + dt.timedelta(days=30)), "new.pem")
    assert "not valid before" in future.validity_problem()


def test_private_keys_from_pem(key2048, other2048):
    keys = load_private_keys(key2048.private_pem + other2048.private_pem, "keys.pem")
    assert [k.key_size for k in keys] == [2048, 2048]
    assert keys[1].private_numbers() == other2048.private_key.private_numbers()
    with pytest.raises(ConfigError, match="no PEM private key"):
        load_private_keys(key2048.cert_pem, "cert.pem")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_private_keys(b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"
                          b"-----END RSA PRIVATE KEY-----\n", "bad.pem")
