"""The one atomic-file-write helper: content, permission bits, folders, failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from homelab_charts import fsutil
from homelab_charts.errors import ConfigError
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
    with pytest.raises(ConfigError, match=r"the folder .* does not exist"):
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
    with pytest.raises(ConfigError, match=r"keep\.txt: cannot write: No space left on device; "
                                          "the file is unchanged"):
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


def test_a_folder_at_the_path_is_a_one_line_error(tmp_path: Path) -> None:
    """`graph -o <folder>` reached os.replace and a traceback (issue 11)."""
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ConfigError, match="cannot write: it is a folder; give a file name"):
        atomic_write_text(folder, "x")
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_is_a_one_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="cannot write: Permission denied"):
            atomic_write_text(folder / "x.yaml", "x")
    finally:
        folder.chmod(0o700)


def test_write_new_private_never_follows_a_link_nor_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "creds.env"
    fsutil.write_new_private(target, b"K='v'\n")
    assert target.read_bytes() == b"K='v'\n" and _mode(target) == 0o600
    with pytest.raises(ConfigError, match="a file already exists there"):
        fsutil.write_new_private(target, b"other")
    assert target.read_bytes() == b"K='v'\n"
    victim = tmp_path / "victim"
    victim.write_text("mine\n")
    link = tmp_path / "link.env"
    link.symlink_to(victim)
    with pytest.raises(ConfigError, match="a symbolic link already exists there"):
        fsutil.write_new_private(link, b"secret")
    assert victim.read_text() == "mine\n"
    with pytest.raises(ConfigError, match=r"the folder .*missing does not exist"):
        fsutil.write_new_private(tmp_path / "missing" / "x.env", b"secret")
