"""The store files: layout, kubeseal drop-ins, hand-edited files, key backups."""

from __future__ import annotations

import base64
import re

import pytest
import yaml

from homelab_charts.errors import ConfigError
from homelab_charts.secrets.crypto import SealingCertificate, SealScope
from homelab_charts.secrets.store import (
    KEY_ANNOTATION,
    SealedDocument,
    iter_store,
    load_key_backup,
    store_path,
)


@pytest.fixture(scope="module")
def cert(key2048):
    return SealingCertificate.from_pem(key2048.cert_pem, "cert.pem")


def sealed(cert, scope=SealScope.STRICT, namespace="databases", name="redis-credentials",
           values=None):
    doc = SealedDocument(name=name, namespace=namespace, scope=scope)
    return doc.with_values(cert.public_key, values or {"redis-password": b"pw", "b": b"2"},
                           key_fingerprint=cert.fingerprint)


@pytest.mark.parametrize("scope", list(SealScope))
def test_dump_parse_round_trip(cert, key2048, scope):
    doc = sealed(cert, scope)
    text = doc.dump()
    assert text.startswith("# SealedSecret")
    again = SealedDocument.parse(text, "f.yaml")
    assert again == doc
    assert again.dump() == text
    assert again.unseal(key2048.private_key) == {"redis-password": b"pw", "b": b"2"}


def test_layout_like_kubeseal(cert):
    manifest = yaml.safe_load(sealed(cert, SealScope.NAMESPACE_WIDE).dump())
    assert manifest["apiVersion"] == "bitnami.com/v1alpha1"
    assert manifest["kind"] == "SealedSecret"
    assert manifest["metadata"]["annotations"] == {
        KEY_ANNOTATION: cert.fingerprint,
        "sealedsecrets.bitnami.com/namespace-wide": "true"}
    assert list(manifest["spec"]["encryptedData"]) == ["b", "redis-password"]
    assert manifest["spec"]["template"] == {
        "metadata": {"name": "redis-credentials", "namespace": "databases",
                     "annotations": {"sealedsecrets.bitnami.com/namespace-wide": "true"}},
        "type": "Opaque"}


def test_cluster_wide_without_namespace(cert, tmp_path):
    doc = sealed(cert, SealScope.CLUSTER_WIDE, namespace=None, name="shared")
    path = store_path(tmp_path, None, "shared")
    assert path == tmp_path / "_cluster" / "shared.yaml"
    doc.write(path)
    assert [d for _, d in iter_store(tmp_path)] == [doc]
    with pytest.raises(ValueError, match="needs a namespace"):
        SealedDocument(name="x", namespace=None, scope=SealScope.STRICT)


def kubeseal_output(cert, scope_annotation=None):
    """What `kubeseal -o yaml` prints (creationTimestamp: null and all)."""
    value = sealed(cert).encrypted_data["redis-password"]
    annotations = f"  annotations:\n    {scope_annotation}: \"true\"\n" if scope_annotation else ""
    tannotations = (f"      annotations:\n        {scope_annotation}: \"true\"\n"
                    if scope_annotation else "")
    return (
        "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n"
        f"{annotations}  creationTimestamp: null\n  name: redis-credentials\n"
        "  namespace: databases\nspec:\n  encryptedData:\n"
        f"    redis-password: {value}\n  template:\n    metadata:\n{tannotations}"
        "      creationTimestamp: null\n      name: redis-credentials\n"
        "      namespace: databases\n    type: Opaque\n"
    )


@pytest.mark.parametrize(("annotation", "scope"), [
    (None, SealScope.STRICT),
    ("sealedsecrets.bitnami.com/namespace-wide", SealScope.NAMESPACE_WIDE),
    ("sealedsecrets.bitnami.com/cluster-wide", SealScope.CLUSTER_WIDE),
])
def test_kubeseal_output_drops_in(cert, annotation, scope):
    doc = SealedDocument.parse(kubeseal_output(cert, annotation), "kubeseal.yaml")
    assert doc.scope is scope
    assert doc.key_fingerprint is None
    assert doc.keys == ("redis-password",)
    assert "creationTimestamp" not in doc.dump()


