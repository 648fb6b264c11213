"""Flux ImageRepository / ImagePolicy for the release tag format."""

from __future__ import annotations

import json
import re

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.flux.images import ImagePolicy, ImageRepository, tag_pattern
from homelab_charts.versioning import is_release_tag, parse_tag
from tests.helpers import new_component

IMAGE = "registry.homelab.lan:5000/homelab-dashboard"

TAGS = [
    "v2.1.0-a3f5c2b-prod", "v2.1.0-a3f5c2b-dev", "v10.0.12-0000000-prod",
    "v0.1.0-deadbee-dev", "v2.1.0", "v2.1-abc1234-prod", "v2.1.0-A3F5C2B-prod",
    "v2.1.0-a3f5c2b1-prod", "v2.1.0-a3f5c2b-staging", "v02.1.0-a3f5c2b-prod",
    "v2.1.0-a3f5c2b-prod.sig", "2.1.0-a3f5c2b-prod", "latest", "v2.1.0-a3f5c2b-prodx",
    "xv2.1.0-a3f5c2b-prod", "v\uff12.1.0-a3f5c2b-prod", "v2.1.0-rc.1-a3f5c2b-prod",
]


def build(env="prod", **kwargs):
    _, c = new_component(namespace="flux-system", path="clusters/homelab/images")
    repo = ImageRepository(c, "repo", name="homelab-dashboard", image=IMAGE)
    policy = ImagePolicy(c, f"policy-{env}", name=f"homelab-dashboard-{env}",
                         repository=repo, environment=env, **kwargs)
    return repo, policy


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("tag", TAGS)
def test_pattern_accepts_exactly_the_release_tags_of_one_environment(env, tag):
    # RE2 (Go) classes are ASCII-only: re.ASCII makes Python's engine behave the same.
    rx = re.compile(tag_pattern(env), re.ASCII)
    match = rx.search(tag)
    expected = is_release_tag(tag) and parse_tag(tag).env == env
    assert (match is not None) is expected
    if match:
        assert match.expand(r"\g<version>") == str(parse_tag(tag).version)


def test_rendered_objects():
    repo, policy = build()
    assert repo.render() == {
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "homelab-dashboard", "namespace": "flux-system",
                     "labels": {"app.kubernetes.io/managed-by": "homelab-charts"}},
        "spec": {"image": IMAGE, "interval": "5m"},
    }
    assert policy.render()["spec"] == {
        "imageRepositoryRef": {"name": "homelab-dashboard"},
        "filterTags": {
            "pattern": r"^v(?P<version>(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*))"
                       r"-[0-9a-f]{7}-prod$",
            "extract": "$version",
        },
        "policy": {"semver": {"range": ">=0.0.0"}},
    }
    assert policy.marker() == '{"$imagepolicy": "flux-system:homelab-dashboard-prod:tag"}'
    assert policy.marker(None) == '{"$imagepolicy": "flux-system:homelab-dashboard-prod"}'


def test_options_and_cross_namespace_reference():
    _, c = new_component(namespace="flux-system", path="clusters/homelab/images")
    repo = ImageRepository(c, "repo", name="dash", image=IMAGE, interval="10m",
                           secret_name="registry", insecure=True, provider="generic",
                           timeout="1m", exclusion_list=[r"^.*\.sig$"])
    assert repo.render()["spec"] == {
        "image": IMAGE, "interval": "10m", "timeout": "1m", "provider": "generic",
        "secretRef": {"name": "registry"}, "insecure": True, "exclusionList": [r"^.*\.sig$"]}
    policy = ImagePolicy(c, "p", name="dash-dev", repository=repo, environment="dev",
                         namespace="homelab-dashboard", version_range="~2.1")
    assert policy.render()["spec"]["imageRepositoryRef"] == {"name": "dash",
                                                             "namespace": "flux-system"}
    assert policy.render()["spec"]["policy"] == {"semver": {"range": "~2.1"}}


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"image": f"{IMAGE}:v1.0.0"}, "spec.image", "without a tag or digest"),
        ({"image": "Registry/App"}, "spec.image", "is not an image repository"),
        ({"image": IMAGE, "interval": "5 minutes"}, "spec.interval", "Go duration"),
        ({"image": IMAGE, "provider": "docker"}, "spec.provider", "must be one of"),
        ({"image": IMAGE, "exclusion_list": ["("]}, "spec.exclusionList[0]", "regular"),
    ],
)
def test_image_repository_errors(kwargs, field, message):
    _, c = new_component(namespace="flux-system", path="clusters/homelab/images")
    with pytest.raises(ConfigError) as info:
        ImageRepository(c, "repo", name="dash", **kwargs)
    assert info.value.field == field
    assert message in info.value.message
    assert info.value.where.endswith("/repo")


def test_image_policy_errors():
    with pytest.raises(ConfigError, match="'staging' is not an environment"):
        build("staging")
    with pytest.raises(ConfigError, match="not a semver range"):
        build(version_range=" ")
    _, policy = build()
    with pytest.raises(ConfigError, match="must be None, 'tag' or 'name'"):
        policy.marker("digest")
    with pytest.raises(ConfigError, match="not an environment"):
        tag_pattern("qa")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_objects_validate_against_the_flux_crd_schemas(crd_schemas, env):
    import jsonschema

    repo, policy = build(env)
    for obj, file in ((repo, "imagerepository_v1.json"), (policy, "imagepolicy_v1.json")):
        schema = json.loads((crd_schemas / "image.toolkit.fluxcd.io" / file).read_text())
        jsonschema.Draft7Validator(schema).validate(obj.render())
    bad = policy.render()
    bad["spec"]["filterTags"]["extract_"] = "$v"
    schema = json.loads((crd_schemas / "image.toolkit.fluxcd.io/imagepolicy_v1.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(bad)
