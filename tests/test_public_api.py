"""The public API: ``from homelab_charts import ...`` gives every documented name."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest

import homelab_charts
from homelab_charts import apidoc
from homelab_charts.base import Folder, TreeApp
from homelab_charts.errors import VALUE_PLACES, ConfigError
from tests.conftest import REPO_ROOT

API_DOC = REPO_ROOT / "docs" / "API.md"


def test_all_is_the_export_table() -> None:
    assert sorted(homelab_charts.__all__) == sorted(homelab_charts._EXPORTS)
    assert len(set(homelab_charts.__all__)) == len(homelab_charts.__all__)


@pytest.mark.parametrize("name", homelab_charts.__all__)
def test_every_public_name_imports(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from homelab_charts import {name}", namespace)
    value = namespace[name]
    assert value is not None
    module = importlib.import_module(homelab_charts._EXPORTS[name])
    assert value is getattr(module, homelab_charts._RENAMED.get(name, name))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        homelab_charts.Nope  # noqa: B018


def test_importing_the_package_does_not_start_cdk8s() -> None:
    code = "import sys, homelab_charts; print('cdk8s' in sys.modules, 'jsii' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO_ROOT).stdout
    assert out.split() == ["False", "False"]


def test_docs_api_is_current_and_lists_every_name() -> None:
    listed = [n for names in apidoc.SECTIONS.values() for n in names]
    assert sorted(listed) == sorted(homelab_charts.__all__)
    assert set(apidoc.EXAMPLES) == set(homelab_charts.__all__)
    assert API_DOC.read_text(encoding="utf-8") == apidoc.render(), \
        "docs/API.md is stale: python -m homelab_charts.apidoc > docs/API.md"


@pytest.mark.parametrize("name", homelab_charts.__all__)
def test_each_api_example_is_python(name: str) -> None:
    example = apidoc.EXAMPLES[name]
    ast.parse(example)
    assert name in example


def test_probe_and_resources_errors_name_the_component() -> None:
    from homelab_charts import Component, Container, Image, Port, Probe, Resources, WebService

    class Broken(Component):
        def __init__(self, scope: Folder, id: str, *, path: str, cpu: str) -> None:
            super().__init__(scope, id)
            WebService(self, "web", name="broken", container=Container(
                image=Image("registry.homelab.lan:5000/broken", "1.0.0"),
                ports=(Port("http", 8080),), resources=Resources(cpu_request=cpu),
                readiness=Probe.http(path, "http"), liveness=Probe.tcp("http")))

    folder = Folder(TreeApp(), "apps", path="apps/broken", namespace="broken")
    with pytest.raises(ConfigError) as err:
        Broken(folder, "broken", path="health", cpu="50m")
    assert str(err.value) == "apps/broken: probe.http_path: 'health' must start with /"
    with pytest.raises(ConfigError) as err:
        Broken(folder, "broken2", path="/health", cpu="lots")
    assert str(err.value).startswith("apps/broken2: resources.cpu_request: 'lots' is not")
    # Outside a component the value object still says what it is.
    with pytest.raises(ConfigError, match=r"^probe: http_path"):
        Probe.http("health", "http")
    assert "probe" in VALUE_PLACES
