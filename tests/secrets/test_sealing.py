"""homelab_charts.secrets.sealing: what seal, reseal and unseal do, without the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.secrets.crypto import SealingCertificate, SealScope
from homelab_charts.secrets.sealing import (
    check_identity,
    env_file_text,
    other_sealing_keys,
    reseal_documents,
    seal_values,
)


def cert(pair) -> SealingCertificate:
    return SealingCertificate.from_pem(pair.cert_pem, "cert.pem")


def test_seal_keeps_other_keys_and_refuses_what_would_not_decrypt(key2048, other2048) -> None:
    first = seal_values(None, name="db", namespace="data", scope=SealScope.STRICT,
                        values={"user": b"app", "password": b"s3cret"}, cert=cert(key2048),
                        where="sealed/data/db.yaml")
    doc = first.document
    assert (first.kept, first.dropped, first.warnings) == ([], [], [])
    assert doc.unseal([key2048.private_key]) == {"password": b"s3cret", "user": b"app"}
    assert doc.key_fingerprint == cert(key2048).fingerprint
    update = seal_values(doc, name="db", namespace="data", scope=SealScope.STRICT,
                         values={"password": b"n3w"}, cert=cert(key2048))
    assert update.kept == ["user"]
    assert update.document.encrypted_data["user"] == doc.encrypted_data["user"]  # byte for byte
    assert update.document.unseal([key2048.private_key])["password"] == b"n3w"
    with pytest.raises(ConfigError, match=r"sealed for another key .* ciphertext of user would "
                                           r"no longer decrypt"):
        seal_values(doc, name="db", namespace="data", scope=SealScope.STRICT,
                    values={"password": b"x"}, cert=cert(other2048), where="f.yaml")
    with pytest.raises(ConfigError, match="scope changes from strict to namespace-wide"):
        seal_values(doc, name="db", namespace="data", scope=SealScope.NAMESPACE_WIDE,
                    values={"password": b"x"}, cert=cert(key2048))
    replaced = seal_values(doc, name="db", namespace="data", scope=SealScope.STRICT,
                           values={"password": b"x"}, cert=cert(other2048), replace_all=True)
    assert (replaced.kept, replaced.dropped) == ([], ["user"])
    with pytest.raises(ConfigError, match="holds SealedSecret data/db, not data/web"):
        check_identity(doc, "web", "data", where="out.yaml")
    check_identity(doc, "db", "data", where="out.yaml")
    check_identity(None, "web", "data", where="out.yaml")


def test_other_keys_and_reseal(tmp_path: Path, key2048, other2048) -> None:
    old = seal_values(None, name="db", namespace="data", scope=SealScope.STRICT,
                      values={"password": b"s3cret"}, cert=cert(key2048)).document
    old.write(tmp_path / "data" / "db.yaml")
    new_fp = cert(other2048).fingerprint
    assert other_sealing_keys(tmp_path, None, new_fp) == {old.key_fingerprint: ["data/db"]}
    assert other_sealing_keys(tmp_path, old, new_fp) == {old.key_fingerprint: ["data/db"]}
    assert other_sealing_keys(tmp_path, None, old.key_fingerprint) == {}
    assert other_sealing_keys(tmp_path / "missing", None, new_fp) == {}
    [(path, resealed)] = reseal_documents([(tmp_path / "data" / "db.yaml", old)],
                                          [key2048.private_key], cert(other2048))
    assert resealed.key_fingerprint == new_fp
    assert resealed.unseal([other2048.private_key]) == {"password": b"s3cret"}
    with pytest.raises(ConfigError, match="cannot be unsealed"):
        reseal_documents([(path, old)], [other2048.private_key], cert(other2048))


def test_env_file_text() -> None:
    assert env_file_text({"B": b"two", "A": b"one"}) == "A='one'\nB='two'\n"
    with pytest.raises(ConfigError, match=r"^K: the value spans several lines"):
        env_file_text({"K": b"a\nb"})
    with pytest.raises(ConfigError, match=r"^K: the value is not UTF-8"):
        env_file_text({"K": b"\xff"})
