"""The image tag format: ``v{MAJOR}.{MINOR}.{PATCH}-{GIT_SHA7}-{ENV}`` and its aliases.

* a *release tag* names one build for one environment: ``v2.1.0-a3f5c2b-prod``;
* an *alias* ``v2.1.0`` names the latest stable build of that version;
* a *git tag* ``family-assistant-backend/v2.1.0`` marks the commit a service's version
  was cut from (one prefix per service, so services of the monorepo version independently).

Parsing checks every part on its own so that a malformed tag gets an error saying which
part is wrong and why (``v2.1-abc1234-prod``: the version needs three numbers).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import semver

from homelab_charts.config import ENVIRONMENTS
from homelab_charts.errors import ConfigError

SHA_LENGTH = 7
_NUMBER = re.compile(r"^[0-9]+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SERVICE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
FORMAT = "v{MAJOR}.{MINOR}.{PATCH}-{GIT_SHA7}-{ENV}"
PART_NAMES = ("MAJOR", "MINOR", "PATCH")
#: Digits a version number may have (far beyond any real version; Python refuses to
#: convert more than 4,300 digits to an int, and an error must not print 5,000 of them).
MAX_DIGITS = 18


class TagError(ConfigError):
    """A malformed tag; ``where`` names what held it (``tag``, a file, a CLI option)."""

    def __init__(self, tag: object, message: str, *, where: str = "tag",
                 field: str | None = None) -> None:
        self.tag = tag
        shown = repr(tag)
        if len(shown) > 80:
            shown = f"{shown[:60]}...' ({len(str(tag)):,} characters)"
        super().__init__(where, field, f"{shown}: {message}")


def parse_version(text: str, *, tag: object = None, where: str = "tag",
                  field: str | None = None) -> semver.Version:
    """``MAJOR.MINOR.PATCH`` (no ``v``, no pre-release) as a :class:`semver.Version`."""
    shown = text if tag is None else tag
    parts = text.split(".")
    if len(parts) != 3:
        raise TagError(shown, f"version {text!r} must have three numbers MAJOR.MINOR.PATCH "
                       f"(found {len(parts)})", where=where, field=field)
    numbers = []
    for name, part in zip(PART_NAMES, parts, strict=True):
        if not part:
            raise TagError(shown, f"{name} is empty in version {text!r}", where=where,
                           field=field)
        if not _NUMBER.match(part) or not part.isascii():
            raise TagError(shown, f"{name} {_short(part)} is not a whole number", where=where,
                           field=field)
        if len(part) > MAX_DIGITS:
            raise TagError(shown, f"{name} has {len(part):,} digits (at most {MAX_DIGITS})",
                           where=where, field=field)
        if len(part) > 1 and part.startswith("0"):
            raise TagError(shown, f"{name} {part!r} has a leading zero (write {int(part)})",
                           where=where, field=field)
        numbers.append(int(part))
    return semver.Version(*numbers)


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:30] + "...")


def normalize_sha(value: str, *, where: str = "sha", field: str | None = None) -> str:
    """A commit id (7 to 40 hex digits, any case) shortened to 7 lower-case hex digits."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text:
        raise TagError(value, "a commit id is empty", where=where, field=field)
    if not _HEX.match(text) or not text.isascii():
        raise TagError(value, "a commit id is hexadecimal (0-9, a-f)", where=where, field=field)
    if len(text) < SHA_LENGTH or len(text) > 64:
        raise TagError(value, f"a commit id has {SHA_LENGTH} to 64 hex digits "
                       f"(this one has {len(text)})", where=where, field=field)
    return text[:SHA_LENGTH].lower()


def _check_tag_sha(tag: str, sha: str, where: str, field: str | None) -> str:
    if len(sha) != SHA_LENGTH:
        raise TagError(tag, f"GIT_SHA {sha!r} must be exactly {SHA_LENGTH} characters "
                       f"(it has {len(sha)})", where=where, field=field)
    if not _HEX.match(sha) or not sha.isascii():
        raise TagError(tag, f"GIT_SHA {sha!r} is not hexadecimal (0-9, a-f)", where=where,
                       field=field)
    if sha != sha.lower():
        raise TagError(tag, f"GIT_SHA {sha!r} must be lower case ({sha.lower()!r})",
                       where=where, field=field)
    return sha


def _check_env(tag: str, env: str, where: str, field: str | None) -> str:
    if env not in ENVIRONMENTS:
        known = " or ".join(ENVIRONMENTS)
        raise TagError(tag, f"unknown environment {env!r} (expected {known})", where=where,
                       field=field)
    return env


def _check_text(tag: object, where: str, field: str | None) -> str:
    if not isinstance(tag, str):
        raise TagError(tag, f"a tag is a string, not {type(tag).__name__}", where=where,
                       field=field)
    if not tag:
        raise TagError(tag, "a tag is empty", where=where, field=field)
    if tag != tag.strip() or any(ch.isspace() for ch in tag):
        raise TagError(tag, "a tag contains no white space", where=where, field=field)
    if not tag.startswith("v"):
        hint = " (write a lower-case v)" if tag.startswith("V") else ""
        raise TagError(tag, f"a tag starts with 'v'{hint}: {FORMAT}", where=where, field=field)
    return tag


