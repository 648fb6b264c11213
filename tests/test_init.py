"""``homelab-charts init DIR``: what the new repository holds, and what init refuses.

The command line runs as a user runs it (``python -m homelab_charts``, a subprocess);
the result is read back from disk. tests/test_init_wheel.py runs a scaffold's own
set-up, synth, validate and tests from the built wheel.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.x509.oid import NameOID

from homelab_charts import __version__, scaffold
from homelab_charts.config import load
from homelab_charts.errors import ConfigError
from homelab_charts.secrets.crypto import SealingCertificate
from homelab_charts.secrets.examples import throwaway_certificate
from homelab_charts.secrets.store import iter_store
from homelab_charts.synth import synth_tree
from tests.conftest import DATA_FILE, REPO_ROOT, STORE_DIR


def run_init(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "homelab_charts", "init", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def tree_sealed_secrets(root: Path) -> dict[str, set[str]]:
    """``namespace/name`` (``name`` for a credential sealed cluster-wide, one store file
    copied into every namespace reading it) -> keys, of every SealedSecret in the
    generated tree."""
    found: dict[str, set[str]] = {}
    for top in ("clusters", "infrastructure", "apps"):
        for path in (root / top).rglob("*.yaml"):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if doc and doc.get("kind") == "SealedSecret":
                    meta = doc["metadata"]
                    wide = (meta.get("annotations") or {}).get(
                        "sealedsecrets.bitnami.com/cluster-wide") == "true"
                    ident = meta["name"] if wide else f"{meta['namespace']}/{meta['name']}"
                    found[ident] = set(doc["spec"]["encryptedData"])
    return found


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    where = tmp_path_factory.mktemp("init")
    result = run_init("my-homelab", "--without", "qdrant", "--without", "services.n8n",
                      cwd=where)
    return where / "my-homelab", result


def test_init_makes_a_repository_that_is_in_sync(made) -> None:
    root, result = made
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"created {root}" in result.stdout
    for name in ("homelab.yaml", "cdk8s.yaml", "README.md", "requirements.txt",
                 "package.json", "package-lock.json", ".gitignore", "scripts/run", ".ci/run",
                 ".github/workflows/ci.yaml", "my_homelab/apps/whoami.py",
                 "tests/test_tree.py", "sealed/sealed-secrets-cert.pem",
                 "clusters/homelab/apps.yaml", "apps/whoami/whoami.yaml"):
        assert (root / name).is_file(), name
    # the tree init wrote is what the repository's code and data file produce
    changes = synth_tree(root, check=True).changes
    assert not changes.written and not changes.removed and not changes.leftovers
    for script in ("scripts/run", ".ci/run"):
        assert (root / script).stat().st_mode & stat.S_IXUSR, script
    assert not (root / "my_homelab/apps/whoami.py").stat().st_mode & stat.S_IXUSR
    leftovers = [rel for rel, body in listing(root).items() if b"@@" in body]
    assert leftovers == []


def test_homelab_charts_is_a_pinned_dependency(made) -> None:
    root, _ = made
    lines = (root / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert f"homelab-charts=={__version__}" in lines
    assert f"homelab-charts {__version__}" in (root / "README.md").read_text(encoding="utf-8")
    # the package is a dependency: nothing of it is copied into the repository
    assert not (root / "homelab_charts").exists()


def test_the_flags_switch_components_off_in_the_data_file(made) -> None:
    root, result = made
    data = load(root / "homelab.yaml")
    assert list(data.modules) == ["my_homelab.apps"]
    assert not data.enabled("infrastructure.qdrant")
    assert not data.enabled("services.n8n")
    assert data.enabled("services.whoami") and data.enabled("infrastructure.postgresql")
    assert "left out (enabled: false in homelab.yaml): qdrant" in result.stdout
    assert not (root / "infrastructure/databases/qdrant.yaml").exists()
    assert not (root / "apps/n8n").exists()
    # the data file keeps the template's comments
    assert "# The example app of this repository" in (root / "homelab.yaml").read_text()
    ingress = yaml.safe_load_all((root / "apps/whoami/whoami.yaml").read_text())
    hosts = [r["host"] for d in ingress if d["kind"] == "Ingress" for r in d["spec"]["rules"]]
    assert hosts == ["whoami.homelab.lan"]


def test_every_credential_the_tree_uses_is_sealed_for_a_throwaway_certificate(made) -> None:
    root, result = made
    cert_file = root / "sealed" / "sealed-secrets-cert.pem"
    cert = SealingCertificate.from_pem(cert_file.read_bytes(), str(cert_file))
    assert cert.key_size == 4096 and cert.validity_problem() is None
    assert cert.fingerprint in result.stdout
    store = {doc.ident: doc for _, doc in iter_store(root / "sealed")}
    used = tree_sealed_secrets(root)
    # exactly the credentials the enabled components ask for, with their keys
    assert {ident: set(doc.keys) for ident, doc in store.items()} == used
    assert used == {"databases/postgresql-credentials": {"postgres-password"},
                    "redis-credentials": {"password"},
                    "observability/grafana-admin": {"admin-user", "admin-password"},
                    "restic-repository": {"password", "aws-access-key-id",
                                          "aws-secret-access-key"}}
    assert all(doc.key_fingerprint == cert.fingerprint for doc in store.values())
    # a fresh certificate: not the one of this repository
    own = SealingCertificate.from_pem((STORE_DIR / "sealed-secrets-cert.pem").read_bytes(), "own")
    assert cert.fingerprint != own.fingerprint
    private = [rel for rel, body in listing(root).items() if b"PRIVATE KEY" in body]
    assert private == []


def test_by_default_the_template_enables_what_a_new_homelab_can_run(tmp_path: Path) -> None:
    result = run_init("home", "--with", "homelab-dashboard", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "home"
    data = load(root / "homelab.yaml")
    assert data.enabled("services.homelab-dashboard")
    assert data.enabled("services.n8n") and data.enabled("infrastructure.qdrant")
    assert not data.enabled("services.family-assistant-backend")
    used = tree_sealed_secrets(root)
    assert used["n8n/n8n-credentials"] == {"encryption-key"}
    assert used["postgresql-n8n"] == {"password"}  # the n8n role's, sealed once
    assert used["databases/postgresql-credentials"] == {"postgres-password"}
    assert {ident: set(doc.keys) for _, doc in iter_store(root / "sealed")
            for ident in [doc.ident]} == used
    assert (root / "apps/homelab-dashboard/dashboard.yaml").is_file()


# --- what init refuses -------------------------------------------------------------------

def assert_one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("homelab-charts init: error: ")
    for part in parts:
        assert part in lines[0]


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "home"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    before = listing(tmp_path)
    result = run_init(str(target), cwd=tmp_path)
    assert_one_line_error(result, str(target), "is not empty (notes.txt)", "--force")
    assert listing(tmp_path) == before


def test_a_folder_with_only_git_counts_as_empty(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "home")], check=True)
    result = run_init("home", "--without", "n8n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / "homelab.yaml").is_file()


def test_force_adds_to_a_folder_but_never_overwrites_a_file(tmp_path: Path) -> None:
    target = tmp_path / "home"
    (target / "docs").mkdir(parents=True)
    (target / "docs" / "mine.md").write_text("mine\n")
    (target / "README.md").write_text("my readme\n")
    before = listing(tmp_path)
    result = run_init("home", "--force", cwd=tmp_path)
    assert_one_line_error(result, str(target / "README.md"), "never overwrites")
    assert listing(tmp_path) == before
    (target / "README.md").unlink()
    result = run_init("home", "--force", "--without", "n8n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (target / "docs" / "mine.md").read_text() == "mine\n"
    assert (target / "README.md").read_text().startswith("# home")


def test_force_writes_nothing_through_a_symbolic_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "home"
    target.mkdir()
    (target / "scripts").symlink_to(elsewhere)
    result = run_init("home", "--force", cwd=tmp_path)
    assert_one_line_error(result, str(target / "scripts"), "symbolic link")
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in target.iterdir()] == ["scripts"]


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("x")
    assert_one_line_error(run_init("home", cwd=tmp_path), "exists and is not a folder")


def test_an_unknown_component_is_refused_naming_the_choices(tmp_path: Path) -> None:
    result = run_init("home", "--without", "qdrnat", cwd=tmp_path)
    assert_one_line_error(result, "--without", "'qdrnat' is not a component", "qdrant")
    assert not (tmp_path / "home").exists()
    result = run_init("home", "--with", "n8n", "--without", "n8n", cwd=tmp_path)
    assert_one_line_error(result, "services.n8n both enabled and disabled")


def test_leaving_out_what_another_component_needs_writes_nothing(tmp_path: Path) -> None:
    result = run_init("home", "--without", "traefik", cwd=tmp_path)
    # named as the file will be in DIR, not in init's temporary folder
    # Grafana (built first, with the infrastructure) or whoami: both are exposed through it
    assert_one_line_error(result, f"{tmp_path / 'home' / 'homelab.yaml'}: ",
                          "needs Traefik", "disables", "nothing was written")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_copying_removes_what_init_created(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "home"
    calls: list[Any] = []
    real = os.open

    def failing_open(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        if flags & os.O_EXCL and str(path).startswith(str(target)):
            calls.append(path)
            if len(calls) == 6:
                raise OSError(28, "No space left on device", str(path))
        return real(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", failing_open)
    with pytest.raises(OSError, match="No space left"):
        scaffold.init(target, disable=["n8n"])
    assert len(calls) == 6
    assert not target.exists()


# --- the templates ---------------------------------------------------------------------------

def _shape(value: Any) -> Any:
    """The keys of a YAML document, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_the_data_file_template_agrees_with_this_repositorys_data_file() -> None:
    mine = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    template = yaml.safe_load(scaffold.data_file_template())
    # the template adds the repository's own package and its example app
    assert template.pop("modules") == ["my_homelab.apps"]
    example = template["services"].pop("whoami")
    assert example["upstream"] is True and "enabled" not in example
    for section in ("services", "infrastructure"):
        for settings in template[section].values():
            settings.pop("enabled", None)
    assert set(template) == set(mine)
    assert list(template["services"]) == list(mine["services"])
    assert list(template["infrastructure"]) == list(mine["infrastructure"])
    shape = {k: v for k, v in _shape(template).items() if k != "sharedPaths"}
    assert shape == {k: v for k, v in _shape(mine).items() if k != "sharedPaths"}
    # the pinned third-party images and the controllers whose schemas ship in the package
    assert template["infrastructure"] == mine["infrastructure"]
    assert template["controllers"] == mine["controllers"]
    assert template["cluster"] == {k: v for k, v in mine["cluster"].items() if k != "uid"}


