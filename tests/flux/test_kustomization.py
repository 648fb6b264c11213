from __future__ import annotations

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.flux import (
    FLUX_SYSTEM_REPOSITORY,
    GitRepository,
    HelmRepository,
    Kustomization,
    SubstituteFrom,
)
from tests.helpers import new_component, rendered


def test_defaults_follow_the_flux_example() -> None:
    _, c = new_component()
    Kustomization(c, "apps", name="apps", path="./apps", source=FLUX_SYSTEM_REPOSITORY)
    (doc,) = rendered(c)
    assert doc["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert doc["metadata"]["namespace"] == "flux-system"
    assert doc["spec"] == {
        "interval": "1h", "retryInterval": "2m", "timeout": "5m",
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        "path": "./apps", "prune": True, "wait": True,
    }


def test_every_option_is_rendered() -> None:
    _, c = new_component()
    base = Kustomization(c, "base", name="base", path="./base", source=FLUX_SYSTEM_REPOSITORY)
    cm = GitRepository(c, "repo", name="other", url="https://example.org/r.git",
                       namespace="demo")
    k = Kustomization(
        c, "app", name="app", path="./apps/app", source=cm, interval="10m",
        retry_interval="1m", timeout="3m", prune=False, wait=False, health_checks=[cm],
        depends_on=[base], target_namespace="demo", suspend=True,
        substitute={"DOMAIN": "home.lan"},
        substitute_from=[SubstituteFrom("ConfigMap", "vars"),
                         SubstituteFrom("Secret", "secret-vars", optional=True)],
    )
    spec = k.render()["spec"]
    assert spec["dependsOn"] == [{"name": "base"}]
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": "other", "namespace": "demo"}
    assert spec["healthChecks"] == [{"apiVersion": "source.toolkit.fluxcd.io/v1",
                                     "kind": "GitRepository", "name": "other",
                                     "namespace": "demo"}]
    assert spec["targetNamespace"] == "demo"
    assert spec["suspend"] is True
    assert spec["prune"] is False and spec["wait"] is False
    assert spec["postBuild"] == {
        "substitute": {"DOMAIN": "home.lan"},
        "substituteFrom": [{"kind": "ConfigMap", "name": "vars"},
                           {"kind": "Secret", "name": "secret-vars", "optional": True}],
    }


def test_depends_on_added_later_is_sorted_and_deduplicated() -> None:
    _, c = new_component()
    ks = {n: Kustomization(c, n, name=n, path=f"./{n}", source=FLUX_SYSTEM_REPOSITORY)
          for n in ("zeta", "alpha", "app")}
    ks["app"].add_depends_on(ks["zeta"])
    ks["app"].add_depends_on(ks["alpha"])
    ks["app"].add_depends_on(ks["zeta"])
    assert ks["app"].render()["spec"]["dependsOn"] == [{"name": "alpha"}, {"name": "zeta"}]


@pytest.mark.parametrize(("kwargs", "field", "needle"), [
    ({"interval": "5 minutes"}, "spec.interval", "not a Go duration"),
    ({"retry_interval": "2"}, "spec.retryInterval", "not a Go duration"),
    ({"timeout": "1d"}, "spec.timeout", "not a Go duration"),
    ({"path": "apps/demo"}, "spec.path", "start with ./"),
    ({"path": "./apps/../secrets"}, "spec.path", "start with ./"),
    ({"substitute": {"N": 3}}, "spec.postBuild.substitute.N", "must be a string"),
    ({"substitute_from": [SubstituteFrom("Pod", "x")]}, "spec.postBuild.substituteFrom",
     "ConfigMap or Secret"),
])
def test_bad_values_name_the_construct_path_and_field(kwargs, field, needle) -> None:
    _, c = new_component()
    args = {"name": "app", "path": "./apps/demo", "source": FLUX_SYSTEM_REPOSITORY, **kwargs}
    with pytest.raises(ConfigError) as err:
        Kustomization(c, "app", **args)
    assert err.value.field == field
    assert err.value.where == "folder/things/app"
    assert needle in str(err.value)


def test_depends_on_something_that_is_not_a_kustomization_fails() -> None:
    _, c = new_component()
    repo = HelmRepository(c, "charts", name="charts", url="https://charts.example.org")
    with pytest.raises(ConfigError, match="is not a Kustomization construct") as err:
        Kustomization(c, "app", name="app", path="./a", source=FLUX_SYSTEM_REPOSITORY,
                      depends_on=[repo])  # type: ignore[list-item]
    assert err.value.field == "spec.dependsOn"
    with pytest.raises(ConfigError, match="is not a Kustomization construct"):
        Kustomization(c, "b", name="b", path="./b", source=FLUX_SYSTEM_REPOSITORY,
                      depends_on=["a"])  # type: ignore[list-item]


def test_self_dependency_and_wrong_source_kind_fail() -> None:
    _, c = new_component()
    k = Kustomization(c, "app", name="app", path="./a", source=FLUX_SYSTEM_REPOSITORY)
    with pytest.raises(ConfigError, match="cannot depend on itself"):
        k.add_depends_on(k)
    repo = HelmRepository(c, "charts", name="charts", url="https://charts.example.org")
    with pytest.raises(ConfigError, match="cannot be a Kustomization source") as err:
        Kustomization(c, "x", name="x", path="./x", source=repo)
    assert err.value.field == "spec.sourceRef"


def test_health_checks_need_wait_false() -> None:
    _, c = new_component()
    repo = GitRepository(c, "repo", name="r", url="https://example.org/r.git")
    with pytest.raises(ConfigError, match="ignores healthChecks") as err:
        Kustomization(c, "x", name="x", path="./x", source=FLUX_SYSTEM_REPOSITORY,
                      health_checks=[repo])
    assert err.value.field == "spec.healthChecks"
