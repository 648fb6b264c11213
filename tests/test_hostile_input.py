"""Hostile and broken input: bounded, one-line errors, exit 2 (issue 11, finding 6 and low).

Every YAML loader of the product (data file, data-file edits, sealed store, key
backups, trees read for diff/graph, data-file history) is bounded in size and alias
expansion and refuses duplicate keys; errors name the file and line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homelab_charts import config, datafile, yamlsafe
from homelab_charts.cli import main
from homelab_charts.errors import ConfigError
from homelab_charts.secrets.store import SealedDocument, load_key_backup
from homelab_charts.tree import read_disk_tree
from homelab_charts.tree.model import parse_documents
from tests.helpers import PROJECT_FILES, as_project

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "homelab.yaml"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The 2.9 KB file of the audit: each level's list holds `width` aliases of the last."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\nsharedPaths: *a{levels - 1}\n"


def data_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "homelab.yaml"
    path.write_text(DATA.read_text() + extra)
    return path


def test_an_alias_bomb_in_the_data_file_is_refused_at_once(tmp_path: Path, capsys) -> None:
    path = data_with(tmp_path, alias_bomb())
    assert len(alias_bomb()) < 3000
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"aliases expand the document to .* more than"):
        config.load(path)
    assert time.monotonic() - started < 5
    root = as_project(tmp_path / "root")
    assert main(["synth", "--root", str(root), "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "aliases expand" in err
    assert sorted(p.name for p in root.iterdir()) == sorted(PROJECT_FILES)


def test_the_data_file_editor_refuses_it_too(tmp_path: Path) -> None:
    path = data_with(tmp_path, alias_bomb())
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="aliases expand"):
        datafile.set_service_replicas(path, "homelab-dashboard", "prod", 2)
    assert path.read_bytes() == before


def test_a_duplicate_key_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    """A second `postgresql:` silently switched the image to another registry."""
    text = DATA.read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "postgresql:")
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    block = [lines[start]]
    for line in lines[start + 1:]:
        if line.startswith(indent + " "):
            block.append(line.replace("image: ", "image: evil.example/"))
        else:
            break
    end = start + len(block)
    path = tmp_path / "homelab.yaml"
    path.write_text("\n".join(lines[:end] + block + lines[end:]) + "\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert err.value.where == str(path)
    assert err.value.field == f"line {end + 1}"
    assert f"key 'postgresql' is repeated (first set on line {start + 1})" in str(err.value)
    with pytest.raises(ConfigError, match="repeated"):
        datafile.get_service_tag(path, "homelab-dashboard", "prod")


def test_merge_keys_may_still_be_overridden() -> None:
    doc = yamlsafe.load("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  x: 3\n", "f.yaml")
    assert doc["thing"] == {"x": 3, "y": 2}


@pytest.mark.parametrize(("text", "message"), [
    ("&a [*a]\n", "a node contains itself"),
    ("a: !!python/object/apply:os.system [echo]\n", "could not determine a constructor"),
    ("a: [1\n", "line 2: invalid YAML"),
])
def test_other_hostile_yaml(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        yamlsafe.load(text, "f.yaml")


def test_size_is_bounded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(yamlsafe, "MAX_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2000 + "\n")
    with pytest.raises(ConfigError, match="larger than 1,000 bytes"):
        yamlsafe.read_text(path, "data file", limit=1000)


def test_a_non_utf8_data_file_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "homelab.yaml"
    path.write_bytes(DATA.read_bytes().replace(b"cluster:", b"cluster: \xff\xfe", 1))
    with pytest.raises(ConfigError, match=r"line \d+: the data file is not UTF-8 text"):
        config.load(path)
    assert main(["version", "next", "homelab-dashboard", "--env", "prod", "--data",
                 str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_fifo_as_data_file_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "homelab.yaml"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-c", "from homelab_charts import config; "
                           f"config.load({str(fifo)!r})"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert "not a regular file" in proc.stderr


def test_the_sealed_store_and_key_backups_are_bounded() -> None:
    with pytest.raises(ConfigError, match="aliases expand"):
        SealedDocument.parse(alias_bomb(), "store/x/y.yaml")
    with pytest.raises(ConfigError, match="aliases expand"):
        load_key_backup(("tls.key: x\n" + alias_bomb()).encode(), "backup.yaml")
    with pytest.raises(ConfigError, match="repeated"):
        SealedDocument.parse("apiVersion: a\napiVersion: b\n", "store/x/y.yaml")
    with pytest.raises(ConfigError, match="no private key found"):
        load_key_backup(b"kind: Secret\ndata: [tls.key]\n", "backup.yaml")


def test_trees_read_for_diff_and_graph_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"apps/x/x\.yaml.*not valid YAML"):
        parse_documents(alias_bomb(), "apps/x/x.yaml")
    fifo = tmp_path / "apps" / "x" / "evil.yaml"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"apps/x/evil\.yaml: cannot read the file: not a "
                                          "regular file"):
        read_disk_tree(tmp_path)


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "homelab_charts", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_version_parse_of_a_5000_digit_number(tmp_path: Path) -> None:
    proc = run_cli("version", "parse", f"v{'9' * 5000}.1.0-abcdef1-prod")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and len(proc.stderr) < 300
    assert "MAJOR has 5,000 digits (at most 18)" in proc.stderr


def test_graph_into_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    proc = run_cli("graph", "--root", str(REPO), "-o", str(folder))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "cannot write: it is a folder; give a file name" in proc.stderr


def test_enospc_while_synthesizing_is_a_one_line_error(tmp_path: Path) -> None:
    """A full disk while staging: one line, exit 2, the old tree as it was."""
    root = as_project(tmp_path / "root")
    script = (
        "import errno, os, sys\n"
        "from homelab_charts import writer\n"
        "from homelab_charts.cli import main\n"
        "def full(step, path):\n"
        "    if step == 'stage' and path.endswith('redis.yaml'):\n"
        "        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "writer.set_fault_hook(full)\n"
        f"sys.exit(main(['synth', '-q', '--root', {str(root)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "redis.yaml: cannot write: No space left on device; nothing was changed" \
        in proc.stderr
    assert sorted(p.name for p in root.iterdir()) == sorted(PROJECT_FILES)


@pytest.mark.parametrize("exc", [
    PermissionError(13, "Permission denied", "/x/y.yaml"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ValueError("Exceeds the limit (4300 digits)\nfor integer string conversion"),
])
def test_the_cli_boundary_turns_stray_errors_into_one_line(monkeypatch, capsys,
                                                           exc: Exception) -> None:
    from homelab_charts.cli import synth as synth_cli

    def boom(args: object) -> int:
        raise exc

    monkeypatch.setattr(synth_cli, "run", boom)
    assert main(["synth", "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("homelab-charts synth: error: ") and err.count("\n") == 1
    assert "Traceback" not in err
