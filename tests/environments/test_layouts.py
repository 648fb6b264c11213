"""Both environment layouts: dev beside prod on one cluster (a), dev on its own cluster (b).

Each layout is synthesized once into a temporary repository (real data file, real
sealed store); the tests read the written tree back as objects.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_charts import config
from homelab_charts.config import CLUSTER_LABEL
from homelab_charts.errors import ConfigError
from homelab_charts.operations.manual import build_plan
from homelab_charts.synth import synth_tree
from tests.environments.layouts import (
    DEV_BACKEND_RESOURCES,
    DEV_CLUSTER,
    dev_cluster,
    seal_dev_credentials,
    side_by_side,
)
from tests.helpers import as_project

PROD_NAMESPACES = {"networking", "databases", "observability", "telemetry", "family-assistant",
                   "homelab-dashboard", "n8n"}
DEV_NAMESPACES = {"databases-dev", "family-assistant-dev", "homelab-dashboard-dev", "n8n-dev"}
#: dependsOn of each app Kustomization, prod and dev.
#: Every app also needs the cluster's own layers: the controllers (cert-manager's CRDs
#: for its Certificate), the issuers (configs), the namespaces and, with credentials, the
#: secrets.
_OWN = ["configs", "controllers", "namespaces"]
APP_DEPENDS = {
    "family-assistant": sorted([*_OWN, "databases", "networking", "observability", "secrets"]),
    "homelab-dashboard": sorted([*_OWN, "networking", "observability"]),
    "n8n": sorted([*_OWN, "databases", "networking", "secrets"]),
    "family-assistant-dev": sorted([*_OWN, "databases-dev", "networking", "observability",
                                    "secrets"]),
    "homelab-dashboard-dev": sorted([*_OWN, "networking", "observability"]),
    "n8n-dev": sorted([*_OWN, "databases-dev", "networking", "secrets"]),
}


@dataclass
class Layout:
    root: Path
    data: config.HomelabData
    files: dict[str, str]

    def objects(self, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        out = []
        for rel, text in sorted(self.files.items()):
            if rel.startswith(prefix) and not rel.endswith("/kustomization.yaml"):
                out += [(rel, d) for d in yaml.safe_load_all(text) if d]
        return out

    def of_kind(self, kind: str, prefix: str = "") -> list[dict[str, Any]]:
        return [d for _, d in self.objects(prefix) if d["kind"] == kind]

    def kustomizations(self, cluster: str) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["name"]: d
                for d in self.of_kind("Kustomization", f"clusters/{cluster}/")}

    def namespaces(self, cluster: str) -> set[str]:
        """The Namespaces of the cluster's namespaces layer."""
        (k,) = [k for name, k in self.kustomizations(cluster).items() if name == "namespaces"]
        folder = k["spec"]["path"].removeprefix("./")
        return {d["metadata"]["name"]
                for d in self.of_kind("Namespace", f"{folder}/namespaces.yaml")}

    def applied_by(self, cluster: str) -> list[tuple[str, dict[str, Any]]]:
        """The objects the cluster's Flux Kustomizations (and its own folder) apply."""
        paths = [k["spec"]["path"].removeprefix("./") + "/"
                 for k in self.kustomizations(cluster).values()]
        return [(rel, d) for rel, d in self.objects()
                if rel.startswith(f"clusters/{cluster}/") or rel.startswith(tuple(paths))]


def _synth(tmp_path_factory: pytest.TempPathFactory, make: Any) -> Layout:
    root = tmp_path_factory.mktemp(make.__name__)
    data_file = make(root)
    result = synth_tree(root, data_file=data_file)
    assert result.warnings == []
    return Layout(root, config.load(data_file), result.files)


