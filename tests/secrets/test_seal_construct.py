"""The SealedSecret construct: reads the store, checks it, renders a valid SealedSecret."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from homelab_charts.base import Component, Folder, TreeApp
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.secrets import SealedSecret
from homelab_charts.secrets.crypto import SealingCertificate, SealScope
from homelab_charts.secrets.store import SealedDocument, store_path
from homelab_charts.workloads import Container, Port, Probe, SecretKeyRef, WebService
from tests.apps.tree import homelab_tree
from tests.conftest import STORE_DIR

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SCHEMA = SHARED / "schemas" / "crds" / "bitnami.com" / "sealedsecret_v1alpha1.json"
CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"


def keys_read() -> dict[tuple[str | None, str], list[str]]:
    """(namespace, Secret) -> the sealed keys the homelab's pods read, from the generated
    tree. A credential shared between namespaces (sealed once, cluster-wide) is listed
    once, with namespace None: the keys every namespace reads of it."""
    tree = homelab_tree()
    sealed = {(s["metadata"]["namespace"], s["metadata"]["name"]): s
              for s in tree.of_kind("SealedSecret")}
    out: dict[tuple[str | None, str], set[str]] = {}

    def add(namespace: str, name: str, keys: Iterable[str]) -> None:
        secret = sealed[(namespace, name)]
        wide = secret["metadata"].get("annotations", {}).get(CLUSTER_WIDE) == "true"
        # Keys the controller renders from the sealed ones (template data) are not sealed.
        rendered = set(secret["spec"]["template"].get("data", {}))
        out.setdefault((None if wide else namespace, name), set()).update(
            k for k in keys if k not in rendered)

    for pod in tree.pods():
        for container in pod.containers:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    add(pod.namespace, ref["name"], [ref["key"]])
        for volume in pod.spec.get("volumes", []):
            sources = [{"secret": {"name": volume["secret"]["secretName"],
                                   "items": volume["secret"].get("items", [])}}] \
                if "secret" in volume else volume.get("projected", {}).get("sources", [])
            for source in sources:
                if "secret" in source:
                    add(pod.namespace, source["secret"]["name"],
                        [item["key"] for item in source["secret"]["items"]])
    return {ident: sorted(keys) for ident, keys in
            sorted(out.items(), key=lambda item: (item[0][0] or "", item[0][1]))}


#: The example secrets and the keys the homelab's components read.
EXAMPLES = keys_read()


@pytest.fixture(scope="module")
def cert(key2048):
    return SealingCertificate.from_pem(key2048.cert_pem, "cert.pem")


@pytest.fixture
def store(tmp_path, cert):
    for scope, namespace, name in [(SealScope.STRICT, "databases", "redis-credentials"),
                                   (SealScope.NAMESPACE_WIDE, "databases", "shared-ns"),
                                   (SealScope.CLUSTER_WIDE, "databases", "shared-cluster"),
                                   (SealScope.CLUSTER_WIDE, None, "global")]:
        doc = SealedDocument(name=name, namespace=namespace, scope=scope)
        doc.with_values(cert.public_key, {"redis-password": b"pw", "extra": b"x"},
                        key_fingerprint=cert.fingerprint).write(
            store_path(tmp_path, namespace, name))
    return tmp_path


def component(namespace="databases"):
    app = TreeApp()
    folder = Folder(app, "databases", path="infrastructure/databases", namespace=namespace)
    return Component(folder, "redis")


def test_renders_the_store_ciphertext(store):
    chart = component()
    creds = SealedSecret(chart, "credentials", name="redis-credentials",
                         keys=["redis-password"], labels={"app.kubernetes.io/name": "redis"},
                         template_labels={"app.kubernetes.io/name": "redis"}, store=store)
    doc = SealedDocument.read(store_path(store, "databases", "redis-credentials"))
    rendered = creds.render()
    assert rendered["apiVersion"] == "bitnami.com/v1alpha1"
    assert rendered["metadata"] == {
        "name": "redis-credentials", "namespace": "databases",
        "labels": {"app.kubernetes.io/managed-by": "homelab-charts",
                   "app.kubernetes.io/name": "redis"}}
    assert rendered["spec"]["encryptedData"] == dict(doc.encrypted_data)   # not re-encrypted
    assert rendered["spec"]["template"] == {
        "metadata": {"name": "redis-credentials", "namespace": "databases",
                     "labels": {"app.kubernetes.io/name": "redis"}},
        "type": "Opaque"}
    assert sorted(rendered["spec"]["encryptedData"]) == ["extra", "redis-password"]
    assert "homelab-charts/sealing-key-sha256" not in json.dumps(rendered)
    assert creds.to_json() == rendered
    # Re-synthesis: the same bytes every time.
    again = SealedSecret(component(), "credentials", name="redis-credentials",
                         keys=["redis-password"], labels={"app.kubernetes.io/name": "redis"},
                         template_labels={"app.kubernetes.io/name": "redis"}, store=store)
    assert again.render() == rendered


def test_key_refs_only_for_declared_keys(store):
    creds = SealedSecret(component(), "c", name="redis-credentials", keys=["redis-password"],
                         store=store)
    assert creds.secret_name == "redis-credentials"
    assert creds.keys == ("redis-password",)
    assert creds.key_ref("redis-password") == {"name": "redis-credentials",
                                               "key": "redis-password"}
    ref = SecretKeyRef(name="redis-credentials", key="redis-password")
    assert creds.secret_key("redis-password") == ref
    assert creds.env("REDIS_PASSWORD", "redis-password") == {"REDIS_PASSWORD": ref}
    with pytest.raises(ConfigError, match="'extra' is not a declared key"):
        creds.key_ref("extra")     # sealed, but not declared
    with pytest.raises(ConfigError, match="'extra' is not a declared key"):
        creds.env("EXTRA", "extra")


def test_env_goes_into_a_container_as_docs_secrets_shows(store):
    """docs/SECRETS.md: ``env={**creds.env(...)}`` in the library's Container."""
    parent = component()
    creds = SealedSecret(parent, "c", name="redis-credentials", keys=["redis-password"],
                         store=store)
    web = WebService(parent, "web", name="cache-ui", container=Container(
        image=Image("registry.homelab.lan:5000/ui", "1.0.0"), ports=(Port("http", 8080),),
        env={**creds.env("REDIS_PASSWORD", "redis-password"), "MODE": "x"},
        readiness=Probe.tcp("http"), liveness=Probe.tcp("http")))
    env = web.workload.render()["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "redis-credentials", "key": "redis-password"}}}
    creds.declare("redis-password")  # declared already: nothing changes
    assert creds.keys == ("redis-password",)
    with pytest.raises(ConfigError, match=r"not sealed in .*: nope; add with: "
                                          r"homelab-charts seal"):
        creds.declare("nope")


@pytest.mark.parametrize(("scope", "name", "namespace", "annotation"), [
    (SealScope.NAMESPACE_WIDE, "shared-ns", None, "namespace-wide"),
    ("cluster-wide", "shared-cluster", "databases", "cluster-wide"),
    (SealScope.CLUSTER_WIDE, "global", None, "cluster-wide"),
])
def test_scopes_render_kubeseal_annotations(store, scope, name, namespace, annotation):
    creds = SealedSecret(component(), "c", name=name, namespace=namespace, keys=["extra"],
                         scope=scope, store=store)
    rendered = creds.render()
    expected = {f"sealedsecrets.bitnami.com/{annotation}": "true"}
    assert rendered["metadata"]["annotations"] == expected
    assert rendered["metadata"]["namespace"] == "databases"
    assert rendered["spec"]["template"]["metadata"]["annotations"] == expected


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"name": "absent"}, "store", "homelab-charts seal --namespace databases --name absent "
                                  "redis-password=..."),
    ({"keys": ["redis-password", "missing-key"]}, "keys",
     "not sealed in .*: missing-key; add with: homelab-charts seal --namespace databases "
     "--name redis-credentials missing-key=..."),
    ({"scope": SealScope.NAMESPACE_WIDE}, "scope", "sealed strict"),
    ({"scope": "galaxy-wide"}, "scope", "not one of"),
    ({"type": "kubernetes.io/basic-auth"}, "type", "has spec.template.type 'Opaque'"),
    ({"keys": []}, "keys", "declare the Secret keys"),
    ({"keys": "redis-password"}, "keys", "declare the Secret keys"),
    ({"keys": ["bad key"]}, "keys", "not a valid Secret key"),
    ({"keys": ["redis-password", "redis-password"]}, "keys", "declared more than once"),
])
def test_errors_name_the_construct(store, kwargs, field, message):
    args = {"name": "redis-credentials", "keys": ["redis-password"], "store": store, **kwargs}
    with pytest.raises(ConfigError, match=message) as info:
        SealedSecret(component(), "creds", **args)
    assert info.value.where == "databases/redis/creds"
    assert info.value.field == field
    assert "pw" not in str(info.value).replace("password", "")


