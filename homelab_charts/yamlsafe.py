"""Reading YAML that someone else wrote: bounded, strict, one-line errors.

Every YAML file the product reads (the data file, the sealed store, key backups, the
generated tree of another git revision) goes through :func:`load` / :func:`load_all`:

* the text is at most :data:`MAX_BYTES` (:func:`read_text` also refuses anything but a
  regular file, so a FIFO never blocks a read, and text that is not UTF-8);
* aliases may not expand the document beyond :data:`MAX_NODES` values (a "billion
  laughs" file of 3 KB is an error at once, not minutes and gigabytes), and a node may
  not contain itself;
* a key repeated in one mapping is an error naming the file and the line (YAML says keys
  are unique; PyYAML silently keeps the last one). Merge keys (``<<``) may still be
  overridden, as YAML intends.

Errors are :class:`~homelab_charts.errors.ConfigError` naming the file (and the line).
``homelab_charts.validate.loader`` has its own fast, equally bounded loader for trees
of manifests.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from homelab_charts.errors import ConfigError

#: Largest YAML text read (bytes): far above any data file, store file or manifest.
MAX_BYTES = 16 << 20
#: Values a document may have once its aliases are expanded.
MAX_NODES = 1_000_000

_MERGE = "tag:yaml.org,2002:merge"
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader (libyaml's parser when present) that refuses duplicate keys."""

    source = "<yaml>"

    def construct_mapping(self, node: Node, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.setdefault(key, line)
                except TypeError:  # pragma: no cover - scalar keys are hashable
                    continue
                if first != line:
                    raise ConfigError(self.source, f"line {line}",
                                      f"key {str(key)[:80]!r} is repeated (first set on line "
                                      f"{first}); a YAML key may appear once per mapping")
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path, what: str, *, source: str | None = None,
              limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (``what`` names it in errors)."""
    where = source or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(where, None, f"cannot read the {what}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(where, None, f"cannot read the {what}: not a regular file")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise ConfigError(where, None, f"cannot read the {what}: {exc.strerror}") from None
    return decode(data, where, what, limit=limit)


def decode(data: bytes, where: str, what: str = "file", *, limit: int = MAX_BYTES) -> str:
    """``data`` as UTF-8 text, at most ``limit`` bytes; ConfigError naming the line if not."""
    if len(data) > limit:
        raise ConfigError(where, None, f"the {what} is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(where, f"line {line}",
                          f"the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x})"
                          ) from None


def load(text: str, source: str) -> Any:
    """The single document of ``text`` (None when empty)."""
    docs = load_all(text, source, keep_empty=True)
    if len(docs) > 1:
        raise ConfigError(source, None, f"expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def load_all(text: str, source: str, *, keep_empty: bool = False) -> list[Any]:
    """Every document of ``text`` (empty ones left out unless ``keep_empty``)."""
    if len(text) > MAX_BYTES:
        raise ConfigError(source, None, f"larger than {MAX_BYTES:,} bytes")
    loader = _Loader(text)
    loader.source = source
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            _check_expansion(node, source)
            doc = loader.construct_document(node)
            if doc is not None or keep_empty:
                docs.append(doc)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(source, line, f"invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    return docs


def _check_expansion(root: Node, source: str) -> None:
    """Refuse a node graph that expands beyond :data:`MAX_NODES` values, or is cyclic."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ConfigError(source, f"line {node.start_mark.line + 1}",
                              "a node contains itself (recursive alias)")
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise ConfigError(source, f"line {child.start_mark.line + 1}",
                                  "a node contains itself (recursive alias)")
            if id(child) not in sizes:
                stack.append((child, False))
    total = sizes[id(root)]
    if total > MAX_NODES:
        raise ConfigError(source, f"line {root.start_mark.line + 1}",
                          f"aliases expand the document to {_big(total)} values, more than "
                          f"{MAX_NODES:,}; write the values out instead of nesting aliases")


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _big(number: int) -> str:
    return f"{number:,}" if number < 10**15 else f"about 10^{len(str(number)) - 1}"