@functools.total_ordering
@dataclass(frozen=True, eq=True)
class ReleaseTag:
    """One build of a service for one environment: ``v2.1.0-a3f5c2b-prod``.

    Tags order by version; builds of one version are then ordered by environment and
    commit id only so that sorting is deterministic (a commit id says nothing about age).
    """

    version: semver.Version
    sha: str
    env: str

    def __post_init__(self) -> None:
        text = f"v{self.version}-{self.sha}-{self.env}"
        if not isinstance(self.version, semver.Version):
            raise TagError(self.version, "the version is a semver.Version")
        if self.version.prerelease or self.version.build:
            raise TagError(text, "the version has no pre-release or build part")
        _check_tag_sha(text, self.sha, "tag", None)
        _check_env(text, self.env, "tag", None)

    @classmethod
    def parse(cls, tag: str, *, where: str = "tag", field: str | None = None) -> ReleaseTag:
        return parse_tag(tag, where=where, field=field)

    def __str__(self) -> str:
        return self.format()

    def format(self) -> str:
        return f"v{self.version}-{self.sha}-{self.env}"

    @property
    def alias(self) -> str:
        """The ``vX.Y.Z`` alias this build carries when it is the latest stable one."""
        return format_alias(self.version)

    def git_tag(self, service: str) -> str:
        return format_git_tag(service, self.version)

    def for_env(self, env: str) -> ReleaseTag:
        """The same build tagged for another environment (promotion)."""
        return ReleaseTag(self.version, self.sha, env)

    def _key(self) -> tuple[Any, ...]:
        return (self.version, self.env, self.sha)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ReleaseTag):
            return NotImplemented
        return self._key() < other._key()

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.format(),
            "version": str(self.version),
            "major": self.version.major,
            "minor": self.version.minor,
            "patch": self.version.patch,
            "sha": self.sha,
            "environment": self.env,
            "alias": self.alias,
        }


def parse_tag(tag: str, *, where: str = "tag", field: str | None = None) -> ReleaseTag:
    """Parse a release tag ``v{MAJOR}.{MINOR}.{PATCH}-{GIT_SHA7}-{ENV}``; TagError if not one."""
    text = _check_text(tag, where, field)
    parts = text[1:].split("-")
    if len(parts) == 1:
        raise TagError(tag, f"missing -{{GIT_SHA7}}-{{ENV}}: a release tag is {FORMAT} "
                       "(a bare vX.Y.Z is an alias)", where=where, field=field)
    if len(parts) == 2:
        raise TagError(tag, f"a release tag has three '-'-separated parts: {FORMAT}",
                       where=where, field=field)
    if len(parts) > 3:
        raise TagError(tag, f"too many '-'-separated parts ({len(parts)}): {FORMAT}",
                       where=where, field=field)
    version_text, sha, env = parts
    version = parse_version(version_text, tag=tag, where=where, field=field)
    _check_tag_sha(text, sha, where, field)
    _check_env(text, env, where, field)
    return ReleaseTag(version, sha, env)


def format_tag(version: semver.Version | str, sha: str, env: str) -> str:
    """``v{version}-{sha7}-{env}``; ``sha`` may be a full commit id (it is shortened)."""
    if isinstance(version, str):
        version = parse_version(version.removeprefix("v"))
    return ReleaseTag(version, normalize_sha(sha), env).format()


def parse_alias(tag: str, *, where: str = "tag", field: str | None = None) -> semver.Version:
    """Parse an alias ``vX.Y.Z`` (the latest stable build of that version)."""
    text = _check_text(tag, where, field)
    if "-" in text:
        raise TagError(tag, "an alias is vMAJOR.MINOR.PATCH only (no -SHA-ENV)", where=where,
                       field=field)
    return parse_version(text[1:], tag=tag, where=where, field=field)


def format_alias(version: semver.Version) -> str:
    return f"v{version}"


def is_release_tag(tag: str) -> bool:
    try:
        parse_tag(tag)
    except TagError:
        return False
    return True


def format_git_tag(service: str, version: semver.Version) -> str:
    """``<service>/vX.Y.Z``: the git tag a service's version is cut from."""
    if not _SERVICE.match(service):
        raise TagError(service, "a service name is a DNS-1123 label", where="service")
    return f"{service}/v{version}"


def git_tag_prefix(service: str) -> str:
    return f"{service}/v"


def parse_git_tag(name: str, *, service: str | None = None,
                  where: str = "git tag") -> tuple[str, semver.Version]:
    """``(service, version)`` of a git tag ``<service>/vX.Y.Z``.

    With ``service``, the tag must belong to that service.
    """
    if not isinstance(name, str) or "/" not in name:
        raise TagError(name, "a service version tag is <service>/vMAJOR.MINOR.PATCH",
                       where=where)
    owner, _, rest = name.rpartition("/")
    if not _SERVICE.match(owner):
        raise TagError(name, f"{owner!r} is not a service name (a DNS-1123 label)",
                       where=where)
    if service is not None and owner != service:
        raise TagError(name, f"is a tag of {owner!r}, not of {service!r}", where=where)
    return owner, parse_alias(rest, where=where)


def sort_tags(tags: list[ReleaseTag]) -> list[ReleaseTag]:
    return sorted(tags)
