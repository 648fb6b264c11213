#!/usr/bin/env python3
"""Regenerate the packaged JSON schemas of the custom resources from upstream CRD YAML.

The tree's custom resources (Flux, Sealed Secrets, cert-manager) are validated against
``homelab_charts/data/schemas/<group>/<kind>_<version>.json`` (kubeconform's CRD layout),
generated here from the CustomResourceDefinitions of the controller versions pinned
under ``controllers:`` in ``homelab.yaml``. Two ways in:

    # from a folder (or files) of CRD YAML, e.g. exported from the upstream repositories
    .venv/bin/python scripts/update-crd-schemas.py CRD_DIR_OR_FILE... [--out DIR]

    # download the upstream CRD files at the pinned tags (github.com), then convert
    .venv/bin/python scripts/update-crd-schemas.py --download [--out DIR]

Where each controller's CRDs live upstream is listed in ``UPSTREAM`` below; a new
controller needs an entry there and a version under ``controllers:``.

The conversion follows openapi2jsonschema (as kubeconform's CRDs catalog does): one file
per served version from ``schema.openAPIV3Schema``; every object schema below the root
that lists ``properties`` and sets neither ``additionalProperties`` nor
``x-kubernetes-preserve-unknown-fields`` is closed (``additionalProperties: false``),
so unknown fields are errors under ``-strict``; ``format: int-or-string`` becomes
``oneOf [string, integer]``. The output folder is replaced whole (files of kinds no
longer produced are removed) and ``sources.json`` records the pinned versions and the
files generated, so a test can check the schemas match the data file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from homelab_charts import config  # noqa: E402
from homelab_charts.errors import HomelabError  # noqa: E402

DEFAULT_OUT = REPO / "homelab_charts" / "data" / "schemas"
DATA_FILE = REPO / "homelab.yaml"
MANIFEST = "sources.json"

#: controller (key under ``controllers:``) -> (GitHub repository, CRD files at the tag).
UPSTREAM: dict[str, tuple[str, tuple[str, ...]]] = {
    "source-controller": ("fluxcd/source-controller", tuple(
        f"config/crd/bases/source.toolkit.fluxcd.io_{n}.yaml" for n in (
            "buckets", "externalartifacts", "gitrepositories", "helmcharts",
            "helmrepositories", "ocirepositories"))),
    "kustomize-controller": ("fluxcd/kustomize-controller", (
        "config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml",)),
    "helm-controller": ("fluxcd/helm-controller", (
        "config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml",)),
    "notification-controller": ("fluxcd/notification-controller", tuple(
        f"config/crd/bases/notification.toolkit.fluxcd.io_{n}.yaml" for n in (
            "alerts", "providers", "receivers"))),
    "image-reflector-controller": ("fluxcd/image-reflector-controller", tuple(
        f"config/crd/bases/image.toolkit.fluxcd.io_{n}.yaml" for n in (
            "imagepolicies", "imagerepositories"))),
    "image-automation-controller": ("fluxcd/image-automation-controller", (
        "config/crd/bases/image.toolkit.fluxcd.io_imageupdateautomations.yaml",)),
    "source-watcher": ("fluxcd/source-watcher", (
        "config/crd/bases/source.extensions.fluxcd.io_artifactgenerators.yaml",)),
    "sealed-secrets": ("bitnami-labs/sealed-secrets", (
        "helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml",)),
    "cert-manager": ("cert-manager/cert-manager", tuple(
        f"deploy/crds/{n}.yaml" for n in (
            "acme.cert-manager.io_challenges", "acme.cert-manager.io_orders",
            "cert-manager.io_certificaterequests", "cert-manager.io_certificates",
            "cert-manager.io_clusterissuers", "cert-manager.io_issuers"))),
}


class ConversionError(Exception):
    """A file is not a usable CRD (the message names the file and the field)."""


def close_objects(node: Any, *, root: bool = True) -> None:
    """Adds ``additionalProperties: false`` to every object schema below the root that
    lists ``properties`` and does not allow unknown fields itself (in place)."""
    if isinstance(node, dict):
        if ("properties" in node and not root and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for value in node.values():
            close_objects(value, root=False)
    elif isinstance(node, list):
        for item in node:
            close_objects(item, root=False)


def replace_int_or_string(node: Any) -> Any:
    """``format: int-or-string`` schemas -> ``oneOf: [string, integer]``."""
    if isinstance(node, dict):
        if node.get("format") == "int-or-string":
            return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        return {k: replace_int_or_string(v) for k, v in node.items()}
    if isinstance(node, list):
        return [replace_int_or_string(v) for v in node]
    return node


def convert(crd: Any, source: str) -> dict[str, dict[str, Any]]:
    """``{"<group>/<kind>_<version>.json": schema}`` for each version of one CRD."""
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise ConversionError(f"{source}: kind: not a CustomResourceDefinition")
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        raise ConversionError(f"{source}: spec: missing")
    group = spec.get("group")
    kind = (spec.get("names") or {}).get("kind") if isinstance(spec.get("names"), dict) else None
    if not isinstance(group, str) or not group or not isinstance(kind, str) or not kind:
        raise ConversionError(f"{source}: spec.group / spec.names.kind: missing")
    out: dict[str, dict[str, Any]] = {}
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        raise ConversionError(f"{source}: spec.versions: missing (apiextensions.k8s.io/v1 CRD)")
    for i, version in enumerate(versions):
        name = version.get("name") if isinstance(version, dict) else None
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")
                  if isinstance(version, dict) else None)
        if not isinstance(name, str) or not isinstance(schema, dict):
            raise ConversionError(
                f"{source}: spec.versions[{i}]: needs name and schema.openAPIV3Schema")
        if version.get("served") is False:
            continue
        close_objects(schema)
        out[f"{group}/{kind.lower()}_{name}.json"] = replace_int_or_string(schema)
    return out


def crd_files(inputs: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")
                            and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise ConversionError(f"{path}: no such file or folder")
    return files


def schemas_from(inputs: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """Every schema of every CRD in ``inputs`` (non-CRD documents are ignored)."""
    out: dict[str, dict[str, Any]] = {}
    for path in crd_files(inputs):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeError, yaml.YAMLError) as exc:
            raise ConversionError(f"{path}: cannot read: {exc}") from None
        found = False
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                for name, schema in convert(doc, str(path)).items():
                    if name in out and out[name] != schema:
                        raise ConversionError(f"{path}: {name}: defined twice, differently")
                    out[name] = schema
                found = True
        if not found:
            raise ConversionError(f"{path}: no CustomResourceDefinition in it")
    return out


def pinned_controllers(data_file: Path) -> dict[str, str]:
    """``controllers:`` of the data file as name -> release tag (checked by the data
    file's schema; an entry with a chart pins its controller's release in ``version``)."""
    data = config.load(data_file)  # the whole file is checked, controllers included
    return {name: pin.version for name, pin in data.controllers.items()}


def write(schemas: dict[str, dict[str, Any]], out: Path, controllers: dict[str, str]) -> None:
    """Replaces ``out`` with the schemas and their ``sources.json`` (staged, then swapped)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, schema in sorted(schemas.items()):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        manifest = {
            "generator": "scripts/update-crd-schemas.py",
            "controllers": {name: {"version": version, "repository": UPSTREAM[name][0]}
                            if name in UPSTREAM else {"version": version}
                            for name, version in sorted(controllers.items())},
            "schemas": sorted(schemas),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n",
                                        encoding="utf-8")
        old = out.with_name(f".{out.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if out.exists():
            out.rename(old)
        staging.rename(out)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def download(controllers: dict[str, str], into: Path) -> None:
    """The upstream CRD files of each pinned controller, at its tag, from GitHub."""
    unknown = sorted(set(controllers) - set(UPSTREAM))
    if unknown:
        raise ConversionError(f"controllers: {', '.join(unknown)}: no UPSTREAM entry in "
                              f"{Path(__file__).name}")
    for name, version in sorted(controllers.items()):
        repo, paths = UPSTREAM[name]
        for path in paths:
            url = f"https://raw.githubusercontent.com/{repo}/{version}/{path}"
            print(f"downloading {url}", file=sys.stderr)
            with urllib.request.urlopen(url, timeout=60) as response:
                (into / f"{name}_{Path(path).name}").write_bytes(response.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path, metavar="CRDS",
                        help="CRD YAML files or folders of them")
    parser.add_argument("--download", action="store_true",
                        help="download the pinned upstream CRDs instead")
    parser.add_argument("--data-file", type=Path, default=DATA_FILE,
                        help="data file pinning the controllers (default homelab.yaml)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (replaced whole)")
    args = parser.parse_args(argv)
    if bool(args.inputs) == args.download:
        parser.error("give CRD files/folders or --download (one of them)")
    try:
        controllers = pinned_controllers(args.data_file)
        if args.download:
            with tempfile.TemporaryDirectory() as tmp:
                download(controllers, Path(tmp))
                schemas = schemas_from([Path(tmp)])
        else:
            schemas = schemas_from(args.inputs)
        if not schemas:
            raise ConversionError("no CRD found: nothing to write")
        write(schemas, args.out, controllers)
    except (ConversionError, HomelabError, OSError) as exc:  # OSError: network, disk
        print(f"update-crd-schemas: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(schemas)} schemas to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
