"""Fast YAML loading of Kubernetes manifests: libyaml's C parser, a lean constructor.

PyYAML's ``CSafeLoader`` parses in C but builds Python objects with the generic,
generator-based ``SafeConstructor``; on a tree of manifests that construction costs as
much as the parsing. This module lets the C parser compose the node graph (with a
memoised tag resolver, since a manifest repeats the same keys thousands of times) and
turns the nodes into plain JSON-like values in one tight recursive function, which is
about twice as fast as ``yaml.load_all(..., Loader=yaml.CSafeLoader)``.

The result is what ``sigs.k8s.io/yaml`` (kubeconform's loader) would hand to a JSON
Schema validator: timestamps and binary stay strings, non-string keys become strings,
merge keys (``<<``) are applied. In strict mode a key repeated in one mapping is an
error naming its line, as ``kubeconform -strict`` reports it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
#: Scalar tags whose value is kept as the source text (JSON has no such types).
_AS_TEXT = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "!"})

_CONSTRUCTOR = SafeConstructor()
_SCALARS: dict[str, Callable[[Node], Any]] = {
    tag: (lambda node, f=func: f(_CONSTRUCTOR, node))
    for tag, func in SafeConstructor.yaml_constructors.items()
    if tag in {"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
               "tag:yaml.org,2002:float"}
}


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


_resolve_plain: dict[str, str] = {}
_base_resolve = Resolver.resolve


class _Parser(CParser, Resolver):  # type: ignore[misc]
    """libyaml's parser/composer with PyYAML's YAML 1.1 tag resolution, memoised."""

    def __init__(self, stream: str | bytes) -> None:
        CParser.__init__(self, stream)
        Resolver.__init__(self)
        # The composer calls these two hooks for every node; they only serve path
        # resolvers, which safe loading never registers. Cheap C callables with the same
        # arity (instance attributes, so not bound) save two Python calls per node.
        self.descend_resolver = operator.is_
        self.ascend_resolver = tuple

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR  # quoted: a string (explicit tags never reach resolve)
            tag = _resolve_plain.get(value)
            if tag is None:
                tag = _base_resolve(self, kind, value, implicit)
                if len(_resolve_plain) < 100_000:
                    _resolve_plain[value] = tag
            return tag
        if kind is MappingNode:
            return _MAP
        if kind is SequenceNode:
            return _SEQ
        return _base_resolve(self, kind, value, implicit)  # pragma: no cover


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


class _Builder:
    """Turns a composed node graph into JSON-like Python values."""

    __slots__ = ("expanded", "memo", "sizes", "strict")

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.memo: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}
        self.expanded = 0

    def build(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            tag = node.tag
            if tag == _STR:
                return node.value
            return self.scalar(node)
        memo = self.memo
        key = id(node)
        done = memo.get(key)
        if done is not None:
            if done is _IN_PROGRESS:
                raise YamlError("recursive alias: a node contains itself",
                                node.start_mark.line + 1)
            # An alias shares the value; validators walk it once per use. Bound the
            # expanded size so that an alias bomb is an error, not a hang.
            self.expanded += _size(done, self.sizes)
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise YamlError(f"aliases expand the document beyond {MAX_ALIAS_EXPANSION:,} "
                                "values", node.start_mark.line + 1)
            return done
        memo[key] = _IN_PROGRESS
        if cls is MappingNode:
            if node.tag != _MAP:
                raise YamlError(f"could not determine a constructor for the tag {node.tag!r}",
                                node.start_mark.line + 1)
            result: Any = self.mapping(node)
        elif cls is SequenceNode:
            if node.tag != _SEQ:
                raise YamlError(f"could not determine a constructor for the tag {node.tag!r}",
                                node.start_mark.line + 1)
            build = self.build
            result = [build(item) for item in node.value]
        else:  # pragma: no cover - libyaml composes only the three node classes
            raise YamlError(f"unexpected node {cls.__name__}", node.start_mark.line + 1)
        memo[key] = result
        return result

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        func = _SCALARS.get(tag)
        if func is not None:
            return func(node)
        if tag in _AS_TEXT:
            return node.value
        raise YamlError(f"could not determine a constructor for the tag {tag!r}",
                        node.start_mark.line + 1)

    def mapping(self, node: MappingNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        build = self.build
        merged: list[dict[str, Any]] = []
        strict = self.strict
        for key_node, value_node in node.value:
            if key_node.__class__ is ScalarNode and key_node.tag == _STR:
                key = key_node.value
            elif key_node.tag == _MERGE:
                merged.extend(self.merge_sources(value_node))
                continue
            else:
                key = _json_key(self, key_node)
            if strict and key in out:
                raise YamlError(f"key {key!r} already set in map", key_node.start_mark.line + 1)
            if value_node.__class__ is ScalarNode and value_node.tag == _STR:
                out[key] = value_node.value  # inlined: most values are strings
            else:
                out[key] = build(value_node)
        if merged:
            base: dict[str, Any] = {}
            for source in merged:
                for k, v in source.items():
                    base.setdefault(k, v)
            base.update(out)
            return base
        return out

    def merge_sources(self, node: Node) -> list[dict[str, Any]]:
        if isinstance(node, MappingNode):
            return [self.build(node)]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return [self.build(n) for n in node.value]
        raise YamlError("a merge key (<<) takes a mapping or a list of mappings",
                        node.start_mark.line + 1)


def _json_key(builder: _Builder, node: Node) -> str:
    """A mapping key as JSON spells it (``sigs.k8s.io/yaml`` stringifies scalar keys)."""
    if not isinstance(node, ScalarNode):
        raise YamlError("a mapping key must be a scalar, not a collection",
                        node.start_mark.line + 1)
    value = builder.scalar(node)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)


def load_documents(text: str | bytes, *, strict: bool = True) -> list[Document]:
    """Every document of a YAML stream, in order.

    A document that fails to parse is returned with ``error`` set (file line in it);
    the documents around it are still loaded, as kubeconform splits a stream on its
    ``---`` lines before parsing.
    """
    try:
        return _load_stream(text, strict=strict, line_offset=0, first_index=1)
    except YamlError:
        pass
    except yaml.YAMLError:
        pass
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [Document(index=1, line=1,
                             error=YamlError(f"file is not valid UTF-8: {exc.reason}", None))]
    return _load_split(text, strict=strict)


def _load_stream(text: str | bytes, *, strict: bool, line_offset: int,
                 first_index: int) -> list[Document]:
    parser = _Parser(text)
    docs: list[Document] = []
    try:
        index = first_index
        while parser.check_node():
            node = parser.get_node()
            line = node.start_mark.line + 1 + line_offset if node is not None else 1
            obj = _Builder(strict).build(node) if node is not None else None
            docs.append(Document(index=index, line=line, obj=obj))
            index += 1
    finally:
        parser.dispose()
    return docs


def _load_split(text: str, *, strict: bool) -> list[Document]:
    """Slow path for a stream with a broken document: parse each ``---`` chunk alone."""
    starts = [0] + [m.start() for m in _SEPARATOR.finditer(text) if m.start() > 0]
    docs: list[Document] = []
    index = 1
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(text)
        chunk = text[start:end]
        offset = text.count("\n", 0, start)
        try:
            loaded = _load_stream(chunk, strict=strict, line_offset=offset, first_index=index)
        except YamlError as exc:
            line = exc.line + offset if exc.line else offset + 1
            loaded = [Document(index=index, line=offset + 1, error=YamlError(exc.message, line))]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 + offset if mark else offset + 1
            message = "; ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
            loaded = [Document(index=index, line=offset + 1, error=YamlError(message, line))]
        except yaml.YAMLError as exc:
            loaded = [Document(index=index, line=offset + 1, error=YamlError(str(exc), None))]
        docs.extend(loaded)
        index += len(loaded)
    return docs

