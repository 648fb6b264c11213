"""cluster.source: oci — every Kustomization reads the tree's OCIRepository; the Receiver."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from homelab_charts import config
from homelab_charts.cli import main
from homelab_charts.flux import webhook_path
from homelab_charts.operations.manual import build_plan
from homelab_charts.synth import render, synth_tree
from homelab_charts.tree import Tree
from homelab_charts.validate import Options, Status, validate
from tests.conftest import DATA_FILE
from tests.delivery.conftest import set_cluster_keys

OCI_REF = ("OCIRepository", "flux-system", "homelab")


def test_git_is_the_default_and_generates_nothing_more() -> None:
    data = config.load(DATA_FILE)
    assert data.cluster.source.kind == "git" and data.cluster.receiver is None
    tree = Tree(render(data))
    assert not tree.of_kind("OCIRepository") and not tree.of_kind("Receiver")
    assert {k.source for k in tree.kustomizations} == {("GitRepository", "flux-system",
                                                        "flux-system")}


def test_every_kustomization_reads_the_oci_repository(oci_project: Path) -> None:
    data = config.load(oci_project / "homelab.yaml")
    tree = Tree(render(data))
    [repository] = tree.of_kind("OCIRepository")
    assert repository.file == "clusters/homelab/source.yaml"
    spec = repository.body["spec"]
    assert spec == {"interval": "1m", "url": "oci://registry.homelab.lan:5000/homelab-tree",
                    "ref": {"tag": "main"}, "secretRef": {"name": "registry-pull"},
                    "insecure": True}
    kustomizations = tree.kustomizations
    layers = {k.path for k in kustomizations} - {"clusters/homelab"}
    # the root, and one per folder of the tree (every layer the cluster made)
    assert len(kustomizations) == 1 + len(layers)
    assert {f.rsplit("/", 1)[0] for f in tree.files
            if f.startswith(("infrastructure/", "apps/"))} == layers
    assert {k.source for k in kustomizations} == {OCI_REF}
    assert all(k.reads_this_repository for k in kustomizations)
    root = tree.kustomization("flux-system", "homelab")
    assert root is not None and root.path == "clusters/homelab" and root.spec["prune"] is True
    # The tree model knows which Kustomization applies each file, as with Git.
    assert tree.owner_of("apps/n8n/n8n.yaml").name == "n8n"
    assert tree.owner_of("clusters/homelab/secrets/flux-system.yaml").name == "homelab"
    # The pull credential is a SealedSecret of type dockerconfigjson in flux-system.
    secret = tree.get("SealedSecret", "flux-system", "registry-pull", "bitnami.com")
    assert secret is not None
    assert secret.body["spec"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
    assert set(secret.body["spec"]["encryptedData"]) == {".dockerconfigjson"}
    # The manual path still applies every layer (the tree's OCIRepository is its own).
    synth_tree(oci_project)
    layers = ["networking", "databases", "observability", "family-assistant",
              "homelab-dashboard", "n8n"]
    plan = [step.name for step in build_plan(oci_project)]
    assert [name for name in plan if name in layers] == layers


def test_the_oci_tree_is_valid_against_the_packaged_crd_schemas(oci_project: Path) -> None:
    synth_tree(oci_project)
    report = validate(Options(root=oci_project, paths=[oci_project / "clusters",
                                                       oci_project / "infrastructure",
                                                       oci_project / "apps"]))
    assert report.ok, [(r.filename, r.kind, r.name, [p.message for p in r.problems])
                       for r in report.results if r.problems]
    checked = {(r.kind, r.name): r.status for r in report.results}
    assert checked[("OCIRepository", "homelab")] is Status.VALID
    assert checked[("Receiver", "homelab")] is Status.VALID
    assert checked[("Kustomization", "homelab")] is Status.VALID


def test_an_oci_repository_with_a_bad_field_fails_the_schema(oci_project: Path) -> None:
    synth_tree(oci_project)
    source = oci_project / "clusters/homelab/source.yaml"
    source.write_text(source.read_text().replace("  insecure: true", "  insecure: 'yes'"))
    report = validate(Options(root=oci_project, paths=[source], kustomize=False))
    bad = [r for r in report.results if r.kind == "OCIRepository"]
    assert bad and bad[0].status is Status.INVALID


def test_the_receiver_reconciles_the_source_through_the_ingress(oci_project: Path) -> None:
    tree = Tree(render(config.load(oci_project / "homelab.yaml")))
    receiver = tree.get("Receiver", "flux-system", "homelab", "notification.toolkit.fluxcd.io")
    # Its own layer (its Ingress' Certificate needs cert-manager's CRD, installed by the
    # controllers layer it depends on), the token in the secrets layer.
    assert receiver is not None and receiver.file == "infrastructure/receiver/receiver.yaml"
    k = tree.kustomization("flux-system", "receiver")
    assert k is not None and k.path == "infrastructure/receiver"
    assert {name for _, name in k.depends_on} >= {"controllers", "configs", "secrets"}
    assert receiver.body["spec"] == {
        "type": "generic",
        "resources": [{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                       "name": "homelab"}],
        "secretRef": {"name": "flux-receiver-token"}}
    token = tree.get("SealedSecret", "flux-system", "flux-receiver-token", "bitnami.com")
    assert token is not None and set(token.body["spec"]["encryptedData"]) == {"token"}
    assert token.file == "infrastructure/secrets/flux-system.yaml"
    ingress = tree.get("Ingress", "flux-system", "homelab-receiver", "networking.k8s.io")
    assert ingress is not None
    [rule] = ingress.body["spec"]["rules"]
    assert rule["host"] == "flux-hook.homelab.lan"
    assert rule["http"]["paths"] == [{"path": "/hook/", "pathType": "Prefix", "backend": {
        "service": {"name": "webhook-receiver", "port": {"number": 80}}}}]
    assert ingress.body["spec"]["ingressClassName"] == "traefik"
    # Served over TLS with a certificate from the homelab's CA issuer (TLS-001).
    assert ingress.body["spec"]["tls"] == [{"hosts": ["flux-hook.homelab.lan"],
                                            "secretName": "homelab-receiver-tls"}]
    cert = tree.get("Certificate", "flux-system", "homelab-receiver-tls", "cert-manager.io")
    assert cert is not None and cert.body["spec"]["issuerRef"]["kind"] == "ClusterIssuer"


def test_with_git_the_receiver_reconciles_bootstraps_repository(tmp_path: Path) -> None:
    from tests.delivery.conftest import seal_delivery_credentials
    from tests.helpers import as_project

    root = as_project(tmp_path / "repo")
    set_cluster_keys(root / "homelab.yaml", "  receiver:\n    host: hook.homelab.lan\n")
    seal_delivery_credentials(root)
    tree = Tree(render(config.load(root / "homelab.yaml")))
    receiver = tree.get("Receiver", "flux-system", "homelab", "notification.toolkit.fluxcd.io")
    assert receiver is not None
    assert receiver.body["spec"]["resources"] == [{
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "name": "flux-system"}]


def test_webhook_path_is_notification_controllers() -> None:
    # notification-controller serves /hook/ + hex(sha256(token + name + namespace)).
    expected = hashlib.sha256(b"s3cr3t" + b"homelab" + b"flux-system").hexdigest()
    assert webhook_path("s3cr3t", "homelab") == f"/hook/{expected}"
    assert webhook_path("s3cr3t", "homelab", "other") != webhook_path("s3cr3t", "homelab")


@pytest.mark.parametrize(("block", "field", "message"), [
    ("  source:\n    kind: oci\n    tag: main\n", "cluster.source",
     "'url' is a required property"),
    ("  source:\n    kind: oci\n    url: oci://r.lan:5000/tree\n    tag: main\n"
     "    semver: '>=1.0.0'\n", "cluster.source",
     "an oci source follows exactly one of tag and semver"),
    ("  source:\n    kind: git\n    url: oci://r.lan:5000/tree\n", "cluster.source",
     "url, tag, semver, secretRef and insecure apply to kind: oci only"),
    ("  source:\n    kind: oci\n    url: https://r.lan/tree\n    tag: main\n",
     "cluster.source.url", "does not match"),
])
def test_bad_source_settings_are_one_line_errors(tmp_path: Path, block: str, field: str,
                                                 message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import as_project

    root = as_project(tmp_path / "repo")
    set_cluster_keys(root / "homelab.yaml", block)
    assert main(["synth", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"homelab.yaml: {field}: " in err and message in err, err
    assert not (root / "clusters").exists()  # nothing written


def test_a_missing_sealed_credential_names_the_seal_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.delivery.conftest import OCI_SOURCE
    from tests.helpers import as_project

    root = as_project(tmp_path / "repo")
    set_cluster_keys(root / "homelab.yaml", OCI_SOURCE)
    assert main(["synth", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no sealed data for flux-system/registry-pull" in err
    assert "homelab-charts seal" in err and err.count("\n") == 1
