"""Throughput of ``homelab-charts validate`` on a tree of about 4,000 generated resources.

Run: ``.venv/bin/python benchmarks/validate_bench.py [--resources N] [--runs R]``.

The tree (written to a temporary folder) holds ~1,000 files of varied, realistic
resources: Deployments, StatefulSets, Services, ConfigMaps, ServiceAccounts,
PersistentVolumeClaims, CronJobs, plus Flux Kustomizations and HelmReleases when the
CRD schemas of ../shared are present. Each run is end to end: listing the files,
reading them, parsing the YAML, compiling the schemas it needs (fresh caches) and
validating; the figure reported is the median. Two configurations are timed:

* ``schema`` — what kubeconform does (strict, local schemas): the comparison point.
  kubeconform v0.7 takes 1.98 s for 3,999 resources on this 2-core machine (~2,000/s);
  the target is 4x that: 3,999 resources in under 0.5 s.
* ``full`` — schema plus the Flux graph and policy checks (no kustomize builds, which
  spawn kubectl and are not part of the comparison).

The machine is shared, so wall times vary with its load; the CPU time of the process
and the best run are printed too. Peak memory is reported two ways: the Python heap
peak of one run (tracemalloc, in a separate run since tracing slows Python down) and
the process's maximum resident set.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from homelab_charts.validate import Options, validate
from homelab_charts.validate import loader as yaml_loader
from homelab_charts.validate.schemas import default_crd_folder

ROOT = Path(__file__).resolve().parent.parent

SECURITY = """\
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities:
              drop: ["ALL"]"""

CONTAINER = """\
        - name: {name}
          image: ghcr.io/homelab/{name}:v1.{i}.0-a3f5c2b-prod
          imagePullPolicy: IfNotPresent
          args: ["--port={port}", "--log-level=info"]
          ports:
            - name: http
              containerPort: {port}
              protocol: TCP
          env:
            - name: APP_ENV
              value: prod
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {name}-db
                  key: url
          resources:
            requests: {{cpu: 50m, memory: 64Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          livenessProbe:
            httpGet: {{path: /healthz, port: http}}
            periodSeconds: 20
          readinessProbe:
            httpGet: {{path: /ready, port: http}}
            initialDelaySeconds: 5
{security}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: config
              mountPath: /etc/{name}
              readOnly: true"""

POD = """\
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      serviceAccountName: {name}
      containers:
{container}
      volumes:
        - name: tmp
          emptyDir: {{}}
        - name: config
          configMap:
            name: {name}"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: &labels
    app.kubernetes.io/name: {name}
    app.kubernetes.io/managed-by: homelab-charts
spec:
  replicas: {replicas}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: *labels
      annotations:
        prometheus.io/scrape: "true"
    spec:
{pod}
"""

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/managed-by: homelab-charts
spec:
  serviceName: {name}-headless
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
{pod}
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 10Gi
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/managed-by: homelab-charts
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app.kubernetes.io/managed-by: homelab-charts
data:
  LOG_LEVEL: info
  config.yaml: |
    server:
      port: {port}
      workers: 4
    features: [a, b, c]
"""

SERVICEACCOUNT = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app.kubernetes.io/managed-by: homelab-charts
automountServiceAccountToken: false
"""

PVC = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {name}-backup
  namespace: {ns}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  resources:
    requests:
      storage: 5Gi
"""

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}-backup
  namespace: {ns}
spec:
  schedule: "17 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          securityContext:
            runAsNonRoot: true
            seccompProfile: {{type: RuntimeDefault}}
          containers:
            - name: backup
              image: ghcr.io/homelab/backup:v2.0.{i}-0c0ffee-prod
              resources:
                requests: {{cpu: 10m, memory: 32Mi}}
                limits: {{cpu: 200m, memory: 128Mi}}
              securityContext:
                allowPrivilegeEscalation: false
                readOnlyRootFilesystem: true
                capabilities: {{drop: [ALL]}}
"""

KUSTOMIZATION = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 1h
  retryInterval: 2m
  timeout: 5m
  sourceRef:
    kind: GitRepository
    name: flux-system
  path: ./apps
  prune: true
  wait: true
"""

HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: {ns}
spec:
  interval: 30m
  chart:
    spec:
      chart: {name}
      version: 1.{i}.0
      sourceRef:
        kind: HelmRepository
        name: charts
        namespace: flux-system
  install:
    remediation: {{retries: 3}}
  values:
    replicas: 2
    image: {{tag: v1.{i}.0}}
"""

HELMREPOSITORY = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  interval: 1h
  url: https://charts.example.org
"""

HEADER = "# Code generated by homelab-charts. DO NOT EDIT.\n"


def generate(folder: Path, resources: int, *, with_crds: bool) -> tuple[int, int]:
    """Writes the tree; returns (resources, files)."""
    apps = folder / "apps"
    apps.mkdir(parents=True)
    count = files = i = 0
    while count < resources:
        ns = f"ns{i % 12}"
        name = f"svc{i}"
        port = 8000 + i % 1000
        security = SECURITY
        container = CONTAINER.format(name=name, i=i % 50, port=port, security=security)
        pod = POD.format(name=name, container=container)
        fmt = {"name": name, "ns": ns, "i": i % 50, "port": port, "pod": pod,
               "replicas": 1 + i % 3}
        variant = i % 4
        if variant == 0:
            docs = [DEPLOYMENT, SERVICE, CONFIGMAP, SERVICEACCOUNT]
        elif variant == 1:
            docs = [STATEFULSET, SERVICE, CONFIGMAP, SERVICEACCOUNT]
        elif variant == 2:
            docs = [DEPLOYMENT, SERVICE, CONFIGMAP, PVC, CRONJOB]
        elif with_crds:
            docs = [KUSTOMIZATION, HELMRELEASE, CONFIGMAP]
        else:
            docs = [SERVICE, CONFIGMAP, SERVICEACCOUNT, PVC]
        docs = docs[: resources - count]
        text = HEADER + "".join("---\n" + d.format(**fmt) for d in docs)
        (apps / f"{name}.yaml").write_text(text)
        if with_crds and files == 0:
            text += "---\n" + HELMREPOSITORY
            (apps / f"{name}.yaml").write_text(text)
            count += 1
        count += len(docs)
        files += 1
        i += 1
    return count, files


def run_once(folder: Path, locations: list[str], *, full: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one end-to-end run."""
    yaml_loader._suspect.clear()  # fresh caches: every run pays for them
    gc.collect()
    cpu = time.process_time()
    started = time.perf_counter()
    report = validate(Options(paths=[folder / "apps"], root=folder, kustomize=False,
                              flux=full, policy=full, schema_locations=locations))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    if not report.ok:
        bad = next(r for r in report.results if r.status.value in ("invalid", "error"))
        raise SystemExit(f"benchmark tree is not valid: {bad.where}: {bad.message()}")
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=3999)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with_crds = default_crd_folder(ROOT) is not None
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        folder = Path(tmp)
        resources, files = generate(folder, args.resources, with_crds=with_crds)
        size = sum(p.stat().st_size for p in (folder / "apps").iterdir())
        crds = default_crd_folder(ROOT)
        locations = ["default", str(crds)] if crds is not None else ["default"]
        print(f"tree: {resources} resources in {files} files, {size / 1e6:.1f} MB "
              f"({'with' if with_crds else 'without'} Flux CRDs)")
        for full in (False, True):
            runs = [run_once(folder, locations, full=full) for _ in range(args.runs)]
            times = [wall for wall, _ in runs]
            median = statistics.median(times)
            cpu = statistics.median(c for _, c in runs)
            label = "full (schema + flux + policy)" if full else "schema (kubeconform-equivalent)"
            print(f"{label}: median {median:.3f} s wall over {args.runs} runs "
                  f"(min {min(times):.3f}, median CPU {cpu:.3f} s), "
                  f"{resources / median:,.0f} resources/s "
                  f"({resources / min(times):,.0f}/s best run)")
        tracemalloc.start()
        run_once(folder, locations, full=True)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak memory: Python heap {peak / 1e6:.1f} MB (tracemalloc, full run); "
              f"process max RSS {maxrss / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
