"""The hardened pod template every workload shares (Pod Security Standards "restricted").

Fixed for every container: non-root numeric user, no privilege escalation, every Linux
capability dropped, the RuntimeDefault seccomp profile, a read-only root filesystem (with
emptyDir volumes where the server must write), no service-account token, no service links,
CPU and memory requests and limits, and liveness and readiness probes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from constructs import Construct

from homelab_charts.base import construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.spec import Container, render_env

#: Labels that select a workload's pods (never changed after the first deploy).
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
VERSION_LABEL = "app.kubernetes.io/version"


def selector_labels(name: str) -> dict[str, str]:
    return {NAME_LABEL: name, INSTANCE_LABEL: name}


def workload_labels(name: str, *, component: str | None, version: str | None) -> dict[str, str]:
    labels = selector_labels(name)
    if component:
        labels[COMPONENT_LABEL] = component
    if version:
        labels[VERSION_LABEL] = version[:63]
    return labels


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def render_container(name: str, spec: Container, *, owner: Construct,
                     extra_mounts: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    if spec.liveness is None or spec.readiness is None:
        raise ConfigError(construct_path(owner), "liveness/readiness",
                          "every long-running container needs both probes")
    out: dict[str, Any] = {"name": name, "image": spec.image.ref, "imagePullPolicy": "IfNotPresent"}
    if spec.command:
        out["command"] = list(spec.command)
    if spec.args:
        out["args"] = list(spec.args)
    if spec.working_dir:
        out["workingDir"] = spec.working_dir
    if spec.ports:
        out["ports"] = [{"name": p.name, "containerPort": p.port, "protocol": p.protocol}
                        for p in spec.ports]
    if spec.env:
        try:
            out["env"] = render_env(spec.env)
        except ConfigError as exc:
            raise ConfigError(construct_path(owner), f"env.{exc.field}", exc.message) from None
    out["resources"] = spec.resources.render()
    if spec.startup is not None:
        out["startupProbe"] = spec.startup.render()
    out["livenessProbe"] = spec.liveness.render()
    out["readinessProbe"] = spec.readiness.render()
    out["securityContext"] = {
        **container_security_context(),
        "runAsUser": spec.run_as.user,
        "runAsGroup": spec.run_as.group,
    }
    mounts: list[dict[str, Any]] = list(extra_mounts)
    mounts += [{"name": vol, "mountPath": path} for vol, path in spec.writable_paths.items()]
    mounts += [{"name": _config_volume(f.config_map), "mountPath": f.mount_path,
                "subPath": f.key, "readOnly": True} for f in spec.config_files]
    if mounts:
        out["volumeMounts"] = mounts
    return out


def _config_volume(config_map: str) -> str:
    return f"cm-{config_map}"[:63]


def pod_template(name: str, spec: Container, *, labels: Mapping[str, str], owner: Construct,
                 annotations: Mapping[str, str] | None = None,
                 extra_mounts: Sequence[Mapping[str, Any]] = (),
                 extra_volumes: Sequence[Mapping[str, Any]] = (),
                 termination_grace_period_seconds: int = 30,
                 service_account: str | None = None) -> dict[str, Any]:
    """The ``spec.template`` of a Deployment or StatefulSet running ``spec``.

    The pod gets no API token unless ``service_account`` names the account whose token it
    needs (mounted then: the workload talks to the API server on purpose).
    """
    paths = list(spec.writable_paths.values()) + [f.mount_path for f in spec.config_files]
    if len(set(paths)) != len(paths):
        raise ConfigError(construct_path(owner), "volumeMounts",
                          "two volumes are mounted at the same path")
    volumes: list[dict[str, Any]] = list(extra_volumes)
    volumes += [{"name": vol, "emptyDir": {"sizeLimit": "256Mi"}}
                for vol in spec.writable_paths]
    seen: set[str] = set()
    for f in spec.config_files:
        vol = _config_volume(f.config_map)
        if vol not in seen:
            seen.add(vol)
            volumes.append({"name": vol, "configMap": {"name": f.config_map}})
    pod_security: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": spec.run_as.user,
        "runAsGroup": spec.run_as.group,
    }
    if spec.run_as.fs_group is not None:
        pod_security["fsGroup"] = spec.run_as.fs_group
        pod_security["fsGroupChangePolicy"] = "OnRootMismatch"
    pod_security["seccompProfile"] = {"type": "RuntimeDefault"}
    pod: dict[str, Any] = {}
    if service_account is not None:
        pod["serviceAccountName"] = service_account
    pod.update({
        "automountServiceAccountToken": service_account is not None,
        "enableServiceLinks": False,
        "securityContext": pod_security,
        "terminationGracePeriodSeconds": termination_grace_period_seconds,
        "containers": [render_container(name, spec, owner=owner, extra_mounts=extra_mounts)],
    })
    if volumes:
        pod["volumes"] = volumes
    metadata: dict[str, Any] = {"labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"metadata": metadata, "spec": pod}
