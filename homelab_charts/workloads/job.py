"""A run-to-completion task: a Job whose pod is as hardened as every workload's.

Used for idempotent maintenance the cluster must redo when its input changes (the
PostgreSQL role-password sync): the Job's name carries a digest of that input, so a new
input is a new Job (Flux creates it and prunes the old one; a Job's pod template cannot
be changed in place), and an unchanged input is left alone. The name's digest covers
the pod spec too, so a new image or command is a new Job as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, Part, check_name
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.pod import container_security_context, selector_labels
from homelab_charts.workloads.spec import EnvValue, Resources, RunAs, render_env


class Task(Part):
    """The Job ``<name>-<digest>``: ``command`` in ``image`` until it succeeds (``retries``
    attempts, ``deadline_seconds`` at most), pods labelled with :attr:`selector`.

    :meth:`update` changes the command, environment and input digest while the tree is
    being built (PostgreSQL's role sync grows with every app asking for a database); the
    Job's name follows.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, digest: str, image: str,
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
        try:
            rendered_env = render_env(env)
        except ConfigError as exc:
            raise ConfigError(self.node.path, f"env.{exc.field}", exc.message) from None
        run_as = self.run_as
        container: dict[str, Any] = {
            "name": self.name, "image": self.image, "imagePullPolicy": "IfNotPresent",
            "command": list(command), "env": rendered_env,
            "resources": self.resources.render(),
            "securityContext": {**container_security_context(),
                                "runAsUser": run_as.user, "runAsGroup": run_as.group},
        }
        metadata: dict[str, Any] = {"labels": dict(self.selector)}
        if self.pod_annotations:
            metadata["annotations"] = dict(self.pod_annotations)
        spec = {
            "backoffLimit": self.retries,
            "activeDeadlineSeconds": self.deadline_seconds,
            "template": {"metadata": metadata, "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {
                    "runAsNonRoot": True, "runAsUser": run_as.user, "runAsGroup": run_as.group,
                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
            }},
        }
        material = json.dumps({"inputs": digest, "spec": spec}, sort_keys=True)
        short = hashlib.sha256(material.encode("utf-8")).hexdigest()[:10]
        job_name = f"{self.name}-{short}"
        self.workload.object_name = job_name
        self.workload.meta["name"] = job_name
        self.workload.body = {"spec": spec}
