"""The cdk8s app (``cdk8s synth`` runs ``python -m homelab_charts.main``).

The cdk8s CLI sets ``CDK8S_OUTDIR`` (its ``output``, dist/) after emptying it. The app
writes the Flux tree into the repository through the safe tree writer, then a flat copy
of every object into ``$CDK8S_OUTDIR/homelab.k8s.yaml`` for tools that read cdk8s output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from homelab_charts.errors import HomelabError
from homelab_charts.project import find_root
from homelab_charts.synth import synth_tree
from homelab_charts.writer import HEADER, KUSTOMIZATION_FILE


def main() -> int:
    try:
        root = find_root()
        result = synth_tree(root)
    except HomelabError as exc:
        print(f"homelab-charts: error: {exc}", file=sys.stderr)
        return 1
    outdir = Path(os.environ.get("CDK8S_OUTDIR", "dist"))
    if not outdir.is_absolute():
        outdir = root / outdir
    if outdir.resolve() == root.resolve():
        print("homelab-charts: error: the cdk8s output folder must not be the repository root",
              file=sys.stderr)
        return 1
    outdir.mkdir(parents=True, exist_ok=True)
    # The objects only: kustomization.yaml files are kustomize's build files, not objects.
    flat = "".join(content[len(HEADER):] for path, content in result.files.items()
                   if not path.endswith("/" + KUSTOMIZATION_FILE))
    (outdir / "homelab.k8s.yaml").write_text(HEADER + flat, encoding="utf-8")
    changes = result.changes
    for warning in result.warnings:
        print(f"homelab-charts: warning: {warning}", file=sys.stderr)
    # On stderr: the cdk8s CLI does not show the app's standard output.
    print(f"homelab-charts: {root}: {len(result.files)} generated files under clusters/, "
          f"infrastructure/ and apps/ ({len(changes.written)} written, "
          f"{len(changes.removed)} removed); objects also in {outdir / 'homelab.k8s.yaml'}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
