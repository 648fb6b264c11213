"""Parse, format, order and reject release tags, aliases and per-service git tags."""

from __future__ import annotations

import itertools

import pytest
import semver

from homelab_charts.errors import ConfigError
from homelab_charts.versioning import (
    ReleaseTag,
    TagError,
    format_alias,
    format_git_tag,
    format_tag,
    is_release_tag,
    normalize_sha,
    parse_alias,
    parse_git_tag,
    parse_tag,
)

V = semver.Version


@pytest.mark.parametrize(
    ("tag", "version", "sha", "env"),
    [
        ("v2.1.0-a3f5c2b-prod", V(2, 1, 0), "a3f5c2b", "prod"),
        ("v2.1.0-a3f5c2b-dev", V(2, 1, 0), "a3f5c2b", "dev"),
        ("v0.0.0-0000000-dev", V(0, 0, 0), "0000000", "dev"),
        ("v10.20.30-deadbee-prod", V(10, 20, 30), "deadbee", "prod"),
        ("v1.0.10-1234567-prod", V(1, 0, 10), "1234567", "prod"),
    ],
)
def test_parse_and_format_round_trip(tag, version, sha, env):
    parsed = parse_tag(tag)
    assert (parsed.version, parsed.sha, parsed.env) == (version, sha, env)
    assert parsed.format() == tag
    assert str(parsed) == tag
    assert format_tag(version, sha, env) == tag
    assert parsed.alias == f"v{version}"
    assert is_release_tag(tag)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("v2.1-abc1234-prod", "version '2.1' must have three numbers"),
        ("v2-abc1234-prod", "version '2' must have three numbers"),
        ("v2.1.0.1-abc1234-prod", "must have three numbers MAJOR.MINOR.PATCH (found 4)"),
        ("v2.1.0-A3F5C2B-prod", "GIT_SHA 'A3F5C2B' must be lower case"),
        ("v2.1.0-a3F5c2b-prod", "must be lower case"),
        ("v2.1.0-a3f5c2b1-prod", "must be exactly 7 characters (it has 8)"),
        ("v2.1.0-a3f5c2-prod", "must be exactly 7 characters (it has 6)"),
        ("v2.1.0-a3f5c2g-prod", "GIT_SHA 'a3f5c2g' is not hexadecimal"),
        ("v2.1.0-a3f5c2b-staging", "unknown environment 'staging' (expected dev or prod)"),
        ("v2.1.0-a3f5c2b-Prod", "unknown environment 'Prod'"),
        ("v2.1.0-a3f5c2b-", "unknown environment ''"),
        ("v02.1.0-a3f5c2b-prod", "MAJOR '02' has a leading zero"),
        ("v2.01.0-a3f5c2b-prod", "MINOR '01' has a leading zero"),
        ("v2.1.00-a3f5c2b-prod", "PATCH '00' has a leading zero"),
        ("v2..0-a3f5c2b-prod", "MINOR is empty"),
        ("v2.x.0-a3f5c2b-prod", "MINOR 'x' is not a whole number"),
        ("v2.1.-1-a3f5c2b-prod", "too many '-'-separated parts (4)"),
        ("v2.1.-a3f5c2b-prod", "PATCH is empty"),
        ("v2.1.0", "missing -{GIT_SHA7}-{ENV}"),
        ("v2.1.0-a3f5c2b", "three '-'-separated parts"),
        ("v2.1.0-rc.1-a3f5c2b-prod", "too many '-'-separated parts (4)"),
        ("2.1.0-a3f5c2b-prod", "starts with 'v'"),
        ("V2.1.0-a3f5c2b-prod", "write a lower-case v"),
        ("", "a tag is empty"),
        (" v2.1.0-a3f5c2b-prod", "no white space"),
        ("v2.1.0-a3f5c2b-prod\n", "no white space"),
        ("v\uff12.1.0-a3f5c2b-prod", "MAJOR '\uff12' is not a whole number"),
        ("latest", "starts with 'v'"),
    ],
)
def test_malformed_tags_are_rejected_with_the_reason(tag, message):
    with pytest.raises(TagError) as info:
        parse_tag(tag, where="homelab.yaml", field="services.x.environments.prod.tag")
    text = str(info.value)
    assert message in text
    assert text.startswith("homelab.yaml: services.x.environments.prod.tag: ")
    assert repr(tag) in text
    assert not is_release_tag(tag)
    assert isinstance(info.value, ConfigError)


def test_non_string_tag_is_rejected():
    with pytest.raises(TagError, match="a tag is a string, not int"):
        parse_tag(210)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "tags",
    [
        ["v1.0.0-aaaaaaa-prod", "v1.0.1-aaaaaaa-prod", "v1.1.0-aaaaaaa-prod",
         "v2.0.0-aaaaaaa-prod"],
        ["v1.9.0-bbbbbbb-dev", "v1.10.0-aaaaaaa-dev", "v10.0.0-aaaaaaa-dev"],
        ["v0.0.9-fffffff-prod", "v0.1.0-0000000-prod", "v0.10.0-0000000-prod"],
    ],
)
def test_tags_order_by_version_not_by_text(tags):
    parsed = [parse_tag(t) for t in tags]
    assert sorted(reversed(parsed)) == parsed
    assert max(parsed) == parsed[-1]
    assert all(a < b for a, b in itertools.pairwise(parsed))


