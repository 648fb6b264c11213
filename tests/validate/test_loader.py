"""The YAML loader: go-yaml v2's values (kubeconform's), on both of its paths."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from homelab_charts.validate import loader
from homelab_charts.validate.goyaml import format_float32, resolve_plain
from homelab_charts.validate.loader import load_documents

REPO = Path(__file__).resolve().parents[2]
PATHS = pytest.mark.parametrize("fast", [True, False], ids=["fast", "exact"])

#: Plain scalar -> the value go-yaml v2 gives it decoded into interface{} (resolve.go),
#: as sigs.k8s.io/yaml hands it on (timestamps stay strings).
PLAIN: list[tuple[str, Any]] = [
    # integers: base 0 of Go's strconv.ParseInt after removing underscores
    ("12", 12), ("-12", -12), ("+12", 12), ("0", 0), ("-0", 0), ("00", 0),
    ("010", 8), ("-010", -8), ("0777", 511), ("0o17", 15), ("0O17", 15), ("0x1F", 31),
    ("0X1f", 31), ("-0x1F", -31), ("0b101", 5), ("-0b101", -5), ("+0b11", 3),
    ("1_000", 1000), ("0x_1F", 31), ("-_1", -1), ("1__0", 10),
    ("9223372036854775807", 9223372036854775807),
    ("-9223372036854775808", -9223372036854775808),
    ("9223372036854775808", 9223372036854775808),      # ParseUint
    ("18446744073709551615", 18446744073709551615),    # uint64 max
    ("18446744073709551616", 1.8446744073709552e19),   # too big: a float
    # floats: yamlStyleFloat, exponent forms included
    ("1.5", 1.5), ("-1.5", -1.5), ("+1.5", 1.5), ("1.", 1.0), (".5", 0.5), ("-.5", -0.5),
    ("1e3", 1000.0), ("1E3", 1000.0), ("1e+3", 1000.0), ("2.5e-3", 0.0025), ("-1e3", -1000.0),
    ("09", 9.0), ("012.5", 12.5), ("1_0.5", 10.5), ("1e400", "1e400"),
    (".inf", math.inf), (".Inf", math.inf), (".INF", math.inf), ("+.inf", math.inf),
    ("-.inf", -math.inf), ("-.Inf", -math.inf), (".nan", math.nan), (".NaN", math.nan),
    (".NAN", math.nan),
    # not numbers
    ("0x", "0x"), ("0b2", "0b2"), ("08x", "08x"), ("1.2.3", "1.2.3"), ("12:30", "12:30"),
    ("1e", "1e"), (".e3", ".e3"), ("+", "+"), ("-", "-"), (".", "."), ("._1", "._1"),
    (".infinity", ".infinity"), ("inf", "inf"), ("nan", "nan"), ("_1", "_1"),
    # booleans, YAML 1.1 words in their three spellings
    ("y", True), ("Y", True), ("yes", True), ("Yes", True), ("YES", True), ("true", True),
    ("True", True), ("TRUE", True), ("on", True), ("On", True), ("ON", True),
    ("n", False), ("N", False), ("no", False), ("No", False), ("NO", False),
    ("false", False), ("False", False), ("FALSE", False), ("off", False), ("Off", False),
    ("OFF", False),
    ("yEs", "yEs"), ("oN", "oN"), ("tRUE", "tRUE"), ("nO", "nO"),
    # nulls
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("nULL", "nULL"),
    # dates and date-times stay strings
    ("2024-01-31", "2024-01-31"), ("2024-1-2", "2024-1-2"),
    ("2024-01-31T10:20:30Z", "2024-01-31T10:20:30Z"),
    ("2024-01-31t10:20:30.5+02:00", "2024-01-31t10:20:30.5+02:00"),
    ("2024-01-31 10:20:30", "2024-01-31 10:20:30"), ("2024-13-01", "2024-13-01"),
    # plain strings
    ("abc", "abc"), ("ClusterIP", "ClusterIP"), ("apps/v1", "apps/v1"), ("<<x", "<<x"),
]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(("text", "want"), PLAIN, ids=[t for t, _ in PLAIN])
def test_plain_scalar_resolution(text: str, want: Any) -> None:
    assert same(resolve_plain(text), want)


@PATHS
def test_loaded_values_follow_go_yaml(fast: bool) -> None:
    finite = [(t, w) for t, w in PLAIN  # a lone - starts a block sequence entry
              if not (isinstance(w, float) and not math.isfinite(w)) and t != "-"]
    block = "".join(f"k{i}: {t}\n" for i, (t, _) in enumerate(finite))
    flow = "flow: [" + ", ".join(t for t, _ in finite if t not in {"+", "-", "."}) + "]\n"
    [doc] = load_documents(block + flow, fast=fast)
    assert doc.error is None, doc.error
    for i, (text, want) in enumerate(finite):
        assert same(doc.obj[f"k{i}"], want), (text, doc.obj[f"k{i}"], want)
    assert [type(v) for v in doc.obj["flow"]] == [
        type(w) for t, w in finite if t not in {"+", "-", "."}]


@pytest.mark.parametrize(("text", "want"), PLAIN, ids=[t for t, _ in PLAIN])
@pytest.mark.parametrize("form", ["a: {}\n", "a: [{}]\n", '{{"a":{}}}\n', "{}: 1\n",
                                  "a: '{0}'\nb: {0}\n"],
                         ids=["value", "flow", "json-like", "key", "quoted-then-plain"])
def test_each_form_alone_loads_alike_on_both_paths(text: str, want: Any, form: str) -> None:
    """One plain scalar per stream, in a stream with nothing else in doubt: the fast
    path's checks alone decide (ryml respells some forms, such as ``inf`` as ``.inf``)."""
    if text == "-" and form != '{{"a":{}}}\n':
        return  # a lone - starts a block sequence entry
    stream = "x: 1\n---\n" + form.format(text)
    assert _key(load_documents(stream)) == _key(load_documents(stream, fast=False))


