"""The one atomic-file-write helper: content, permission bits, folders, failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from homelab_charts import fsutil
from homelab_charts.fsutil import atomic_write_bytes, atomic_write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_text_and_default_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    atomic_write_text(target, "a: 1\nb: ü\n")
    assert target.read_bytes() == "a: 1\nb: ü\n".encode()
    assert _mode(target) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


def test_line_ends_are_written_as_given(tmp_path: Path) -> None:
    target = tmp_path / "crlf.txt"
    atomic_write_text(target, "x\r\ny\n")
    assert target.read_bytes() == b"x\r\ny\n"


def test_replacing_keeps_the_old_mode_unless_one_is_given(tmp_path: Path) -> None:
    target = tmp_path / "data.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert _mode(target) == 0o600
    atomic_write_text(target, "newer\n", mode=0o644)
    assert target.read_text() == "newer\n"
    assert _mode(target) == 0o644


def test_bytes_variant(tmp_path: Path) -> None:
    target = tmp_path / "blob.bin"
    atomic_write_bytes(target, b"\x00\xff", mode=0o640)
    assert target.read_bytes() == b"\x00\xff"
    assert _mode(target) == 0o640


def test_parents_are_created_only_when_asked(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "c.txt"
    with pytest.raises(FileNotFoundError):
        atomic_write_text(nested, "x")
    assert not (tmp_path / "a").exists()
    atomic_write_text(nested, "x", parents=True)
    assert nested.read_text() == "x"


def test_failure_leaves_old_file_and_no_temporary(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("original\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "half\n")
    assert target.read_text() == "original\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_interrupt_also_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "new.txt"

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fsutil.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "x")
    assert list(tmp_path.iterdir()) == []
