"""Secret key names, KEY=VALUE arguments and env files: errors show positions, not values."""

from __future__ import annotations

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.secrets.values import (
    check_key,
    is_valid_key,
    parse_assignments,
    parse_env_bytes,
    parse_env_text,
    read_env_file,
)


@pytest.mark.parametrize("key", ["a", "tls.crt", "postgres-password", "A_B", "-", "..a",
                                 "x" * 253])
def test_valid_keys(key):
    assert is_valid_key(key)
    assert check_key(key, "here") == key


@pytest.mark.parametrize("key", ["", ".", "..", "a b", "a/b", "ü", "x" * 254, "a=b", None, 3])
def test_invalid_keys(key):
    assert not is_valid_key(key)
    with pytest.raises(ConfigError, match="not a valid Secret key"):
        check_key(key, "construct/path", "keys")


def test_assignments():
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": b"1", "b": b"x=y", "c": b""}


@pytest.mark.parametrize(("args", "message"), [
    (["a=1", "hunter2"], "argument 2: expected KEY=VALUE"),
    (["bad key=hunter2"], "argument 1: the part before '=' is not a valid Secret key"),
    (["a=1", "a=hunter2"], "argument 2: key 'a' is given twice"),
])
def test_bad_assignments_never_show_the_value(args, message):
    with pytest.raises(ConfigError) as info:
        parse_assignments(args)
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)


def test_env_file_syntax():
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value with spaces  \n"
        "export EXPORTED=1\n"
        "SINGLE='  kept # verbatim '\n"
        'DOUBLE="x\'y"\n'
        "EMPTY=\n"
        "  INDENTED = v\n"
        "EQUALS=a=b\n"
    )
    assert parse_env_text(text, "f.env") == {
        "PLAIN": b"value with spaces", "EXPORTED": b"1", "SINGLE": b"  kept # verbatim ",
        "DOUBLE": b"x'y", "EMPTY": b"", "INDENTED": b"v", "EQUALS": b"a=b",
    }


@pytest.mark.parametrize(("text", "line", "message"), [
    ("A=1\nhunter2\n", 2, "expected KEY=VALUE"),
    ("# c\n\nbad key=hunter2\n", 3, "not a valid Secret key"),
    ("A='hunter2\n", 1, "unterminated ' quote"),
    ("A=1\nA=hunter2\n", 2, "given twice"),
])
def test_env_file_malformed_line_reports_number_only(text, line, message):
    with pytest.raises(ConfigError) as info:
        parse_env_text(text, "creds.env")
    assert info.value.where == "creds.env"
    assert info.value.field == f"line {line}"
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)


def test_env_file_not_utf8_reports_line():
    with pytest.raises(ConfigError) as info:
        parse_env_bytes(b"A=1\nB=\xff\xfe\n", "x.env")
    assert info.value.field == "line 2"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_env_file_unreadable(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the env file"):
        read_env_file(tmp_path / "missing.env")
    (tmp_path / "ok.env").write_text("K=v\n")
    assert read_env_file(tmp_path / "ok.env") == {"K": b"v"}
