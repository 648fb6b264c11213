"""TLS everywhere: the local CA signs a certificate per Ingress host; HTTP redirects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from homelab_charts import config
from homelab_charts.errors import ConfigError
from homelab_charts.validate import policy
from tests.apps.tree import Tree, edited_data, homelab_tree
from tests.conftest import CERT_FILE
from tests.helpers import as_project

LOCAL_CA = {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "homelab-ca"}


@pytest.fixture(scope="module")
def tree() -> Tree:
    return homelab_tree()


def certificates(tree: Tree) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["metadata"]["namespace"], c["metadata"]["name"]): c
            for c in tree.of_kind("Certificate")}


def test_every_ingress_has_tls_from_the_local_ca(tree: Tree) -> None:
    ingresses = tree.of_kind("Ingress")
    assert len(ingresses) == 4  # the apps' and Grafana's
    certs = certificates(tree)
    for ingress in ingresses:
        namespace = ingress["metadata"]["namespace"]
        hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
        (tls,) = ingress["spec"]["tls"]
        assert tls["hosts"] == hosts
        cert = certs[(namespace, tls["secretName"])]
        assert cert["spec"]["secretName"] == tls["secretName"]
        assert cert["spec"]["dnsNames"] == hosts
        assert cert["spec"]["issuerRef"] == LOCAL_CA
    assert not policy.check(ingresses)


def test_the_local_ca_is_a_self_signed_root_behind_a_ca_issuer(tree: Tree) -> None:
    selfsigned = tree.get("ClusterIssuer", None, "selfsigned")
    assert selfsigned["spec"] == {"selfSigned": {}}
    root = tree.get("Certificate", "cert-manager", "homelab-root-ca")["spec"]
    assert root["isCA"] is True and root["issuerRef"]["name"] == "selfsigned"
    ca = tree.get("ClusterIssuer", None, "homelab-ca")
    assert ca["spec"] == {"ca": {"secretName": root["secretName"]}}


def test_apps_wait_for_the_issuer_and_traefik_redirects_to_https(tree: Tree) -> None:
    for app in ("family-assistant", "homelab-dashboard", "n8n"):
        depends = {d["name"] for d in tree.flux_kustomizations()[app]["spec"]["dependsOn"]}
        assert {"configs", "controllers"} <= depends, app
    values = tree.get("HelmRelease", "networking", "traefik")["spec"]["values"]
    assert values["ports"]["web"]["redirections"]["entryPoint"] == {
        "to": "websecure", "scheme": "https", "permanent": True}
    assert values["ports"]["websecure"]["tls"]["enabled"] is True


def test_acme_is_an_option_of_the_data_file(tmp_path: Path) -> None:
    root = as_project(tmp_path / "repo")
    subprocess.run(
        [sys.executable, "-m", "homelab_charts", "seal", "--namespace", "cert-manager",
         "--name", "cloudflare-api-token", "--store", str(root / "sealed"),
         "--cert", str(CERT_FILE), "--from-env-file", "-"],
        input="api-token=not-a-real-token\n", text=True, check=True, capture_output=True)

    def acme(doc: dict[str, Any]) -> None:
        doc["platform"]["tls"] = {"issuer": "acme", "acme": {"email": "admin@example.org"}}

    tree = homelab_tree(edited_data(root, acme, "homelab-acme.yaml"))
    issuer = tree.get("ClusterIssuer", None, "letsencrypt")["spec"]["acme"]
    assert issuer["email"] == "admin@example.org"
    assert issuer["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert issuer["solvers"] == [{"dns01": {"cloudflare": {"apiTokenSecretRef": {
        "name": "cloudflare-api-token", "key": "api-token"}}}}]
    token = tree.get("SealedSecret", "cert-manager", "cloudflare-api-token")
    assert "api-token" in token["spec"]["encryptedData"]
    for cert in tree.of_kind("Certificate"):
        if cert["metadata"]["namespace"] != "cert-manager":
            assert cert["spec"]["issuerRef"]["name"] == "letsencrypt"
    assert "secrets" in {d["name"] for d in
                         tree.flux_kustomizations()["configs"]["spec"]["dependsOn"]}


def test_acme_without_its_settings_names_the_field(tmp_path: Path) -> None:
    def half(doc: dict[str, Any]) -> None:
        doc["platform"]["tls"] = {"issuer": "acme"}

    with pytest.raises(ConfigError) as err:
        config.load(edited_data(tmp_path, half))
    assert err.value.field == "platform.tls.acme"


INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "web", "namespace": "demo"},
           "spec": {"rules": [{"host": "a.lan"}, {"host": "b.lan"}]}}


def test_validate_flags_an_ingress_without_tls() -> None:
    [finding] = policy.check([INGRESS])
    assert (finding.rule, finding.path) == ("TLS-001", "/spec/tls")
    partial = {**INGRESS, "spec": {**INGRESS["spec"],
                                   "tls": [{"hosts": ["a.lan"], "secretName": "a"}]}}
    [finding] = policy.check([partial])
    assert finding.message == "host b.lan is not covered by tls"
    full = {**INGRESS, "spec": {**INGRESS["spec"],
                                "tls": [{"hosts": ["a.lan", "b.lan"], "secretName": "ab"}]}}
    assert policy.check([full]) == []