def test_template_components_match_what_the_package_registers() -> None:
    from homelab_charts.cluster import BUILTIN_MODULES
    from homelab_charts.registry import import_all, registrations

    for package in BUILTIN_MODULES:
        import_all(package, where="test", field="modules")
    builtin = {r.entry for r in registrations(BUILTIN_MODULES)}
    entries = scaffold.template_components()
    assert set(entries) - {"services.whoami"} == builtin


@pytest.mark.parametrize("name", ["package.json", "package-lock.json", "cdk8s.yaml"])
def test_templates_copied_from_this_repository_are_current(name: str) -> None:
    template = scaffold.template_files()[name]
    assert template.read_text(encoding="utf-8") == (REPO_ROOT / name).read_text(encoding="utf-8")


def test_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown placeholder @@nope@@"):
        scaffold.render_template("a @@nope@@ b", {"version": "1"}, "t")


def test_template_paths_map_dot_folders() -> None:
    files = scaffold.template_files()
    assert {".github/workflows/ci.yaml", ".ci/run", ".gitignore"} <= set(files)
    assert not [rel for rel in files if "dot_" in rel or rel.endswith(".tmpl")]


# --- example credentials: the library code behind init and make-example-secrets.py ----------

def test_the_credentials_found_are_this_repositorys_sealed_store(tmp_path: Path) -> None:
    """Built from this repository's data file into an empty store, the credentials sealed
    are exactly those of its committed store, key for key."""
    cert = SealingCertificate.from_pem(throwaway_certificate(), "throwaway")
    documents = scaffold.seal_example_credentials(REPO_ROOT, cert, store=tmp_path)
    sealed = {d.ident: set(d.keys) for d in documents}
    committed = {doc.ident: set(doc.keys) for _, doc in iter_store(STORE_DIR)}
    assert sealed == committed
    assert {doc.ident for _, doc in iter_store(tmp_path)} == set(sealed)


