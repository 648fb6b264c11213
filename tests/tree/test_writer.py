"""The tree writer: deterministic, stage-then-swap, never touches what it does not own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_charts import config
from homelab_charts.base import Component, Folder, Manifest, TreeApp
from homelab_charts.errors import ConfigError
from homelab_charts.synth import build_homelab, synth_tree
from homelab_charts.writer import HEADER, write_tree
from tests.helpers import PROJECT_FILES, as_project

REPO = Path(__file__).resolve().parents[2]


def snapshot(root: Path) -> dict[str, bytes]:
    """The generated tree under ``root`` (the repository's own files left out)."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] not in PROJECT_FILES}


def small_tree(app: TreeApp, data: config.HomelabData) -> None:
    folder = Folder(app, "demo", path="apps/demo", namespace="demo")
    c = Component(folder, "settings")
    Manifest(c, "cm", api_version="v1", kind="ConfigMap", name="settings",
             body={"data": {"mode": "fast"}})


@pytest.fixture(scope="module")
def homelab_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("first")
    synth_tree(as_project(root))
    return snapshot(root)


def test_two_syntheses_give_byte_identical_trees(tmp_path: Path, homelab_files) -> None:
    synth_tree(as_project(tmp_path))
    assert snapshot(tmp_path) == homelab_files
    second = synth_tree(as_project(tmp_path))
    assert not second.changes.changed
    assert second.changes.unchanged == len(homelab_files)


def test_another_process_with_another_hash_seed_writes_the_same_bytes(
        tmp_path: Path, homelab_files) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "homelab_charts", "synth", "-q", "--root",
                    str(as_project(tmp_path))], check=True, env=env, cwd=REPO)
    assert snapshot(tmp_path) == homelab_files


def test_every_generated_file_starts_with_the_header(homelab_files) -> None:
    for path, content in homelab_files.items():
        assert content.startswith(HEADER.encode()), path


def test_exception_while_building_leaves_the_tree_unchanged(tmp_path: Path) -> None:
    synth_tree(as_project(tmp_path))
    before = snapshot(tmp_path)

    def half_then_crash(app: TreeApp, data: config.HomelabData) -> None:
        build_homelab(app, data)
        raise RuntimeError("injected failure after building the constructs")

    with pytest.raises(RuntimeError, match="injected"):
        synth_tree(as_project(tmp_path), builder=half_then_crash)
    assert snapshot(tmp_path) == before


def test_exception_while_rendering_leaves_the_tree_unchanged(tmp_path: Path,
                                                              monkeypatch) -> None:
    synth_tree(as_project(tmp_path))
    before = snapshot(tmp_path)
    calls = {"n": 0}
    original = Manifest.render

    def flaky(self: Manifest) -> dict:
        calls["n"] += 1
        if calls["n"] == 7:
            raise RuntimeError("injected render failure")
        return original(self)

    monkeypatch.setattr(Manifest, "render", flaky)
    with pytest.raises(RuntimeError, match="injected render failure"):
        synth_tree(as_project(tmp_path))
    assert snapshot(tmp_path) == before


def test_failure_while_staging_replaces_nothing_and_leaves_no_temp_files(
        tmp_path: Path, monkeypatch) -> None:
    synth_tree(as_project(tmp_path), builder=small_tree)
    before = snapshot(tmp_path)
    files = {
        "apps/demo/settings.yaml": HEADER + "---\nchanged: 1\n",
        "apps/demo/kustomization.yaml": HEADER + "---\nchanged: 2\n",
        "apps/demo/more.yaml": HEADER + "---\nnew: 3\n",
    }
    real_fdopen = os.fdopen
    opened = {"n": 0}

    def failing_fdopen(fd: int, mode: str = "r", *args, **kwargs):
        if "w" not in mode:
            return real_fdopen(fd, mode, *args, **kwargs)
        opened["n"] += 1
        if opened["n"] == 3:
            os.close(fd)
            raise OSError(28, "No space left on device")
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr("homelab_charts.writer.os.fdopen", failing_fdopen)
    with pytest.raises(ConfigError, match="cannot write: No space left on device; nothing "
                                          "was changed") as err:
        write_tree(tmp_path, files)
    assert err.value.where == "apps/demo/more.yaml"
    assert snapshot(tmp_path) == before


