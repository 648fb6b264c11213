"""Helpers of the validation tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from homelab_charts.validate import Options, Report, validate

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def run(paths: list[Path], root: Path, **kwargs: object) -> Report:
    opts: dict[str, object] = {"kustomize": False, "policy": False,
                               "schema_locations": ["default"]}
    opts.update(kwargs)
    return validate(Options(paths=paths, root=root, **opts))  # type: ignore[arg-type]


GOOD_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: web
          image: ghcr.io/example/web:v1.2.3-abcdef0-prod
          resources:
            requests: {cpu: 10m, memory: 32Mi}
            limits: {cpu: 100m, memory: 64Mi}
          livenessProbe: {httpGet: {path: /healthz, port: 8080}}
          readinessProbe: {httpGet: {path: /ready, port: 8080}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""
