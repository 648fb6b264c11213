"""The exact path of :mod:`.loader`: libyaml's C parser composes the nodes, resolved by
:mod:`.goyaml` the way go-yaml v2 does (merge keys, anchors with an expansion bound,
duplicate keys, tags, positions of errors).

It loads only when a stream needs it (PyYAML is not imported for the fast path).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from homelab_charts.validate import goyaml
from homelab_charts.validate.loader import Document, YamlError, stream_chunks

_STR = goyaml.STR
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
#: The tag given to plain (unquoted, untagged) scalars; no YAML tag contains a space.
_PLAIN = " plain"


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


def load_stream(text: str, *, strict: bool, line_offset: int,
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


def load_chunk(chunk: str, *, strict: bool, offset: int, index: int) -> list[Document]:
    """The exact path on one ``---`` chunk; a failure becomes one error document."""
    try:
        return load_stream(chunk, strict=strict, line_offset=offset, first_index=index)
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


def load_split(text: str, *, strict: bool) -> list[Document]:
    """Slow path for a stream with a broken document: parse each ``---`` chunk alone."""
    docs: list[Document] = []
    index = 1
    line = 0
    previous = 0
    for start, end in stream_chunks(text):
        line += text.count("\n", previous, start)
        previous = start
        loaded = load_chunk(text[start:end], strict=strict, offset=line, index=index)
        docs.extend(loaded)
        index += len(loaded)
    return docs


def load_exact(text: str, *, strict: bool) -> list[Document]:
    try:
        return load_stream(text, strict=strict, line_offset=0, first_index=1)
    except (YamlError, yaml.YAMLError):
        pass
    return load_split(text, strict=strict)