def test_foreign_files_and_flux_system_survive(tmp_path: Path) -> None:
    protected = {
        "clusters/homelab/flux-system/gotk-components.yaml": b"# flux bootstrap\nkind: List\n",
        # Even a file that looks generated is never touched inside flux-system/.
        "clusters/homelab/flux-system/gotk-sync.yaml": (HEADER + "kind: Fake\n").encode(),
        "clusters/homelab/flux-system/kustomization.yaml": b"resources: [gotk-sync.yaml]\n",
        "apps/README.md": b"hand-written notes\n",
        "infrastructure/databases/backup-cronjob.yaml": b"apiVersion: batch/v1\n",
        "notes.txt": b"outside the tree\n",
    }
    for rel, content in protected.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content)
    synth_tree(as_project(tmp_path))
    synth_tree(as_project(tmp_path), builder=small_tree)  # removes the homelab's files again
    for rel, content in protected.items():
        assert (tmp_path / rel).read_bytes() == content, rel
    assert (tmp_path / "apps/demo/settings.yaml").exists()
    assert not (tmp_path / "infrastructure/databases/postgresql.yaml").exists()


def test_files_no_longer_produced_are_removed_with_their_empty_folders(tmp_path: Path) -> None:
    stale = tmp_path / "apps/retired/retired.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text(HEADER + "---\nkind: ConfigMap\n")
    result = synth_tree(as_project(tmp_path), builder=small_tree)
    assert result.changes.removed == ["apps/retired/retired.yaml"]
    assert not stale.parent.exists()
    assert (tmp_path / "apps").is_dir()


def test_a_foreign_file_where_a_generated_one_goes_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "apps/demo/settings.yaml"
    target.parent.mkdir(parents=True)
    target.write_text("# mine\nkind: ConfigMap\n")
    with pytest.raises(ConfigError, match="not generated by homelab-charts") as err:
        synth_tree(as_project(tmp_path), builder=small_tree)
    assert err.value.where == "apps/demo/settings.yaml"
    assert target.read_text() == "# mine\nkind: ConfigMap\n"
    assert not (tmp_path / "apps/demo/kustomization.yaml").exists()


def test_never_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / "apps/demo").symlink_to(outside)
    with pytest.raises(ConfigError, match="symbolic link"):
        synth_tree(as_project(root), builder=small_tree)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(("file", "needle"), [
    ("clusters/homelab/flux-system/mine.yaml", "belongs to flux bootstrap"),
    ("docs/mine.yaml", "outside the generated tree"),
    ("/etc/mine.yaml", "must be a relative path"),
    ("apps/../../mine.yaml", "must be a relative path"),
    ("apps/mine.json", "must be a relative path ending in .yaml"),
])
def test_components_cannot_write_outside_the_tree(tmp_path: Path, file: str, needle: str) -> None:
    def builder(app: TreeApp, data: config.HomelabData) -> None:
        c = Component(app, "bad", file=file)
        Manifest(c, "cm", api_version="v1", kind="ConfigMap", name="x", namespace="x")

    with pytest.raises(ConfigError, match=needle) as err:
        synth_tree(as_project(tmp_path), builder=builder)
    assert err.value.where == "bad"
    assert snapshot(tmp_path) == {}


def test_two_components_with_one_file_is_an_error(tmp_path: Path) -> None:
    def builder(app: TreeApp, data: config.HomelabData) -> None:
        folder = Folder(app, "f", path="apps/x", namespace="x")
        Component(folder, "a", file="apps/x/same.yaml")
        Component(folder, "b", file="apps/x/same.yaml")

    with pytest.raises(ConfigError, match="also produced by f/a"):
        synth_tree(as_project(tmp_path), builder=builder)


