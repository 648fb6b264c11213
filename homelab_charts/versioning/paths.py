"""Path globs of the data file (``services.<name>.paths``, ``sharedPaths``).

Globs are relative to the repository root and use git's ``:(glob)`` rules:

* ``*`` matches within one path segment, ``?`` one character, ``[abc]`` a character class;
* ``**/`` matches any number of leading folders, ``/**`` everything inside a folder;
* a glob that names a folder (``services/dashboard``) also matches everything inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from homelab_charts.errors import ConfigError


def glob_to_regex(pattern: str, *, where: str = "paths", field: str | None = None) -> str:
    """The regular expression (anchored) that ``pattern`` stands for."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError(where, field, f"{pattern!r} is not a path glob")
    if pattern.startswith("../") or "/../" in pattern or pattern == "..":
        raise ConfigError(where, field, f"{pattern!r} leaves the repository")
    text = pattern.strip().lstrip("/")
    if text.startswith("./"):
        text = text[2:]
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if text.startswith("**/", i) and (i == 0 or text[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i) and (i == 0 or text[i - 1] == "/") and i + 2 == n:
            out.append(".*")
            i += 2
        elif text.startswith("**", i):
            out.append("[^/]*")  # "a**b": git treats ** not between slashes as *
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = text.find("]", i + 2 if text[i + 1:i + 2] in ("!", "^", "]") else i + 1)
            if end == -1:
                out.append(re.escape(ch))
                i += 1
                continue
            inner = text[i + 1:end]
            if inner[:1] in ("!", "^"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    body = "".join(out).rstrip("/") if not text.endswith("**") else "".join(out)
    return f"^{body}(?:/.*)?$"


@dataclass(frozen=True)
class PathSet:
    """A set of globs; ``matches(path)`` tells whether a repository path is in it."""

    patterns: tuple[str, ...]
    where: str = "paths"
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(
            re.compile(glob_to_regex(p, where=self.where, field=f"[{i}]"))
            for i, p in enumerate(self.patterns)
        )
        object.__setattr__(self, "_compiled", compiled)

    def matches(self, path: str) -> bool:
        clean = path.lstrip("/")
        return any(rx.match(clean) for rx in self._compiled)

    def any_match(self, paths: Iterable[str]) -> bool:
        return any(self.matches(p) for p in paths)

    def __bool__(self) -> bool:
        return bool(self.patterns)
