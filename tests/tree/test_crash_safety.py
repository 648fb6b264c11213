"""The tree writer survives being killed or failing at any step (issue 11, finding 4).

A fault-injection hook in the writer (:func:`homelab_charts.writer.set_fault_hook`) stops
a write before each step that changes the tree: in a child process with ``os._exit``
(what SIGKILL does: no clean-up code runs), or in process with an OSError. After the
next run the tree is wholly the old one or wholly the new one, and no staged file or
journal is left; until then ``synth --check`` reports the leftovers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_charts.cli import main
from homelab_charts.errors import ConfigError
from homelab_charts.writer import (
    HEADER,
    JOURNAL_FILE,
    plan,
    recover,
    set_fault_hook,
    tree_lock,
    write_tree,
)
from tests.helpers import as_project

REPO = Path(__file__).resolve().parents[2]
KILLED = 137

#: Files that are not the writer's and must come through every run byte for byte.
FOREIGN = {
    "clusters/homelab/flux-system/gotk-sync.yaml": HEADER + "kind: Fake\n",
    "clusters/homelab/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
    "apps/README.md": "notes\n",
    "apps/demo/handwritten.yaml": "kind: ConfigMap\n",
}


def tree(**files: str) -> dict[str, str]:
    return {path.replace("__", "/").replace("_", "-") + ".yaml": HEADER + f"---\n{body}\n"
            for path, body in files.items()}


# The old tree and the new one: changed, added (in a new folder too), removed (with a
# folder that empties), unchanged files.
OLD = tree(apps__demo__a="a: 1", apps__demo__b="b: 1", apps__demo__c="c: 1",
           apps__gone__x="x: 1", infrastructure__db__pg="pg: 1", infrastructure__db__keep="k: 1",
           clusters__homelab__apps="apps: 1")
NEW = tree(apps__demo__a="a: 2", apps__demo__b="b: 1", apps__demo__d="d: 2",
           apps__fresh__y="y: 2", infrastructure__db__pg="pg: 2",
           infrastructure__db__keep="k: 1", clusters__homelab__apps="apps: 2",
           clusters__homelab__more="more: 2")


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "cdk8s.yaml"}


def expected(files: dict[str, str]) -> dict[str, str]:
    return dict(sorted({**files, **FOREIGN}.items()))


def leftovers_on_disk(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.name.endswith(".tmp") or p.name.startswith(JOURNAL_FILE))


def old_tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in FOREIGN.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    write_tree(root, OLD)
    assert snapshot(root) == expected(OLD)
    return root


def steps_of_a_write(tmp_path: Path) -> list[tuple[str, str]]:
    root = old_tree(tmp_path / "count")
    seen: list[tuple[str, str]] = []
    previous = set_fault_hook(lambda step, path: seen.append((step, path)))
    try:
        write_tree(root, NEW)
    finally:
        set_fault_hook(previous)
    assert snapshot(root) == expected(NEW)
    return seen


CHILD = """
import json, os, sys
from pathlib import Path
from homelab_charts import writer
from tests.helpers import as_project

root, files, stop = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), int(sys.argv[3])
count = [0]

def hook(step, path):
    count[0] += 1
    if count[0] == stop:
        os._exit(137)  # as SIGKILL: no finally, no clean-up

