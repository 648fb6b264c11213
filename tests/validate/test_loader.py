"""The fast YAML loader: same values as PyYAML's safe loader, strict duplicate keys."""

from __future__ import annotations

import time

import pytest
import yaml

from homelab_charts.validate.loader import load_documents

SAMPLE = """\
# comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  labels: {a: "1", b: yes, c: 'no'}
data:
  n: 12
  f: 1.5
  h: 0x1f
  none: ~
  when: 2024-01-01
  list: [a, 'b', 3]
  text: |
    line one
    line two
---
---
plain: scalar
"""


def test_values_match_pyyaml_safe_loader_except_json_types() -> None:
    ours = [d.obj for d in load_documents(SAMPLE)]
    theirs = list(yaml.safe_load_all(SAMPLE))
    theirs[0]["data"]["when"] = "2024-01-01"  # timestamps stay strings, as in JSON
    assert ours == theirs


def test_document_index_and_line_are_one_based() -> None:
    docs = load_documents(SAMPLE)
    assert [d.index for d in docs] == [1, 2, 3]
    assert docs[0].line == 2  # first content line, after the comment
    assert docs[1].obj is None
    assert docs[2].line == 19


def test_duplicate_key_is_an_error_with_its_line_in_strict_mode() -> None:
    text = "a: 1\nb:\n  c: 1\n  c: 2\n"
    [doc] = load_documents(text)
    assert doc.obj is None and doc.error is not None
    assert doc.error.line == 4
    assert "key 'c' already set in map" in doc.error.message


def test_duplicate_key_last_wins_when_not_strict() -> None:
    [doc] = load_documents("a: 1\na: 2\n", strict=False)
    assert doc.obj == {"a": 2}


def test_parse_error_keeps_the_other_documents() -> None:
    docs = load_documents("a: 1\n---\nb: [\n---\nc: 3\n")
    assert [d.obj for d in docs] == [{"a": 1}, None, {"c": 3}]
    assert docs[1].error is not None and docs[1].error.line == 4
    assert [d.index for d in docs] == [1, 2, 3]


def test_merge_keys_and_aliases() -> None:
    [doc] = load_documents("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\ncopy: *b\n")
    assert doc.obj == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3},
                       "copy": {"x": 1, "y": 2}}


def test_merge_key_needs_a_mapping() -> None:
    [doc] = load_documents("a:\n  <<: 3\n")
    assert doc.error is not None and "merge key" in doc.error.message


def test_non_string_keys_become_json_strings() -> None:
    [doc] = load_documents("1: a\ntrue: b\n~: c\n1.5: d\n")
    assert doc.obj == {"1": "a", "true": "b", "null": "c", "1.5": "d"}


def test_collection_key_is_an_error() -> None:
    [doc] = load_documents("? [a, b]\n: c\n")
    assert doc.error is not None and "must be a scalar" in doc.error.message


def test_unknown_tag_is_an_error_not_a_traceback() -> None:
    [doc] = load_documents("a: !Secret xyz\n")
    assert doc.error is not None and "'!Secret'" in doc.error.message and doc.error.line == 1


def test_recursive_alias_is_an_error() -> None:
    [doc] = load_documents("a: &x [1, *x]\n")
    assert doc.error is not None and "recursive" in doc.error.message


def test_bytes_input_and_bad_utf8() -> None:
    assert load_documents(b"a: 1\n")[0].obj == {"a": 1}
    [doc] = load_documents(b"a: \xff\xfe\n")
    assert doc.error is not None


def test_aliases_share_values() -> None:
    [doc] = load_documents("a: &a {k: [1, 2]}\nb: *a\n")
    assert doc.obj["b"] is doc.obj["a"]


def test_alias_bomb_is_an_error_not_a_hang() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    started = time.perf_counter()
    [doc] = load_documents("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1.0
    assert doc.error is not None and "aliases expand the document beyond" in doc.error.message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n"])
def test_non_mapping_documents_load(text: str) -> None:
    [doc] = load_documents(text)
    assert doc.error is None and doc.obj is not None
