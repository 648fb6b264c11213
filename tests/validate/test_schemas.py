"""Schema locations: kubeconform's templates, folders, the bundled Kubernetes schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.validate.schemas import (
    SchemaLocation,
    SchemaStore,
    bundled_folder,
    normalize_version,
    render_template,
    template_data,
)

TEMPLATE = ("{{.NormalizedKubernetesVersion}}|{{.StrictSuffix}}|{{.ResourceKind}}|"
            "{{.KindSuffix}}|{{.Group}}|{{ .ResourceAPIVersion }}")


@pytest.mark.parametrize(("kind", "api_version", "strict", "expected"), [
    ("Deployment", "apps/v1", True, "v1.33.0|-strict|deployment|-apps-v1|apps|v1"),
    ("ConfigMap", "v1", False, "v1.33.0||configmap|-v1|v1|v1"),
    ("ClusterRole", "rbac.authorization.k8s.io/v1", True,
     "v1.33.0|-strict|clusterrole|-rbac-v1|rbac.authorization.k8s.io|v1"),
    ("HelmRelease", "helm.toolkit.fluxcd.io/v2", True,
     "v1.33.0|-strict|helmrelease|-helm-v2|helm.toolkit.fluxcd.io|v2"),
])
def test_template_variables_follow_kubeconform(kind: str, api_version: str, strict: bool,
                                               expected: str) -> None:
    data = template_data(kind, api_version, "1.33.0", strict)
    assert render_template(TEMPLATE, data) == expected


def test_master_version_is_not_prefixed() -> None:
    assert template_data("Pod", "v1", "master", False)["NormalizedKubernetesVersion"] == "master"


@pytest.mark.parametrize(("given", "normal"), [("1.33", "1.33.0"), ("v1.31.2", "1.31.2"),
                                               ("master", "master")])
def test_normalize_version(given: str, normal: str) -> None:
    assert normalize_version(given) == normal


def test_bad_version_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a Kubernetes version"):
        normalize_version("latest")
    with pytest.raises(ConfigError, match="not covered by the bundled schemas"):
        bundled_folder("1.2.0", True)


def test_bundled_folder_picks_newest_not_newer() -> None:
    assert bundled_folder("1.33.4", True).name == "v1.33.0-local-strict"
    assert bundled_folder("1.30.0", False).name == "v1.30.0-local"


def test_unknown_template_variable_and_remote_location_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unsupported template"):
        SchemaLocation.parse("schemas/{{.Kind}}.json")
    with pytest.raises(ConfigError, match="network"):
        SchemaLocation.parse("https://example.org/{{.ResourceKind}}.json")


def _schema(path: Path, required: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "object", "required": [required]}))


def test_folder_location_tries_kubeconform_then_crd_layout(tmp_path: Path) -> None:
    _schema(tmp_path / "v1.33.0-standalone-strict" / "widget-example-v1.json", "standard")
    _schema(tmp_path / "example.io" / "gadget_v1.json", "crd")
    store = SchemaStore([SchemaLocation.parse(str(tmp_path))])
    widget = store.lookup("Widget", "example.io/v1")
    gadget = store.lookup("Gadget", "example.io/v1")
    assert widget is not None and widget.source.endswith("widget-example-v1.json")
    assert gadget is not None and gadget.source.endswith("gadget_v1.json")
    assert store.lookup("Nothing", "example.io/v1") is None


def test_template_location_and_cache(tmp_path: Path) -> None:
    _schema(tmp_path / "example.io" / "widget_v1.json", "spec")
    store = SchemaStore([SchemaLocation.parse(
        f"{tmp_path}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json")])
    first = store.lookup("Widget", "example.io/v1")
    assert first is not None
    assert store.lookup("Widget", "example.io/v1") is first
    assert not first.validator.is_valid({"kind": "Widget"})


def test_bundled_schemas_resolve_definitions_locally() -> None:
    store = SchemaStore([SchemaLocation.parse("default")])
    schema = store.lookup("Deployment", "apps/v1")
    assert schema is not None and "v1.33.0-local-strict" in schema.source
    assert not schema.validator.is_valid({"apiVersion": "apps/v1", "kind": "Deployment",
                                          "spec": {"replicas": "x"}})
    assert store.lookup("Deployment", "apps/v9") is None


def test_non_strict_uses_open_schemas() -> None:
    strict = SchemaStore([SchemaLocation.parse("default")], strict=True)
    loose = SchemaStore([SchemaLocation.parse("default")], strict=False)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "extra": 1}
    assert not strict.lookup("ConfigMap", "v1").validator.is_valid(cm)  # type: ignore[union-attr]
    assert loose.lookup("ConfigMap", "v1").validator.is_valid(cm)  # type: ignore[union-attr]


def test_broken_schema_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "example.io" / "widget_v1.json"
    path.parent.mkdir()
    path.write_text("{not json")
    from homelab_charts.validate.schemas import SchemaError

    store = SchemaStore([SchemaLocation.parse(str(tmp_path))])
    with pytest.raises(SchemaError, match="cannot read schema"):
        store.lookup("Widget", "example.io/v1")


def test_stores_share_compiled_schemas_until_the_file_changes(tmp_path: Path) -> None:
    import os

    path = tmp_path / "example.io" / "widget_v1.json"
    _schema(path, "spec")
    location = [SchemaLocation.parse(str(tmp_path))]
    first = SchemaStore(location).lookup("Widget", "example.io/v1")
    again = SchemaStore(location).lookup("Widget", "example.io/v1")
    assert first is not None and again is first  # compiled once in this process
    path.write_text(json.dumps({"type": "object", "required": ["other"]}))
    os.utime(path, ns=(1, 1))  # a new version, whatever the clock's resolution
    changed = SchemaStore(location).lookup("Widget", "example.io/v1")
    assert changed is not None and changed is not first
    assert changed.validator.is_valid({"other": 1})
    assert not changed.validator.is_valid({"spec": 1})
