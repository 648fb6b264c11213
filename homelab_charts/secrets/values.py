"""Secret key names and the plaintext values given to ``homelab-charts seal``.

Errors here name where the bad input is (an argument number, a file and line number)
and never echo a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from homelab_charts.errors import ConfigError

#: What Kubernetes accepts as a key of a Secret's ``data``.
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
SECRET_KEY_MAX = 253
KEY_RULE = "letters, digits, '-', '_' and '.', at most 253 characters, not '.' or '..'"


def is_valid_key(key: object) -> bool:
    """Whether ``key`` may name an entry of a Secret's ``data``."""
    return (isinstance(key, str) and len(key) <= SECRET_KEY_MAX and key not in (".", "..")
            and SECRET_KEY.match(key) is not None)


def check_key(key: object, where: str, field: str | None = None) -> str:
    """``key`` if valid, else a ConfigError (the key name is shown: names are not values)."""
    if not is_valid_key(key):
        shown = repr(key) if isinstance(key, str) and len(key) <= 80 else "the key"
        raise ConfigError(where, field, f"{shown} is not a valid Secret key ({KEY_RULE})")
    assert isinstance(key, str)
    return key


def parse_assignments(arguments: Iterable[str], where: str = "command line") -> dict[str, bytes]:
    """``KEY=VALUE`` arguments as ``{key: value}``; errors name the argument's position only."""
    values: dict[str, bytes] = {}
    for index, argument in enumerate(arguments, 1):
        key, sep, value = argument.partition("=")
        if not sep:
            raise ConfigError(where, f"argument {index}",
                              "expected KEY=VALUE (the argument has no '=')")
        if not is_valid_key(key):
            raise ConfigError(where, f"argument {index}",
                              f"the part before '=' is not a valid Secret key ({KEY_RULE})")
        if key in values:
            raise ConfigError(where, f"argument {index}", f"key {key!r} is given twice")
        values[key] = value.encode("utf-8")
    return values


def parse_env_text(text: str, source: str) -> dict[str, bytes]:
    """``KEY=VALUE`` lines: ``#`` comments, blank lines, ``export`` prefixes, quoted values.

    A value in matching single or double quotes is taken verbatim between them (no escape
    sequences); an unquoted value loses its surrounding white space. A malformed line is
    reported by its number, never its content.
    """
    values: dict[str, bytes] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export"):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        where = f"line {number}"
        if not sep:
            raise ConfigError(source, where, "expected KEY=VALUE (the line has no '=')")
        if not is_valid_key(key):
            raise ConfigError(source, where,
                              f"the part before '=' is not a valid Secret key ({KEY_RULE})")
        value = value.strip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            if len(value) < 2 or value[-1] != quote:
                raise ConfigError(source, where, f"unterminated {quote} quote")
            value = value[1:-1]
        if key in values:
            raise ConfigError(source, where, f"key {key!r} is given twice")
        values[key] = value.encode("utf-8")
    return values


def read_env_file(path: Path, source: str | None = None) -> dict[str, bytes]:
    """:func:`parse_env_text` of a UTF-8 file."""
    source = source or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, None, f"cannot read the env file: {exc.strerror}") from None
    return parse_env_bytes(data, source)


def parse_env_bytes(data: bytes, source: str) -> dict[str, bytes]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(source, f"line {line}", "not valid UTF-8") from None
    return parse_env_text(text, source)
