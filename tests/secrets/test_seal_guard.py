"""The synthesis guard: a plain v1 Secret with data fails, naming file and object only."""

from __future__ import annotations

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.secrets.guard import check_no_plaintext_secrets


def secret(**body):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "databases"}, **body}


@pytest.mark.parametrize("body", [{"data": {"password": "aHVudGVyMg=="}},
                                  {"stringData": {"password": "hunter2"}}])
def test_plain_secret_fails(body):
    docs = [("infrastructure/databases/a.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "c"}, "data": {"x": "1"}}),
            ("infrastructure/databases/postgresql.yaml", secret(**body))]
    with pytest.raises(ConfigError) as info:
        check_no_plaintext_secrets(docs)
    assert info.value.where == "infrastructure/databases/postgresql.yaml"
    assert info.value.field == "Secret databases/db"
    for leaked in ("hunter2", "aHVudGVyMg==", "password"):
        assert leaked not in str(info.value)


def test_secret_inside_a_list_fails():
    lst = {"apiVersion": "v1", "kind": "List", "items": [secret(stringData={"k": "v"})]}
    with pytest.raises(ConfigError, match="Secret databases/db"):
        check_no_plaintext_secrets([("apps/x/y.yaml", lst)])


def test_allowed_objects_pass():
    check_no_plaintext_secrets([
        ("a.yaml", secret()),                          # no data at all
        ("b.yaml", secret(data={}, stringData={})),    # empty
        ("c.yaml", {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                    "metadata": {"name": "db"}, "spec": {"encryptedData": {"k": "Ag"}}}),
        ("d.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}),
        ("e.yaml", None),
    ])


def test_cluster_scoped_name_without_namespace():
    obj = secret(data={"k": "dg=="})
    del obj["metadata"]["namespace"]
    with pytest.raises(ConfigError) as info:
        check_no_plaintext_secrets([("x.yaml", obj)])
    assert info.value.field == "Secret db"
