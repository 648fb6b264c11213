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
from homelab_charts.synth import find_root, synth_tree
from homelab_charts.writer import HEADER


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
    flat = "".join(content[len(HEADER):] for content in result.files.values())
    (outdir / "homelab.k8s.yaml").write_text(HEADER + flat, encoding="utf-8")
    changes = result.changes
    print(f"homelab-charts: {len(result.files)} files, {len(changes.written)} written, "
          f"{len(changes.removed)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
