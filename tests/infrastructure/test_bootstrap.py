"""The tree brings the cluster up by itself: controllers first, CRDs before their objects,
drift corrected, data never pruned (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from homelab_charts import config
from homelab_charts.base import Component, Folder, TreeApp
from homelab_charts.cluster import EXTERNAL_NAMESPACES, NOT_ISOLATED
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.databases import PostgreSQL
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.secrets.shared import SharedCredential
from homelab_charts.validate.crds import is_builtin, is_flux
from tests.apps.tree import Tree, edited_data, homelab_tree
from tests.conftest import DATA_FILE, REPO_ROOT, STORE_DIR

SCHEMAS = REPO_ROOT / "homelab_charts" / "data" / "schemas"

PRUNE = "kustomize.toolkit.fluxcd.io/prune"


@pytest.fixture(scope="module")
def tree() -> Tree:
    return homelab_tree()


def depends_on(tree: Tree) -> dict[str, set[str]]:
    return {name: {d["name"] for d in k["spec"].get("dependsOn", [])}
            for name, k in tree.flux_kustomizations().items()}


def closure(graph: dict[str, set[str]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[name])
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(graph[dep])
    return seen


def group(obj: dict[str, Any]) -> str:
    return obj["apiVersion"].rpartition("/")[0]


def test_sealed_secrets_is_installed_where_kubeseal_looks(tree: Tree) -> None:
    release = tree.get("HelmRelease", "flux-system", "sealed-secrets")
    spec = release["spec"]
    assert spec["chart"]["spec"]["chart"] == "sealed-secrets"
    assert spec["chart"]["spec"]["version"] == "2.17.9"
    assert spec["releaseName"] == "sealed-secrets-controller"
    assert spec["targetNamespace"] == "kube-system"
    assert spec["values"]["fullnameOverride"] == "sealed-secrets-controller"
    repo = tree.get("HelmRepository", "flux-system", "sealed-secrets")
    assert repo["spec"]["url"] == "https://bitnami-labs.github.io/sealed-secrets"
    assert spec["chart"]["spec"]["sourceRef"] == {"kind": "HelmRepository",
                                                  "name": "sealed-secrets"}


def test_cert_manager_installs_its_crds_from_the_pinned_chart(tree: Tree) -> None:
    spec = tree.get("HelmRelease", "flux-system", "cert-manager")["spec"]
    assert spec["chart"]["spec"]["version"] == "v1.19.6"
    assert spec["values"]["crds"] == {"enabled": True, "keep": True}
    assert spec["targetNamespace"] == "cert-manager"
    namespace = tree.get("Namespace", None, "cert-manager")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_one_entry_pins_a_controller_its_chart_and_its_schemas(tmp_path: Path) -> None:
    """``controllers.<name>`` is the one place of a controller's version: the chart the
    tree installs it from (its own version, or the controller's) and the CRD schemas
    validate uses (homelab_charts/data/schemas/sources.json)."""
    data = config.load(DATA_FILE)
    manifest = json.loads((SCHEMAS / "sources.json").read_text(encoding="utf-8"))
    for name in ("sealed-secrets", "cert-manager"):
        pin = data.controllers[name]
        assert pin.chart is not None
        assert manifest["controllers"][name]["version"] == pin.version
    assert data.controllers["cert-manager"].chart.version == \
        data.controllers["cert-manager"].version  # jetstack versions its chart as the app

    def bump(doc: dict[str, Any]) -> None:
        doc["controllers"]["cert-manager"]["version"] = "v1.19.1"
        doc["controllers"]["sealed-secrets"]["chart"]["version"] = "2.17.8"

    tree = homelab_tree(edited_data(tmp_path, bump))
    assert tree.get("HelmRelease", "flux-system", "cert-manager")["spec"]["chart"]["spec"][
        "version"] == "v1.19.1"
    assert tree.get("HelmRelease", "flux-system", "sealed-secrets")["spec"]["chart"]["spec"][
        "version"] == "2.17.8"


@pytest.mark.parametrize(("edit", "field"), [
    (lambda c: c["sealed-secrets"]["chart"].update(version=">=2.0.0"),
     "controllers.sealed-secrets.chart.version"),
    (lambda c: c["cert-manager"].update(version="1.19"), "controllers.cert-manager.version"),
    (lambda c: c["cert-manager"].pop("chart"), "controllers.cert-manager"),
])
def test_a_bad_controller_pin_is_refused_naming_the_field(tmp_path: Path, edit: Any,
                                                          field: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(edited_data(tmp_path, lambda doc: edit(doc["controllers"])))
    assert err.value.field == field


def test_a_controller_the_tree_installs_needs_its_chart(tmp_path: Path) -> None:
    def bare(doc: dict[str, Any]) -> None:
        doc["controllers"]["sealed-secrets"] = "v0.33.1"

    with pytest.raises(ConfigError) as err:
        homelab_tree(edited_data(tmp_path, bare))
    assert err.value.field == "controllers.sealed-secrets"
    assert "give version and chart" in err.value.message


def test_controllers_come_first_and_everything_else_waits_for_what_it_uses(
        tree: Tree) -> None:
    graph = depends_on(tree)
    assert graph["controllers"] == set()
    names = [o["metadata"]["name"] for path, o in tree.objects
             if path == "clusters/homelab/infrastructure.yaml"]
    assert names[0] == "controllers"
    assert graph["configs"] == {"controllers"}
    assert graph["secrets"] == {"controllers", "namespaces"}
    for layer in ("networking", "databases", "observability"):
        assert "namespaces" in graph[layer]
    assert "secrets" in graph["databases"]
    for app in ("family-assistant", "homelab-dashboard", "n8n"):
        assert {"namespaces", "networking"} <= closure(graph, app)
    assert "databases" in graph["n8n"] and "secrets" in closure(graph, "n8n")


def test_every_custom_resource_waits_for_the_controller_that_installs_its_crd(
        tree: Tree) -> None:
    """Each object of a custom kind is applied by a Kustomization that depends
    (transitively) on ``controllers``, the one installing every CRD of the tree."""
    graph = depends_on(tree)
    folders = {k["spec"]["path"].removeprefix("./"): name
               for name, k in tree.flux_kustomizations().items()}
    custom = 0
    for path, obj in tree.objects:
        if is_builtin(group(obj)) or is_flux(group(obj)):
            continue
        custom += 1
        folder = path.rsplit("/", 1)[0]
        assert folder in folders, f"{path}: custom resource outside every Kustomization"
        assert "controllers" in closure(graph, folders[folder]), (path, obj["kind"])
    assert custom >= 5


def test_the_bootstrap_path_holds_only_flux_objects(tree: Tree) -> None:
    """Flux's kinds, and Kubernetes' own for the cluster identity ConfigMap: nothing
    whose CRD a layer installs."""
    kinds = {(group(obj), obj["kind"]) for path, obj in tree.objects
             if path.startswith("clusters/")}
    assert ("", "ConfigMap") in kinds
    assert kinds and all(is_flux(g) for g, k in kinds if (g, k) != ("", "ConfigMap")), kinds


def test_every_kustomization_syncs_as_the_data_file_says(tree: Tree, tmp_path: Path) -> None:
    for k in tree.flux_kustomizations().values():
        spec = k["spec"]
        assert (spec["interval"], spec["retryInterval"], spec["timeout"]) == ("10m", "2m", "5m")

    def slower(doc: dict[str, Any]) -> None:
        doc["platform"]["sync"] = {"interval": "1h", "timeout": "15m"}

    edited = homelab_tree(edited_data(tmp_path, slower))
    for k in edited.flux_kustomizations().values():
        assert (k["spec"]["interval"], k["spec"]["timeout"]) == ("1h", "15m")


def test_every_helm_release_corrects_drift_and_keeps_its_crds_current(tree: Tree) -> None:
    releases = tree.of_kind("HelmRelease")
    assert {r["metadata"]["name"] for r in releases} >= {"sealed-secrets", "cert-manager",
                                                         "traefik"}
    for release in releases:
        spec = release["spec"]
        assert spec["driftDetection"] == {"mode": "enabled"}, release["metadata"]["name"]
        assert spec["install"]["crds"] == spec["upgrade"]["crds"] == "CreateReplace"
        assert spec["install"]["remediation"]["retries"] >= 1
        assert spec["upgrade"]["remediation"]["retries"] >= 1


def test_no_stateful_volume_or_data_namespace_can_be_pruned(tree: Tree) -> None:
    """Flux prunes what it applied and no longer finds in Git. A PVC object of the tree
    and every namespace holding volumes carry ``prune: disabled``; the claims a
    StatefulSet makes from its templates are not Flux's (it never applied them) and the
    StatefulSet keeps them when it is deleted or scaled down."""
    namespaces = {ns["metadata"]["name"]: ns for ns in tree.of_kind("Namespace")}
    data_namespaces: set[str] = set()
    claims = tree.of_kind("PersistentVolumeClaim")
    assert claims, "n8n's data claim is an object of the tree"
    for claim in claims:
        assert claim["metadata"]["annotations"][PRUNE] == "disabled"
        data_namespaces.add(claim["metadata"]["namespace"])
    for sts in tree.of_kind("StatefulSet"):
        spec = sts["spec"]
        assert spec["volumeClaimTemplates"]
        assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                                "whenScaled": "Retain"}
        data_namespaces.add(sts["metadata"]["namespace"])
    assert data_namespaces == {"databases", "n8n", "observability"}
    for name in data_namespaces:
        assert namespaces[name]["metadata"]["annotations"][PRUNE] == "disabled", name
    for name, ns in namespaces.items():
        if name not in data_namespaces and name != "cert-manager":
            assert PRUNE not in ns["metadata"].get("annotations", {}), name


@pytest.mark.parametrize(("edit", "field"), [
    (lambda n: n["egress"].update({"nope": {"internet": [443]}}),
     "platform.network.egress.nope"),
    (lambda n: n.update({"podCidr": "10.42.0.1/16"}), "platform.network.podCidr"),
    (lambda n: n.update({"nodeCidr": "192.168.1.0/33"}), "platform.network.nodeCidr"),
])
def test_network_data_errors_name_the_field(tmp_path: Path, edit: Any, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(edited_data(tmp_path, lambda doc: edit(doc["platform"]["network"])))
    assert err.value.field == field


def test_each_flux_file_lists_its_kustomizations_in_apply_order(tree: Tree) -> None:
    for path in ("clusters/homelab/infrastructure.yaml", "clusters/homelab/apps.yaml"):
        names = [o["metadata"]["name"] for p, o in tree.objects if p == path]
        for i, name in enumerate(names):
            k = tree.flux_kustomizations()[name]
            later = set(names[i:])
            assert not {d["name"] for d in k["spec"].get("dependsOn", [])} & later, (
                path, name)


def test_flux_and_kubernetes_namespaces_are_never_the_trees(tree: Tree) -> None:
    """Objects live in flux-system (the controllers' HelmReleases) and kube-system (the
    cluster identity); the tree neither creates nor isolates those namespaces."""
    used = {o["metadata"].get("namespace") for _, o in tree.objects if "metadata" in o}
    assert {"flux-system", "kube-system"} <= used
    created = {ns["metadata"]["name"] for ns in tree.of_kind("Namespace")}
    for name in EXTERNAL_NAMESPACES:
        assert name not in created
        assert not tree.of_kind("NetworkPolicy", name)
    assert NOT_ISOLATED == {}  # networking is default-deny like every other namespace
    assert tree.get("NetworkPolicy", "networking", "default-deny")


def test_the_ingress_controller_needs_the_issuers(tmp_path: Path) -> None:
    def off(doc: dict[str, Any]) -> None:
        doc["infrastructure"]["issuers"]["enabled"] = False

    with pytest.raises(ConfigError) as err:
        homelab_tree(edited_data(tmp_path, off))
    assert err.value.field == "infrastructure.traefik"
    assert "ClusterIssuers (infrastructure.issuers)" in err.value.message


def shared_repo() -> tuple[TreeApp, Folder, Folder]:
    app = TreeApp(store=STORE_DIR)
    return (app, Folder(app, "db", path="infrastructure/databases", namespace="databases"),
            Folder(app, "app", path="apps/app", namespace="app"))


def test_a_shared_credential_is_one_store_file_copied_per_namespace() -> None:
    _, db, app = shared_repo()
    shared = SharedCredential("redis-credentials", ["password"])
    server_side = shared.copy_in(Component(db, "secrets"),
                                 template_data={"redis-auth.conf": "requirepass x\n"})
    client_side = shared.copy_in(Component(app, "secrets"))
    assert server_side.store_file == client_side.store_file == \
        STORE_DIR / "_cluster" / "redis-credentials.yaml"
    assert server_side.shared is shared and client_side.shared is shared
    assert server_side.body["spec"]["encryptedData"] == \
        client_side.body["spec"]["encryptedData"]
    assert server_side.key_ref("redis-auth.conf")["key"] == "redis-auth.conf"
    # Asked again for one namespace: the same copy; other template data: an error.
    assert shared.copy_in(Component(app, "more")) is client_side
    with pytest.raises(ConfigError, match="other template data"):
        shared.copy_in(Component(db, "other"), template_data={"x.conf": "y"})


def test_postgresql_refuses_a_role_password_it_cannot_read() -> None:
    """A role password sealed strict in the app's namespace cannot be read from the
    databases namespace: the error says to seal it once, shared."""
    _, db, app = shared_repo()
    data = config.load(DATA_FILE)
    postgresql = PostgreSQL(db, "postgresql", image=data.infra_image("postgresql"),
                            credentials=SealedSecret(Component(db, "secrets"), "creds",
                                                     name="postgresql-credentials",
                                                     keys=["postgres-password"]))
    strict = SealedSecret(Component(app, "secrets"), "n8n", name="n8n-credentials",
                          namespace="n8n", keys=["encryption-key"])
    with pytest.raises(ConfigError) as err:
        postgresql.provide_database("notes", credentials=strict)
    assert err.value.field == "databases.notes"
    assert "shared=True" in err.value.message
    assert postgresql.role_sync is None  # nothing to sync yet


def test_a_role_password_of_postgresqls_own_namespace_is_used_as_is() -> None:
    _, db, _ = shared_repo()
    data = config.load(DATA_FILE)
    own = SealedSecret(Component(db, "secrets"), "creds", name="postgresql-credentials",
                       keys=["postgres-password"])
    postgresql = PostgreSQL(db, "postgresql", image=data.infra_image("postgresql"),
                            credentials=own)
    database = postgresql.provide_database("admin_tools", credentials=own,
                                           key="postgres-password")
    assert database.credentials is own
    assert postgresql.provide_database("admin_tools", credentials=own) is database
    job = postgresql.role_sync
    assert job is not None and job.workload.object_name.startswith("postgresql-role-sync-")