def test_builds_of_one_version_sort_deterministically():
    a = parse_tag("v1.0.0-bbbbbbb-prod")
    b = parse_tag("v1.0.0-aaaaaaa-prod")
    c = parse_tag("v1.0.0-aaaaaaa-dev")
    assert sorted([a, b, c]) == [c, b, a]
    assert a == parse_tag("v1.0.0-bbbbbbb-prod")
    assert a != b
    assert len({a, parse_tag("v1.0.0-bbbbbbb-prod")}) == 1


def test_release_tag_checks_its_fields():
    with pytest.raises(TagError, match="exactly 7"):
        ReleaseTag(V(1, 0, 0), "abc", "prod")
    with pytest.raises(TagError, match="unknown environment"):
        ReleaseTag(V(1, 0, 0), "abcdef0", "qa")
    with pytest.raises(TagError, match="no pre-release"):
        ReleaseTag(V(1, 0, 0, prerelease="rc.1"), "abcdef0", "prod")


def test_promotion_and_git_tag():
    dev = parse_tag("v2.1.0-a3f5c2b-dev")
    assert dev.for_env("prod").format() == "v2.1.0-a3f5c2b-prod"
    assert dev.git_tag("family-assistant-backend") == "family-assistant-backend/v2.1.0"
    assert dev.as_dict() == {
        "tag": "v2.1.0-a3f5c2b-dev", "version": "2.1.0", "major": 2, "minor": 1,
        "patch": 0, "sha": "a3f5c2b", "environment": "dev", "alias": "v2.1.0",
    }


def test_format_tag_shortens_a_full_sha():
    full = "A3F5C2B9" + "0" * 32
    assert format_tag("v2.1.0", full, "prod") == "v2.1.0-a3f5c2b-prod"
    assert format_tag("2.1.0", "a3f5c2b", "dev") == "v2.1.0-a3f5c2b-dev"


@pytest.mark.parametrize(
    ("alias", "version"),
    [("v2.1.0", V(2, 1, 0)), ("v0.1.0", V(0, 1, 0)), ("v10.0.3", V(10, 0, 3))],
)
def test_alias_round_trip(alias, version):
    assert parse_alias(alias) == version
    assert format_alias(version) == alias


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("v2.1", "three numbers"),
        ("v2.1.0-a3f5c2b-prod", "an alias is vMAJOR.MINOR.PATCH only"),
        ("2.1.0", "starts with 'v'"),
        ("v2.01.0", "leading zero"),
        ("v2.1.0-rc.1", "an alias is vMAJOR.MINOR.PATCH only"),
    ],
)
def test_malformed_alias(alias, message):
    with pytest.raises(TagError, match=message.replace(".", r"\.")):
        parse_alias(alias)


@pytest.mark.parametrize(
    ("name", "service", "version"),
    [
        ("family-assistant-backend/v2.1.0", "family-assistant-backend", V(2, 1, 0)),
        ("homelab-dashboard/v0.1.0", "homelab-dashboard", V(0, 1, 0)),
    ],
)
def test_git_tags(name, service, version):
    assert parse_git_tag(name) == (service, version)
    assert parse_git_tag(name, service=service) == (service, version)
    assert format_git_tag(service, version) == name


@pytest.mark.parametrize(
    ("name", "service", "message"),
    [
        ("v2.1.0", None, "<service>/vMAJOR.MINOR.PATCH"),
        ("Family/v2.1.0", None, "is not a service name"),
        ("homelab-dashboard/v2.1", None, "three numbers"),
        ("homelab-dashboard/2.1.0", None, "starts with 'v'"),
        ("homelab-dashboard/v2.1.0", "n8n", "is a tag of 'homelab-dashboard', not of 'n8n'"),
        ("homelab-dashboard/v2.1.0-rc.1", None, "alias is vMAJOR.MINOR.PATCH only"),
    ],
)
def test_malformed_git_tags(name, service, message):
    with pytest.raises(TagError) as info:
        parse_git_tag(name, service=service)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("value", "short"),
    [
        ("a3f5c2b", "a3f5c2b"),
        ("A3F5C2B", "a3f5c2b"),
        ("a3f5c2b0123456789abcdef0123456789abcdef0", "a3f5c2b"),
        (" a3f5c2b\n", "a3f5c2b"),
    ],
)
def test_normalize_sha(value, short):
    assert normalize_sha(value) == short


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "7 to 64 hex digits (this one has 3)"), ("xyz1234", "hexadecimal"),
     ("", "empty"), ("a" * 65, "this one has 65")],
)
def test_normalize_sha_rejects(value, message):
    with pytest.raises(TagError, match=message.replace("(", r"\(").replace(")", r"\)")):
        normalize_sha(value, where="--sha")


def test_format_git_tag_rejects_bad_service():
    with pytest.raises(TagError, match="DNS-1123"):
        format_git_tag("Bad_Name", V(1, 0, 0))
