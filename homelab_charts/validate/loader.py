"""YAML loading of Kubernetes manifests with kubeconform's semantics, fast.

kubeconform reads each document through ``sigs.k8s.io/yaml`` (go-yaml v2, then JSON);
:mod:`.goyaml` holds those resolution rules. Two paths produce the same values:

* **The fast path** (almost every document): rapidyaml (the C++ ``ryml``) parses the
  file and emits it as JSON, which orjson loads (the standard library's decoder, with
  go-yaml's number rules as hooks, takes what orjson does not: numbers out of range,
  duplicate or empty keys, each then checked as below). The JSON keeps
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

import bisect
import contextlib
import json
import math
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
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


def _line_starts(text: str, marker: str) -> Iterator[int]:
    """Offsets where ``marker`` starts a line (found by the marker itself: newlines are
    too common to search for)."""
    i = text.find(marker)
    while i >= 0:
        if i == 0 or text[i - 1] == "\n":
            yield i
        i = text.find(marker, i + 1)


def stream_chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the ``---`` chunks of a stream, the first one included."""
    match = _SEPARATOR.match
    starts = [0, *(i for i in _line_starts(text, "---") if i and match(text, i))]
    return [(start, starts[n + 1] if n + 1 < len(starts) else len(text))
            for n, start in enumerate(starts)]


# ---------------------------------------------------------------------------- fast path

#: JSON strings made only of characters a suspect scalar can hold, starting with one a
#: suspect scalar can start with (a cheap first pass: most words of a manifest, such as
#: ``labels`` or ``true``, fail on their first character).
_MAYBE = re.compile(rb'"([-+_0-9.yYnNTFoO~<][-+_0-9.a-fA-FxXoOiInNyYsStTrRuUeElLF~<]*)"')
#: Strings that may be a plain scalar go-yaml resolves to something else than the
#: string ryml writes: numbers in any form but canonical JSON, YAML 1.1 booleans,
#: nulls, .inf/.nan and the merge key.
_SUSPECT = re.compile(
    rb"[-+]?_*(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?"
    rb"|\.[0-9_]+(?:[eE][-+]?[0-9_]*)?|0_*[xX][0-9a-fA-F_]*|0_*[oObB][0-9_]*"
    rb"|\.(?:inf|Inf|INF|nan|NaN|NAN))"
    rb"|y|Y|yes|Yes|YES|n|N|no|No|NO|True|TRUE|False|FALSE|on|On|ON|off|Off|OFF"
    rb"|null|Null|NULL|~|<<")
#: What ryml writes for the NaN and infinity forms, ``nan``/``inf`` included (not the
#: source's text): never vouched for, whatever the source's quotes.
_RESPELLED = frozenset((b".nan", b".inf", b"-.inf"))
#: Canonical decimal integers: ryml writes them bare when plain, and as keys go-yaml
#: turns them into the same text, so a quoted one is what it says.
_EXEMPT = re.compile(rb"0|-?[1-9][0-9]{0,17}")
_suspect: dict[bytes, bool] = {}  # memo of the two patterns above
#: Characters after which a node — a plain scalar, a tag, an alias — may start in the
#: source (a line's start, a space, flow indicators, a JSON-like key's ``:``), and after
#: which a plain scalar ends.
_BEFORE = frozenset(" \n[{,:")
_AFTER = frozenset(" \n,]}:")
#: Characters that cannot follow the ``*`` of an alias (its name is at least one other).
_NOT_ALIAS = frozenset(" \n,[]{}")


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


def _decode(js: bytes) -> Any:
    """The value of ryml's JSON ``js``; raises _Unsafe or ValueError when the fast path
    cannot vouch for it.

    orjson loads it unless a number is out of range (it raises for an infinite float and
    reads an integer beyond 64 bits as a float, as go-yaml does); a duplicate key, which
    orjson would quietly overwrite, shows as a lost ``:`` — the same value written back
    has fewer (strings are written alike, and a dropped entry takes its key's colon with
    it) — and an empty key as ``"":``. Those go to the standard library's decoder, whose
    hooks apply go-yaml's rules and refuse such keys.
    """
    try:
        obj = orjson.loads(js)
        kept = orjson.dumps(obj).count(b":")
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        pass
    else:
        if kept == js.count(b":") and b'"":' not in js:
            return obj
    return _DECODER.decode(js.decode("utf-8"))


class _Scratch(threading.local):
    """One ryml tree and one JSON buffer per thread, reused from file to file (a fresh
    tree per file costs more than its parse)."""

    def __init__(self) -> None:
        self.tree = ryml.Tree()
        self.buffer = bytearray(1 << 16)


_scratch = _Scratch()
_devnull: int | None = None


