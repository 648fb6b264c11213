"""The generated tree as objects, for wiring tests: pods, Services, policies, Kustomizations.

Rendering the whole homelab takes about a second, so each data file is rendered once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from homelab_charts import config
from homelab_charts.synth import render
from tests.conftest import DATA_FILE

PACKAGED_DATA = DATA_FILE
SVC_DNS = re.compile(r"\b([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local(?::(\d+))?")
_TEMPLATE_PATHS = {"Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"),
                   "DaemonSet": ("spec", "template"), "Job": ("spec", "template"),
                   "CronJob": ("spec", "jobTemplate", "spec", "template")}


@dataclass
class Pod:
    """A pod template of the tree (one per Deployment/StatefulSet)."""

    kind: str
    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]
    workload: dict[str, Any]

    @property
    def containers(self) -> list[dict[str, Any]]:
        """Every container, init containers first (a CronJob's dump step is one)."""
        return list(self.spec.get("initContainers", [])) + list(self.spec.get("containers", []))

    def ports(self) -> dict[str, tuple[int, str]]:
        """Container port name -> (number, protocol)."""
        return {p["name"]: (p["containerPort"], p.get("protocol", "TCP"))
                for c in self.containers for p in c.get("ports", [])}

    def port_numbers(self) -> set[tuple[int, str]]:
        return set(self.ports().values())

    def env(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c in self.containers:
            for item in c.get("env", []):
                out[item["name"]] = item.get("value", item.get("valueFrom"))
        return out

    @property
    def ident(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Tree:
    files: dict[str, str]
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: The data file the tree was rendered from (None: files from elsewhere).
    data_file: Path | None = None

    def __post_init__(self) -> None:
        for path, text in self.files.items():
            for doc in yaml.safe_load_all(text):
                if doc:
                    self.objects.append((path, doc))

    def of_kind(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for _, o in self.objects if o["kind"] == kind
                and (namespace is None or o["metadata"].get("namespace") == namespace)]

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        for obj in self.of_kind(kind, namespace):
            if obj["metadata"]["name"] == name:
                return obj
        raise KeyError(f"{kind} {namespace}/{name}")

    def pods(self) -> list[Pod]:
        out = []
        for _, obj in self.objects:
            path = _TEMPLATE_PATHS.get(obj["kind"])
            if path is None:
                continue
            template: Any = obj
            for key in path:
                template = template[key]
            meta = template.get("metadata", {})
            out.append(Pod(obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"],
                           dict(meta.get("labels", {})), dict(meta.get("annotations", {})),
                           template["spec"], obj))
        return out

    def pod(self, name: str) -> Pod:
        for pod in self.pods():
            if pod.name == name:
                return pod
        raise KeyError(name)

    def services(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(s["metadata"]["namespace"], s["metadata"]["name"]): s
                for s in self.of_kind("Service")}

    def service_pods(self, service: Mapping[str, Any]) -> list[Pod]:
        namespace = service["metadata"]["namespace"]
        return [p for p in self.pods() if p.namespace == namespace
                and matches(service["spec"]["selector"], p.labels)]

    def config_maps_of(self, pod: Pod) -> Iterator[str]:
        """The text of every ConfigMap the pod mounts."""
        for volume in pod.spec.get("volumes", []):
            if "configMap" in volume:
                cm = self.get("ConfigMap", pod.namespace, volume["configMap"]["name"])
                yield from cm.get("data", {}).values()

    def pods_of_service(self, service: config.Service) -> list[Pod]:
        """The pods running the data file's ``service`` (by its image repository)."""
        return [p for p in self.pods()
                if any(c["image"].rpartition(":")[0] == service.image for c in p.containers)]

    def app_namespaces(self) -> set[str]:
        """The namespaces of the objects in the folders under apps/."""
        return {obj["metadata"]["namespace"] for path, obj in self.objects
                if path.startswith("apps/") and "namespace" in obj.get("metadata", {})}

    def flux_kustomizations(self) -> dict[str, dict[str, Any]]:
        return {k["metadata"]["name"]: k for k in self.of_kind("Kustomization")
                if k["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/")}


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@functools.cache
def _render(path: str) -> Tree:
    return Tree(render(config.load(Path(path))), data_file=Path(path))


def enabled_services(data: config.HomelabData) -> dict[str, config.Service]:
    """The data file's services whose components are in the tree."""
    return {name: s for name, s in data.services.items() if s.enabled}


def homelab_tree(data_file: Path | None = None) -> Tree:
    """The tree the code generates for ``data_file`` (the packaged data file by default)."""
    return _render(str(data_file or PACKAGED_DATA))


def edited_data(tmp_path: Path, edit: Any, name: str = "homelab.yaml") -> Path:
    """A copy of the packaged data file changed by ``edit(document)``."""
    document = yaml.safe_load(PACKAGED_DATA.read_text(encoding="utf-8"))
    edit(document)
    target = tmp_path / name
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target
