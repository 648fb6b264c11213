"""Promotion: pin for prod the very build dev runs, without building it again.

``homelab-charts promote SERVICE --from dev --to prod`` reads the tag dev runs
(``vX.Y.Z-<sha7>-dev``) and pins ``vX.Y.Z-<sha7>-prod`` for prod: the same version
and commit. The registry side is the pipeline's: it tags the dev image's digest as
the prod tag (``docker buildx imagetools create``), so prod runs the bytes dev tested.

Refused, before anything is written: a third-party (``upstream``) service, whose tags
are not built here; a source environment no cluster runs (its tag was never deployed,
so nothing was tested there); ``--tag`` naming a build the source does not run; and a
promotion that would move the target to an older version (``rollback`` does that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from homelab_charts import config
from homelab_charts.errors import ConfigError
from homelab_charts.versioning.release import Pinned, Synthesize, pin_tag
from homelab_charts.versioning.tags import ReleaseTag, parse_tag


@dataclass(frozen=True)
class PromotionPlan:
    """What a promotion pins: ``tag`` for ``target``, the build ``source`` runs."""

    service: str
    image: str
    source: str
    target: str
    #: The tag the source runs (the image to retag).
    source_tag: str
    #: The tag to pin for the target: same version and commit, the target's suffix.
    tag: str
    #: What the target runs now.
    current: str
    #: The cluster running the source environment.
    tested_on: str

    def as_dict(self) -> dict[str, str]:
        return {"service": self.service, "image": self.image, "from": self.source,
                "to": self.target, "fromTag": self.source_tag, "tag": self.tag,
                "current": self.current, "testedOn": self.tested_on}


def plan_promotion(data_file: Path, service: str, *, source: str = "dev",
                   target: str = "prod", tag: str | None = None) -> PromotionPlan:
    """The promotion of ``service`` from ``source`` to ``target`` (see the module doc)."""
    data = config.load(data_file)
    where = str(data_file)
    svc = data.service(service)
    if source == target:
        raise ConfigError("--to", None, f"{target} is also the source environment")
    if svc.upstream:
        raise ConfigError(where, f"services.{service}.upstream",
                          f"{service} is a third-party image (upstream: true): nothing is "
                          "built here to promote; pin its version per environment with "
                          f"`homelab-charts rollback {service} --env {target} --to TAG`")
    if not svc.enabled:
        raise ConfigError(where, f"services.{service}.enabled",
                          f"{service} is disabled: no environment runs it")
    running = data.cluster_running(source)
    if running is None:
        raise ConfigError(where, "cluster.environments",
                          f"no cluster runs {source}: its tag was never deployed, so no "
                          f"build was tested there; add {source} to a cluster's "
                          "environments (docs/ARCHITECTURE.md, Environments)")
    source_tag = svc.env(source).tag
    current = svc.env(target).tag
    runs = parse_tag(source_tag, where=where,
                     field=f"services.{service}.environments.{source}.tag")
    if tag is not None:
        wanted = parse_tag(tag, where="--tag")
        if (wanted.version, wanted.sha) != (runs.version, runs.sha):
            raise ConfigError("--tag", None,
                              f"{source} does not run {tag}: it runs {source_tag} (on "
                              f"cluster {running.name}); release that build to {source} "
                              "first, then promote it")
    promoted = ReleaseTag(runs.version, runs.sha, target).format()
    before = parse_tag(current, where=where,
                       field=f"services.{service}.environments.{target}.tag")
    if before.version > runs.version:
        raise ConfigError(where, f"services.{service}.environments.{target}.tag",
                          f"{target} runs {current}, newer than {source}'s {source_tag}: a "
                          "promotion never goes back; use `homelab-charts rollback "
                          f"{service} --env {target} --to {promoted}` for a deliberate "
                          "downgrade")
    return PromotionPlan(service, svc.image, source, target, source_tag, promoted, current,
                         running.name)


def promote(root: Path, data_file: Path, plan: PromotionPlan, *, synthesize: Synthesize,
            dry_run: bool = False) -> Pinned:
    """Pin ``plan.tag`` for ``plan.target`` and re-synthesize (the data file is put back
    when synthesis fails)."""
    return pin_tag(root, data_file, plan.service, plan.target, plan.tag,
                   synthesize=synthesize, dry_run=dry_run)


__all__ = ["PromotionPlan", "plan_promotion", "promote"]