def test_key_backup_yaml_list(key2048, other2048):
    def item(kp):
        return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "data": {"tls.crt": base64.b64encode(kp.cert_pem).decode(),
                         "tls.key": base64.b64encode(kp.private_pem).decode()}}
    backup = yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                             "items": [item(key2048), item(other2048)]}).encode()
    keys = load_key_backup(backup, "main.key")
    assert [k.private_numbers() for k in keys] == [key2048.private_key.private_numbers(),
                                                   other2048.private_key.private_numbers()]
    assert len(load_key_backup(key2048.private_pem, "k.pem")) == 1
    with pytest.raises(ConfigError, match="no private key found"):
        load_key_backup(b"kind: List\nitems: []\n", "empty.yaml")
    with pytest.raises(ConfigError, match="neither a PEM private key"):
        load_key_backup(b"{{{", "junk")


@pytest.mark.parametrize(("edit", "field", "message"), [
    (lambda t: t.replace("spec:\n", "spec:\n  : [\n"), None, "not valid YAML"),
    (lambda t: t.replace("kind: SealedSecret", "kind: Secret"), "kind", "must be SealedSecret"),
    (lambda t: t.replace("bitnami.com/v1alpha1\n", "v1\n"), "apiVersion", "must be"),
    (lambda t: t.replace("  namespace: databases\n  annotations", "  annotations"),
     "metadata.namespace",
     "missing"),
    (lambda t: re.sub(r"redis-password: \S+", "redis-password: x~~", t),
     "spec.encryptedData.redis-password", "not valid base64"),
    (lambda t: re.sub(r"redis-password: \S+", "redis-password: AAAA", t),
     "spec.encryptedData.redis-password", "not a sealed value"),
    (lambda t: t.replace("    b: ", "    bad key: "), "spec.encryptedData",
     "not a valid Secret key"),
    (lambda t: t.replace("      name: redis-credentials", "      name: other"),
     "spec.template.metadata.name", "differs"),
    (lambda t: t.replace("    type: Opaque", "    type: Opaque\n    data: {}"),
     "spec.template.data", "unsupported field"),
    (lambda t: t + "---\nkind: x\n", None, "exactly one SealedSecret"),
    (lambda t: t.replace(f"    {KEY_ANNOTATION}:",
                         "    sealedsecrets.bitnami.com/cluster-wide: 'true'\n"
                         "    sealedsecrets.bitnami.com/namespace-wide: 'true'\n"
                         f"    {KEY_ANNOTATION}:"),
     "metadata.annotations", "one scope"),
])
def test_hand_edited_file_is_a_clear_error(cert, edit, field, message):
    text = edit(sealed(cert).dump())
    with pytest.raises(ConfigError) as info:
        SealedDocument.parse(text, "store/databases/redis-credentials.yaml")
    assert info.value.where == "store/databases/redis-credentials.yaml"
    assert info.value.field == field
    assert message in str(info.value)


def test_iter_store_checks_path_matches_content(cert, tmp_path):
    sealed(cert).write(tmp_path / "n8n" / "redis-credentials.yaml")
    with pytest.raises(ConfigError, match=r"belongs in databases/redis-credentials\.yaml"):
        list(iter_store(tmp_path))
    assert list(iter_store(tmp_path / "absent")) == []


def test_unseal_wrong_key_names_the_field(cert, other2048):
    with pytest.raises(ConfigError) as info:
        sealed(cert).unseal(other2048.private_key)
    assert info.value.field == "spec.encryptedData.b"
    assert "cannot be unsealed" in str(info.value)


def test_write_is_atomic(cert, tmp_path, monkeypatch):
    path = tmp_path / "databases" / "redis-credentials.yaml"
    doc = sealed(cert)
    doc.write(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("homelab_charts.fsutil.os.replace", boom)
    with pytest.raises(ConfigError, match="cannot write: No space left on device; the file "
                                          "is unchanged"):
        sealed(cert).write(path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["redis-credentials.yaml"]
