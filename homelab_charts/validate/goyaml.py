"""Scalar resolution of go-yaml v2, as kubeconform reads manifests through sigs.k8s.io/yaml.

kubeconform unmarshals each document with ``sigs.k8s.io/yaml``: go-yaml v2 decodes the
YAML into Go values, the values are converted to JSON (map keys become strings) and
the JSON is decoded again. The rules below are go-yaml v2's ``resolve`` (resolve.go)
and sigs.k8s.io/yaml's key conversion, written from their documented behaviour:

* a plain scalar is looked up by its first character: ``+``/``-``/digits may be a
  number (or a timestamp), ``yYnNtTfFoO~`` may be a boolean or null, ``.`` may be a
  float; anything else is a string;
* booleans are the YAML 1.1 words ``y Y yes Yes YES true True TRUE on On ON`` and
  ``n N no No NO false False FALSE off Off OFF``; nulls are the empty scalar, ``~``,
  ``null``, ``Null`` and ``NULL``; ``.inf``/``.nan`` in three spellings each, signed;
* a number has its underscores removed and is parsed as Go's ``strconv.ParseInt`` with
  base 0 (``0x``, ``0o``, ``0b`` prefixes, a leading ``0`` for octal, an optional
  sign), then ``ParseUint`` (above the int64 range), then as a float when it matches
  ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`` and does not overflow;
  so ``010`` is 8, ``09`` is the float 9.0, ``1e3`` the float 1000.0, ``1_000`` is
  1000 and ``1e400`` stays a string;
* a timestamp stays the string it was written as (go-yaml keeps timestamps decoded
  into ``interface{}`` as strings);
* JSON cannot hold ``.inf``/``.nan``: as a value they make the document an error,
  as a key they become ``.inf``/``-.inf``/``.nan``;
* map keys become strings: integers in decimal, booleans ``true``/``false``, floats
  formatted like Go's ``FormatFloat(f, 'g', -1, 32)``; a null key (or an integer
  above the int64 range) is an error.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from typing import Any

STR = "tag:yaml.org,2002:str"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
NULL = "tag:yaml.org,2002:null"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
BINARY = "tag:yaml.org,2002:binary"
MERGE = "tag:yaml.org,2002:merge"
_RESOLVABLE = frozenset({STR, BOOL, INT, FLOAT, NULL, TIMESTAMP})

INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1


class ResolveError(ValueError):
    """A scalar whose explicit tag does not fit its value (``!!int abc``)."""


_WORDS: dict[str, Any] = {}
for _value, _spellings in (
        (True, "y Y yes Yes YES true True TRUE on On ON"),
        (False, "n N no No NO false False FALSE off Off OFF"),
        (None, "~ null Null NULL"),
        (math.nan, ".nan .NaN .NAN"),
        (math.inf, ".inf .Inf .INF +.inf +.Inf +.INF"),
        (-math.inf, "-.inf -.Inf -.INF")):
    for _word in _spellings.split():
        _WORDS[_word] = _value
_WORDS[""] = None

#: First characters of a plain scalar that may resolve to something else than a string.
HINTS = frozenset("+-0123456789yYnNtTfFoO~.")
_WORD_HINTS = frozenset("yYnNtTfFoO~")

_GO_INT = re.compile(r"0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
#: go-yaml's timestamp layouts: date, date-time with T/t and a zone, date-time with a space.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[-+]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?")


def _parse_uint(text: str) -> int | None:
    """Go's ``strconv.ParseUint(text, 0, 64)`` (no sign), or None when it fails."""
    m = _GO_INT.fullmatch(text)
    if m is None:
        return None
    hexa, octo, bina, octal, dec = m.groups()
    if hexa is not None:
        value = int(hexa, 16)
    elif octo is not None:
        value = int(octo, 8)
    elif bina is not None:
        value = int(bina, 2)
    elif octal is not None:
        value = int(octal, 8) if octal else 0
    else:
        value = int(dec)
    return value if value <= _UINT64_MAX else None