@pytest.fixture(scope="module")
def layout_a(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    return _synth(tmp_path_factory, side_by_side)


@pytest.fixture(scope="module")
def layout_b(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    return _synth(tmp_path_factory, dev_cluster)


# --------------------------------------------------------------------------- shape


def test_side_by_side_tree_shape(layout_a: Layout) -> None:
    folders = {rel.rsplit("/", 1)[0] for rel in layout_a.files}
    assert folders == {
        "clusters/homelab", "infrastructure/controllers", "infrastructure/configs",
        "infrastructure/namespaces", "infrastructure/secrets",
        "infrastructure/networking", "infrastructure/observability",
        "infrastructure/telemetry",
        "infrastructure/databases", "infrastructure/databases-dev",
        "apps/family-assistant", "apps/homelab-dashboard", "apps/n8n",
        "apps/family-assistant-dev", "apps/homelab-dashboard-dev", "apps/n8n-dev",
    }
    assert layout_a.namespaces("homelab") == PROD_NAMESPACES | DEV_NAMESPACES
    assert {rel for rel in layout_a.files if rel.startswith("infrastructure/secrets/")} == {
        f"infrastructure/secrets/{ns}.yaml"
        for ns in ("databases", "family-assistant", "n8n", "observability", "databases-dev",
                   "family-assistant-dev", "n8n-dev", "kustomization")}


def test_dev_cluster_tree_shape(layout_b: Layout) -> None:
    folders = {rel.rsplit("/", 1)[0] for rel in layout_b.files}
    assert {f for f in folders if f.startswith("clusters/")} == {
        "clusters/homelab", f"clusters/{DEV_CLUSTER}"}
    assert layout_b.namespaces("homelab") == PROD_NAMESPACES
    assert layout_b.namespaces(DEV_CLUSTER) == {"networking", "observability",
                                                "telemetry"} | DEV_NAMESPACES
    # The dev cluster's own controllers, issuers, namespaces, secrets, ingress controller
    # and telemetry, in folders of its own.
    paths = {k: v["spec"]["path"] for k, v in layout_b.kustomizations(DEV_CLUSTER).items()}
    assert paths == {
        "controllers": f"./infrastructure/controllers-{DEV_CLUSTER}",
        "configs": f"./infrastructure/configs-{DEV_CLUSTER}",
        "namespaces": f"./infrastructure/namespaces-{DEV_CLUSTER}",
        "secrets": f"./infrastructure/secrets-{DEV_CLUSTER}",
        "networking": f"./infrastructure/networking-{DEV_CLUSTER}",
        "observability": f"./infrastructure/observability-{DEV_CLUSTER}",
        "telemetry": f"./infrastructure/telemetry-{DEV_CLUSTER}",
        "databases-dev": "./infrastructure/databases-dev",
        "family-assistant-dev": "./apps/family-assistant-dev",
        "homelab-dashboard-dev": "./apps/homelab-dashboard-dev",
        "n8n-dev": "./apps/n8n-dev",
    }
    prod = {v["spec"]["path"] for v in layout_b.kustomizations("homelab").values()}
    assert not any("dev" in path for path in prod)


@pytest.mark.parametrize("which", ["layout_a", "layout_b"])
def test_every_flux_path_has_its_kustomization_file(which: str,
                                                    request: pytest.FixtureRequest) -> None:
    layout: Layout = request.getfixturevalue(which)
    for cluster in {c.name for c in layout.data.clusters}:
        for k in layout.kustomizations(cluster).values():
            path = k["spec"]["path"].removeprefix("./")
            assert f"{path}/kustomization.yaml" in layout.files, (cluster, path)


def test_dependson_per_environment(layout_a: Layout, layout_b: Layout) -> None:
    def depends(layout: Layout, cluster: str) -> dict[str, list[str]]:
        return {name: [d["name"] for d in k["spec"].get("dependsOn", [])]
                for name, k in layout.kustomizations(cluster).items()
                if k["spec"]["path"].startswith("./apps/")}

    assert depends(layout_a, "homelab") == APP_DEPENDS
    assert depends(layout_b, "homelab") == {k: v for k, v in APP_DEPENDS.items()
                                            if not k.endswith("-dev")}
    assert depends(layout_b, DEV_CLUSTER) == {k: v for k, v in APP_DEPENDS.items()
                                              if k.endswith("-dev")}


# --------------------------------------------------------------------------- values


def test_dev_runs_dev_builds_hosts_resources_and_sampling(layout_a: Layout) -> None:
    data = layout_a.data
    for env, suffix in (("prod", ""), ("dev", "-dev")):
        hosts = {i["spec"]["rules"][0]["host"]: i["metadata"]["namespace"]
                 for i in layout_a.of_kind("Ingress")
                 if i["metadata"]["namespace"].endswith("-dev") == (env == "dev")
                 and i["metadata"]["namespace"] != "observability"}  # Grafana: the cluster's
        expected = {s.env(env).host for s in data.services.values() if s.env(env).host}
        assert set(hosts) == expected, env
        for deployment in layout_a.of_kind("Deployment", "apps/"):
            if deployment["metadata"]["namespace"].endswith("-dev") != (env == "dev"):
                continue
            name = deployment["metadata"]["name"]
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            service = data.service(name)
            assert container["image"] == f"{service.image}:{service.env(env).tag}"
            assert deployment["spec"]["replicas"] == service.env(env).replicas
            assert deployment["metadata"]["namespace"].endswith(suffix)
            env_vars = {e["name"]: e.get("value") for e in container["env"]}
            if "OTEL_TRACES_SAMPLER_ARG" in env_vars:
                assert env_vars["OTEL_TRACES_SAMPLER_ARG"] == ("1" if env == "dev" else "0.1")
                assert f"deployment.environment={env}" in env_vars["OTEL_RESOURCE_ATTRIBUTES"]
    (backend,) = [d for d in layout_a.of_kind("Deployment", "apps/family-assistant-dev/")
                  if d["metadata"]["name"] == "family-assistant-backend"]
    resources = backend["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == DEV_BACKEND_RESOURCES
    (prod_backend,) = [d for d in layout_a.of_kind("Deployment", "apps/family-assistant/")
                       if d["metadata"]["name"] == "family-assistant-backend"]
    assert prod_backend["spec"]["template"]["spec"]["containers"][0]["resources"] != resources


def test_each_environment_reaches_only_its_own_databases(layout_a: Layout) -> None:
    for deployment in layout_a.of_kind("Deployment", "apps/"):
        namespace = deployment["metadata"]["namespace"]
        values = [str(e.get("value", "")) for c in
                  deployment["spec"]["template"]["spec"]["containers"] for e in c["env"]]
        hosts = [v for v in values if ".databases" in v]
        want = ".databases-dev." if namespace.endswith("-dev") else ".databases."
        assert all(want in h for h in hosts), (namespace, hosts)


# --------------------------------------------------------------------------- network


def _policies(layout: Layout, namespace: str) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in layout.of_kind("NetworkPolicy")
            if p["metadata"]["namespace"] == namespace}


def _peers(policy: dict[str, Any], direction: str) -> set[tuple[str, str]]:
    """(namespace, pod name) of every peer of ``ingress``/``egress`` rules."""
    out = set()
    key = "from" if direction == "ingress" else "to"
    for rule in policy["spec"].get(direction, []):
        for peer in rule.get(key, []):
            ns = peer.get("namespaceSelector", {}).get("matchLabels", {}).get(
                "kubernetes.io/metadata.name", policy["metadata"]["namespace"])
            pod = peer.get("podSelector", {}).get("matchLabels", {}).get(
                "app.kubernetes.io/name", "")
            out.add((ns, pod))
    return out


@pytest.mark.parametrize("which", ["layout_a", "layout_b"])
def test_default_deny_in_every_namespace_but_networking(which: str,
                                                        request: pytest.FixtureRequest) -> None:
    layout: Layout = request.getfixturevalue(which)
    for cluster in layout.data.clusters:
        for namespace in layout.namespaces(cluster.name) - {"networking"}:
            deny = _policies(layout, namespace).get("default-deny")
            assert deny is not None, (cluster.name, namespace)
            assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_exact_flows_into_the_dev_databases(layout_a: Layout) -> None:
    dev = _policies(layout_a, "databases-dev")
    # the apps of the environment, and its own backup job (docs/BACKUPS.md)
    assert _peers(dev["allow-postgresql"], "ingress") == {
        ("family-assistant-dev", "family-assistant-backend"), ("n8n-dev", "n8n"),
        ("databases-dev", "postgresql-role-sync"),
        ("databases-dev", "postgresql-backup")}
    assert _peers(dev["allow-redis"], "ingress") == {
        ("family-assistant-dev", "family-assistant-backend"),
        ("databases-dev", "redis-backup")}
    prod = _policies(layout_a, "databases")
    assert _peers(prod["allow-postgresql"], "ingress") == {
        ("family-assistant", "family-assistant-backend"), ("n8n", "n8n"),
        ("databases", "postgresql-role-sync"),
        ("databases", "postgresql-backup")}
    # No prod namespace admits or reaches a dev one, and the other way round, except
    # through the shared layers (networking, observability).
    shared = {"networking", "observability", "kube-system"}
    for policy in layout_a.of_kind("NetworkPolicy"):
        own = policy["metadata"]["namespace"]
        if own in shared:
            continue
        for direction in ("ingress", "egress"):
            for ns, _ in _peers(policy, direction):
                if ns not in shared:
                    assert ns.endswith("-dev") == own.endswith("-dev"), (own, direction, ns)


def test_the_shared_collector_admits_both_environments(layout_a: Layout) -> None:
    policy = _policies(layout_a, "observability")["allow-otel-collector"]
    namespaces = {ns for ns, _ in _peers(policy, "ingress")}
    assert {"family-assistant", "family-assistant-dev", "homelab-dashboard",
            "homelab-dashboard-dev"} <= namespaces


# --------------------------------------------------------------------------- ownership


@pytest.mark.parametrize("which", ["layout_a", "layout_b"])
def test_no_object_is_written_twice(which: str, request: pytest.FixtureRequest) -> None:
    layout: Layout = request.getfixturevalue(which)
    seen: Counter[tuple[str, ...]] = Counter()
    for _, d in layout.objects():
        meta = d["metadata"]
        seen[(meta["labels"][CLUSTER_LABEL], d["apiVersion"].split("/")[0], d["kind"],
              meta.get("namespace", ""), meta["name"])] += 1
    assert [key for key, n in seen.items() if n > 1] == []
    # Shared components exist once per cluster, per-environment ones once per environment.
    collectors = [d for d in layout.of_kind("Deployment")
                  if d["metadata"]["name"] == "otel-collector"]
    assert len(collectors) == len(layout.data.clusters)
    postgres = [d for d in layout.of_kind("StatefulSet")
                if d["metadata"]["name"] == "postgresql"]
    assert sorted(d["metadata"]["namespace"] for d in postgres) == ["databases",
                                                                    "databases-dev"]


def test_every_object_carries_the_label_of_the_cluster_applying_it(layout_b: Layout) -> None:
    for cluster in ("homelab", DEV_CLUSTER):
        applied = layout_b.applied_by(cluster)
        assert applied
        assert {d["metadata"]["labels"][CLUSTER_LABEL] for _, d in applied} == {cluster}


def test_the_manual_plan_of_each_cluster(layout_b: Layout) -> None:
    steps = {c: [s.name for s in build_plan(layout_b.root, c)]
             for c in ("homelab", DEV_CLUSTER)}
    assert steps[DEV_CLUSTER][-3:] == ["family-assistant-dev", "homelab-dashboard-dev",
                                       "n8n-dev"]
    assert "databases-dev" in steps[DEV_CLUSTER] and "databases-dev" not in steps["homelab"]
    assert steps[DEV_CLUSTER].index("databases-dev") < steps[DEV_CLUSTER].index("n8n-dev")


@pytest.mark.skipif(shutil.which("kubectl") is None,
                    reason="kubectl is not installed (apt-get install kubectl)")
def test_dev_folders_build_with_kubectl_kustomize(layout_a: Layout) -> None:
    for folder in ("apps/family-assistant-dev", "infrastructure/databases-dev"):
        out = subprocess.run(["kubectl", "kustomize", str(layout_a.root / folder)],
                             capture_output=True, text=True, check=True).stdout
        namespaces = {d["metadata"]["namespace"] for d in yaml.safe_load_all(out) if d}
        assert namespaces == {folder.rsplit("/", 1)[1]}


# --------------------------------------------------------------------------- switches


def _edited(root: Path, change: Any) -> Path:
    data_file = root / "homelab.yaml"
    document = yaml.safe_load(data_file.read_text(encoding="utf-8"))
    change(document)
    data_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return data_file


def test_the_dev_otel_kill_switch_leaves_prod_alone(tmp_path: Path) -> None:
    side_by_side(tmp_path)
    data_file = _edited(tmp_path, lambda d: d["environments"]["dev"].update(otel=False))
    files = synth_tree(tmp_path, data_file=data_file, check=True).files
    for rel, text in files.items():
        if not rel.startswith("apps/") or rel.endswith("kustomization.yaml"):
            continue
        for d in yaml.safe_load_all(text):
            if d and d["kind"] == "Deployment":
                env = {e["name"]: e.get("value")
                       for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
                if "OTEL_SDK_DISABLED" in env:
                    assert env["OTEL_SDK_DISABLED"] == ("true" if "-dev/" in rel else "false")
    apps = yaml.safe_load_all(files["clusters/homelab/apps.yaml"])
    depends = {k["metadata"]["name"]: [x["name"] for x in k["spec"].get("dependsOn", [])]
               for k in apps if k}
    assert "observability" not in depends["homelab-dashboard-dev"]
    assert "observability" in depends["homelab-dashboard"]


@pytest.mark.parametrize(("change", "field", "message"), [
    (lambda d: d["services"]["homelab-dashboard"]["environments"]["dev"].update(
        host="dashboard.homelab.lan"),
     "services.homelab-dashboard.environments.dev.host", "each environment needs its own"),
    (lambda d: d.update(clusters={"other": {"environments": ["prod"]}}),
     "clusters.other.environments", "already runs on cluster homelab"),
    (lambda d: d["cluster"].update(environment="prod"),
     "cluster.environments", "not both"),
    (lambda d: d.update(clusters={"homelab": {"environments": ["dev"]}}),
     "clusters.homelab", "name of cluster.name"),
    (lambda d: d["services"]["n8n"]["environments"].pop("dev"),
     "services.n8n.environments", "'dev'"),
])
def test_bad_environment_layouts_are_clear_errors(tmp_path: Path, change: Any, field: str,
                                                  message: str) -> None:
    side_by_side(tmp_path)
    data_file = _edited(tmp_path, change)
    with pytest.raises(ConfigError) as raised:
        config.load(data_file)
    assert raised.value.field == field
    assert message in raised.value.message


def test_dev_values_default_to_prod_but_tag_and_host_never_do(tmp_path: Path) -> None:
    as_project(tmp_path)

    def change(d: dict[str, Any]) -> None:
        d["cluster"]["environments"] = ["prod", "dev"]
        dashboard = d["services"]["homelab-dashboard"]["environments"]
        dashboard["prod"]["replicas"] = 3
        dashboard["dev"].pop("replicas")

    data = config.load(_edited(tmp_path, change))
    dashboard = data.service("homelab-dashboard")
    assert dashboard.env("dev").replicas == 3
    assert dashboard.env("dev").tag.endswith("-dev")
    assert dashboard.env("dev").host != dashboard.env("prod").host


def test_missing_dev_credentials_name_the_seal_command(tmp_path: Path) -> None:
    as_project(tmp_path)
    data_file = _edited(tmp_path, lambda d: d["cluster"].update(environments=["prod", "dev"]))
    with pytest.raises(ConfigError, match=r"databases-dev/postgresql-credentials.*"
                                          r"homelab-charts seal --namespace databases-dev"):
        synth_tree(tmp_path, data_file=data_file, check=True)
    seal_dev_credentials(tmp_path, tmp_path / "sealed")
    synth_tree(tmp_path, data_file=data_file, check=True)
