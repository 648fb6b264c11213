"""The CRD schemas shipped in the package: complete for the tree, pinned, regenerable.

``homelab-charts validate`` must work on a clone with nothing beside it: the custom
resources' schemas come from ``homelab_charts/data/schemas`` (scripts/update-crd-schemas.py),
never from ``../shared``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from homelab_charts import config
from homelab_charts.cli import main
from homelab_charts.validate import Options, Status, validate
from homelab_charts.validate.kubeconform import KubeconformOptions, arguments
from homelab_charts.validate.loader import load_documents
from homelab_charts.validate.schemas import (
    PACKAGED_CRD_FOLDER,
    SchemaLocation,
    SchemaStore,
)
from tests.conftest import CRD_SCHEMAS, DATA_FILE, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "update-crd-schemas.py"
TREE_FOLDERS = ("clusters", "infrastructure", "apps")


def tree_objects() -> list[dict[str, Any]]:
    out = []
    for folder in TREE_FOLDERS:
        for path in sorted((REPO_ROOT / folder).rglob("*.yaml")):
            if path.name == "kustomization.yaml":
                continue
            out += [d.obj for d in load_documents(path.read_bytes())
                    if isinstance(d.obj, dict)]
    return out


def packaged_files() -> set[str]:
    return {p.relative_to(PACKAGED_CRD_FOLDER).as_posix()
            for p in PACKAGED_CRD_FOLDER.rglob("*.json") if p.name != "sources.json"}


def test_every_custom_kind_of_the_tree_has_its_packaged_schema() -> None:
    kubernetes = SchemaStore([SchemaLocation.parse("default")])
    packaged = SchemaStore([SchemaLocation.parse("packaged-crds")])
    custom = {(o["kind"], o["apiVersion"]) for o in tree_objects()
              if kubernetes.lookup(o["kind"], o["apiVersion"]) is None}
    # The tree uses Flux and Sealed Secrets resources at least.
    assert {("Kustomization", "kustomize.toolkit.fluxcd.io/v1"),
            ("SealedSecret", "bitnami.com/v1alpha1")} <= custom
    missing = sorted(k for k in custom if packaged.lookup(*k) is None)
    assert missing == []


def test_controllers_the_tree_will_add_are_covered() -> None:
    """cert-manager (ClusterIssuer, Certificate) and Flux image automation."""
    packaged = SchemaStore([SchemaLocation.parse("packaged-crds")])
    for kind, api_version in [("ClusterIssuer", "cert-manager.io/v1"),
                              ("Certificate", "cert-manager.io/v1"),
                              ("Issuer", "cert-manager.io/v1"),
                              ("ImagePolicy", "image.toolkit.fluxcd.io/v1"),
                              ("ImageUpdateAutomation", "image.toolkit.fluxcd.io/v1"),
                              ("Receiver", "notification.toolkit.fluxcd.io/v1"),
                              ("GitRepository", "source.toolkit.fluxcd.io/v1")]:
        assert packaged.lookup(kind, api_version) is not None, kind


def test_packaged_schemas_are_strict() -> None:
    """Unknown fields below the root are rejected, int-or-string accepts both."""
    store = SchemaStore([SchemaLocation.parse("packaged-crds")])
    ks = store.lookup("Kustomization", "kustomize.toolkit.fluxcd.io/v1")
    assert ks is not None
    good = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "a"},
            "spec": {"interval": "10m", "path": "./apps", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}
    assert ks.validator.is_valid(good)
    typo = json.loads(json.dumps(good))
    typo["spec"]["prunee"] = True
    assert not ks.validator.is_valid(typo)
    cert = store.lookup("Certificate", "cert-manager.io/v1")
    assert cert is not None
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": {"name": "web"},
                   "spec": {"secretName": "web-tls", "dnsNames": ["web.homelab.lan"],
                            "issuerRef": {"name": "homelab-ca", "kind": "ClusterIssuer"}}}
    assert cert.validator.is_valid(certificate)
    certificate["spec"]["issuerRef"]["nme"] = "x"
    assert not cert.validator.is_valid(certificate)


def test_sources_match_the_versions_the_data_file_pins() -> None:
    manifest = json.loads((PACKAGED_CRD_FOLDER / "sources.json").read_text())
    pinned = {name: pin.version for name, pin in config.load(DATA_FILE).controllers.items()}
    assert {k: v["version"] for k, v in manifest["controllers"].items()} == pinned
    assert set(manifest["schemas"]) == packaged_files()


def _normalized_shared(node: Any) -> Any:
    """``../shared``'s catalog conversion closes objects that preserve unknown fields; the
    packaged one leaves them open (as the API server does). Otherwise they must agree."""
    if isinstance(node, dict):
        out = {k: _normalized_shared(v) for k, v in node.items()}
        if out.get("x-kubernetes-preserve-unknown-fields") and \
                out.get("additionalProperties") is False:
            del out["additionalProperties"]
        return out
    if isinstance(node, list):
        return [_normalized_shared(v) for v in node]
    return node


def test_packaged_schemas_agree_with_shared_where_both_exist() -> None:
    if not CRD_SCHEMAS.is_dir():
        pytest.skip(f"{CRD_SCHEMAS} absent (../shared): nothing to compare the packaged "
                    "schemas with")
    common = sorted(packaged_files() & {p.relative_to(CRD_SCHEMAS).as_posix()
                                        for p in CRD_SCHEMAS.rglob("*.json")})
    assert len(common) >= 20
    for name in common:
        ours = json.loads((PACKAGED_CRD_FOLDER / name).read_text())
        theirs = json.loads((CRD_SCHEMAS / name).read_text())
        assert ours == _normalized_shared(theirs), name


def test_the_product_never_reads_shared() -> None:
    package = REPO_ROOT / "homelab_charts"
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in ('"shared"', "'shared'", "shared/schemas", "/ \"shared\""):
            assert needle not in text, f"{path}: {needle}"


def _copy_tree(dest: Path) -> Path:
    """The committed tree alone in a folder with no ``../shared`` beside it."""
    clone = dest / "clone"
    (clone / ".git").mkdir(parents=True)
    for folder in TREE_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, clone / folder)
    assert not (clone / ".." / "shared").exists()
    return clone


def test_validate_passes_on_a_clone_without_shared(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    clone = _copy_tree(tmp_path)
    code = main(["validate", "--root", str(clone), "--summary", "--no-kustomize"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "Invalid: 0, Errors: 0, Skipped: 0" in out
    assert "note" not in err


def test_schema_locations_follow_kubeconform(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    clone = _copy_tree(tmp_path)
    base = ["validate", "--root", str(clone), "--no-kustomize", "--no-flux"]
    # Named explicitly: the same as no option.
    assert main([*base, "--schema-location", "default",
                 "--schema-location", "packaged-crds"]) == 0
    capsys.readouterr()
    # `default` alone: Kubernetes kinds only; the custom ones have no schema, and a hint
    # says what to add.
    assert main([*base, "--schema-location", "default"]) == 1
    out, err = capsys.readouterr()
    assert "could not find schema for Kustomization" in out
    assert "--schema-location packaged-crds" in err
    # The hint only when missing schemas are errors.
    assert main([*base, "--schema-location", "default", "--ignore-missing-schemas"]) == 0
    out, err = capsys.readouterr()
    assert "skipped" in out and err == ""
    # A folder in kubeconform's CRD layout works like the packaged location.
    folder = tmp_path / "crds"
    shutil.copytree(PACKAGED_CRD_FOLDER, folder)
    assert main([*base, "--schema-location", "default", "--schema-location",
                 str(folder)]) == 0
    template = f"{folder}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json"
    assert main([*base, "--schema-location", "default", "--schema-location", template]) == 0


def test_missing_schema_hint_without_options_names_the_packaged_groups(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".git").mkdir()
    widget = tmp_path / "apps" / "widget.yaml"
    widget.parent.mkdir()
    widget.write_text("apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w}\n")
    assert main(["validate", "--root", str(tmp_path), "--no-kustomize"]) == 1
    err = capsys.readouterr().err
    assert "no schema for Widget (example.io/v1)" in err
    assert "kustomize.toolkit.fluxcd.io" in err and "cert-manager.io" in err
    assert main(["validate", "--root", str(tmp_path), "--no-kustomize",
                 "--ignore-missing-schemas"]) == 0
    assert capsys.readouterr().err == ""


def test_kubeconform_engine_gets_the_packaged_template() -> None:
    opts = KubeconformOptions(kubernetes_version="1.33.0", schema_locations=[
        SchemaLocation.parse("default"), SchemaLocation.parse("packaged-crds")])
    args = arguments(opts)
    locations = [args[i + 1] for i, a in enumerate(args) if a == "-schema-location"]
    assert locations == ["default", f"{PACKAGED_CRD_FOLDER}/{{{{ .Group }}}}/"
                         "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"]


# --- the generator script ---------------------------------------------------------------

FIXTURE_CRD = """
# Not a CRD: ignored.
apiVersion: v1
kind: Namespace
metadata: {name: widgets}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.io
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer}
                port:
                  format: int-or-string
                  x-kubernetes-int-or-string: true
                template:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                  properties:
                    labels: {type: object, additionalProperties: {type: string}}
                rules:
                  type: array
                  items:
                    type: object
                    properties:
                      name: {type: string}
    - name: v1alpha1
      served: false
      storage: false
      schema:
        openAPIV3Schema: {type: object}