@pytest.mark.parametrize("text", ['{"a":!!str 1}\n', '{"a":*x}\n', "a: &x {b: 1}\nc: *x\n",
                                  "a: [*x]\n", '- !!str 1\n', "a: 1\n--- !!str 2\n"])
def test_tags_and_aliases_after_any_indicator_are_seen(text: str) -> None:
    stream = "x: &x 1\n---\n" + text
    assert _key(load_documents(stream)) == _key(load_documents(stream, fast=False))


@PATHS
@pytest.mark.parametrize("text", ["'yes'", '"On"', '"~"', "'010'", '"0x1F"', "'1e3'", '""',
                                  "'null'", '"true"', "'12'", "!!str 12", "!!str yes"])
def test_quoted_and_str_tagged_scalars_stay_strings(fast: bool, text: str) -> None:
    [doc] = load_documents(f"a: {text}\n", fast=fast)
    assert isinstance(doc.obj["a"], str)


@PATHS
@pytest.mark.parametrize(("text", "want"), [
    ("!!int '12'", 12), ("!!int 0x1F", 31), ("!!float 1", 1.0), ("!!bool yes", True),
    ("!!null ''", None), ("!!timestamp 2024-01-31", "2024-01-31"), ("!custom 12", "12"),
    ("! 12", "12"), ("! '12'", "12"), ("!!binary aGVsbG8=", "hello")])
def test_tagged_scalars(fast: bool, text: str, want: Any) -> None:
    [doc] = load_documents(f"a: {text}\n", fast=fast)
    assert doc.error is None and same(doc.obj["a"], want)


@PATHS
@pytest.mark.parametrize(("text", "message"), [
    ("!!int abc", "cannot decode !!str `abc` as a !!int"),
    ("!!bool 1", "cannot decode !!int `1` as a !!bool"),
    ("!!timestamp abc", "as a !!timestamp"),
    ("!!binary '%%%'", "!!binary value contains invalid base64 data"),
    (".inf", "json: unsupported value: +Inf"), ("-.inf", "json: unsupported value: -Inf"),
    (".nan", "json: unsupported value: NaN"), ("[1, .nan]", "unsupported value: NaN")])
def test_values_json_cannot_hold_are_errors(fast: bool, text: str, message: str) -> None:
    [doc] = load_documents(f"x: 1\na: {text}\n", fast=fast)
    assert doc.obj is None and doc.error is not None
    assert message in doc.error.message and doc.error.line == 2


@PATHS
def test_keys_become_json_strings(fast: bool) -> None:
    [doc] = load_documents("1: a\ntrue: b\nOff: d\n010: e\n1.5: f\n1e3: g\n0x1F: h\n"
                           ".inf: i\n-.inf: j\n2024-01-31: k\n'~': l\n2.0: m\n",
                           fast=fast)
    assert doc.obj == {"1": "a", "true": "b", "false": "d", "8": "e", "1.5": "f",
                       "1000": "g", "31": "h", ".inf": "i", "-.inf": "j",
                       "2024-01-31": "k", "~": "l", "2": "m"}
    assert list(doc.obj) == ["1", "true", "false", "8", "1.5", "1000", "31", ".inf", "-.inf",
                             "2024-01-31", "~", "2"]


def test_float_keys_are_formatted_as_go_float32() -> None:
    assert [format_float32(v) for v in (1.0, 0.1, 1e6, 123456789.0, 1e-5, -2.5, 0.0001)] == [
        "1", "0.1", "1e+06", "1.2345679e+08", "1e-05", "-2.5", "0.0001"]


