"""A component's own ServiceAccount and the ClusterRole bound to it (workloads.access)."""

from __future__ import annotations

from typing import Any

import pytest

from homelab_charts.base import Manifest
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.access import cluster_role, service_account
from tests.helpers import new_component, rendered

READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}


def test_account_role_and_binding_in_order_named_after_the_namespace() -> None:
    _, c = new_component(namespace="observability", path="infrastructure/observability",
                         id="scraper")
    account = service_account(c, "service-account", name="scraper")
    rules = [READ_PODS, {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}]
    access = cluster_role(c, "cluster-role", name="scraper-discovery", rules=rules,
                          service_account=account)
    docs = rendered(c)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("ServiceAccount", "scraper"),
        ("ClusterRole", "observability-scraper-discovery"),
        ("ClusterRoleBinding", "observability-scraper-discovery"),
    ]
    sa, role, binding = docs
    assert sa["apiVersion"] == "v1" and sa["metadata"]["namespace"] == "observability"
    assert sa["automountServiceAccountToken"] is False
    assert role["apiVersion"] == binding["apiVersion"] == "rbac.authorization.k8s.io/v1"
    # Cluster-scoped: no namespace on the role or its binding.
    assert "namespace" not in role["metadata"] and "namespace" not in binding["metadata"]
    assert role["rules"] == rules
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole",
                                  "name": "observability-scraper-discovery"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "scraper",
                                    "namespace": "observability"}]
    assert access.name == "observability-scraper-discovery"
    assert (access.role.object_kind, access.binding.object_kind) == \
        ("ClusterRole", "ClusterRoleBinding")
    assert [o.node.id for o in c.objects] == ["service-account", "cluster-role",
                                              "cluster-role-binding"]


def test_the_role_keeps_its_own_copy_of_the_rules() -> None:
    _, c = new_component()
    rules: list[dict[str, Any]] = [dict(READ_PODS, verbs=["list"])]
    access = cluster_role(c, "role", name="reader", rules=rules,
                          service_account=service_account(c, "sa", name="reader"))
    rules[0]["verbs"].append("delete")
    assert access.role.render()["rules"] == [dict(READ_PODS, verbs=["list"])]


def test_the_subject_is_the_accounts_namespace() -> None:
    app, c = new_component(namespace="one")
    other_folder = type(c.node.scope)(app, "other", path="apps/other", namespace="two")
    other = type(c)(other_folder, "other")
    account = service_account(other, "sa", name="reader")
    access = cluster_role(c, "role", name="reader", rules=[READ_PODS], service_account=account)
    assert access.name == "two-reader"
    assert access.binding.render()["subjects"][0]["namespace"] == "two"


@pytest.mark.parametrize(("rules", "field", "message"), [
    ([], "rules", "without rules grants nothing"),
    ("pods", "rules", "must be a list of rules"),
    (["pods"], "rules[0]", "must be a mapping"),
    ([dict(READ_PODS, verbs=["*"])], "rules[0].verbs", "'*' grants everything"),
    ([dict(READ_PODS, resources=["*"])], "rules[0].resources", "'*' grants everything"),
    ([dict(READ_PODS, apiGroups=["*"])], "rules[0].apiGroups", "'*' grants everything"),
    ([dict(READ_PODS, verbs=["get", "escalate"])], "rules[0].verbs", "escalate not allowed"),
    ([dict(READ_PODS, verbs=["impersonate"])], "rules[0].verbs", "impersonate not allowed"),
    ([dict(READ_PODS, resources=["pods", "secrets"])], "rules[0].resources",
     "must not read Secrets"),
    ([READ_PODS, dict(READ_PODS, verbs=[])], "rules[1].verbs", "is empty"),
    ([dict(READ_PODS, apiGroups=[])], "rules[0].apiGroups", '"" is the core group'),
    ([dict(READ_PODS, verbs="get")], "rules[0].verbs", "must be a list of strings"),
    ([{"apiGroups": [""], "resources": ["pods"]}], "rules[0].verbs", "is missing"),
    ([dict(READ_PODS, nonResourceURLs=["/metrics"])], "rules[0]",
     "unknown key(s) nonResourceURLs"),
])
def test_rules_that_grant_too_much_or_are_malformed_are_refused(
        rules: Any, field: str, message: str) -> None:
    _, c = new_component()
    account = service_account(c, "sa", name="reader")
    with pytest.raises(ConfigError) as err:
        cluster_role(c, "role", name="reader", rules=rules, service_account=account)
    assert err.value.where == "folder/things/role"
    assert err.value.field == field
    assert message in err.value.message
    # Nothing half-made: the account alone.
    assert [o.object_kind for o in c.objects] == ["ServiceAccount"]


def test_resource_names_narrow_a_rule() -> None:
    _, c = new_component()
    rule = dict(READ_PODS, resourceNames=["only-this-one"])
    access = cluster_role(c, "role", name="reader", rules=[rule],
                          service_account=service_account(c, "sa", name="reader"))
    assert access.role.render()["rules"] == [rule]


def test_the_subject_must_be_a_namespaced_service_account() -> None:
    _, c = new_component()
    config_map = Manifest(c, "cm", api_version="v1", kind="ConfigMap", name="reader")
    with pytest.raises(ConfigError, match="service_account: must be a ServiceAccount"):
        cluster_role(c, "role", name="reader", rules=[READ_PODS], service_account=config_map)
    _, loose = new_component(namespace=None)  # type: ignore[arg-type]
    account = service_account(loose, "sa", name="reader")
    with pytest.raises(ConfigError, match="reader has no namespace"):
        cluster_role(loose, "role", name="reader", rules=[READ_PODS], service_account=account)
