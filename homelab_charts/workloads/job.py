"""Run-to-completion pods (Jobs, CronJobs), hardened like every other workload.

Same fixed hardening as :mod:`homelab_charts.workloads.pod` (Pod Security Standards
"restricted": non-root numeric users, no privilege escalation, every capability dropped,
RuntimeDefault seccomp, read-only root filesystem, requests and limits, no service-account
token, no service links), without the probes a one-shot container has no use for. Several
containers may share volumes: ``init`` containers run first, in order (a dump written to
an emptyDir), then the main container (restic storing it).

:func:`job_pod_template` renders the pod of the backup CronJobs; :class:`Task` is a Job
of its own for idempotent maintenance the cluster must redo when its input changes (the
PostgreSQL role-password sync): the Job's name carries a digest of that input, so a new
input is a new Job (Flux creates it and prunes the old one; a Job's pod template cannot
be changed in place), and an unchanged input is left alone. The name's digest covers
the pod spec too, so a new image or command is a new Job as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, Part, check_name
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.pod import (
    container_volumes,
    pod_security_context,
    render_container,
    selector_labels,
    template_metadata,
)
from homelab_charts.workloads.spec import Container, EnvValue, Resources, RunAs


@dataclass(frozen=True)
class JobStep:
    """One container of a job pod: its spec and the volumes (by name) it mounts."""

    name: str
    container: Container
    mounts: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def job_pod_template(*, labels: Mapping[str, str], steps: Sequence[JobStep],
                     volumes: Sequence[Mapping[str, Any]], run_as: RunAs, where: str,
                     annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The pod template of a Job: ``steps[:-1]`` as init containers, the last as the
    container. ``run_as`` is the pod's user, group and fsGroup (each step may run as its
    own user); ``volumes`` are the shared volumes the steps mount."""
    if not steps:
        raise ConfigError(where, "containers", "a job needs at least one container")
    # The same containers as a Deployment's, without probes; errors name the step.
    rendered = [render_container(step.name, step.container, where=where,
                                 field_prefix=f"{step.name}.", extra_mounts=step.mounts,
                                 long_running=False) for step in steps]
    all_volumes: list[dict[str, Any]] = [dict(v) for v in volumes]
    names = {v["name"] for v in all_volumes}
    for step in steps:
        for volume in container_volumes(step.container):
            if volume["name"] not in names:
                names.add(volume["name"])
                all_volumes.append(volume)
    for step, container in zip(steps, rendered, strict=True):
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in names:
                raise ConfigError(where, f"{step.name}.volumeMounts",
                                  f"volume {mount['name']!r} is not defined")
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(run_as),
    }
    if len(rendered) > 1:
        pod["initContainers"] = rendered[:-1]
    pod["containers"] = rendered[-1:]
    if all_volumes:
        pod["volumes"] = all_volumes
    return {"metadata": template_metadata(labels, annotations), "spec": pod}


class Task(Part):
    """The Job ``<name>-<digest>``: ``command`` in ``image`` until it succeeds (``retries``
    attempts, ``deadline_seconds`` at most), pods labelled with :attr:`selector`; its pod
    is :func:`job_pod_template`'s, like the backup CronJobs'.

    :meth:`update` changes the command, environment and input digest while the tree is
    being built (PostgreSQL's role sync grows with every app asking for a database); the
    Job's name follows.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, digest: str, image: Image,
                 command: Sequence[str], env: Mapping[str, EnvValue],
                 resources: Resources | None = None, run_as: RunAs | None = None,
                 retries: int = 6, deadline_seconds: int = 900,
                 pod_annotations: Mapping[str, str] | None = None) -> None:
        super().__init__(scope, id)
        check_name(self, None, "name", name, subdomain=False)
        self.name = name
        self.image = image
        self.run_as = run_as or RunAs()
        self.resources = resources or Resources("10m", "200m", "32Mi", "128Mi")
        self.retries = retries
        self.deadline_seconds = deadline_seconds
        self.pod_annotations = dict(pod_annotations or {})
        self.namespace = self.component.default_namespace
        self.selector = selector_labels(name)
        self.workload = Manifest(self, "job", api_version="batch/v1", kind="Job", name=name,
                                 labels=self.selector)
        self.update(command=command, env=env, digest=digest)

    def update(self, *, command: Sequence[str], env: Mapping[str, EnvValue],
               digest: str) -> None:
        """Run ``command`` with ``env``; ``digest`` is that of the inputs it reads."""
        if not digest.startswith("sha256:") or len(digest) != 71:
            raise ConfigError(self.node.path, "digest", f"{digest!r} is not a sha256 digest")
        step = JobStep(self.name, Container(image=self.image, command=tuple(command),
                                            env=dict(env), resources=self.resources,
                                            run_as=self.run_as))
        template = job_pod_template(labels=self.selector, steps=[step], volumes=(),
                                    run_as=self.run_as, where=self.node.path,
                                    annotations=self.pod_annotations)
        spec = {"backoffLimit": self.retries, "activeDeadlineSeconds": self.deadline_seconds,
                "template": template}
        material = json.dumps({"inputs": digest, "spec": spec}, sort_keys=True)
        short = hashlib.sha256(material.encode("utf-8")).hexdigest()[:10]
        job_name = f"{self.name}-{short}"
        self.workload.object_name = job_name
        self.workload.meta["name"] = job_name
        self.workload.body = {"spec": spec}
