"""Policy checks on workloads and Secrets: Pod Security Standards "restricted" and more.

Every rule has an ID, a message and a JSON path to what breaks it. A rule can be waived
on one object with two annotations on that object::

    metadata:
      annotations:
        policy.homelab-charts.io/waive: "PSS-008,PRB-001"
        policy.homelab-charts.io/waive-reason: "node-exporter reads the host's /proc"

A waiver without a (non-empty) reason waives nothing and is itself a finding
(``POL-001``), as is a waiver naming an unknown rule (``POL-002``).

``check(objects)`` is the API tests use: it returns the findings that are not waived.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from homelab_charts.secrets.guard import (  # one definition of the waiver
    REASON_ANNOTATION,
    WAIVE_ANNOTATION,
    credential_findings,
)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("PSS-001", "containers must run as non-root (runAsNonRoot: true, runAsUser not 0)"),
    Rule("PSS-002", "allowPrivilegeEscalation must be false"),
    Rule("PSS-003", "capabilities must drop ALL; only NET_BIND_SERVICE may be added"),
    Rule("PSS-004", "seccompProfile must be RuntimeDefault or Localhost"),
    Rule("PSS-005", "host namespaces (hostNetwork, hostPID, hostIPC) are forbidden"),
    Rule("PSS-006", "privileged containers are forbidden"),
    Rule("PSS-007", "only configMap, csi, downwardAPI, emptyDir, ephemeral, "
                    "persistentVolumeClaim, projected and secret volumes are allowed"),
    Rule("PSS-008", "hostPort must not be set"),
    Rule("RES-001", "every container sets cpu and memory requests"),
    Rule("RES-002", "every container sets cpu and memory limits"),
    Rule("PRB-001", "long-running containers have a livenessProbe"),
    Rule("PRB-002", "long-running containers have a readinessProbe"),
    Rule("IMG-001", "images are pinned: a tag other than 'latest', or a digest"),
    Rule("CTR-001", "containers set readOnlyRootFilesystem: true"),
    Rule("SEC-001", "no credential in clear in the repository: no plain Secret data, no "
                    "password-like value in a ConfigMap, an env value, HelmRelease values "
                    "or postBuild substitutions (use a SealedSecret)"),
    Rule("NS-001", "namespaces enforce the 'restricted' Pod Security Standard"),
    Rule("TLS-001", "every Ingress serves each of its hosts over TLS (spec.tls)"),
    Rule("POL-001", "a waiver needs a reason annotation"),
    Rule("POL-002", "a waiver names known rule IDs"),
)}

ALLOWED_VOLUME_TYPES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
})
#: Workload kinds whose pods run forever (need probes); value = path to the pod template.
_POD_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Finding:
    """A rule an object breaks. ``path`` is a JSON pointer into the object."""

    rule: str
    message: str
    kind: str
    name: str
    namespace: str
    path: str
    waived: bool = False
    index: int = 0  # position of the object in the checked iterable

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        state = " (waived)" if self.waived else ""
        return f"{self.kind} {ns}{self.name}: {self.rule}{state} at '{self.path}': {self.message}"


def check(objects: Iterable[Any], *, include_waived: bool = False) -> list[Finding]:
    """The policy findings on ``objects`` (dicts, or objects with ``to_json()``).

    Waived findings are left out unless ``include_waived``.
    """
    findings: list[Finding] = []
    for index, obj in enumerate(objects):
        body = obj.to_json() if hasattr(obj, "to_json") else obj
        if not isinstance(body, Mapping):
            continue
        for found in check_object(body, index=index):
            if include_waived or not found.waived:
                findings.append(found)
    return findings


def check_object(obj: Mapping[str, Any], *, index: int = 0) -> list[Finding]:
    """All findings on one object, waived ones marked ``waived``."""
    kind = str(obj.get("kind") or "")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    name = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or "")
    raw: list[tuple[str, str, str]] = []  # rule, path, message
    template_path = _POD_TEMPLATES.get(kind)
    if kind == "Pod":
        raw.extend(_pod_findings(obj.get("spec"), "/spec", long_running=False))
    elif template_path is not None:
        template: Any = obj
        for part in template_path:
            template = template.get(part) if isinstance(template, Mapping) else None
        if isinstance(template, Mapping):
            spec_path = "/" + "/".join(template_path) + "/spec"
            raw.extend(_pod_findings(template.get("spec"), spec_path,
                                     long_running=kind in _LONG_RUNNING))
    elif kind == "Secret" and obj.get("apiVersion") == "v1":
        for field in ("data", "stringData"):
            if obj.get(field):
                raw.append(("SEC-001", f"/{field}",
                            f"Secret holds plaintext {field}; commit a SealedSecret instead"))
    elif kind == "Ingress" and str(obj.get("apiVersion", "")).startswith("networking.k8s.io/"):
        raw.extend(_ingress_tls_findings(obj.get("spec")))
    elif kind == "Namespace":
        labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
        assert isinstance(labels, Mapping)
        if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
            raw.append(("NS-001", "/metadata/labels",
                        "label pod-security.kubernetes.io/enforce must be 'restricted'"))

    for path, key in credential_findings(obj):
        raw.append(("SEC-001", path,
                    f"{key!r} looks like a credential written in clear; read it from a "
                    "SealedSecret (secretKeyRef, valuesFrom, substituteFrom)"))

    waived, waiver_findings = _waivers(meta)
    out = [Finding(rule, msg, kind, name, namespace, path, waived=rule in waived, index=index)
           for rule, path, msg in raw]
    out.extend(Finding(rule, msg, kind, name, namespace, path, index=index)
               for rule, path, msg in waiver_findings)
    return out


def _ingress_tls_findings(spec: Any) -> Iterator[tuple[str, str, str]]:
    """TLS-001: each host of the rules is listed under ``tls`` with a Secret."""
    if not isinstance(spec, Mapping):
        return
    rules = spec.get("rules") if isinstance(spec.get("rules"), list) else []
    hosts = [r.get("host") for r in rules if isinstance(r, Mapping)]
    tls = spec.get("tls") if isinstance(spec.get("tls"), list) else []
    if not tls:
        yield ("TLS-001", "/spec/tls",
               "Ingress has no tls: its hosts would be served with the controller's "
               "default certificate (or plain HTTP)")
        return
    covered: set[str] = set()
    for i, entry in enumerate(tls):
        if not isinstance(entry, Mapping):
            continue
        if not entry.get("secretName"):
            yield "TLS-001", f"/spec/tls/{i}/secretName", "tls entry names no Secret"
        covered.update(h for h in entry.get("hosts") or [] if isinstance(h, str))
    if None in hosts:
        yield "TLS-001", "/spec/rules", "a rule without host cannot be matched to a certificate"
    for host in hosts:
        if host is not None and host not in covered:
            yield "TLS-001", "/spec/tls", f"host {host} is not covered by tls"


def _waivers(meta: Mapping[str, Any]) -> tuple[set[str], list[tuple[str, str, str]]]:
    annotations = meta.get("annotations")
    if not isinstance(annotations, Mapping) or WAIVE_ANNOTATION not in annotations:
        return set(), []
    path = "/metadata/annotations/" + WAIVE_ANNOTATION.replace("/", "~1")
    ids = {p.strip() for p in str(annotations.get(WAIVE_ANNOTATION) or "").split(",")
           if p.strip()}
    problems: list[tuple[str, str, str]] = []
    unknown = sorted(i for i in ids if i not in RULES or i.startswith("POL-"))
    if unknown:
        problems.append(("POL-002", path, "waiver names unknown rule(s) " + ", ".join(unknown)))
    reason = str(annotations.get(REASON_ANNOTATION) or "").strip()
    if not reason:
        problems.append(("POL-001", path,
                         f"waiver without a reason: add annotation {REASON_ANNOTATION}"))
        return set(), problems
    return ids - set(unknown), problems


def _containers(spec: Mapping[str, Any], base: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for list_name in _CONTAINER_LISTS:
        items = spec.get(list_name)
        if isinstance(items, list):
            for i, container in enumerate(items):
                if isinstance(container, Mapping):
                    yield list_name, f"{base}/{list_name}/{i}", container


def _pod_findings(spec: Any, base: str, *, long_running: bool) -> Iterator[tuple[str, str, str]]:
    if not isinstance(spec, Mapping):
        return
    pod_sc = spec.get("securityContext") if isinstance(spec.get("securityContext"),
                                                       Mapping) else {}
    assert isinstance(pod_sc, Mapping)
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield "PSS-005", f"{base}/{field}", f"{field} must not be true"
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        for i, volume in enumerate(volumes):
            if not isinstance(volume, Mapping):
                continue
            types = [k for k in volume if k != "name"]
            for vtype in types:
                if vtype not in ALLOWED_VOLUME_TYPES:
                    yield ("PSS-007", f"{base}/volumes/{i}/{vtype}",
                           f"volume {volume.get('name', i)!s} of type {vtype} is not allowed")
    pod_non_root = pod_sc.get("runAsNonRoot")
    if pod_sc.get("runAsUser") == 0:
        yield "PSS-001", f"{base}/securityContext/runAsUser", "runAsUser must not be 0"
    pod_seccomp = _seccomp_type(pod_sc)
    if pod_seccomp is not None and pod_seccomp not in ("RuntimeDefault", "Localhost"):
        yield ("PSS-004", f"{base}/securityContext/seccompProfile/type",
               f"seccompProfile type {pod_seccomp} is not allowed")

    for list_name, path, container in _containers(spec, base):
        cname = container.get("name", "?")
        sc = container.get("securityContext")
        sc = sc if isinstance(sc, Mapping) else {}
        sc_path = f"{path}/securityContext"
        # PSS-001 non-root
        non_root = sc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            yield ("PSS-001", f"{sc_path}/runAsNonRoot",
                   f"container {cname} must set runAsNonRoot: true (or the pod must)")
        if sc.get("runAsUser") == 0:
            yield "PSS-001", f"{sc_path}/runAsUser", f"container {cname}: runAsUser must not be 0"
        if sc.get("allowPrivilegeEscalation") is not False:
            yield ("PSS-002", f"{sc_path}/allowPrivilegeEscalation",
                   f"container {cname} must set allowPrivilegeEscalation: false")
        caps = sc.get("capabilities") if isinstance(sc.get("capabilities"), Mapping) else {}
        assert isinstance(caps, Mapping)
        drop = caps.get("drop") if isinstance(caps.get("drop"), list) else []
        if "ALL" not in (drop or []):
            yield ("PSS-003", f"{sc_path}/capabilities/drop",
                   f"container {cname} must drop capability ALL")
        add = caps.get("add") if isinstance(caps.get("add"), list) else []
        extra = [c for c in add or [] if c != "NET_BIND_SERVICE"]
        if extra:
            yield ("PSS-003", f"{sc_path}/capabilities/add",
                   f"container {cname} adds capabilities {', '.join(map(str, extra))} "
                   "(only NET_BIND_SERVICE is allowed)")
        seccomp = _seccomp_type(sc)
        if seccomp is None and pod_seccomp is None:
            yield ("PSS-004", f"{sc_path}/seccompProfile",
                   f"container {cname} needs seccompProfile RuntimeDefault (or the pod does)")
        elif seccomp is not None and seccomp not in ("RuntimeDefault", "Localhost"):
            yield ("PSS-004", f"{sc_path}/seccompProfile/type",
                   f"container {cname}: seccompProfile type {seccomp} is not allowed")
        if sc.get("privileged"):
            yield "PSS-006", f"{sc_path}/privileged", f"container {cname} must not be privileged"
        ports = container.get("ports")
        if isinstance(ports, list):
            for j, port in enumerate(ports):
                if isinstance(port, Mapping) and port.get("hostPort"):
                    yield ("PSS-008", f"{path}/ports/{j}/hostPort",
                           f"container {cname} must not use hostPort")
        if list_name == "ephemeralContainers":
            continue  # debug containers: no resources, probes or image rules
        yield from _resource_findings(container, path, cname)
        if long_running and list_name == "containers" and not _is_sidecar(container):
            if not isinstance(container.get("livenessProbe"), Mapping):
                yield ("PRB-001", f"{path}/livenessProbe",
                       f"container {cname} has no livenessProbe")
            if not isinstance(container.get("readinessProbe"), Mapping):
                yield ("PRB-002", f"{path}/readinessProbe",
                       f"container {cname} has no readinessProbe")
        image = container.get("image")
        if not _pinned(image):
            yield ("IMG-001", f"{path}/image",
                   f"container {cname} image {image!r} is not pinned to a tag or digest")
        if sc.get("readOnlyRootFilesystem") is not True:
            yield ("CTR-001", f"{sc_path}/readOnlyRootFilesystem",
                   f"container {cname} must set readOnlyRootFilesystem: true")


def _is_sidecar(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def _resource_findings(container: Mapping[str, Any], path: str,
                       cname: str) -> Iterator[tuple[str, str, str]]:
    resources = container.get("resources")
    resources = resources if isinstance(resources, Mapping) else {}
    for key, rule in (("requests", "RES-001"), ("limits", "RES-002")):
        values = resources.get(key)
        values = values if isinstance(values, Mapping) else {}
        missing = [r for r in ("cpu", "memory") if values.get(r) in (None, "")]
        if missing:
            yield (rule, f"{path}/resources/{key}",
                   f"container {cname} has no {' or '.join(missing)} {key}")


def _seccomp_type(sc: Mapping[str, Any]) -> str | None:
    profile = sc.get("seccompProfile")
    if isinstance(profile, Mapping):
        value = profile.get("type")
        return str(value) if value is not None else None
    return None


def _pinned(image: Any) -> bool:
    """A tag other than ``latest`` after the last path segment, or a sha256 digest."""
    if not isinstance(image, str) or not image:
        return False
    if _DIGEST.search(image):
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return bool(tag) and tag != "latest"
