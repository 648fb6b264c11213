"""Which part of the version a change bumps, from Conventional Commit messages.

* ``feat!: ...``, ``fix(api)!: ...`` or a ``BREAKING CHANGE:`` / ``BREAKING-CHANGE:``
  footer: **major** (breaking API change or schema migration);
* ``feat: ...``: **minor** (backward-compatible feature);
* ``fix: ...``: **patch**, and so is every other change to a service's files (``perf:``,
  ``refactor:``, ``chore:``, a message that is not a Conventional Commit...): the image
  changed, so its version must too.

A range of commits bumps by the largest bump of its commits.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import semver

from homelab_charts.errors import ConfigError

_HEADER = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?:[ \t]+"
    r"(?P<subject>\S.*)$"
)
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:[ \t]*\S", re.MULTILINE)


class Bump(enum.IntEnum):
    """A version bump; larger values win when commits are combined."""

    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @classmethod
    def parse(cls, text: str, *, where: str = "--bump") -> Bump:
        try:
            return cls[text.strip().upper()]
        except (KeyError, AttributeError):
            raise ConfigError(where, None,
                              f"{text!r} is not a bump (major, minor or patch)") from None

    def apply(self, version: semver.Version) -> semver.Version:
        if self is Bump.MAJOR:
            return version.bump_major()
        if self is Bump.MINOR:
            return version.bump_minor()
        return version.bump_patch()

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ConventionalCommit:
    """The parts of a commit message that decide its bump."""

    type: str | None
    scope: str | None
    subject: str
    breaking: bool

    @property
    def conventional(self) -> bool:
        return self.type is not None

    @property
    def bump(self) -> Bump:
        if self.breaking:
            return Bump.MAJOR
        if self.type == "feat":
            return Bump.MINOR
        return Bump.PATCH


def parse_message(message: str) -> ConventionalCommit:
    """Parse a commit message (header line, optional body and footers)."""
    text = message.replace("\r\n", "\n").strip("\n")
    header, _, body = text.partition("\n")
    match = _HEADER.match(header.strip())
    if match is None:
        return ConventionalCommit(None, None, header.strip(),
                                  bool(_BREAKING_FOOTER.search(body)))
    return ConventionalCommit(
        type=match["type"].lower(),
        scope=match["scope"] or None,
        subject=match["subject"].strip(),
        breaking=bool(match["bang"]) or bool(_BREAKING_FOOTER.search(body)),
    )


def bump_for(messages: list[str]) -> Bump | None:
    """The largest bump of ``messages``; None when there are none."""
    bumps = [parse_message(m).bump for m in messages]
    return max(bumps) if bumps else None
