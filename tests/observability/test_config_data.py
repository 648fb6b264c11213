"""ConfigDocument: a configuration file as data, its ConfigMap, mount and pod checksum."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability.config_data import (
    CHECKSUM_ANNOTATION,
    ConfigDocument,
)
from homelab_charts.workloads import ConfigFile
from tests.helpers import new_component


def test_the_file_name_of_the_path_is_the_key_and_the_mount() -> None:
    _, c = new_component()
    doc = ConfigDocument(c, "config", name="collector-config",
                         path="/etc/otelcol-contrib/config.yaml",
                         config={"receivers": {"otlp": {}}, "exporters": {}})
    rendered = doc.render()
    assert rendered["kind"] == "ConfigMap" and rendered["metadata"]["name"] == "collector-config"
    assert list(rendered["data"]) == ["config.yaml"]
    assert yaml.safe_load(rendered["data"]["config.yaml"]) == doc.config
    assert doc.file == ConfigFile("collector-config", "config.yaml",
                                  "/etc/otelcol-contrib/config.yaml")
    digest = hashlib.sha256(rendered["data"]["config.yaml"].encode()).hexdigest()
    assert doc.pod_annotations == {CHECKSUM_ANNOTATION: digest}


def test_an_update_changes_the_file_and_its_checksum() -> None:
    _, c = new_component()
    doc = ConfigDocument(c, "rules", name="rules", path="/etc/prometheus/rules/alerts.yml",
                         config={"groups": []}, annotation="checksum/rules")
    before = doc.pod_annotations
    doc.update({"groups": [{"name": "demo", "rules": []}]})
    assert list(before) == list(doc.pod_annotations) == ["checksum/rules"]
    assert before != doc.pod_annotations
    assert yaml.safe_load(doc.render()["data"]["alerts.yml"])["groups"][0]["name"] == "demo"


@pytest.mark.parametrize("path", ["config.yaml", "/etc/app/", "/etc/app/con fig.yaml", ""])
def test_a_path_that_is_not_an_absolute_file_is_refused(path: str) -> None:
    _, c = new_component()
    with pytest.raises(ConfigError) as err:
        ConfigDocument(c, "config", name="app-config", path=path, config={})
    assert (err.value.where, err.value.field) == ("folder/things/config", "path")
    assert c.objects == []
