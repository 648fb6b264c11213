"""API access for a component's own pods: a ServiceAccount and the ClusterRole it is bound to.

Pods get no service account token by default (:func:`~.pod.pod_template`); the few that
read the API server (Prometheus' discovery, kube-state-metrics, the node agent's
metadata lookups) run under an account of their own, made here with
:func:`service_account`, bound by :func:`cluster_role` to a ClusterRole holding exactly
the rules they need. The role is checked where it is made: explicit API groups,
resources and verbs (no ``*``), only the verbs Kubernetes defines for resources (none of
``bind``, ``escalate``, ``impersonate``), and no ``secrets``, since a cluster-wide reader
of Secrets reads every credential of the cluster. Its name starts with the account's
namespace, so the same component built in two namespaces gets two roles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.errors import ConfigError

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
#: The verbs a rule may grant on resources (Kubernetes' own, minus the escalating ones).
VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete",
                   "deletecollection"})
#: Resources no cluster-wide role of the tree may name.
FORBIDDEN_RESOURCES = frozenset({"secrets"})
_REQUIRED = ("apiGroups", "resources", "verbs")
_OPTIONAL = ("resourceNames",)


@dataclass(frozen=True)
class ClusterAccess:
    """What :func:`cluster_role` made: the ClusterRole and its binding to the account."""

    role: Manifest
    binding: Manifest

    @property
    def name(self) -> str:
        """The ClusterRole's (and the binding's) name."""
        return self.role.object_name


def service_account(scope: Construct, id: str, *, name: str) -> Manifest:
    """The ServiceAccount ``name`` in the component's namespace. It does not mount its
    token into pods by itself: a workload given ``service_account=`` mounts it."""
    return Manifest(scope, id, api_version="v1", kind="ServiceAccount", name=name,
                    body={"automountServiceAccountToken": False})


def _check_rules(where: str, rules: Sequence[Mapping[str, Any]]) -> None:
    """A ConfigError naming the first way ``rules`` is not a least-privilege rule list."""
    if isinstance(rules, (str, bytes, Mapping)) or not isinstance(rules, Sequence):
        raise ConfigError(where, "rules", "must be a list of rules")
    if not rules:
        raise ConfigError(where, "rules", "a ClusterRole without rules grants nothing")
    for index, rule in enumerate(rules):
        field = f"rules[{index}]"
        if not isinstance(rule, Mapping):
            raise ConfigError(where, field, "must be a mapping of apiGroups, resources, verbs")
        unknown = sorted(map(str, set(rule) - set(_REQUIRED) - set(_OPTIONAL)))
        if unknown:
            raise ConfigError(where, field, f"unknown key(s) {', '.join(unknown)} (allowed: "
                                            f"{', '.join(_REQUIRED + _OPTIONAL)})")
        for key in (*_REQUIRED, *(k for k in _OPTIONAL if k in rule)):
            values = rule.get(key)
            if values is None:
                raise ConfigError(where, f"{field}.{key}", "is missing")
            if isinstance(values, str) or not isinstance(values, Sequence) \
                    or not all(isinstance(v, str) for v in values):
                raise ConfigError(where, f"{field}.{key}", "must be a list of strings")
            if not values:
                hint = ' ("" is the core group)' if key == "apiGroups" else ""
                raise ConfigError(where, f"{field}.{key}", f"is empty{hint}")
            if "*" in values:
                raise ConfigError(where, f"{field}.{key}",
                                  "'*' grants everything: name each one")
        bad = sorted(set(rule["verbs"]) - VERBS)
        if bad:
            raise ConfigError(where, f"{field}.verbs",
                              f"{', '.join(bad)} not allowed (allowed: {', '.join(sorted(VERBS))})")
        bad = sorted(r for r in rule["resources"] if r.split("/")[0] in FORBIDDEN_RESOURCES)
        if bad:
            raise ConfigError(where, f"{field}.resources",
                              f"{', '.join(bad)}: a cluster-wide role must not read Secrets "
                              "(every credential of the cluster)")


def cluster_role(scope: Construct, id: str, *, name: str,
                 rules: Sequence[Mapping[str, Any]],
                 service_account: Manifest) -> ClusterAccess:
    """The ClusterRole ``<namespace>-<name>`` holding ``rules`` and its ClusterRoleBinding
    (same name) to ``service_account`` (made by :func:`service_account`), in this order::

        account = service_account(self, "service-account", name="scraper")
        cluster_role(self, "cluster-role", name="scraper", service_account=account,
                     rules=[{"apiGroups": [""], "resources": ["pods"],
                             "verbs": ["get", "list", "watch"]}])

    ``<namespace>`` is the account's. The binding's id is ``<id>-binding``.
    """
    where = construct_path(scope, id)
    if not isinstance(service_account, Manifest) or service_account.object_kind != "ServiceAccount":
        raise ConfigError(where, "service_account", "must be a ServiceAccount (service_account())")
    namespace = service_account.object_namespace
    if not namespace:
        raise ConfigError(where, "service_account",
                          f"{service_account.object_name} has no namespace (its component "
                          "needs one)")
    _check_rules(where, rules)
    role = Manifest(scope, id, api_version=RBAC_API, kind="ClusterRole",
                    name=f"{namespace}-{name}",
                    body={"rules": [{key: list(values) for key, values in rule.items()}
                                    for rule in rules]})
    binding = Manifest(scope, f"{id}-binding", api_version=RBAC_API, kind="ClusterRoleBinding",
                       name=role.object_name, body={
                           "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole",
                                       "name": role.object_name},
                           "subjects": [{"kind": "ServiceAccount",
                                         "name": service_account.object_name,
                                         "namespace": namespace}],
                       })
    return ClusterAccess(role, binding)
