"""The cluster discovers its components: one module plus a data-file entry is an app.

Components register themselves (``homelab_charts.registry.register``); the cluster builds
those whose data-file entry is present and enabled, from the package's own modules and
from the packages the data file lists under ``modules`` (imported from the repository).
Every namespace the layers make is default-deny, but those of ``NOT_ISOLATED``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_charts import config
from homelab_charts.base import Component
from homelab_charts.cluster import NOT_ISOLATED
from homelab_charts.errors import ConfigError
from homelab_charts.registry import register
from homelab_charts.synth import build_app, render, synth_tree
from tests.apps.tree import Tree, edited_data, homelab_tree
from tests.helpers import as_project

QUIET_MODULE = '''
"""A component that exposes nothing and talks to nothing: one ConfigMap."""

from homelab_charts.base import Component, Manifest
from homelab_charts.registry import register


@register("infrastructure.quiet", folder="apps/quiet")
class Quiet(Component):
    def __init__(self, scope, id, *, greeting: str) -> None:
        super().__init__(scope, id)
        Manifest(self, "settings", api_version="v1", kind="ConfigMap", name="quiet",
                 body={"data": {"GREETING": greeting}})

    @classmethod
    def create(cls, scope, id, ctx):
        return cls(scope, id, greeting=f"hello from {ctx.settings.name}")
'''


def make_repo(root: Path, edit: Any = None, modules: dict[str, str] | None = None) -> Path:
    """A homelab repository in ``root``: this one's files, the data file changed by
    ``edit(document)``, plus the Python ``modules`` (dotted name -> source)."""
    as_project(root)
    data_file = root / "homelab.yaml"
    document = yaml.safe_load(data_file.read_text(encoding="utf-8"))
    if edit is not None:
        edit(document)
    data_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    for name, source in (modules or {}).items():
        parts = name.split(".")
        folder = root.joinpath(*parts[:-1])
        folder.mkdir(parents=True, exist_ok=True)
        for depth in range(1, len(parts)):
            init = root.joinpath(*parts[:depth], "__init__.py")
            if not init.exists():
                init.write_text("", encoding="utf-8")
        (folder / f"{parts[-1]}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return root


def tree_of(root: Path) -> Tree:
    return Tree(render(config.load(root / "homelab.yaml")))


def disable(*entries: str) -> Any:
    def edit(document: dict[str, Any]) -> None:
        for entry in entries:
            section, name = entry.split(".", 1)
            document[section][name]["enabled"] = False
    return edit


# --- discovery ------------------------------------------------------------------------

def test_every_enabled_entry_of_the_data_file_is_built() -> None:
    data = config.load(Path(__file__).resolve().parents[1] / "homelab.yaml")
    app = build_app(data)
    (cluster,) = [c for c in app.node.children if hasattr(c, "components")]
    assert list(cluster.components) == [e for e, on in data.entries.items() if on]
    assert set(data.entries) >= {f"services.{name}" for name in data.services}


def test_a_disabled_app_disappears_with_its_wiring_policies_and_secrets(tmp_path) -> None:
    tree = homelab_tree(edited_data(tmp_path, disable("services.n8n")))
    full = homelab_tree()
    gone = {path for path in full.files if path not in tree.files}
    assert "apps/n8n/n8n.yaml" in gone and "infrastructure/secrets/n8n.yaml" in gone
    assert not any(path.startswith("apps/n8n/") for path in tree.files)
    assert "n8n" not in tree.flux_kustomizations()
    assert "n8n" not in {ns["metadata"]["name"] for ns in tree.of_kind("Namespace")}
    # PostgreSQL no longer makes n8n's database nor keeps its password, nor lets n8n in.
    (job,) = tree.of_kind("Job", "databases")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    script = container["command"][-1]
    assert "--set=name=n8n" not in script and "--set=name=family_assistant" in script
    env = {e["name"] for e in container["env"]}
    assert "APP_DB_PASSWORD_N8N" not in env and "APP_DB_PASSWORD_FAMILY_ASSISTANT" in env
    sealed = {s["metadata"]["name"] for s in tree.of_kind("SealedSecret", "databases")}
    assert "postgresql-n8n" not in sealed and "postgresql-family-assistant" in sealed
    allow = tree.get("NetworkPolicy", "databases", "allow-postgresql")
    peers = yaml.safe_dump(allow["spec"])
    assert "n8n" not in peers and "family-assistant" in peers
    # What changed besides: the lists of namespaces, Kustomizations and secret files,
    # PostgreSQL (its role-sync Job and its copy of n8n's password) and the policies of
    # the pods n8n talked to.
    changed = {p for p in tree.files if p in full.files and tree.files[p] != full.files[p]}
    assert changed == {
        "clusters/homelab/apps.yaml", "infrastructure/namespaces/namespaces.yaml",
        "infrastructure/secrets/kustomization.yaml", "infrastructure/secrets/databases.yaml",
        "infrastructure/databases/postgresql.yaml",
        "infrastructure/databases/network-policies.yaml",
        "infrastructure/networking/network-policies.yaml",  # Traefik reached n8n
        "infrastructure/observability/network-policies.yaml",  # Prometheus scraped n8n
        "infrastructure/observability/prometheus.yaml",  # the alerts on n8n's backup
    }


def test_an_unused_sealed_credential_is_a_one_line_warning(tmp_path) -> None:
    root = make_repo(tmp_path / "repo", disable("services.n8n"))
    result = synth_tree(root)
    # n8n's own credential and its shared database password (sealed once, cluster-wide);
    # the restic repository (shared too) still serves the databases' backups.
    shared, own = sorted(result.warnings)  # sealed/_cluster/ sorts before sealed/n8n/
    assert "\n" not in own and "\n" not in shared
    assert "n8n/n8n-credentials" in own and "sealed/n8n/n8n-credentials.yaml" in own
    assert "sealed/_cluster/postgresql-n8n.yaml" in shared
    assert synth_tree(make_repo(tmp_path / "full")).warnings == []


def test_requiring_a_disabled_component_names_both(tmp_path) -> None:
    data = config.load(edited_data(tmp_path, disable("infrastructure.qdrant")))
    with pytest.raises(ConfigError) as err:
        render(data)
    message = str(err.value)
    assert "services.family-assistant-backend" in message
    assert "Qdrant (infrastructure.qdrant)" in message and "enabled: false" in message


def test_an_entry_without_a_component_is_an_error(tmp_path) -> None:
    def add(document: dict[str, Any]) -> None:
        document["infrastructure"]["mystery"] = {}
    data = config.load(edited_data(tmp_path, add))
    with pytest.raises(ConfigError, match=r"infrastructure\.mystery: no component registers"):
        render(data)


def test_a_component_module_of_the_repository_joins_the_cluster(tmp_path) -> None:
    def add(document: dict[str, Any]) -> None:
        document["modules"] = ["my_homelab.apps"]
        document["infrastructure"]["quiet"] = {}
    root = make_repo(tmp_path, add, {"my_homelab.apps.quiet": QUIET_MODULE})
    tree = tree_of(root)
    assert tree.get("ConfigMap", "quiet", "quiet")["data"] == {"GREETING": "hello from homelab"}
    assert tree.flux_kustomizations()["quiet"]["spec"]["path"] == "./apps/quiet"
    # It exposes nothing and talks to nothing, and its namespace is still isolated.
    assert tree.get("NetworkPolicy", "quiet", "default-deny")["spec"] == {
        "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert "apps/quiet/network-policies.yaml" in tree.files


def test_a_second_repository_gets_its_own_modules(tmp_path) -> None:
    def add(document: dict[str, Any]) -> None:
        document["modules"] = ["my_homelab.apps"]
        document["infrastructure"]["quiet"] = {}
    first = make_repo(tmp_path / "one", add, {"my_homelab.apps.quiet": QUIET_MODULE})
    second = make_repo(tmp_path / "two", add, {
        "my_homelab.apps.quiet": QUIET_MODULE.replace("hello from", "hi from")})
    assert tree_of(first).get("ConfigMap", "quiet", "quiet")["data"]["GREETING"] == \
        "hello from homelab"
    assert tree_of(second).get("ConfigMap", "quiet", "quiet")["data"]["GREETING"] == \
        "hi from homelab"


def test_a_missing_module_is_an_error_naming_the_data_file(tmp_path) -> None:
    root = make_repo(tmp_path, lambda d: d.update(modules=["nowhere.apps"]))
    with pytest.raises(ConfigError) as err:
        tree_of(root)
    assert str(err.value).startswith(f"{root / 'homelab.yaml'}: modules[0]: no Python module")


@pytest.mark.parametrize(("args", "message"), [
    (("quiet", {"folder": "apps/quiet"}), "services.<name> or infrastructure.<name>"),
    (("services.Quiet", {"folder": "apps/quiet"}), "DNS label"),
    (("services.quiet", {"folder": "quiet"}), "apps/<layer> or infrastructure/<layer>"),
    (("services.quiet", {"folder": "elsewhere/quiet"}), "apps/<layer>"),
])
def test_a_bad_registration_fails_at_import(args: Any, message: str) -> None:
    entry, kwargs = args
    with pytest.raises(TypeError, match=message.replace(".", r"\.").replace("<", "<")):
        register(entry, **kwargs)


def test_a_registered_component_must_define_create() -> None:
    with pytest.raises(TypeError, match="defines the classmethod create"):
        @register("services.nothing", folder="apps/nothing")
        class Nothing(Component):
            pass


# --- default deny ---------------------------------------------------------------------

@pytest.mark.parametrize("edit", [None, "otel-off", "n8n-off"])
def test_every_namespace_but_the_documented_exceptions_is_default_deny(edit, tmp_path) -> None:
    if edit == "otel-off":
        tree = homelab_tree(edited_data(tmp_path, lambda d: [
            s.update(otel=False) for s in d["services"].values()]))
    elif edit == "n8n-off":
        tree = homelab_tree(edited_data(tmp_path, disable("services.n8n")))
    else:
        tree = homelab_tree()
    namespaces = {ns["metadata"]["name"] for ns in tree.of_kind("Namespace")}
    assert namespaces, "the tree has namespaces"
    assert set(NOT_ISOLATED) <= namespaces, "an exception for a namespace that does not exist"
    for namespace in sorted(namespaces - set(NOT_ISOLATED)):
        deny = tree.get("NetworkPolicy", namespace, "default-deny")
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        tree.get("NetworkPolicy", namespace, "allow-dns")
    for namespace in NOT_ISOLATED:
        assert not tree.of_kind("NetworkPolicy", namespace)


# --- Pod Security exceptions ------------------------------------------------------------

NODE_MODULE = '''
"""A node daemon reading the node's /proc: its layer must be registered privileged."""

