"""Throughput of ``homelab-charts validate`` on a tree of about 4,000 generated resources.

Run: ``.venv/bin/python benchmarks/validate_bench.py [--resources N] [--runs R]``.

The tree (written to a temporary folder) holds ~1,000 files of varied, realistic
resources: Deployments, StatefulSets, Services, ConfigMaps, ServiceAccounts,
PersistentVolumeClaims, CronJobs, plus Flux Kustomizations and HelmReleases (checked
against the CRD schemas the package ships). Each run is end to end: listing the files,
reading them, parsing the YAML, compiling the schemas it needs (fresh caches) and
validating; the figure reported is the median. Two configurations are timed:

* ``schema`` — what kubeconform does (strict, local schemas): the comparison point.
  kubeconform v0.7 takes 1.98 s for 3,999 resources on this 2-core machine (~2,000/s);
  the target is 4x that: 3,999 resources in under 0.5 s.
* ``full`` — schema plus the Flux graph and policy checks (no kustomize builds, which
  spawn kubectl and are not part of the comparison).

A second tree measures what users validate: about 4,000 copies of the objects this
project generates (every kind, real sizes: the Prometheus, Loki and collector
ConfigMaps and the Grafana dashboards included), ~7.6 MB in ~70 files. On it,
``homelab-charts validate`` (schema checks only, as a command: interpreter start-up
included, the package's bytecode compiled first) is timed against the real
``kubeconform -strict`` binary when one is on PATH, in the same run (kubeconform with its
own Kubernetes schemas from its cache, filled by a first, untimed run, and the packaged
CRD schemas); both report resources/s, MB/s and the peak resident memory of the process.
``--break-even`` times one process against two on growing trees (the threshold of
``homelab_charts/validate/parallel.py``).

The machine is shared, so wall times vary with its load; the CPU time of the process
and the best run are printed too. Peak memory is reported two ways: the Python heap
peak of one run (tracemalloc, in a separate run since tracing slows Python down) and
the process's maximum resident set.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from homelab_charts.validate import Options, validate
from homelab_charts.validate import loader as yaml_loader
from homelab_charts.validate.schemas import PACKAGED_CRD_FOLDER
from homelab_charts.validate.schemas import clear_cache as clear_schema_cache

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
    clear_schema_cache()
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


GENERATED = ("clusters", "infrastructure", "apps")
#: The first ``name:`` of a document's metadata (copies get a suffix, to stay distinct).
_NAME = re.compile(r"^(metadata:\n(?:  .*\n)*?  name: )(.*)$", re.MULTILINE)


def generated_documents() -> list[str]:
    """Every object of the committed generated tree, as its YAML text."""
    docs = []
    for top in GENERATED:
        for path in sorted((ROOT / top).rglob("*.yaml")):
            if path.name == "kustomization.yaml" or "flux-system" in path.parts:
                continue
            for chunk in re.split(r"^---\n", path.read_text(), flags=re.MULTILINE):
                if re.search(r"^kind: ", chunk, re.MULTILINE):
                    docs.append(chunk)
    return docs


def realistic_tree(folder: Path, resources: int, *, per_file: int = 58) -> tuple[int, int]:
    """Copies of the generated objects, ``per_file`` to a file; returns (resources, files)."""
    docs = generated_documents()
    if not docs:
        raise SystemExit("no generated objects: run `scripts/run synth` first")
    folder.mkdir(parents=True, exist_ok=True)
    files: list[list[str]] = [[]]
    copy = 0
    while sum(map(len, files)) < resources:
        for doc in docs[: resources - sum(map(len, files))]:
            if len(files[-1]) == per_file:
                files.append([])
            files[-1].append(_NAME.sub(lambda m, c=copy: f"{m[1]}{m[2]}-c{c}", doc, count=1))
        copy += 1
    for n, chunk in enumerate(files):
        (folder / f"part-{n:03d}.yaml").write_text(HEADER + "".join("---\n" + d for d in chunk))
    return sum(map(len, files)), len(files)


def run_measured(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds with its workers) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}):\n{out.decode()}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def compile_bytecode() -> None:
    """Writes the package's bytecode, as ``pip install`` does for an installed package:
    an editable install under ``PYTHONDONTWRITEBYTECODE`` (set on some machines) would
    otherwise compile every module from source in every run."""
    import homelab_charts

    compileall.compile_dir(str(Path(homelab_charts.__file__).parent), quiet=1)


def realistic(runs: int) -> None:
    """Ours against kubeconform on copies of the generated objects, one run each."""
    compile_bytecode()
    crds: Path | None = PACKAGED_CRD_FOLDER  # the schemas shipped in the package
    exe = shutil.which("homelab-charts") or str(Path(sys.executable).parent / "homelab-charts")
    with tempfile.TemporaryDirectory(prefix="validate-real-") as tmp:
        folder = Path(tmp) / "tree"
        resources, files = realistic_tree(folder, 4000)
        size = sum(p.stat().st_size for p in folder.iterdir())
        ours = [exe, "validate", "--root", tmp, "--no-flux", "--no-policy", "--no-kustomize",
                "--schema-location", "default"]
        if crds is not None:
            ours += ["--schema-location", str(crds)]
        else:
            ours += ["--ignore-missing-schemas"]
        ours.append(str(folder))
        print(f"realistic tree: {resources} copies of the generated objects in {files} files, "
              f"{size / 1e6:.1f} MB ({'with' if crds else 'without'} CRD schemas: "
              f"{'packaged' if crds else 'custom resources skipped'})")
        rows = [("homelab-charts validate", ours)]
        kubeconform = shutil.which("kubeconform")
        if kubeconform is None:
            print("kubeconform: not on PATH, not measured (kubeconform v0.7.0 took "
                  "0.95-1.05 s on this machine for the 4,000 resources of the 5.2 MB tree "
                  "of the day when issue 15 was filed)")
        else:
            # kubeconform's own Kubernetes schemas (standalone: the bundled ones refer to
            # /api/_definitions.json, which it cannot resolve), from its cache: a first
            # run, not timed, fills the cache (that one needs the network).
            cache = Path(tmp) / "kubeconform-cache"
            cache.mkdir()
            kc = [kubeconform, "-strict", "-summary", "-cache", str(cache),
                  "-kubernetes-version", "1.33.0", "-schema-location", "default"]
            if crds is not None:
                kc += ["-schema-location",
                       str(crds) + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"]
            else:
                kc += ["-ignore-missing-schemas"]
            run_measured([*kc, str(folder)])
            rows.append(("kubeconform -strict", [*kc, str(folder)]))
        figures = {}
        for label, argv in rows:
            measured = [run_measured(argv) for _ in range(runs)]
            wall = statistics.median(w for w, _, _ in measured)
            rss = max(r for _, r, _ in measured)
            cpu = statistics.median(c for _, _, c in measured)
            figures[label] = wall
            print(f"  {label:<24} median {wall:.3f} s (min {min(w for w, _, _ in measured):.3f}, "
                  f"CPU {cpu:.3f} s) over {runs} runs: {resources / wall:,.0f} resources/s, "
                  f"{size / 1e6 / wall:.1f} MB/s, peak RSS {rss:.0f} MB (largest process)")
        if len(figures) == 2:
            ratio = figures["kubeconform -strict"] / figures["homelab-charts validate"]
            print(f"  homelab-charts validate is {ratio:.2f}x kubeconform's speed (target >= 4x)")
        print(f"  (load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def break_even(runs: int) -> None:
    """One process against two, in process, on growing realistic trees."""
    crds: Path | None = PACKAGED_CRD_FOLDER  # the schemas shipped in the package
    locations = ["default", str(crds)] if crds is not None else ["default"]
    print("break-even of the parallel schema checks (median wall, in process):")
    for count in (250, 500, 1000, 1500, 2000, 4000):
        with tempfile.TemporaryDirectory(prefix="validate-even-") as tmp:
            folder = Path(tmp) / "tree"
            resources, _ = realistic_tree(folder, count)
            size = sum(p.stat().st_size for p in folder.iterdir())
            times = {}
            for workers in (1, 2):
                runs_ = []
                for _ in range(runs):
                    yaml_loader._suspect.clear()  # cold, as a command starts
                    clear_schema_cache()
                    gc.collect()
                    started = time.perf_counter()
                    validate(Options(paths=[folder], root=Path(tmp), kustomize=False,
                                     flux=False, policy=False, schema_locations=locations,
                                     ignore_missing_schemas=crds is None, workers=workers))
                    runs_.append(time.perf_counter() - started)
                times[workers] = statistics.median(runs_)
            print(f"  {resources:>5} resources, {size / 1e6:4.2f} MB: 1 process "
                  f"{times[1]:.3f} s, 2 processes {times[2]:.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=3999)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--break-even", action="store_true",
                        help="only time one process against two on growing trees")
    args = parser.parse_args()
    if args.break_even:
        break_even(args.runs)
        return 0
    realistic(args.runs)
    with_crds = True  # the packaged CRD schemas (homelab_charts/data/schemas)
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        folder = Path(tmp)
        resources, files = generate(folder, args.resources, with_crds=with_crds)
        size = sum(p.stat().st_size for p in (folder / "apps").iterdir())
        locations = ["default", "packaged-crds"]
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
