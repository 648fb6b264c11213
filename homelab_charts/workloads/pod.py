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
from homelab_charts.workloads.spec import Container, RunAs, render_env

#: Labels that select a workload's pods (never changed after the first deploy).
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
VERSION_LABEL = "app.kubernetes.io/version"

#: emptyDir size limit of a container's writable scratch folders (``writable_paths``).
SCRATCH_LIMIT = "256Mi"


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


def render_container(name: str, spec: Container, *, where: str, field_prefix: str = "",
                     extra_mounts: Sequence[Mapping[str, Any]] = (),
                     long_running: bool = True) -> dict[str, Any]:
    """The hardened container ``name`` running ``spec``, for every kind of pod.

    A long-running container (Deployment, StatefulSet, DaemonSet) must have liveness and
    readiness probes; a run-to-completion one (Job, CronJob) takes none. Its volume mounts
    are ``extra_mounts``, then its writable scratch folders, then its config files; two at
    one path are refused. Errors name ``where`` and the field after ``field_prefix``.
    """
    if long_running:
        if spec.liveness is None or spec.readiness is None:
            raise ConfigError(where, f"{field_prefix}liveness/readiness",
                              "every long-running container needs both probes")
    elif spec.liveness is not None or spec.readiness is not None or spec.startup is not None:
        raise ConfigError(where, f"{field_prefix}probes", "a job container takes no probes")
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
            raise ConfigError(where, f"{field_prefix}env.{exc.field}", exc.message) from None
    out["resources"] = spec.resources.render()
    if spec.startup is not None:
        out["startupProbe"] = spec.startup.render()
    if spec.liveness is not None:
        out["livenessProbe"] = spec.liveness.render()
    if spec.readiness is not None:
        out["readinessProbe"] = spec.readiness.render()
    out["securityContext"] = {
        **container_security_context(),
        "runAsUser": spec.run_as.user,
        "runAsGroup": spec.run_as.group,
    }
    mounts: list[dict[str, Any]] = [dict(m) for m in extra_mounts]
    mounts += [{"name": vol, "mountPath": path} for vol, path in spec.writable_paths.items()]
    mounts += [{"name": _config_volume(f.config_map), "mountPath": f.mount_path,
                "subPath": f.key, "readOnly": True} for f in spec.config_files]
    paths = [m["mountPath"] for m in mounts]
    if len(set(paths)) != len(paths):
        raise ConfigError(where, f"{field_prefix}volumeMounts",
                          "two volumes are mounted at the same path")
    if mounts:
        out["volumeMounts"] = mounts
    return out


def _config_volume(config_map: str) -> str:
    return f"cm-{config_map}"[:63]


def container_volumes(spec: Container) -> list[dict[str, Any]]:
    """The volumes ``spec``'s own mounts need: an emptyDir per writable scratch folder
    (at most :data:`SCRATCH_LIMIT`), then one per ConfigMap its config files come from."""
    volumes: list[dict[str, Any]] = [{"name": vol, "emptyDir": {"sizeLimit": SCRATCH_LIMIT}}
                                     for vol in spec.writable_paths]
    seen: set[str] = set()
    for f in spec.config_files:
        vol = _config_volume(f.config_map)
        if vol not in seen:
            seen.add(vol)
            volumes.append({"name": vol, "configMap": {"name": f.config_map}})
    return volumes


def pod_security_context(run_as: RunAs) -> dict[str, Any]:
    """The pod's securityContext: non-root as ``run_as``, RuntimeDefault seccomp."""
    security: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": run_as.user,
        "runAsGroup": run_as.group,
    }
    if run_as.fs_group is not None:
        security["fsGroup"] = run_as.fs_group
        security["fsGroupChangePolicy"] = "OnRootMismatch"
    security["seccompProfile"] = {"type": "RuntimeDefault"}
    return security


def template_metadata(labels: Mapping[str, str],
                      annotations: Mapping[str, str] | None) -> dict[str, Any]:
    """A pod template's metadata: its labels, and its annotations when there are any."""
    metadata: dict[str, Any] = {"labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return metadata


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
    container = render_container(name, spec, where=construct_path(owner),
                                 extra_mounts=extra_mounts)
    volumes: list[dict[str, Any]] = [*extra_volumes, *container_volumes(spec)]
    pod: dict[str, Any] = {}
    if service_account is not None:
        pod["serviceAccountName"] = service_account
    pod.update({
        "automountServiceAccountToken": service_account is not None,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(spec.run_as),
        "terminationGracePeriodSeconds": termination_grace_period_seconds,
        "containers": [container],
    })
    if volumes:
        pod["volumes"] = volumes
    return {"metadata": template_metadata(labels, annotations), "spec": pod}