@PATHS
@pytest.mark.parametrize(("text", "message"), [
    ("~: a\n", "unsupported map key: null"), ("null: a\n", "unsupported map key: null"),
    ("18446744073709551615: a\n", "uint64"),
    ("? [a, b]\n: c\n", "must be a scalar")])
def test_keys_json_cannot_hold_are_errors(fast: bool, text: str, message: str) -> None:
    [doc] = load_documents(text, fast=fast)
    assert doc.error is not None and message in doc.error.message


@PATHS
def test_duplicate_key_is_an_error_with_its_line_in_strict_mode(fast: bool) -> None:
    [doc] = load_documents("a: 1\nb:\n  c: 1\n  c: 2\n", fast=fast)
    assert doc.obj is None and doc.error is not None
    assert doc.error.line == 4
    assert "key 'c' already set in map" in doc.error.message


@PATHS
def test_keys_that_resolve_alike_are_duplicates(fast: bool) -> None:
    [doc] = load_documents("yes: 1\nOn: 2\n", fast=fast)
    assert doc.error is not None and "key true already set in map" in doc.error.message


@PATHS
def test_duplicate_key_last_wins_when_not_strict(fast: bool) -> None:
    [doc] = load_documents("a: 1\na: 2\n", strict=False, fast=fast)
    assert doc.obj == {"a": 2}


@PATHS
def test_parse_error_keeps_the_other_documents(fast: bool) -> None:
    docs = load_documents("a: 1\n---\nb: [\n---\nc: 3\n", fast=fast)
    assert [d.obj for d in docs] == [{"a": 1}, None, {"c": 3}]
    assert docs[1].error is not None and docs[1].error.line == 4
    assert [d.index for d in docs] == [1, 2, 3]


@PATHS
def test_merge_keys_in_go_yaml_order(fast: bool) -> None:
    text = ("base: &b {p: 1, q: 2}\nmore: &m {q: 5, r: 6}\n"
            "after:\n  <<: *b\n  q: 3\n"           # a later key wins
            "before:\n  q: 3\n  <<: *b\n"          # go-yaml v2: the merge overrides
            "list:\n  <<: [*b, *m]\n"              # earlier mappings take precedence
            "copy: *b\n")
    [doc] = load_documents(text, strict=False, fast=fast)
    assert doc.obj["after"] == {"p": 1, "q": 3}
    assert doc.obj["before"] == {"p": 1, "q": 2}
    assert doc.obj["list"] == {"p": 1, "q": 2, "r": 6}
    assert doc.obj["copy"] == {"p": 1, "q": 2}
    [strict] = load_documents("base: &b {p: 1}\nno-overlap:\n  <<: *b\n  q: 3\n", fast=fast)
    assert strict.obj == {"base": {"p": 1}, "no-overlap": {"p": 1, "q": 3}}


@PATHS
def test_a_merged_key_set_again_is_a_duplicate_in_strict_mode(fast: bool) -> None:
    [doc] = load_documents("base: &b {p: 1, q: 2}\nother:\n  <<: *b\n  q: 3\n", fast=fast)
    assert doc.error is not None and "key 'q' already set in map" in doc.error.message


@PATHS
@pytest.mark.parametrize("text", ["a:\n  <<: 3\n", "a:\n  <<: [3]\n", "x: &x 1\na:\n  <<: *x\n"])
def test_merge_key_needs_a_mapping(fast: bool, text: str) -> None:
    [doc] = load_documents(text, fast=fast)
    assert doc.error is not None and "merge" in doc.error.message


@PATHS
def test_quoted_merge_key_is_a_plain_key(fast: bool) -> None:
    [doc] = load_documents("a:\n  '<<': {x: 1}\n", fast=fast)
    assert doc.obj == {"a": {"<<": {"x": 1}}}


@PATHS
def test_recursive_alias_is_an_error(fast: bool) -> None:
    [doc] = load_documents("a: &x [1, *x]\n", fast=fast)
    assert doc.error is not None and "recursive" in doc.error.message


@PATHS
def test_bytes_input_and_bad_utf8(fast: bool) -> None:
    assert load_documents(b"a: 1\n", fast=fast)[0].obj == {"a": 1}
    [doc] = load_documents(b"a: \xff\xfe\n", fast=fast)
    assert doc.error is not None


@PATHS
def test_aliases_share_values(fast: bool) -> None:
    [doc] = load_documents("a: &a {k: [1, 2]}\nb: *a\n", fast=fast)
    assert doc.obj["b"] is doc.obj["a"]


@PATHS
def test_alias_bomb_is_an_error_not_a_hang(fast: bool) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    started = time.perf_counter()
    [doc] = load_documents("\n".join(lines) + "\n", fast=fast)
    assert time.perf_counter() - started < 1.0
    assert doc.error is not None and "aliases expand the document beyond" in doc.error.message


