"""YAML loading of Kubernetes manifests with kubeconform's semantics, fast.

kubeconform reads each document through ``sigs.k8s.io/yaml`` (go-yaml v2, then JSON);
:mod:`.goyaml` holds those resolution rules. Two paths produce the same values:

* **The fast path** (almost every document): rapidyaml (the C++ ``ryml``) parses the
  file and emits each document as JSON, which the C JSON decoder loads. The JSON keeps
  what a plain scalar looked like only where it matters: ryml writes a plain number
  or ``true``/``false``/``null`` bare, everything else quoted. So every bare number is
  handed (as its text) to go-yaml's number rules, and a document is taken from this
  path only when nothing in it could be misread: no string that go-yaml would resolve
  to something else when written plain (``yes``, ``On``, ``~``, ``010``, ``0x1F``,
  ``.inf``...) unless the source writes it only in quotes, no alias, merge key or tag,
  no duplicate key, no tab, CR, BOM, directive or ``...`` marker in the file.
* **The exact path** (the rest, and every document that fails; :mod:`.exact`, which
  loads PyYAML only when a stream needs it): libyaml's C parser (the parser go-yaml
  is a port of) composes nodes, resolved by :mod:`.goyaml`; it
  applies merge keys and anchors, reports duplicate keys and positions. A document
  that fails is re-parsed alone so that the others still load, as kubeconform splits
  a stream on its ``---`` lines first.

Positions are thus computed only for documents that fail; a loaded document carries
the line of its first content line.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

import ryml


class YamlError(Exception):
    """A document that cannot be read: ``line`` is 1-based (None when unknown)."""

    def __init__(self, message: str, line: int | None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(slots=True)
class Document:
    """One YAML document of a file: ``index`` and ``line`` are 1-based.

    ``obj`` is the loaded value (None for an empty document); ``error`` is set instead
    when the document could not be read.
    """

    index: int
    line: int
    obj: Any = None
    error: YamlError | None = None


# --------------------------------------------------------------------------- exact path


def _load_chunk(chunk: str, *, strict: bool, offset: int, index: int) -> list[Document]:
    """The exact path on one ``---`` chunk; a failure becomes one error document."""
    from homelab_charts.validate import exact

    return exact.load_chunk(chunk, strict=strict, offset=offset, index=index)


def _load_exact(text: str, *, strict: bool) -> list[Document]:
    """The exact path on a whole stream (each ``---`` chunk alone when one fails)."""
    from homelab_charts.validate import exact

    return exact.load_exact(text, strict=strict)


_SEPARATOR = re.compile(r"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)


def stream_chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the ``---`` chunks of a stream, the first one included."""
    starts = [0]
    find = text.find
    match = _SEPARATOR.match
    i = find("\n---")
    while i >= 0:
        if match(text, i + 1):
            starts.append(i + 1)
        i = find("\n---", i + 4)
    return [(start, starts[n + 1] if n + 1 < len(starts) else len(text))
            for n, start in enumerate(starts)]


# ---------------------------------------------------------------------------- fast path

#: Characters before a ``!`` that could start a tag (ryml drops tags when it writes JSON).
_BEFORE_TAG = frozenset(" \n[{,")
#: JSON strings made only of characters a suspect scalar can hold, starting with one a
#: suspect scalar can start with (a cheap first pass: most words of a manifest, such as
#: ``labels`` or ``true``, fail on their first character).
_MAYBE = re.compile(r'"([-+_0-9.yYnNTFoO~<][-+_0-9.a-fA-FxXoOiInNyYsStTrRuUeElLF~<]*)"')
#: Strings that may be a plain scalar go-yaml resolves to something else than the
#: string ryml writes: numbers in any form but canonical JSON, YAML 1.1 booleans,
#: nulls, .inf/.nan and the merge key.
_SUSPECT = re.compile(
    r"[-+]?_*(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?"
    r"|\.[0-9_]+(?:[eE][-+]?[0-9_]*)?|0_*[xX][0-9a-fA-F_]*|0_*[oObB][0-9_]*"
    r"|\.(?:inf|Inf|INF|nan|NaN|NAN))"
    r"|y|Y|yes|Yes|YES|n|N|no|No|NO|True|TRUE|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~|<<")
#: Canonical decimal integers: ryml writes them bare when plain, and as keys go-yaml
#: turns them into the same text, so a quoted one is what it says.
_EXEMPT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_suspect: dict[str, bool] = {}  # memo of the two patterns above
#: Characters around a plain scalar in the source (start/end of line, spaces, flow).
_BEFORE = frozenset(" \n[{,")
_AFTER = frozenset(" \n,]}:")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object without a duplicate or empty key (ryml writes a null key as ``""``,
    which go-yaml rejects): the exact path takes the others."""
    out = dict(pairs)
    if len(out) != len(pairs) or "" in out:
        raise _Unsafe
    return out


class _Unsafe(Exception):
    """The fast path cannot vouch for a document: the exact path loads it."""


def _json_int(text: str) -> Any:
    """go-yaml's value of a plain decimal integer (JSON syntax): an int in the int64 or
    uint64 range, else (``ParseInt``/``ParseUint`` fail) a float, else the text."""
    value = int(text)
    if _INT_MIN <= value <= _UINT_MAX:
        return value
    from homelab_charts.validate import goyaml  # (rare: the exact path's rules)

    return goyaml.resolve_number(text)


def _json_float(text: str) -> Any:
    """go-yaml's value of a plain decimal float (JSON syntax matches yamlStyleFloat):
    the float, or the text when it overflows (Go's ParseFloat range error)."""
    value = float(text)
    return text if math.isinf(value) else value


_INT_MIN = -(1 << 63)
_UINT_MAX = (1 << 64) - 1
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_int=_json_int,
                            parse_float=_json_float)