"""


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, check=False, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def test_script_converts_a_folder_of_crds(tmp_path: Path) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "widgets.yaml").write_text(textwrap.dedent(FIXTURE_CRD))
    out = tmp_path / "schemas"
    (out / "stale.io").mkdir(parents=True)
    (out / "stale.io" / "old_v1.json").write_text("{}")
    proc = run_script(str(crds), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["example.io/widget_v1.json", "sources.json"]  # unserved: no file
    schema = json.loads((out / "example.io" / "widget_v1.json").read_text())
    assert "additionalProperties" not in schema  # root stays open, as kubeconform's
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["port"] == {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    assert "additionalProperties" not in spec["properties"]["template"]  # preserves unknown
    assert spec["properties"]["rules"]["items"]["additionalProperties"] is False
    manifest = json.loads((out / "sources.json").read_text())
    assert manifest["schemas"] == ["example.io/widget_v1.json"]
    assert manifest["controllers"]["sealed-secrets"]["version"] == \
        config.load(DATA_FILE).controllers["sealed-secrets"].version
    # The result validates like the packaged schemas do.
    store = SchemaStore([SchemaLocation.parse(str(out))])
    found = store.lookup("Widget", "example.io/v1")
    assert found is not None
    widget = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"size": 1, "port": "http", "template": {"anything": 1},
                       "rules": [{"name": "a"}]}}
    assert found.validator.is_valid(widget)
    widget["spec"]["rules"][0]["nmae"] = "typo"
    assert not found.validator.is_valid(widget)


def test_script_refuses_a_file_without_crd_and_keeps_the_output(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    out.mkdir()
    (out / "keep.json").write_text("{}")
    bad = tmp_path / "not-a-crd.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    proc = run_script(str(bad), "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"update-crd-schemas: {bad}: no CustomResourceDefinition in it"]
    assert (out / "keep.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_script_refuses_a_bad_crd_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent(FIXTURE_CRD).replace("openAPIV3Schema:\n          type",
                                                        "openAPIV3Schemx:\n          type"))
    proc = run_script(str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "spec.versions[0]: needs name and schema.openAPIV3Schema" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_validate_status_values_of_the_packaged_tree_run() -> None:
    """The library call on the repository: every resource valid, none skipped."""
    report = validate(Options(root=REPO_ROOT, kustomize=False))
    assert report.results
    assert {r.status for r in report.results} == {Status.VALID}


def _doc_examples() -> list[tuple[list[str], str]]:
    """The ``$ homelab-charts validate ...`` lines of VALIDATION.md's first console block
    and the line each prints."""
    text = (REPO_ROOT / "docs" / "VALIDATION.md").read_text(encoding="utf-8")
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    examples = []
    for chunk in block.strip().split("\n\n"):
        command, output = chunk.split("\n", 1)
        assert command.startswith("$ homelab-charts "), command
        examples.append((command[len("$ homelab-charts "):].split(), output.strip()))
    return examples


def test_validation_doc_examples_run_on_a_clone(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (install it for the kustomize builds the "
                    "documented figures include)")
    clone = _copy_tree(tmp_path)
    examples = _doc_examples()
    assert len(examples) >= 3
    for argv, expected in examples:
        code = main([argv[0], "--root", str(clone), *argv[1:]])
        out = capsys.readouterr().out
        assert code == 0, (argv, out)
        assert out.strip().splitlines()[-1] == expected, argv