def test_a_plain_secret_with_data_fails_synthesis_naming_it(tmp_path: Path) -> None:
    def builder(app: TreeApp, data: config.HomelabData) -> None:
        small_tree(app, data)
        folder = Folder(app, "leaky", path="apps/leaky", namespace="leaky")
        c = Component(folder, "secret")
        Manifest(c, "s", api_version="v1", kind="Secret", name="db-password",
                 body={"stringData": {"password": "hunter2"}})

    with pytest.raises(ConfigError) as err:
        synth_tree(as_project(tmp_path), builder=builder)
    message = str(err.value)
    assert "Secret leaky/db-password" in message and "apps/leaky/secret.yaml" in message
    assert "hunter2" not in message and "password" not in message.split("db-password")[1]
    assert snapshot(tmp_path) == {}


def test_kustomization_files_list_the_folder(tmp_path: Path) -> None:
    synth_tree(as_project(tmp_path))
    folder = tmp_path / "infrastructure/databases"
    text = (folder / "kustomization.yaml").read_text()
    files = sorted(p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    assert {"postgresql.yaml", "qdrant.yaml", "redis.yaml"} <= set(files)
    assert text == (HEADER + "---\napiVersion: kustomize.config.k8s.io/v1beta1\n"
                    "kind: Kustomization\nresources:\n" + "".join(f"- {f}\n" for f in files))
    # No kustomization.yaml at the cluster root: bootstrap's flux-system Kustomization
    # points there and Flux generates one over the whole folder.
    assert not (tmp_path / "clusters/homelab/kustomization.yaml").exists()


def test_cdk8s_sees_each_manifest_as_the_tree_writer_does() -> None:
    """Manifest hands its props to cdk8s directly: Node's view must match Python's."""
    app = TreeApp()
    folder = Folder(app, "demo", path="apps/demo", namespace="demo")
    c = Component(folder, "settings")
    cm = Manifest(c, "cm", api_version="v1", kind="ConfigMap", name="settings",
                  body={"data": {"mode": "fast"}})
    ns = Manifest(c, "ns", api_version="v1", kind="Namespace", name="demo")
    assert (cm.name, cm.api_version, cm.kind, cm.metadata.namespace) == (
        "settings", "v1", "ConfigMap", "demo")
    assert ns.metadata.namespace is None
    assert c.to_json() == [cm.render(), ns.render()]


def _pyyaml_dump(documents: list[object]) -> str:
    """dump_documents' output as PyYAML's own representer writes it (the reference)."""
    import yaml

    class Reference(yaml.CSafeDumper):  # type: ignore[misc]
        pass

    def represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Reference.add_representer(str, represent_str)
    return yaml.dump_all(documents, Dumper=Reference, sort_keys=False, explicit_start=True,
                         default_flow_style=False, allow_unicode=True, width=4096)


def test_the_fast_dumper_writes_what_pyyaml_writes() -> None:
    from homelab_charts.writer import dump_documents

    shared = {"app": "x"}
    items = ["a", "b"]
    scalars = ["", "yes", "No", "on", "~", "null", "Null", "1", "01", "0x1F", "1e3", "1_000",
               ".inf", "-.5", "2024-01-02", "a: b", "- x", "#x", "x #y", "'q'", '"q"', "é ü",
               "{a}", "[1]", "*x", "&x", "!x", "%x", "@x", "`x", " lead", "trail ", "tab\t",
               "line\nline\n", "no-final\nnewline", "  indented\ntext\n", "x" * 5000, "\x07"]
    docs: list[object] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": shared},
         "data": {s: s for s in scalars if s}},
        {"values": [1, -2, 0, 2**70, 1.5, 1e17, -0.0, float("inf"), True, False, None],
         "list": scalars, "nested": [[1, [2]], {"a": {}}, [], {}], "tuple": (1, "t")},
        {"first": shared, "second": shared, "items": items, "again": items},  # aliases
        {"keys": {2: "int", True: "bool", None: "null", 1.5: "float", "": "empty"}},
        [shared, {"in": shared}],
        "just a string",
        None,
    ]
    assert dump_documents(docs) == _pyyaml_dump(docs)
    # documents of the generated tree, every file
    import yaml

    for path in sorted(REPO.glob("*/**/*.yaml")):
        if path.parts[len(REPO.parts)] not in ("clusters", "infrastructure", "apps"):
            continue
        loaded = list(yaml.safe_load_all(path.read_text()))
        assert dump_documents(loaded) == _pyyaml_dump(loaded), path