_devnull: int | None = None


def _parse_quietly(data: bytes) -> Any:
    """ryml's tree of ``data``; ryml prints parse errors on stderr itself: muted."""
    global _devnull
    if _devnull is None:
        _devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(_devnull, 2)
        return ryml.parse_in_arena(data)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quoted_only(text: str, value: str) -> bool:
    """True when every occurrence of ``value`` in the source is inside quotes."""
    if not value:
        return False
    start = 0
    size = len(value)
    while True:
        i = text.find(value, start)
        if i < 0:
            return True
        j = i + size
        before = text[i - 1] if i else "\n"
        after = text[j] if j < len(text) else "\n"
        if before in _BEFORE and after in _AFTER:
            return False  # could be a plain scalar
        start = i + 1


def _first_content_line(text: str, start: int, end: int, explicit: bool) -> int | None:
    """0-based line offset (within the chunk) of its first content line, if any."""
    n = 0
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        line = text[pos:stop]
        if n == 0 and explicit:
            line = line[3:]
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return n
        if nl < 0:
            return None
        pos = nl + 1
        n += 1
    return None


def _load_fast(text: str, data: bytes, *, strict: bool) -> list[Document] | None:
    """The documents of a stream through ryml, or None for the exact path."""
    if ("\t" in text or "\r" in text or ("%" in text and "\n%" in text) or "\n..." in text
            or text.startswith(("%", "...", "\ufeff"))):
        return None  # tabs, CRs, a BOM, directives, document end markers: not modelled
    i = text.find("!")
    while i >= 0:
        if i == 0 or text[i - 1] in _BEFORE_TAG:
            return None  # a tag may start here
        i = text.find("!", i + 1)
    chunks: list[tuple[int, int, int, int | None]] = []  # start, end, first line, content
    line = 0
    previous = 0
    for n, (start, end) in enumerate(stream_chunks(text)):
        line += text.count("\n", previous, start)
        previous = start
        explicit = n > 0 or _SEPARATOR.match(text, 0) is not None
        content = _first_content_line(text, start, end, explicit)
        if content is None and not explicit:
            continue  # comments only, before the first ---: no document
        chunks.append((start, end, line, content))
    if not chunks:
        return []
    try:
        tree = _parse_quietly(data)
    except Exception:  # ryml raises its own exception types
        return None
    root = tree.root_id()
    stream = tree.is_stream(root)
    nodes = list(ryml.children(tree, root)) if stream else [root]
    if len(nodes) != len(chunks):
        return None
    suspects: dict[str, bool] = {}
    # The whole stream at once first: ryml writes a stream as a JSON array of its
    # documents, so a file with nothing to doubt costs one emit, one scan and one
    # decode. Any doubt sends every document through the per-document checks below,
    # which are the same checks, document by document.
    js = ryml.emit_json(tree, root)
    if _vouch(js, text, suspects):
        try:
            loaded = _DECODER.decode(js)
        except (_Unsafe, ValueError):
            pass
        else:
            objs = loaded if stream else [loaded]
            if len(objs) == len(chunks):
                return [Document(index=index, line=first + content + 1 if content is not None
                                 else 1, obj=obj)
                        for index, ((_, _, first, content), obj) in enumerate(
                            zip(chunks, objs, strict=True), 1)]
    docs: list[Document] = []
    for index, ((start, end, first, content), node) in enumerate(
            zip(chunks, nodes, strict=True), 1):
        js = ryml.emit_json(tree, node)
        try:
            if not _vouch(js, text, suspects):
                raise _Unsafe
            obj = _DECODER.decode(js)
        except (_Unsafe, ValueError):
            docs.extend(_load_chunk(text[start:end], strict=strict, offset=first,
                                    index=index))
            continue
        line = first + content + 1 if content is not None else 1
        docs.append(Document(index=index, line=line, obj=obj))
    return docs


def _vouch(js: str, text: str, suspects: dict[str, bool]) -> bool:
    """True when ryml's JSON ``js`` (of ``text``) has no alias and no string that go-yaml
    may read otherwise (duplicate and empty keys are caught by the decoder)."""
    if "*" in js and '"*' in js:  # (one memchr, then the exact test)
        return False  # an alias: ryml writes "*name"
    for value in _MAYBE.findall(js):
        suspect = _suspect.get(value)
        if suspect is None:
            suspect = bool(_SUSPECT.fullmatch(value)) and not _EXEMPT.fullmatch(value)
            if len(_suspect) < 100_000:
                _suspect[value] = suspect
        if suspect:
            ok = suspects.get(value)
            if ok is None:
                ok = suspects[value] = _quoted_only(text, value)
            if not ok:
                return False
    return True


def load_documents(text: str | bytes, *, strict: bool = True, fast: bool = True
                   ) -> list[Document]:
    """Every document of a YAML stream, in order, with kubeconform's values.

    A document that fails to parse is returned with ``error`` set (file line in it);
    the documents around it are still loaded, as kubeconform splits a stream on its
    ``---`` lines before parsing. ``fast=False`` forces the exact path (tests compare
    the two).
    """
    if isinstance(text, bytes):
        data = text
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [Document(index=1, line=1,
                             error=YamlError(f"file is not valid UTF-8: {exc.reason}", None))]
    else:
        decoded = text
        data = b""
    if fast:
        docs = _load_fast(decoded, data or decoded.encode("utf-8"), strict=strict)
        if docs is not None:
            return docs
    return _load_exact(decoded, strict=strict)
