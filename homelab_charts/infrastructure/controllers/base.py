"""What a controller of the ``controllers`` layer declares: the custom kinds it installs.

A controller is a Helm chart that installs CustomResourceDefinitions (and the controller
serving them), pinned under ``controllers:`` in the data file (:func:`pinned_chart`).
Other components create objects of those kinds (SealedSecrets, Certificates...), so the
cluster makes every component with such an object use the controller whose ``CRDS`` list
its kind: its Flux Kustomization then ``dependsOn`` the one that installs the CRDs, and
``homelab-charts validate`` checks the same from the tree
(:mod:`homelab_charts.validate.crds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from homelab_charts.base import Component
from homelab_charts.errors import ConfigError
from homelab_charts.platform import Chart

if TYPE_CHECKING:
    from homelab_charts.registry import ClusterContext


@dataclass(frozen=True)
class ChartCrds:
    """The custom kinds a chart installs, and how its HelmRelease turns them on.

    ``kinds`` are ``(group, kind)`` pairs. CRDs in the chart's ``crds/`` folder are
    installed unless the HelmRelease sets ``install.crds: Skip``; CRDs rendered by the
    chart's templates need ``values_switch`` (a path of ``spec.values``) to be true.
    """

    chart: str
    kinds: frozenset[tuple[str, str]]
    values_switch: tuple[str, ...] | None = None

    def installed_by(self, helm_release: Mapping[str, Any]) -> bool:
        """Whether this HelmRelease object (as in the tree) installs the CRDs."""
        spec = helm_release.get("spec")
        if not isinstance(spec, Mapping):
            return False
        if self.values_switch is None:
            install = spec.get("install")
            policy = install.get("crds", "Create") if isinstance(install, Mapping) else "Create"
            return policy != "Skip"
        value: Any = spec.get("values")
        for part in self.values_switch:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value is True


class Controller(Component):
    """A component of the controllers layer; ``CRDS`` says what it installs."""

    CRDS: ClassVar[ChartCrds]

    def provides(self, group: str, kind: str) -> bool:
        return (group, kind) in self.CRDS.kinds


def pinned_chart(ctx: ClusterContext, name: str) -> Chart:
    """The chart of ``controllers.<name>`` in the data file (where the controller's
    version is pinned too); a ConfigError naming the field when it has none."""
    pin = ctx.data.controller(name)
    if pin.chart is None:
        raise ConfigError(str(ctx.data.path), f"controllers.{name}",
                          f"the tree installs {name}: give version and chart "
                          "(repository, and version when the chart's differs)")
    return pin.chart