def _parse_quietly(data: bytes) -> Any:
    """ryml's tree of ``data`` (the thread's tree, cleared); ryml prints parse errors on
    stderr itself: muted."""
    global _devnull
    if _devnull is None:
        _devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stderr.flush()
    tree = _scratch.tree
    tree.clear()
    tree.clear_arena()
    saved = os.dup(2)
    try:
        os.dup2(_devnull, 2)
        return ryml.parse_in_arena(data, tree)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _emit_json(tree: Any, node: int) -> bytes:
    """ryml's JSON of ``node`` (into the thread's buffer, grown when too small)."""
    failed, size = ryml.emit_json_to_substr(tree, node, _scratch.buffer)
    if failed:
        _scratch.buffer = bytearray(size + size // 4)
        failed, size = ryml.emit_json_to_substr(tree, node, _scratch.buffer)
    return bytes(memoryview(_scratch.buffer)[:size])


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


#: Blank and comment-only lines (each ended by its newline).
_BLANK_LINES = re.compile(r"(?:[^\S\n]*(?:#[^\n]*)?\n)*")


def _first_content_line(text: str, start: int, end: int, explicit: bool) -> int | None:
    """0-based line offset (within the chunk) of its first content line, if any (after
    the ``---`` of an explicit chunk; blank and comment lines are not content)."""
    stop = _BLANK_LINES.match(text, start + 3 if explicit else start, end).end()
    if stop == end:
        return None
    nl = text.find("\n", stop, end)
    if nl < 0:  # the chunk's last line, without its newline
        rest = text[stop:end].strip()
        if not rest or rest.startswith("#"):
            return None
    return text.count("\n", start, stop)


def _load_fast(text: str, data: bytes, *, strict: bool) -> list[Document] | None:
    """The documents of a stream through ryml, or None for the exact path."""
    if ("\t" in text or "\r" in text or text.startswith("\ufeff")
            or next(_line_starts(text, "%"), None) is not None
            or next(_line_starts(text, "..."), None) is not None):
        return None  # tabs, CRs, a BOM, directives, document end markers: not modelled
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
    tagged = _tagged(text, [start for start, _, _, _ in chunks])
    aliases = _alias_possible(text)
    try:
        tree = _parse_quietly(data)
    except Exception:  # ryml raises its own exception types
        return None
    root = tree.root_id()
    stream = tree.is_stream(root)
    nodes = list(ryml.children(tree, root)) if stream else [root]
    if len(nodes) != len(chunks):
        return None
    suspects: dict[bytes, bool] = {}
    # The whole stream at once first: ryml writes a stream as a JSON array of its
    # documents, so a file with nothing to doubt costs one emit, one scan and one
    # decode. Any doubt sends every document through the per-document checks below,
    # which are the same checks, document by document; a document that may hold a tag
    # (which ryml's JSON drops) takes the exact path.
    js = b"" if tagged else _emit_json(tree, root)
    if js and _vouch(js, text, suspects, aliases=aliases):
        try:
            loaded = _decode(js)
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
        try:
            if index - 1 in tagged:
                raise _Unsafe
            js = _emit_json(tree, node)
            if not _vouch(js, text, suspects, aliases=aliases):
                raise _Unsafe
            obj = _decode(js)
        except (_Unsafe, ValueError):
            docs.extend(_load_chunk(text[start:end], strict=strict, offset=first,
                                    index=index))
            continue
        line = first + content + 1 if content is not None else 1
        docs.append(Document(index=index, line=line, obj=obj))
    return docs


def _tagged(text: str, starts: list[int]) -> set[int]:
    """Indexes (into ``starts``, the chunks' offsets) of the chunks where a ``!`` may
    start a tag: after a line's start, a space, a flow indicator or a ``:``."""
    found: set[int] = set()
    i = text.find("!")
    while i >= 0:
        if i == 0 or text[i - 1] in _BEFORE:
            found.add(bisect.bisect_right(starts, i) - 1)
        i = text.find("!", i + 1)
    return found


def _alias_possible(text: str) -> bool:
    """False when no ``*`` of the source can start an alias (most files: a ``*`` in a
    cron schedule or an expression stands after a quote or before a space)."""
    i = text.find("*")
    while i >= 0:
        if ((i == 0 or text[i - 1] in _BEFORE)
                and i + 1 < len(text) and text[i + 1] not in _NOT_ALIAS):
            return True
        i = text.find("*", i + 1)
    return False


def _vouch(js: bytes, text: str, suspects: dict[bytes, bool], *, aliases: bool = True
           ) -> bool:
    """True when ryml's JSON ``js`` (of ``text``) has no alias and no string that go-yaml
    may read otherwise (duplicate and empty keys are caught by :func:`_decode`).
    ``aliases=False`` says the source has no ``*`` where an alias could start."""
    if aliases and b'"*' in js:
        return False  # an alias: ryml writes "*name"
    for value in _MAYBE.findall(js):
        suspect = _suspect.get(value)
        if suspect is None:
            suspect = bool(_SUSPECT.fullmatch(value)) and not _EXEMPT.fullmatch(value)
            if len(_suspect) < 100_000:
                _suspect[value] = suspect
        if suspect:
            if value in _RESPELLED:
                return False
            ok = suspects.get(value)
            if ok is None:
                ok = suspects[value] = _quoted_only(text, value.decode("ascii"))
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