def test_namespace_needed_for_strict(store):
    app = TreeApp()
    chart = Component(app, "x", file="clusters/homelab/x.yaml")
    with pytest.raises(ConfigError, match="needs a namespace"):
        SealedSecret(chart, "c", name="redis-credentials", keys=["redis-password"], store=store)


def test_store_file_for_another_secret(store, cert):
    path = store_path(store, "databases", "redis-credentials")
    other = SealedDocument(name="other", namespace="databases").with_values(
        cert.public_key, {"redis-password": b"x"}, key_fingerprint=None)
    path.write_text(other.dump())
    with pytest.raises(ConfigError, match="holds databases/other"):
        SealedSecret(component(), "c", name="redis-credentials", keys=["redis-password"],
                     store=store)


def test_hand_broken_store_file(store):
    path = store_path(store, "databases", "redis-credentials")
    path.write_text("apiVersion: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        SealedSecret(component(), "c", name="redis-credentials", keys=["redis-password"],
                     store=store)
    assert info.value.where == str(path)


@pytest.mark.parametrize(("namespace", "name"), list(EXAMPLES))
def test_example_store_has_every_homelab_secret(namespace, name):
    """Each Secret the pods read is sealed with exactly the keys they read; a credential
    two namespaces read is sealed once, cluster-wide, in sealed/_cluster/."""
    scope = "strict" if namespace else "cluster-wide"
    creds = SealedSecret(component(namespace or "databases"), "c", name=name,
                         namespace=namespace, keys=EXAMPLES[(namespace, name)], scope=scope)
    assert creds.store_file == STORE_DIR / (namespace or "_cluster") / f"{name}.yaml"
    assert sorted(creds.render()["spec"]["encryptedData"]) == sorted(EXAMPLES[(namespace, name)])


