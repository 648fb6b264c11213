"""The opt-in Flux image automation objects (data file: cluster.imageAutomation)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from homelab_charts import config
from homelab_charts.errors import ConfigError
from homelab_charts.synth import render
from tests.conftest import DATA_FILE

FILE = "clusters/homelab/image-automation.yaml"


def data_with(automation: bool) -> config.HomelabData:
    doc = yaml.safe_load(DATA_FILE.read_text())
    doc["cluster"]["imageAutomation"] = automation
    return config.parse(doc, "test-data.yaml")


def test_off_by_default() -> None:
    assert FILE not in render(config.load())


def test_one_repository_and_policy_per_built_service(crd_schemas: Path) -> None:
    data = data_with(True)
    docs = [d for d in yaml.safe_load_all(render(data)[FILE]) if d]
    built = sorted(n for n, s in data.services.items() if not s.upstream and s.enabled)
    repos = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ImageRepository"}
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ImagePolicy"}
    assert sorted(repos) == built
    assert not {n for n, s in data.services.items() if s.upstream} & set(repos)
    env = data.cluster.environment
    assert sorted(policies) == [f"{n}-{env}" for n in built]
    for name in built:
        policy = policies[f"{name}-{env}"]["spec"]
        assert policy["imageRepositoryRef"]["name"] == name
        pattern = re.compile(policy["filterTags"]["pattern"])
        current = data.service(name).env(env).tag
        assert pattern.match(current)
        assert not pattern.match(current.replace(f"-{env}", "-dev" if env == "prod" else "-prod"))
        assert repos[name]["spec"]["image"] == data.service(name).image
    for doc in docs:
        group, version = doc["apiVersion"].split("/")
        schema = json.loads((crd_schemas / group / f"{doc['kind'].lower()}_{version}.json")
                            .read_text())
        jsonschema.validate(doc, schema)


def test_flag_must_be_a_boolean() -> None:
    doc = yaml.safe_load(DATA_FILE.read_text())
    doc["cluster"]["imageAutomation"] = "yes"
    with pytest.raises(ConfigError) as err:
        config.parse(doc, "x.yaml")
    assert err.value.field == "cluster.imageAutomation"