def _parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)``, or None when it fails (syntax or range)."""
    negative = text[:1] == "-"
    body = text[1:] if text[:1] in "+-" else text
    if not body or body[0] in "+-":
        return None
    value = _parse_uint(body)
    if value is None:
        return None
    if negative:
        value = -value
    return value if _INT64_MIN <= value <= INT64_MAX else None


def _parse_float(text: str) -> float | None:
    """A decimal float as Go parses it; None when it overflows (Go's ErrRange)."""
    value = float(text)
    return None if math.isinf(value) else value


def _is_timestamp(text: str) -> bool:
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return False
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= days:
        return False
    hms = [g for g in m.groups()[3:] if g is not None]
    if hms:
        hour, minute, second = (int(g) for g in hms)
        return hour < 24 and minute < 60 and second < 60
    return True


def resolve_number(text: str) -> Any:
    """The value of a plain scalar starting with a sign or a digit."""
    if _is_timestamp(text):
        return text
    plain = text.replace("_", "")
    value: Any = _parse_int(plain)
    if value is not None:
        return value
    value = _parse_uint(plain)
    if value is not None:
        return value
    if _YAML_FLOAT.fullmatch(plain):
        value = _parse_float(plain)
        if value is not None:
            return value
    return text


def resolve_plain(text: str) -> Any:
    """The value go-yaml v2 gives an untagged plain scalar (timestamps stay strings)."""
    if not text:
        return None
    first = text[0]
    if first not in HINTS:
        return text
    if text in _WORDS:
        return _WORDS[text]
    if first in _WORD_HINTS:
        return text
    if first == ".":
        if _DOT_FLOAT.fullmatch(text):
            value = _parse_float(text)
            if value is not None:
                return value
        return text
    return resolve_number(text)


def _kind(value: Any) -> str:
    if value is None:
        return "!!null"
    if isinstance(value, bool):
        return "!!bool"
    if isinstance(value, int):
        return "!!int"
    if isinstance(value, float):
        return "!!float"
    return "!!str"


def _short(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def resolve_tagged(tag: str, text: str) -> Any:
    """The value of a scalar with an explicit tag (``!!int "12"``, ``!!str 12``, ``!foo x``).

    Unknown tags leave the text as a string, as go-yaml does when decoding into
    ``interface{}``; a value that does not fit its standard tag raises ResolveError.
    """
    if tag == BINARY:
        try:
            data = base64.b64decode(text.replace("\n", "").replace(" ", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ResolveError("!!binary value contains invalid base64 data") from exc
        # The bytes are a Go string; JSON marshals it back as text.
        return data.decode("utf-8", errors="replace")
    if tag not in _RESOLVABLE or tag == STR:
        return text
    if tag == TIMESTAMP and _is_timestamp(text):
        return text
    value = resolve_plain(text)
    got = _kind(value)
    want = _short(tag)
    if tag == TIMESTAMP or got != want:
        if want == "!!float" and got == "!!int":
            return float(value)
        raise ResolveError(f"cannot decode {got} `{text}` as a {want}")
    return value


def go_float_text(value: float) -> str:
    """How Go's encoding/json names a float it cannot marshal (``+Inf``, ``NaN``)."""
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def _shortest_float32(value: float) -> tuple[str, int]:
    """Shortest decimal digits and exponent that round-trip ``value`` as a float32."""
    f32 = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(17):
        text = f"{f32:.{precision}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    mantissa, exp = text.split("e")
    digits = mantissa.replace(".", "").replace("-", "").rstrip("0") or "0"
    return digits, int(exp)


def format_float32(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'g', -1, 32)`` for a map key."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, exp = _shortest_float32(abs(value))
    if exp < -4 or exp >= 6:  # shortest 'g': exponent form outside 1e-4 <= |v| < 1e6
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return f"{sign}{digits[:exp + 1]}.{digits[exp + 1:]}"


class MapKeyError(ValueError):
    """A map key JSON cannot hold (null, or an integer above the int64 range)."""


def json_key(value: Any) -> str:
    """A resolved map key as sigs.k8s.io/yaml writes it into JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value > INT64_MAX:
            raise MapKeyError(f"unsupported map key of type uint64: {value}")
        return str(value)
    if isinstance(value, float):
        return format_float32(value)
    if value is None:
        raise MapKeyError("unsupported map key: null")
    raise MapKeyError(f"unsupported map key of type {type(value).__name__}")