@PATHS
@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n"])
def test_non_mapping_documents_load(fast: bool, text: str) -> None:
    [doc] = load_documents(text, fast=fast)
    assert doc.error is None and doc.obj is not None


STREAM = """\
# comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  labels: {a: "1", b: "yes", c: 'no'}
data:
  text: |
    line one
    line two
  folded: >-
    one
    two
---
---
# leading comment
plain: scalar
--- inline
"""


@PATHS
def test_document_index_and_line_are_one_based(fast: bool) -> None:
    docs = load_documents(STREAM, fast=fast)
    assert [d.index for d in docs] == [1, 2, 3, 4]
    assert [d.line for d in docs if d.obj is not None] == [2, 17, 18]
    assert docs[0].obj["data"] == {"text": "line one\nline two\n", "folded": "one two"}
    assert docs[1].obj is None and docs[3].obj == "inline"


def _key(docs: list[loader.Document]) -> list[Any]:
    return [(d.index, d.line, d.obj, d.error and (d.error.line, d.error.message))
            for d in docs]


def test_both_paths_agree_on_the_generated_tree_and_the_corpus() -> None:
    files = [p for top in ("clusters", "infrastructure", "apps", "tests/validate/corpus")
             for p in sorted((REPO / top).rglob("*.yaml"))]
    assert len(files) > 30
    for path in files:
        data = path.read_bytes()
        assert _key(load_documents(data)) == _key(load_documents(data, fast=False)), path


def test_the_generated_tree_loads_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    exact: list[str] = []
    monkeypatch.setattr(loader, "_load_exact", lambda text, **kw: exact.append(text) or [])
    monkeypatch.setattr(loader, "_load_chunk", lambda text, **kw: exact.append(text) or [])
    files = [p for top in ("clusters", "infrastructure", "apps")
             for p in sorted((REPO / top).rglob("*.yaml"))]
    loaded = [load_documents(p.read_bytes()) for p in files]
    assert exact == [] and sum(map(len, loaded)) > 70


@pytest.mark.parametrize("text", [
    "a: yes\n", "a: [On, 2]\n", "a: ~\n", "a: 010\n", "a: 0x1F\n", "a: .inf\n", "a: *x\n",
    "x: &x 1\na: *x\n", "a:\n  <<: {b: 1}\n", "a: !!str 1\n", "a: 1\na: 2\n", "a:\tb\n",
    "a: 1\r\n", "%YAML 1.1\n---\na: 1\n", "a: 1\n...\n", "b: 'yes'\nc: yes\n"])
def test_documents_the_fast_path_cannot_vouch_for_take_the_exact_path(
        monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    calls: list[str] = []
    for name in ("_load_exact", "_load_chunk"):
        real = getattr(loader, name)
        monkeypatch.setattr(loader, name, lambda *a, _r=real, **kw: calls.append("x") or _r(
            *a, **kw))
    load_documents(text)
    assert calls


def test_ryml_parse_errors_are_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    docs = load_documents("a: 1\n---\nb: [1, 2\n---\nc: 3\n")
    assert [d.obj for d in docs] == [{"a": 1}, None, {"c": 3}]
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_only_the_document_in_doubt_takes_the_exact_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream is decoded whole when nothing in it is in doubt; otherwise its documents
    are checked one by one and only the doubtful one is re-read on the exact path."""
    chunks: list[str] = []
    real = loader._load_chunk
    monkeypatch.setattr(loader, "_load_chunk", lambda text, **kw: chunks.append(text) or real(
        text, **kw))
    monkeypatch.setattr(loader, "_load_exact", lambda text, **kw: pytest.fail("whole stream"))
    clean = "---\na: 1\n---\nb: [x, 'yes']\n---\nc: {d: 2}\n"
    assert [d.obj for d in load_documents(clean)] == [{"a": 1}, {"b": ["x", "yes"]},
                                                      {"c": {"d": 2}}]
    assert chunks == []
    doubtful = "---\na: 1\n---\nb: yes\n---\nc: {d: 2}\n"
    docs = load_documents(doubtful)
    assert [d.obj for d in docs] == [{"a": 1}, {"b": True}, {"c": {"d": 2}}]
    assert [d.line for d in docs] == [2, 4, 6]
    assert chunks == ["---\nb: yes\n"]
    chunks.clear()
    duplicate = "---\na: 1\n---\nb: 1\nb: 2\n---\nc: 3\n"
    docs = load_documents(duplicate)
    assert chunks == ["---\nb: 1\nb: 2\n"]
    assert docs[1].error is not None and "already set in map" in docs[1].error.message
    assert [d.obj for d in docs[::2]] == [{"a": 1}, {"c": 3}]
