"""Round-trip edits of the data file: one value changes, everything else stays."""

from __future__ import annotations

import difflib
import os
import shutil
import stat

import pytest

from homelab_charts import datafile, fsutil
from homelab_charts.errors import ConfigError
from tests.conftest import DATA_FILE as DEFAULT_DATA_FILE


@pytest.fixture
def data(tmp_path):
    file = tmp_path / "homelab.yaml"
    shutil.copyfile(DEFAULT_DATA_FILE, file)
    return file


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                  lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_set_tag_changes_exactly_one_line(data):
    before = data.read_text()
    previous = datafile.set_service_tag(data, "homelab-dashboard", "prod", "v1.5.0-1234567-prod")
    assert previous == "v1.4.2-9c1d7e0-prod"
    assert changed_lines(before, data.read_text()) == [
        "-        tag: v1.4.2-9c1d7e0-prod", "+        tag: v1.5.0-1234567-prod"]
    assert datafile.get_service_tag(data, "homelab-dashboard", "prod") == "v1.5.0-1234567-prod"
    # the dev tag of the same service and other services are untouched
    assert datafile.get_service_tag(data, "homelab-dashboard", "dev") == "v1.4.2-9c1d7e0-dev"


def test_round_trip_without_change_is_byte_identical(data):
    before = data.read_bytes()
    datafile.edit(data, lambda doc: None)
    assert data.read_bytes() == before


def test_comments_quotes_and_order_survive(data):
    text = data.read_text().replace("tag: v2.1.0-a3f5c2b-dev", 'tag: "v2.1.0-a3f5c2b-dev"', 1)
    text = text.replace("cluster:\n", "cluster:  # the cluster\n", 1)
    data.write_text(text)
    datafile.set_service_tag(data, "family-assistant-backend", "dev", "v2.2.0-bbbbbbb-dev")
    after = data.read_text()
    assert changed_lines(text, after) == [
        '-        tag: "v2.1.0-a3f5c2b-dev"', '+        tag: "v2.2.0-bbbbbbb-dev"']
    assert "cluster:  # the cluster" in after


def test_upstream_tags_that_look_like_numbers_are_quoted(data):
    datafile.set_service_tag(data, "n8n", "dev", "1.2")
    assert "tag: '1.2'" in data.read_text()
    from homelab_charts import config

    assert config.load(data).service("n8n").env("dev").tag == "1.2"


@pytest.mark.parametrize(
    ("service", "env", "tag", "message"),
    [
        ("homelab-dashboard", "prod", "v1.5.0-1234567-dev", "is a dev build, not a prod build"),
        ("homelab-dashboard", "prod", "v1.5-1234567-prod", "is not a release tag"),
        ("homelab-dashboard", "prod", "latest", "'latest' is a moving tag"),
        ("n8n", "prod", "latest", "services.n8n.environments.prod.tag"),
        ("nope", "prod", "v1.0.0-1234567-prod", "services.nope: no such service"),
        ("homelab-dashboard", "qa", "v1.0.0-1234567-dev", "has no settings for environment"),
    ],
)
def test_bad_tags_never_land(data, service, env, tag, message):
    before = data.read_bytes()
    with pytest.raises(ConfigError) as info:
        datafile.set_service_tag(data, service, env, tag)
    assert message in str(info.value)
    assert str(info.value).startswith(str(data))
    assert data.read_bytes() == before
    assert [p.name for p in data.parent.iterdir()] == [data.name]  # no temp file left


def test_mode_is_kept_and_write_is_atomic(data, monkeypatch):
    os.chmod(data, 0o640)
    datafile.set_service_tag(data, "homelab-dashboard", "dev", "v1.5.0-1234567-dev")
    assert stat.S_IMODE(data.stat().st_mode) == 0o640

    before = data.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", boom)
    with pytest.raises(ConfigError, match="No space left on device; the file is unchanged"):
        datafile.set_service_tag(data, "homelab-dashboard", "dev", "v1.6.0-1234567-dev")
    assert data.read_bytes() == before
    assert [p.name for p in data.parent.iterdir()] == [data.name]


def test_replicas(data):
    assert datafile.set_service_replicas(data, "n8n", "prod", 2) == 1
    with pytest.raises(ConfigError, match="replicas"):
        datafile.set_service_replicas(data, "n8n", "prod", 99)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the data file"):
        datafile.get_service_tag(tmp_path / "missing.yaml", "x", "dev")
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        datafile.set_service_tag(bad, "x", "dev", "v1.0.0-1234567-dev")
