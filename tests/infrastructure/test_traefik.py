"""Traefik's HelmRelease values are ones chart 37.x reads, and its scrape port is wired."""

from __future__ import annotations

from typing import Any

from tests.apps.tree import homelab_tree

#: Top-level keys of the Traefik chart's values.yaml (37.x) this tree may set. Chart 37's
#: schema still accepts unknown top-level keys (39 rejects them), so a misplaced key is
#: silently ignored there: this list is the guard.
CHART_37_TOP_LEVEL_KEYS = {
    "deployment", "ingressClass", "providers", "service", "resources", "podSecurityContext",
    "securityContext", "metrics", "ports", "logs", "image", "additionalArguments", "env",
    "tolerations", "nodeSelector", "affinity", "priorityClassName", "rbac", "serviceAccount",
    "persistence", "tlsOptions", "tlsStore", "ingressRoute", "gateway", "gatewayClass",
    "experimental", "global", "hub", "autoscaling", "updateStrategy", "readinessProbe",
    "livenessProbe", "volumes", "hostNetwork", "topologySpreadConstraints", "extraObjects",
}
SCRAPE_ANNOTATIONS = {"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"}


def _values() -> dict[str, Any]:
    release = homelab_tree().get("HelmRelease", "networking", "traefik")
    values: dict[str, Any] = release["spec"]["values"]
    return values


def test_values_use_only_keys_the_chart_reads() -> None:
    values = _values()
    unknown = set(values) - CHART_37_TOP_LEVEL_KEYS
    assert not unknown, f"not keys of the Traefik chart 37.x: {sorted(unknown)}"
    # The chart reads pod annotations from deployment.podAnnotations only.
    assert "podAnnotations" not in values


def test_scrape_annotations_come_from_the_chart_not_repeated_in_values() -> None:
    values = _values()
    # metrics.prometheus makes the chart's pod template add the scrape annotations;
    # stating them again in deployment.podAnnotations would render duplicate keys.
    assert values["metrics"]["prometheus"]["entryPoint"] == "metrics"
    assert not (values["metrics"]["prometheus"].get("serviceMonitor") or {}).get("enabled")
    repeated = SCRAPE_ANNOTATIONS & set(values.get("deployment", {}).get("podAnnotations", {}))
    assert not repeated


def test_prometheus_may_reach_the_port_the_chart_annotates() -> None:
    tree = homelab_tree()
    values = tree.get("HelmRelease", "networking", "traefik")["spec"]["values"]
    port = values["ports"]["metrics"]["port"]
    assert port == 9100
    policy = tree.get("NetworkPolicy", "observability", "allow-prometheus")
    to_traefik = [rule for rule in policy["spec"]["egress"]
                  if any(peer.get("podSelector", {}).get("matchLabels")
                         == {"app.kubernetes.io/name": "traefik"} for peer in rule["to"])]
    assert [p["port"] for rule in to_traefik for p in rule["ports"]] == [port]