@pytest.mark.skipif(not SCHEMA.is_file(), reason=f"{SCHEMA} absent (needs ../shared)")
@pytest.mark.parametrize("case", ["strict", "namespace-wide", "cluster-wide", "global",
                                  "example"])
def test_rendered_objects_validate_against_the_crd_schema(store, case):
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    chart = component()
    kwargs = {
        "strict": {"name": "redis-credentials", "template_labels": {"a": "b"},
                   "template_annotations": {"c": "d"}, "annotations": {"e": "f"}},
        "namespace-wide": {"name": "shared-ns", "scope": SealScope.NAMESPACE_WIDE},
        "cluster-wide": {"name": "shared-cluster", "scope": SealScope.CLUSTER_WIDE,
                         "namespace": "databases"},
        "global": {"name": "global", "scope": SealScope.CLUSTER_WIDE},
        "example": {"name": "postgresql-credentials", "store": STORE_DIR},
    }[case]
    kwargs.setdefault("store", store)
    keys = ["postgres-password"] if case == "example" else ["redis-password"]
    obj = SealedSecret(chart, "c", keys=keys, **kwargs).to_json()
    jsonschema.validate(obj, schema, cls=jsonschema.Draft7Validator)
    # The schema is strict enough to catch a broken template.
    obj["spec"]["template"]["metadata"]["creationTimestamp"] = None
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, schema, cls=jsonschema.Draft7Validator)