from homelab_charts.base import Component
from homelab_charts.registry import PodSecurity, register
from homelab_charts.workloads import Container, Port, Probe, Resources, RunAs
from homelab_charts.workloads.daemon import HostMount, NodeDaemon

NODES = PodSecurity("privileged", "reads the node's /proc")


@register("infrastructure.probe", folder="infrastructure/nodes"{extra})
class NodeProbe(Component):
    def __init__(self, scope, id, *, image) -> None:
        super().__init__(scope, id)
        NodeDaemon(self, "daemon", name="probe", container=Container(
            image=image, ports=(Port("metrics", 9100),),
            resources=Resources("10m", "100m", "16Mi", "64Mi"),
            readiness=Probe.tcp("metrics"), liveness=Probe.tcp("metrics"),
            run_as=RunAs(user=65534, group=65534)),
            host_mounts=(HostMount("proc", "/proc", "/host/proc"),), reason="reads /proc")

    @classmethod
    def create(cls, scope, id, ctx):
        return cls(scope, id, image=ctx.image("node-exporter"))


@register("infrastructure.other", folder="infrastructure/nodes"{other})
class Other(Component):
    @classmethod
    def create(cls, scope, id, ctx):
        return cls(scope, id)
'''


def node_repo(tmp_path: Path, extra: str, other: str = "") -> Path:
    def add(document: dict[str, Any]) -> None:
        document["modules"] = ["my_homelab.nodes"]
        document["infrastructure"]["probe"] = {}
        document["infrastructure"]["other"] = {}
    source = NODE_MODULE.replace("{extra}", extra).replace("{other}", other)
    return make_repo(tmp_path, add, {"my_homelab.nodes.probe": source})


def test_a_registered_pod_security_exception_labels_its_namespace(tmp_path) -> None:
    tree = tree_of(node_repo(tmp_path, ", pod_security=NODES"))
    namespace = tree.get("Namespace", None, "nodes")["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert namespace["labels"]["homelab-charts.io/pod-security-exception"] == "privileged"
    assert namespace["annotations"]["homelab-charts.io/pod-security-reason"] == \
        "reads the node's /proc"
    # Default deny applies to it all the same.
    assert tree.get("NetworkPolicy", "nodes", "default-deny")
    # A second component of the layer may share the declaration.
    tree_of(node_repo(tmp_path / "shared", ", pod_security=NODES", ", pod_security=NODES"))


def test_a_node_daemon_in_a_restricted_namespace_is_an_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="node daemon probe mounts host folders"):
        tree_of(node_repo(tmp_path, ""))


def test_two_different_pod_security_declarations_for_one_namespace_fail(tmp_path) -> None:
    root = node_repo(tmp_path, ", pod_security=NODES",
                     ', pod_security=PodSecurity("baseline", "something else")')
    with pytest.raises(ConfigError, match="namespace nodes is already declared privileged"):
        tree_of(root)


@pytest.mark.parametrize(("level", "reason", "message"), [
    ("restricted", "why", "must be privileged or baseline"),
    ("root", "why", "must be privileged or baseline"),
    ("privileged", " ", "needs a reason"),
])
def test_a_pod_security_exception_needs_a_level_and_a_reason(level, reason, message) -> None:
    from homelab_charts.registry import PodSecurity

    with pytest.raises(TypeError, match=message):
        PodSecurity(level, reason)
