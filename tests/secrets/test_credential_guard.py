"""Credentials in clear outside v1 Secrets (issue 11, finding 5): synthesis refuses them,
validate reports SEC-001, a waiver on the object lets a false alarm through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homelab_charts import config
from homelab_charts.base import Component, Folder, Manifest, TreeApp
from homelab_charts.errors import ConfigError
from homelab_charts.secrets.guard import (
    REASON_ANNOTATION,
    WAIVE_ANNOTATION,
    check_no_plaintext_secrets,
    credential_findings,
    is_credential_key,
)
from homelab_charts.synth import synth_tree
from homelab_charts.validate import policy
from tests.helpers import PROJECT_FILES, as_project

VALUE = "hunter2-Sup3rSecret"
WAIVER = {WAIVE_ANNOTATION: "SEC-001", REASON_ANNOTATION: "a public client id, not a secret"}


def configmap(data: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "settings", "namespace": "n8n"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "web:1.0", "env": env}]}}}}


def helmrelease(values: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "db", "namespace": "databases"},
            "spec": {"chart": {"spec": {"chart": "postgresql"}}, "values": values}}


def kustomization(substitute: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"path": "./apps", "postBuild": {"substitute": substitute}}}


# The four leaks of the audit: each was written to the tree without a word.
LEAKS = [
    (configmap({"LOG_LEVEL": "info", "DB_PASSWORD": VALUE}), "/data/DB_PASSWORD"),
    (deployment([{"name": "MODE", "value": "prod"}, {"name": "API_TOKEN", "value": VALUE}]),
     "/spec/template/spec/containers/0/env/1/value"),
    (helmrelease({"auth": {"username": "app", "password": VALUE}}),
     "/spec/values/auth/password"),
    (helmrelease({"extraEnv": [{"name": "SMTP_PASS", "value": "x"},
                               {"name": "SMTP_PASSWORD", "value": VALUE}]}),
     "/spec/values/extraEnv/1/value"),
    (kustomization({"domain": "home.lan", "DB_PASSWORD": VALUE}),
     "/spec/postBuild/substitute/DB_PASSWORD"),
    (configmap({"tls.pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"
                           "-----END RSA PRIVATE KEY-----\n"}), "/data/tls.pem"),
]


@pytest.mark.parametrize(("obj", "path"), LEAKS)
def test_the_guard_refuses_each_leak_naming_file_object_and_field(obj, path) -> None:
    with pytest.raises(ConfigError) as err:
        check_no_plaintext_secrets([("apps/x/leak.yaml", obj)])
    message = str(err.value)
    assert err.value.where == "apps/x/leak.yaml"
    assert path in str(err.value.field)
    assert obj["kind"] in str(err.value.field)
    assert VALUE not in message and "MIIE" not in message
    assert "\n" not in message


@pytest.mark.parametrize(("obj", "path"), LEAKS)
def test_validate_reports_sec_001_for_each_leak(obj, path) -> None:
    findings = [f for f in policy.check([obj]) if f.rule == "SEC-001"]
    assert [f.path for f in findings] == [path]
    assert VALUE not in str(findings[0])


@pytest.mark.parametrize(("obj", "path"), LEAKS)
def test_a_waiver_with_a_reason_lets_it_through(obj, path) -> None:
    obj = {**obj, "metadata": {**obj["metadata"], "annotations": WAIVER}}
    check_no_plaintext_secrets([("apps/x/ok.yaml", obj)])
    assert [f.rule for f in policy.check([obj]) if f.rule == "SEC-001"] == []
    waived = [f for f in policy.check([obj], include_waived=True) if f.rule == "SEC-001"]
    assert [f.path for f in waived] == [path] and waived[0].waived
    # Without a reason, nothing is waived.
    bare = {**obj, "metadata": {**obj["metadata"],
                                "annotations": {WAIVE_ANNOTATION: "SEC-001"}}}
    with pytest.raises(ConfigError):
        check_no_plaintext_secrets([("apps/x/bare.yaml", bare)])


def test_a_plain_secret_is_never_waived_by_the_guard() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "s", "namespace": "x", "annotations": WAIVER},
              "stringData": {"password": VALUE}}
    with pytest.raises(ConfigError, match="a plain v1 Secret"):
        check_no_plaintext_secrets([("apps/x/s.yaml", secret)])


@pytest.mark.parametrize("key", [
    "secretKeyRef", "existingSecret", "passwordFile", "DB_PASSWORD_FILE", "secretName",
    "tokenPath", "passwordKey", "userPasswordKey", "passwordSecretKey", "tokenTTL",
    "PWD", "tls.key", "secretRef", "existingSecretPasswordKey", "passwordPolicy",
    "TOKEN_URL", "enablePasswordAuth", "secretMountPath",
])
def test_keys_that_name_where_a_credential_is_are_not_credentials(key: str) -> None:
    assert not is_credential_key(key)
    assert credential_findings(configmap({key: "some-value"})) == []


@pytest.mark.parametrize("key", [
    "password", "DB_PASSWORD", "passwd", "apiKey", "x-api-key", "API_KEY", "privateKey",
    "clientSecret", "secretKey", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "credentials",
    "N8N_ENCRYPTION_KEY", "JWT_SECRET", "passphrase",
])
def test_password_like_keys(key: str) -> None:
    assert is_credential_key(key)


@pytest.mark.parametrize("value", ["", "true", "false", "${DB_PASSWORD}", "$(DB_PASSWORD)",
                                   "{{ .Values.password }}"])
def test_values_that_cannot_be_credentials(value: str) -> None:
    assert credential_findings(configmap({"DB_PASSWORD": value})) == []
    assert credential_findings(kustomization({"PASSWORD": value})) == []


def test_references_are_fine_everywhere() -> None:
    env = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                  "key": "password"}}},
           {"name": "PASSWORD_FILE", "value": "/run/secrets/password"}]
    assert credential_findings(deployment(env)) == []
    values = {"auth": {"existingSecret": "db-credentials",
                       "secretKeys": {"adminPasswordKey": "postgres-password",
                                      "userPasswordKey": "password"}},
              "passwordUpdateJob": {"enabled": True}}
    assert credential_findings(helmrelease(values)) == []


def test_the_homelab_tree_has_no_credential_in_clear(tmp_path: Path) -> None:
    synth_tree(as_project(tmp_path))  # the guard runs on every synthesis
    import yaml

    for path in sorted(p for top in ("clusters", "infrastructure", "apps")
                       for p in (tmp_path / top).rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert credential_findings(doc) == [], path


def test_synthesis_refuses_a_configmap_password_and_writes_nothing(tmp_path: Path) -> None:
    def builder(app: TreeApp, data: config.HomelabData) -> None:
        folder = Folder(app, "leaky", path="apps/leaky", namespace="leaky")
        c = Component(folder, "settings")
        Manifest(c, "cm", api_version="v1", kind="ConfigMap", name="settings",
                 body={"data": {"DB_PASSWORD": VALUE}})

    with pytest.raises(ConfigError) as err:
        synth_tree(as_project(tmp_path), builder=builder)
    assert "ConfigMap leaky/settings: /data/DB_PASSWORD" in str(err.value)
    assert VALUE not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(PROJECT_FILES)
