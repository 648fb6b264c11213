"""Synthesis benchmark: wall time and peak memory against a PyYAML floor, in one run.

Cases:
  (a) the homelab as shipped;
  (b) the homelab plus 100 extra generated apps;
  (c) a tree of about 4,000 resources (660 apps of 6 objects, plus the homelab).
For each case the floor is a process that imports cdk8s and writes the same documents
to the same files with PyYAML's C dumper. Every figure is the median of --runs fresh
processes (interpreter start-up included); peak memory is the maximum resident set of
the Python process plus its Node.js (jsii) child.

Run by hand: `scripts/run bench synth` (not a test: machines here are shared and noisy,
compare the ratios of one run).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CASES = {"a": ("homelab", 0), "b": ("homelab + 100 apps", 100), "c": ("~4,000 resources", 660)}
TARGETS = {"a": 2.0, "c": 3.0}

CHILD_SYNTH = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
sys.path.insert(0, {bench_dir!r})
from synth_bench import extra_apps_builder
from homelab_charts.synth import synth_tree
root = Path({root!r})
root.mkdir(parents=True)
# The repository's data file and sealed store, the tree written to a fresh folder.
result = synth_tree(root, data_file=Path({data!r}), builder=extra_apps_builder({extra}))
docs = sum(c.count("\n---\n") for c in result.files.values())
self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({{"docs": docs, "files": len(result.files), "rss_kb": self_rss + child_rss}}))
"""

CHILD_FLOOR = r"""
import json, pickle, resource, sys, time
import cdk8s  # the floor includes loading cdk8s (and its Node.js runtime)
import yaml
from pathlib import Path
files = pickle.loads(Path({docs!r}).read_bytes())
root = Path({root!r})
for rel, docs in files.items():
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False,
                                  explicit_start=True))
self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({{"rss_kb": self_rss + child_rss}}))
"""


def extra_apps_builder(count: int) -> Callable[[Any, Any], object]:
    """The homelab plus ``count`` generated apps (Deployment, Service, ConfigMap, Ingress)."""
    from homelab_charts.base import Component, Manifest
    from homelab_charts.config import Image
    from homelab_charts.synth import build_homelab
    from homelab_charts.workloads import Container, Port, Probe, WebService

    def build(app: Any, data: Any) -> object:
        cluster = build_homelab(app, data)
        if not count:
            return cluster
        flux_file = Component(cluster, "bench-apps", file="clusters/homelab/bench-apps.yaml")
        for i in range(count):
            name = f"bench-{i:04d}"
            layer = cluster.layer(name, f"apps/bench/{name}", flux_file)
            component = Component(layer, "app")
            Manifest(component, "config", api_version="v1", kind="ConfigMap",
                     name=f"{name}-config", body={"data": {"LOG_LEVEL": "info",
                                                           "INDEX": str(i)}})
            web = WebService(component, "web", name=name, replicas=1 + i % 3, container=Container(
                image=Image("registry.homelab.lan:5000/bench", f"v1.{i % 7}.0-abcdef0-prod"),
                ports=(Port("http", 8080),), env={"INDEX": str(i)},
                readiness=Probe.http("/ready", "http"), liveness=Probe.http("/live", "http"),
                writable_paths={"tmp": "/tmp"}))
            web.expose("ingress", host=f"{name}.homelab.lan", port_name="http",
                       ingress_class="traefik")
            layer.kustomization.add_depends_on(cluster.layers[0].kustomization)
        return cluster

    return build


def run_child(code: str, env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=REPO)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr}")
    return elapsed, json.loads(proc.stdout.strip().splitlines()[-1])


def measure(case: str, runs: int) -> dict:
    label, extra = CASES[case]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    synth_times, synth_rss, floor_times, floor_rss = [], [], [], []
    info: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        docs_file = Path(tmp) / "docs.pickle"
        for i in range(runs):
            root = Path(tmp) / f"synth-{i}"
            elapsed, info = run_child(CHILD_SYNTH.format(
                bench_dir=str(Path(__file__).parent), root=str(root), extra=extra,
                data=str(REPO / "homelab.yaml")), env)
            synth_times.append(elapsed)
            synth_rss.append(info["rss_kb"])
        import yaml

        files = {p.relative_to(root).as_posix(): list(yaml.load_all(p.read_text(),
                                                                    Loader=yaml.CSafeLoader))
                 for p in sorted(root.rglob("*.yaml"))}
        docs_file.write_bytes(pickle.dumps(files))
        for i in range(runs):
            elapsed, floor = run_child(CHILD_FLOOR.format(
                docs=str(docs_file), root=str(Path(tmp) / f"floor-{i}")), env)
            floor_times.append(elapsed)
            floor_rss.append(floor["rss_kb"])
    synth_s = statistics.median(synth_times)
    floor_s = statistics.median(floor_times)
    return {"case": case, "label": label, "resources": info["docs"], "files": info["files"],
            "synth_s": synth_s, "floor_s": floor_s, "ratio": synth_s / floor_s,
            "synth_mib": statistics.median(synth_rss) / 1024,
            "floor_mib": statistics.median(floor_rss) / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--case", choices=sorted(CASES), action="append",
                        help="case(s) to run (default: all)")
    args = parser.parse_args(argv)
    print(f"{'case':<24} {'resources':>9} {'files':>6} {'synth s':>8} {'floor s':>8} "
          f"{'ratio':>6} {'target':>7} {'synth MiB':>10} {'floor MiB':>10}")
    for case in args.case or sorted(CASES):
        r = measure(case, args.runs)
        target = f"<{TARGETS[case]:.0f}x" if case in TARGETS else "-"
        print(f"({r['case']}) {r['label']:<20} {r['resources']:>9} {r['files']:>6} "
              f"{r['synth_s']:>8.2f} {r['floor_s']:>8.2f} {r['ratio']:>5.2f}x {target:>7} "
              f"{r['synth_mib']:>10.0f} {r['floor_mib']:>10.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
