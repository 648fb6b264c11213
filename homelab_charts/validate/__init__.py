"""Validation of the generated tree before Flux sees it.

* :mod:`.engine` — schema validation with kubeconform's semantics (strict mode,
  schema locations, skip/reject, missing schemas), built on ``jsonschema-rs`` and the
  Kubernetes schemas bundled in ``kubernetes-validate``; :mod:`.kubeconform` runs the
  real binary instead when asked;
* :mod:`.kustomize` — ``kubectl kustomize`` builds of the folders Flux points at;
* :mod:`.flux` — the Flux object graph (references, cycles, paths);
* :mod:`.policy` — Pod Security Standards "restricted" and workload hygiene rules, with
  per-object waivers;
* :mod:`.runner` — one run of all of them (``homelab-charts validate``).

See docs/VALIDATION.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homelab_charts.validate.model import Problem, Report, Result, Status

if TYPE_CHECKING:
    from homelab_charts.validate.runner import Options, validate

__all__ = ["Options", "Problem", "Report", "Result", "Status", "validate"]


def __getattr__(name: str) -> Any:
    # The runner (schemas, jsonschema-rs) loads on first use: readers of a tree import
    # homelab_charts.validate.loader without paying for the whole validator.
    if name in ("Options", "validate"):
        from homelab_charts.validate import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
