"""The data file: schema checks with the file and JSON path in every error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from homelab_charts import config
from homelab_charts.errors import ConfigError
from tests.conftest import DATA_FILE

DATA = yaml.safe_load(DATA_FILE.read_text())


def test_the_shipped_data_file_loads() -> None:
    data = config.load()
    assert data.cluster.environment in config.ENVIRONMENTS
    backend = data.service("family-assistant-backend")
    assert backend.image_for("prod").ref.endswith("-prod")
    assert data.infra_image("postgresql").tag != "latest"


def variant(path: str, value: object) -> dict:
    doc = yaml.safe_load(DATA_FILE.read_text())
    node = doc
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    if value is None:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


@pytest.mark.parametrize(("path", "value", "field", "needle"), [
    ("services.homelab-dashboard.environments.prod.tag", "v1.4-9c1d7e0-prod",
     "services.homelab-dashboard.environments.prod.tag", "is not a release tag"),
    ("services.homelab-dashboard.environments.prod.tag", "v1.4.2-9C1D7E0-prod",
     "services.homelab-dashboard.environments.prod.tag", "is not a release tag"),
    ("services.homelab-dashboard.environments.prod.tag", "v1.4.2-9c1d7e0-dev",
     "services.homelab-dashboard.environments.prod.tag", "is a dev build"),
    ("services.homelab-dashboard.environments.prod.tag", "latest",
     "services.homelab-dashboard.environments.prod.tag", "is a moving tag"),
    ("services.homelab-dashboard.environments.prod.replicas", "2",
     "services.homelab-dashboard.environments.prod.replicas", "is not of type 'integer'"),
    ("services.homelab-dashboard.environments.staging", {"tag": "x", "replicas": 1},
     "services.homelab-dashboard.environments", "staging"),
    ("infrastructure.redis.tag", "latest", "infrastructure.redis.tag", "is a moving tag"),
    ("cluster.environment", "qa", "cluster.environment", "is not one of"),
    ("cluster.colour", "blue", "cluster", "Additional properties"),
    ("services.homelab-dashboard.environments.prod", None,
     "services.homelab-dashboard.environments", "cluster's environment 'prod'"),
])
def test_bad_values_name_file_and_field(tmp_path: Path, path, value, field, needle) -> None:
    file = tmp_path / "homelab.yaml"
    file.write_text(yaml.safe_dump(variant(path, value)))
    with pytest.raises(ConfigError) as err:
        config.load(file)
    assert err.value.where == str(file)
    assert err.value.field == field
    assert needle in err.value.message


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the data file"):
        config.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML") as err:
        config.load(bad)
    assert err.value.field is not None and err.value.field.startswith("line ")


def test_upstream_images_keep_their_own_tags() -> None:
    doc = variant("services.n8n.environments.prod.tag", "1.113.0")
    assert config.parse(doc, "x").service("n8n").env("prod").tag == "1.113.0"


def test_the_data_file_schema_has_no_key_twice() -> None:
    """A JSON object with a key twice silently keeps the last one (a definition lost)."""
    import json

    from homelab_charts.config import SCHEMA_FILE

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
        return dict(pairs)

    json.loads(SCHEMA_FILE.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)