def test_the_throwaway_certificate_is_like_the_controllers() -> None:
    cert = SealingCertificate.from_pem(throwaway_certificate(), "throwaway")
    assert cert.key_size == 4096 and cert.validity_problem() is None
    c = cert.certificate
    assert c.subject == c.issuer
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sealed-secret"
    assert 3600 <= (c.not_valid_after_utc - c.not_valid_before_utc).days <= 3700


def _dev_tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    if not found.exists():
        pytest.skip(f"{name} is not installed (scripts/run test installs the dev tools)")
    return str(found)


def test_the_new_repositorys_workflow_and_scripts_lint_clean(made) -> None:
    root, _ = made
    actionlint = subprocess.run([_dev_tool("actionlint"), "-no-color",
                                 ".github/workflows/ci.yaml"], cwd=root, capture_output=True,
                                text=True, timeout=120,
                                env={**os.environ,
                                     "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert actionlint.returncode == 0, actionlint.stdout + actionlint.stderr
    shellcheck = subprocess.run([_dev_tool("shellcheck"), "--severity=style", "scripts/run",
                                 ".ci/run"], cwd=root, capture_output=True, text=True,
                                timeout=120)
    assert shellcheck.returncode == 0, shellcheck.stdout
    workflow = yaml.safe_load((root / ".github/workflows/ci.yaml").read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    assert runs[-3:] == [".ci/run", "scripts/run cli synth --check",
                         "scripts/run cli validate --summary"]
    assert "exec scripts/run test" in (root / ".ci/run").read_text()


def test_make_example_secrets_reseals_what_the_components_ask_for(tmp_path: Path) -> None:
    from tests.helpers import as_project

    root = as_project(tmp_path / "homelab")
    (root / "scripts").mkdir()
    script = root / "scripts" / "make-example-secrets.py"
    script.write_bytes((REPO_ROOT / "scripts" / "make-example-secrets.py").read_bytes())
    old = SealingCertificate.from_pem((root / "sealed/sealed-secrets-cert.pem").read_bytes(),
                                      "old").fingerprint
    refused = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 1 and "--force" in refused.stderr
    result = subprocess.run([sys.executable, str(script), "--force"], cwd=root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    new = SealingCertificate.from_pem((root / "sealed/sealed-secrets-cert.pem").read_bytes(),
                                      "new").fingerprint
    assert new != old and new in result.stdout
    store = {doc.ident: doc for _, doc in iter_store(root / "sealed")}
    assert {i: set(d.keys) for i, d in store.items()} == {
        doc.ident: set(doc.keys) for _, doc in iter_store(STORE_DIR)}
    assert {doc.key_fingerprint for doc in store.values()} == {new}
    assert synth_tree(root, check=False).warnings == []
