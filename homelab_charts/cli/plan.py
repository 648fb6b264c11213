"""``homelab-charts plan``: the order in which the manual GitOps path applies the tree.

Flux applies the tree through Kustomizations: the bootstrap ``flux-system`` one applies
``clusters/<cluster>/`` (the Namespaces and the SealedSecrets), then the Kustomizations of
``infrastructure.yaml`` and ``apps.yaml`` follow their ``dependsOn`` chain. When Flux cannot
sync, ``scripts/manual-deploy.sh`` applies the same folders with ``kubectl apply`` in the same
order; this command computes that order from the committed YAML (no cdk8s, no cluster),
so the scripts never re-implement YAML parsing or a topological sort in shell.

Output, one step a line (``#`` lines are comments)::

    <layer> <method> <name> <path> <target-namespace or ->

``layer`` is ``secrets`` (Namespaces and SealedSecrets), ``infrastructure`` or ``apps``;
``method`` is ``file`` (``kubectl apply -f``) or ``kustomize`` (``kubectl apply -k``).

``--objects FILE`` (``-`` for stdin) instead lists the objects of rendered YAML (the output
of ``kubectl kustomize``) as ``<kind>[.<group>]/<name> <namespace or -> <flags>``; the scripts
use it to find the workloads to wait for, the Services to check and the prune set.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from homelab_charts.docpath import field_at
from homelab_charts.errors import ConfigError, HomelabError

LAYERS = ("secrets", "infrastructure", "apps")
FLUX_NAMESPACE = "flux-system"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"

#: Flux Kustomization fields that change what Flux applies compared with a plain
#: ``kubectl apply -k`` of the folder: the manual path refuses rather than diverge.
FLUX_ONLY_FIELDS = (
    "postBuild", "patches", "images", "components", "namePrefix", "nameSuffix",
    "commonMetadata", "decryption", "kubeConfig", "serviceAccountName",
)

#: Kinds that are not namespaced (a namespace given to them is ignored by kubectl).
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CSIDriver", "CSINode", "ClusterIssuer", "ClusterRole",
    "ClusterRoleBinding", "ClusterSecretStore", "ComponentStatus", "CustomResourceDefinition",
    "IngressClass", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
    "PriorityClass", "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
})


@dataclass(frozen=True)
class Step:
    """One ``kubectl apply`` of the manual path."""

    layer: str
    method: str
    name: str
    path: str
    target_namespace: str | None = None

    def line(self) -> str:
        return " ".join((self.layer, self.method, self.name, self.path,
                         self.target_namespace or "-"))


@dataclass(frozen=True)
class _FluxKustomization:
    layer: str
    name: str
    namespace: str
    path: str
    depends_on: tuple[tuple[str, str], ...]
    target_namespace: str | None
    index: int  # position in the cluster folder, for a stable order of independent ones
    file: str


def _load_documents(file: Path, rel: str) -> list[Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(rel, None, "file not found (has the tree been synthesized?)") from None
    except OSError as exc:
        raise ConfigError(rel, None, f"cannot read: {exc.strerror}") from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{rel}:{mark.line + 1}" if mark is not None else rel
        raise ConfigError(where, None, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None


def _read_kustomizations(root: Path, cluster_dir: str, layer: str,
                         start: int) -> list[_FluxKustomization]:
    rel = f"{cluster_dir}/{layer}.yaml"
    out: list[_FluxKustomization] = []
    for n, doc in enumerate(_load_documents(root / rel, rel)):
        if not isinstance(doc, Mapping):
            raise ConfigError(rel, f"document {n + 1}", "is not a mapping")
        api = str(doc.get("apiVersion", ""))
        if doc.get("kind") != "Kustomization" or not api.startswith(f"{FLUX_KUSTOMIZE_GROUP}/"):
            raise ConfigError(rel, f"document {n + 1}",
                              f"expected a Flux Kustomization ({FLUX_KUSTOMIZE_GROUP}), "
                              f"found {api or '?'} {doc.get('kind', '?')}")
        name = field_at(doc, "metadata.name")
        if not isinstance(name, str) or not name:
            raise ConfigError(rel, f"document {n + 1}: metadata.name", "missing")
        where = f"{rel}: Kustomization {name}"
        namespace = field_at(doc, "metadata.namespace") or FLUX_NAMESPACE
        spec = doc.get("spec")
        if not isinstance(spec, Mapping):
            raise ConfigError(where, "spec", "missing")
        if spec.get("suspend") is True:
            continue
        for key in FLUX_ONLY_FIELDS:
            if key in spec:
                raise ConfigError(where, f"spec.{key}",
                                  "only Flux applies this; a plain `kubectl apply -k` of the "
                                  "folder would differ, so the manual path cannot apply it")
        source = spec.get("sourceRef")
        if (not isinstance(source, Mapping) or source.get("kind") != "GitRepository"
                or source.get("name") != FLUX_NAMESPACE):
            raise ConfigError(where, "spec.sourceRef",
                              "the manual path applies this repository only: expected "
                              "GitRepository flux-system")
        path = spec.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(where, "spec.path", "missing")
        clean = path.strip().removeprefix("./").rstrip("/")
        folder = (root / clean).resolve()
        if clean.startswith("/") or ".." in Path(clean).parts or not folder.is_relative_to(
                root.resolve()):
            raise ConfigError(where, "spec.path", f"{path!r} leaves the repository")
        if not (folder / "kustomization.yaml").is_file():
            raise ConfigError(where, "spec.path",
                              f"{clean}/kustomization.yaml not found in the tree")
        deps = []
        raw_deps = spec.get("dependsOn") or []
        if not isinstance(raw_deps, list):
            raise ConfigError(where, "spec.dependsOn", "must be a list")
        for i, dep in enumerate(raw_deps):
            dep_name = dep.get("name") if isinstance(dep, Mapping) else None
            if not isinstance(dep_name, str) or not dep_name:
                raise ConfigError(where, f"spec.dependsOn[{i}].name", "missing")
            deps.append((str(dep.get("namespace") or namespace), dep_name))
        target = spec.get("targetNamespace")
        out.append(_FluxKustomization(
            layer=layer, name=name, namespace=str(namespace), path=clean,
            depends_on=tuple(deps), target_namespace=str(target) if target else None,
            index=start + len(out), file=rel,
        ))
    return out


def _order(kustomizations: Sequence[_FluxKustomization]) -> list[_FluxKustomization]:
    """Topological order of ``dependsOn`` (Kahn); ties keep the order of the files."""
    by_key = {(k.namespace, k.name): k for k in kustomizations}
    if len(by_key) != len(kustomizations):
        seen: set[tuple[str, str]] = set()
        for k in kustomizations:
            if (k.namespace, k.name) in seen:
                raise ConfigError(k.file, f"Kustomization {k.name}", "defined twice")
            seen.add((k.namespace, k.name))
    layer_rank = {layer: i for i, layer in enumerate(LAYERS)}
    pending: dict[tuple[str, str], int] = {}
    dependants: dict[tuple[str, str], list[tuple[str, str]]] = {key: [] for key in by_key}
    for key, k in by_key.items():
        for i, dep in enumerate(k.depends_on):
            if dep not in by_key:
                raise ConfigError(f"{k.file}: Kustomization {k.name}",
                                  f"spec.dependsOn[{i}].name",
                                  f"no Kustomization {dep[1]!r} in namespace {dep[0]!r}")
            if layer_rank[by_key[dep].layer] > layer_rank[k.layer]:
                raise ConfigError(f"{k.file}: Kustomization {k.name}",
                                  f"spec.dependsOn[{i}].name",
                                  f"{k.layer} cannot depend on {by_key[dep].layer} "
                                  f"Kustomization {dep[1]!r}")
            dependants[dep].append(key)
        pending[key] = len(set(k.depends_on))
    ready = [(layer_rank[k.layer], k.index, key) for key, k in by_key.items() if not pending[key]]
    heapq.heapify(ready)
    ordered: list[_FluxKustomization] = []
    while ready:
        _, _, key = heapq.heappop(ready)
        ordered.append(by_key[key])
        for dependant in dict.fromkeys(dependants[key]):
            pending[dependant] -= 1
            if not pending[dependant]:
                d = by_key[dependant]
                heapq.heappush(ready, (layer_rank[d.layer], d.index, dependant))
    if len(ordered) != len(by_key):
        stuck = sorted(k.name for key, k in by_key.items() if pending[key])
        first = next(k for k in kustomizations if pending[(k.namespace, k.name)])
        raise ConfigError(f"{first.file}: Kustomization {first.name}", "spec.dependsOn",
                          f"dependency cycle among {', '.join(stuck)}")
    return ordered


def build_plan(root: Path, cluster: str = "homelab") -> list[Step]:
    """The manual apply order of the tree under ``root``."""
    cluster_dir = f"clusters/{cluster}"
    if not (root / cluster_dir).is_dir():
        raise ConfigError(cluster_dir, None, f"not found under {root} (wrong --root or --cluster?)")
    steps: list[Step] = []
    namespaces = f"{cluster_dir}/namespaces.yaml"
    if (root / namespaces).is_file():
        steps.append(Step("secrets", "file", "namespaces", namespaces))
    secrets = f"{cluster_dir}/secrets"
    if (root / secrets / "kustomization.yaml").is_file():
        steps.append(Step("secrets", "kustomize", "secrets", secrets))
    flux: list[_FluxKustomization] = []
    for layer in ("infrastructure", "apps"):
        flux.extend(_read_kustomizations(root, cluster_dir, layer, len(flux)))
    for k in _order(flux):
        steps.append(Step(k.layer, "kustomize", k.name, k.path, k.target_namespace))
    return steps


@dataclass(frozen=True)
class RenderedObject:
    """An object of rendered YAML, named the way kubectl takes it."""

    ref: str  # kind[.group]/name, kind lower-case
    namespace: str | None
    flags: str  # "noendpoints" for Services that never have endpoints, else "-"

    def line(self) -> str:
        return f"{self.ref} {self.namespace or '-'} {self.flags}"


def rendered_objects(stream: IO[str] | str, *, where: str = "<stdin>",
                     target_namespace: str | None = None) -> Iterator[RenderedObject]:
    """The objects of a multi-document YAML stream (``kubectl kustomize`` output)."""
    try:
        docs = [d for d in yaml.safe_load_all(stream) if d is not None]
    except yaml.YAMLError as exc:
        raise ConfigError(where, None, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    for n, doc in enumerate(_flatten(docs)):
        if not isinstance(doc, Mapping):
            raise ConfigError(where, f"document {n + 1}", "is not a mapping")
        kind, api, name = doc.get("kind"), doc.get("apiVersion"), field_at(doc, "metadata.name")
        if not all(isinstance(v, str) and v for v in (kind, api, name)):
            raise ConfigError(where, f"document {n + 1}",
                              "needs apiVersion, kind and metadata.name")
        group = api.rpartition("/")[0] if "/" in api else ""
        ref = f"{kind.lower()}.{group}/{name}" if group else f"{kind.lower()}/{name}"
        namespace = None
        if kind not in CLUSTER_SCOPED_KINDS:
            namespace = target_namespace or field_at(doc, "metadata.namespace") or None
        flags = "-"
        if kind == "Service" and not group:
            spec = doc.get("spec") or {}
            if spec.get("type") == "ExternalName" or not spec.get("selector"):
                flags = "noendpoints"
        yield RenderedObject(ref, namespace, flags)


def _flatten(docs: Iterable[Any]) -> Iterator[Any]:
    for doc in docs:
        if isinstance(doc, Mapping) and str(doc.get("kind", "")).endswith("List") \
                and isinstance(doc.get("items"), list):
            yield from doc["items"]
        else:
            yield doc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan", help="print the manual apply order of the tree (scripts/manual-deploy.sh)",
        description="Print the order in which scripts/manual-deploy.sh applies the tree, "
                    "one step a line: <layer> <method> <name> <path> <target-namespace>.",
    )
    add_arguments(parser)
    parser.set_defaults(func=handle)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root holding clusters/ (default: the nearest folder "
                             "with cdk8s.yaml, else with clusters/, from the current one up)")
    parser.add_argument("--cluster", default="homelab",
                        help="cluster folder under clusters/ (default: homelab)")
    parser.add_argument("--only", choices=LAYERS, action="append", metavar="LAYER",
                        help="only this layer (secrets, infrastructure, apps); repeatable")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--objects", metavar="FILE",
                        help="instead, list the objects of rendered YAML in FILE (- for stdin)")
    parser.add_argument("--target-namespace", metavar="NS",
                        help="with --objects: the namespace of namespaced objects "
                             "(a Flux targetNamespace)")


def handle(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    if args.objects is not None:
        target = args.target_namespace if args.target_namespace not in (None, "-") else None
        if args.objects == "-":
            objects = list(rendered_objects(sys.stdin, target_namespace=target))
        else:
            path = Path(args.objects)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(str(path), None, f"cannot read: {exc.strerror}") from None
            objects = list(rendered_objects(text, where=str(path), target_namespace=target))
        if args.format == "json":
            json.dump([asdict(o) for o in objects], out, indent=2)
            out.write("\n")
        else:
            out.writelines(o.line() + "\n" for o in objects)
        return 0
    if args.root is None:
        from homelab_charts.review.tree import repository_root  # PyYAML only, no cdk8s

        args.root = repository_root()
    steps = build_plan(args.root, args.cluster)
    if args.only:
        steps = [s for s in steps if s.layer in args.only]
    if args.format == "json":
        json.dump([asdict(s) for s in steps], out, indent=2)
        out.write("\n")
    else:
        out.write("# layer method name path target-namespace\n")
        out.writelines(s.line() + "\n" for s in steps)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m homelab_charts.cli.plan`` (what the scripts run: it needs
    only PyYAML, not the rest of the CLI)."""
    parser = argparse.ArgumentParser(prog="homelab-charts plan")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return handle(args)
    except HomelabError as exc:
        print(f"homelab-charts plan: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