writer.set_fault_hook(hook)
writer.write_tree(root, files)
"""


def test_a_write_killed_at_every_step_is_finished_or_undone_by_the_next_run(
        tmp_path: Path) -> None:
    steps = steps_of_a_write(tmp_path)
    kinds = [step for step, _ in steps]
    assert kinds.count("rename") == 6 and kinds.count("unlink") == 2
    assert kinds.count("stage") == 6 and kinds.count("commit") == 1
    commit = kinds.index("commit")
    new_files = tmp_path / "new.json"
    new_files.write_text(json.dumps(NEW))
    template = old_tree(tmp_path / "template")
    for number, (step, path) in enumerate(steps, 1):
        root = tmp_path / f"kill-{number}"
        shutil.copytree(template, root, symlinks=True)
        proc = subprocess.run([sys.executable, "-c", CHILD, str(root), str(new_files),
                               str(number)], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == KILLED, (step, path, proc.stderr)
        left = leftovers_on_disk(root)
        check = plan(root, NEW)
        assert check.changed
        assert check.leftovers == sorted(left, key=lambda p: (p != JOURNAL_FILE, p)), step
        committed = number > commit + 1  # killed after the journal was put in place
        assert (JOURNAL_FILE in left) == committed, (number, step, path)

        # The next run first finishes (journal) or undoes (staged files only) the write.
        with tree_lock(root):
            recovered = recover(root)
        # (a journal consumes the staged files it lists: they are renamed into place)
        assert sorted(recovered) == ([JOURNAL_FILE] if committed else sorted(left))
        assert leftovers_on_disk(root) == []
        want = expected(NEW) if committed else expected(OLD)
        assert snapshot(root) == want, f"killed before step {number} ({step} {path})"
        assert (root / "apps/gone").exists() != committed

        # ... and then writes the new tree.
        result = write_tree(root, NEW)
        assert result.leftovers == []
        assert snapshot(root) == expected(NEW)
        assert leftovers_on_disk(root) == []
        assert not plan(root, NEW).changed


def test_a_killed_write_is_finished_by_the_next_synth_in_one_go(tmp_path: Path) -> None:
    """Without calling recover() apart: the next write_tree does it."""
    steps = steps_of_a_write(tmp_path)
    renames = [n for n, (step, _) in enumerate(steps, 1) if step == "rename"]
    new_files = tmp_path / "new.json"
    new_files.write_text(json.dumps(NEW))
    root = old_tree(tmp_path / "root")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), str(new_files),
                           str(renames[3])], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == KILLED, proc.stderr
    assert snapshot(root) != expected(NEW)
    result = write_tree(root, OLD)  # even a different target: the old change finishes first
    assert JOURNAL_FILE in result.leftovers
    assert snapshot(root) == expected(OLD)
    assert leftovers_on_disk(root) == []


@pytest.mark.parametrize("failing", ["rename", "unlink", "commit", "finish"])
def test_an_error_at_any_step_is_one_line_and_the_next_run_finishes(
        tmp_path: Path, failing: str) -> None:
    root = old_tree(tmp_path / "root")

    def hook(step: str, path: str) -> None:
        if step == failing:
            raise PermissionError(13, "Permission denied")

    previous = set_fault_hook(hook)
    try:
        with pytest.raises(ConfigError, match="Permission denied") as err:
            write_tree(root, NEW)
    finally:
        set_fault_hook(previous)
    assert "\n" not in str(err.value)
    if failing in ("rename", "unlink"):
        assert f"recorded in {JOURNAL_FILE}" in str(err.value)
    if failing == "commit":
        assert "nothing was changed" in str(err.value)
        assert snapshot(root) == expected(OLD)
        assert leftovers_on_disk(root) == []
    else:
        assert plan(root, NEW).leftovers[0] == JOURNAL_FILE
    write_tree(root, NEW)
    assert snapshot(root) == expected(NEW)
    assert leftovers_on_disk(root) == []


def project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cdk8s.yaml").write_text("language: python\n")
    return root


@pytest.fixture(scope="module")
def homelab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = as_project(tmp_path_factory.mktemp("homelab"))
    assert main(["synth", "-q", "--root", str(root)]) == 0
    return root


def test_check_fails_on_files_an_interrupted_run_left_and_synth_removes_them(
        tmp_path: Path, homelab: Path, capsys) -> None:
    root = tmp_path / "root"
    shutil.copytree(homelab, root)
    redis = root / "infrastructure/databases/redis.yaml"
    # What the writer before this fix left when killed: .<name>.<pid>.tmp, half written.
    stale = redis.with_name(".redis.yaml.4242.tmp")
    stale.write_bytes(redis.read_bytes()[:200])
    cut = redis.with_name(".postgresql.yaml.homelab-charts.tmp")
    cut.write_bytes(HEADER.encode()[:10])  # killed while staging
    capsys.readouterr()
    assert main(["synth", "--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "leftover: infrastructure/databases/.redis.yaml.4242.tmp" in out
    assert "leftover: infrastructure/databases/.postgresql.yaml.homelab-charts.tmp" in out
    assert main(["synth", "-q", "--root", str(root)]) == 0
    assert "recovered infrastructure/databases/.redis.yaml.4242.tmp" in capsys.readouterr().err
    assert not stale.exists() and not cut.exists()
    assert main(["synth", "--check", "--root", str(root)]) == 0


def test_a_temp_like_file_that_is_not_ours_is_left_alone(tmp_path: Path) -> None:
    root = old_tree(tmp_path / "root")
    mine = root / "apps/demo/.notes.yaml.1.tmp"
    mine.write_text("my own notes\n")
    write_tree(root, NEW)
    assert mine.read_text() == "my own notes\n"
    assert plan(root, NEW).leftovers == []


def test_a_second_synth_while_one_is_writing_fails_at_once(tmp_path: Path, homelab: Path,
                                                           capsys) -> None:
    root = tmp_path / "root"
    shutil.copytree(homelab, root)
    # Another process holds the tree's lock (flock on the root folder) until told to stop.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys\n"
         "fd = os.open(sys.argv[1], os.O_RDONLY)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\nsys.stdin.read()\n", str(root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        capsys.readouterr()
        assert main(["synth", "-q", "--root", str(root)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "another homelab-charts synth is writing this tree" in err
        assert main(["synth", "--check", "--root", str(root)]) == 2
        assert "is writing this tree" in capsys.readouterr().err
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert main(["synth", "-q", "--root", str(root)]) == 0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # A child process with a timeout: a FIFO that blocks a read would hang a test.
    return subprocess.run([sys.executable, "-m", "homelab_charts", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("where", ["apps/family-assistant/evil.yaml",
                                   "infrastructure/databases/redis.yaml"])
@pytest.mark.parametrize("check", [False, True])
def test_a_fifo_named_yaml_in_the_tree_is_an_error_not_a_hang(
        tmp_path: Path, homelab: Path, where: str, check: bool) -> None:
    root = tmp_path / "root"
    shutil.copytree(homelab, root)
    fifo = root / where
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    before = snapshot_bytes(root)
    proc = run_cli("synth", *(["--check"] if check else []), "--root", str(root))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{where}: is a FIFO, not a regular file" in proc.stderr
    assert snapshot_bytes(root) == before


def snapshot_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_root_must_be_a_project_root(tmp_path: Path, homelab: Path) -> None:
    missing = tmp_path / "nonexistent"
    proc = run_cli("synth", "--root", str(missing))
    assert proc.returncode == 2 and "no such folder" in proc.stderr
    assert not missing.exists()
    root = tmp_path / "root"
    shutil.copytree(homelab, root)
    proc = run_cli("synth", "--root", str(root / "apps"))
    assert proc.returncode == 2
    assert "not a homelab-charts repository root (no cdk8s.yaml in it)" in proc.stderr
    assert not (root / "apps/apps").exists()
    assert proc.stderr.count("\n") == 1


def test_every_staged_file_and_its_folder_are_fsynced_before_the_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fsyncs run on threads (concurrent fsyncs share journal commits); all of them
    have returned when the journal is committed."""
    from homelab_charts import writer

    root = old_tree(tmp_path / "root")
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    at_commit: list[set[str]] = []
    staged: list[str] = []

    def hook(step: str, path: str) -> None:
        if step == "stage":
            staged.append(path)
        if step == "commit":
            at_commit.append(set(synced))

    monkeypatch.setattr(writer.os, "fsync", fsync)
    previous = set_fault_hook(hook)
    try:
        write_tree(root, NEW)
    finally:
        set_fault_hook(previous)
    assert snapshot(root) == expected(NEW)
    done = at_commit[0]
    for rel in staged:
        folder, _, name = rel.rpartition("/")
        assert str(root / folder / f".{name}.homelab-charts.tmp") in done, rel
        assert str(root / folder) in done, folder
    assert str(root / "apps") in done  # apps/fresh/ is new: its entry in apps/ too
