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
* **The exact path** (the rest, and every document that fails): libyaml's C parser
  (the parser go-yaml is a port of) composes nodes, resolved by :mod:`.goyaml`; it
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
import operator
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

import ryml
import yaml
from yaml._yaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from homelab_charts.validate import goyaml

_STR = goyaml.STR
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
#: The tag given to plain (unquoted, untagged) scalars; no YAML tag contains a space.
_PLAIN = " plain"


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


class _Parser(CParser, Resolver):  # type: ignore[misc]
    """libyaml's parser/composer; scalars are tagged plain, quoted or explicit only."""

    def __init__(self, stream: str | bytes) -> None:
        CParser.__init__(self, stream)
        Resolver.__init__(self)
        # The composer calls these two hooks for every node; they only serve path
        # resolvers, which are never registered. Cheap C callables of the same arity.
        self.descend_resolver = operator.is_
        self.ascend_resolver = tuple

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _MAP if kind is MappingNode else _SEQ


_IN_PROGRESS = object()
#: Values an alias-heavy document may expand to (a "billion laughs" guard).
MAX_ALIAS_EXPANSION = 1_000_000


def _size(value: Any, sizes: dict[int, int]) -> int:
    """Number of values in ``value`` once expanded (memoised per shared object)."""
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return 1
    key = id(value)
    done = sizes.get(key)
    if done is None:
        done = 1 + sum(_size(v, sizes) for v in items)
        sizes[key] = done
    return done


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turns a composed node graph into the values kubeconform validates."""

    __slots__ = ("expanded", "memo", "sizes", "source", "strict")

    def __init__(self, strict: bool, source: str) -> None:
        self.strict = strict
        self.source = source
        self.memo: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}
        self.expanded = 0

    def build(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            value = self.scalar(node)
            if value.__class__ is float and not math.isfinite(value):
                # sigs.k8s.io/yaml marshals the document to JSON, which has no such value.
                raise YamlError(f"json: unsupported value: {goyaml.go_float_text(value)}",
                                _line(node))
            return value
        memo = self.memo
        key = id(node)
        done = memo.get(key)
        if done is not None:
            if done is _IN_PROGRESS:
                raise YamlError("recursive alias: a node contains itself", _line(node))
            # An alias shares the value; validators walk it once per use. Bound the
            # expanded size so that an alias bomb is an error, not a hang.
            self.expanded += _size(done, self.sizes)
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise YamlError(f"aliases expand the document beyond {MAX_ALIAS_EXPANSION:,} "
                                "values", _line(node))
            return done
        memo[key] = _IN_PROGRESS
        if cls is MappingNode:
            result: Any = {}
            self.fill(node, result)
        elif cls is SequenceNode:
            build = self.build
            result = [build(item) for item in node.value]
        else:  # pragma: no cover - libyaml composes only the three node classes
            raise YamlError(f"unexpected node {cls.__name__}", _line(node))
        memo[key] = result
        return result

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _PLAIN:
            value = goyaml.resolve_plain(node.value)
            if value.__class__ is not str and self.source[node.start_mark.index] == "!":
                # libyaml reports the non-specific tag ``!`` as an untagged scalar; for
                # go-yaml it is an unresolvable tag: the text stays a string.
                return node.value
            return value
        try:
            return goyaml.resolve_tagged(tag, node.value)
        except goyaml.ResolveError as exc:
            raise YamlError(str(exc), _line(node)) from None

    def fill(self, node: MappingNode, out: dict[str, Any]) -> None:
        """Sets the pairs of ``node`` into ``out`` in order, as go-yaml v2 decodes a map.

        A merge key (``<<``) sets the merged pairs at its place, so a later key
        overrides them and an earlier one is overridden (go-yaml v2's order); in
        strict mode any key set twice, merged or not, is an error.
        """
        for key_node, value_node in node.value:
            if key_node.__class__ is ScalarNode and key_node.value == "<<" and (
                    key_node.tag in (_PLAIN, goyaml.MERGE)):
                self.merge(value_node, out)
                continue
            raw = self.key(key_node)
            value = self.build(value_node)
            self.set(out, raw, value, value_node)

    def set(self, out: dict[str, Any], raw: Any, value: Any, node: Node) -> None:
        try:
            key = goyaml.json_key(raw)
        except goyaml.MapKeyError as exc:
            raise YamlError(str(exc), _line(node)) from None
        if self.strict and key in out:
            shown = f"'{raw}'" if isinstance(raw, str) else key
            raise YamlError(f"key {shown} already set in map", _line(node))
        out[key] = value

    def key(self, node: Node) -> Any:
        if node.__class__ is not ScalarNode:
            raise YamlError("a mapping key must be a scalar, not a collection", _line(node))
        return self.scalar(node)

    def merge(self, node: Node, out: dict[str, Any]) -> None:
        if node.__class__ is MappingNode:
            sources = [node]
        elif node.__class__ is SequenceNode and all(
                n.__class__ is MappingNode for n in node.value):
            sources = list(reversed(node.value))  # earlier mappings take precedence
        else:
            raise YamlError("map merge requires map or sequence of maps as the value "
                            "(a merge key << takes a mapping or a list of mappings)",
                            _line(node))
        for source in sources:
            for k, v in self.build(source).items():
                self.set(out, k, v, source)


def _load_stream(text: str, *, strict: bool, line_offset: int,
                 first_index: int) -> list[Document]:
    parser = _Parser(text)
    docs: list[Document] = []
    try:
        index = first_index
        while parser.check_node():
            node = parser.get_node()
            line = node.start_mark.line + 1 + line_offset if node is not None else 1
            obj = _Builder(strict, text).build(node) if node is not None else None
            docs.append(Document(index=index, line=line, obj=obj))
            index += 1
    finally:
        parser.dispose()
    return docs


def _load_chunk(chunk: str, *, strict: bool, offset: int, index: int) -> list[Document]:
    """The exact path on one ``---`` chunk; a failure becomes one error document."""
    try:
        return _load_stream(chunk, strict=strict, line_offset=offset, first_index=index)
    except YamlError as exc:
        line = exc.line + offset if exc.line else offset + 1
        return [Document(index=index, line=offset + 1, error=YamlError(exc.message, line))]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + offset if mark else offset + 1
        message = "; ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        return [Document(index=index, line=offset + 1, error=YamlError(message, line))]
    except yaml.YAMLError as exc:
        return [Document(index=index, line=offset + 1, error=YamlError(str(exc), None))]


_SEPARATOR = re.compile(r"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)


def _chunks(text: str) -> list[tuple[int, int]]:
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


def _load_split(text: str, *, strict: bool) -> list[Document]:
    """Slow path for a stream with a broken document: parse each ``---`` chunk alone."""
    docs: list[Document] = []
    index = 1
    line = 0
    previous = 0
    for start, end in _chunks(text):
        line += text.count("\n", previous, start)
        previous = start
        loaded = _load_chunk(text[start:end], strict=strict, offset=line, index=index)
        docs.extend(loaded)
        index += len(loaded)
    return docs


def _load_exact(text: str, *, strict: bool) -> list[Document]:
    try:
        return _load_stream(text, strict=strict, line_offset=0, first_index=1)
    except (YamlError, yaml.YAMLError):
        pass
    return _load_split(text, strict=strict)


# ---------------------------------------------------------------------------- fast path

#: Characters before a ``!`` that could start a tag (ryml drops tags when it writes JSON).
_BEFORE_TAG = frozenset(" \n[{,")
#: JSON strings made only of characters a suspect scalar can hold (a cheap first pass).
_MAYBE = re.compile(r'"([-+_0-9.a-fA-FxXoOiInNyYsStTrRuUeElLF~<]+)"')
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
    out = dict(pairs)
    if len(out) != len(pairs):
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
    if ("\t" in text or "\r" in text or "\n%" in text or "\n..." in text
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
    for n, (start, end) in enumerate(_chunks(text)):
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
    nodes = list(ryml.children(tree, root)) if tree.is_stream(root) else [root]
    if len(nodes) != len(chunks):
        return None
    docs: list[Document] = []
    suspects: dict[str, bool] = {}
    emit = ryml.emit_json
    decode = _DECODER.decode
    for index, ((start, end, first, content), node) in enumerate(
            zip(chunks, nodes, strict=True), 1):
        js = emit(tree, node)
        try:
            if '"*' in js or '"":' in js:
                raise _Unsafe  # an alias (ryml writes "*name"), or an empty key
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
                        raise _Unsafe
            obj = decode(js)
        except (_Unsafe, ValueError):
            docs.extend(_load_chunk(text[start:end], strict=strict, offset=first,
                                    index=index))
            continue
        line = first + content + 1 if content is not None else 1
        docs.append(Document(index=index, line=line, obj=obj))
    return docs


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
