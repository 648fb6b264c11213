"""The generated tree is wired together: names, selectors, ports, policies and dependsOn agree.

These tests read the objects the code generates (as Flux would apply them), not the
constructs: every reference an app makes (environment, mounted configuration, Ingress,
scrape annotations) must land on a Service and pods that exist, the NetworkPolicies must
allow exactly those flows, and Flux must deploy what an app uses before the app.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from homelab_charts import config
from homelab_charts.validate import policy
from homelab_charts.validate.engine import SchemaOptions, SchemaValidator
from homelab_charts.validate.schemas import SchemaStore, default_locations
from tests.apps.tree import (
    SVC_DNS,
    Pod,
    Tree,
    edited_data,
    enabled_services,
    homelab_tree,
    matches,
)
from tests.conftest import REPO_ROOT

INGRESS_CONTROLLER = ("networking", {"app.kubernetes.io/name": "traefik"})
#: Addresses of the endpoints: a pod (k3s' pod range), a node (the data file's
#: nodeCidr: the API server and LAN clients), somewhere on the internet.
POD_ADDRESS = "10.42.3.7"
NODE_ADDRESS = "192.168.1.10"
INTERNET_ADDRESS = "203.0.113.10"
DATA = yaml.safe_load((REPO_ROOT / "homelab.yaml").read_text(encoding="utf-8"))
KUBE_DNS = ("kube-system", {"k8s-app": "kube-dns"})
#: flux bootstrap's controllers: their pod labels and metrics port (flux2 manifests/install).
FLUX_CONTROLLERS = ("flux-system", {"app.kubernetes.io/part-of": "flux",
                                    "app.kubernetes.io/instance": "flux-system"},
                    {"http-prom": (8080, "TCP")})
KUBELET_PORT = 10250


@pytest.fixture(scope="module", params=["packaged", "otel-off", "jaeger-off"])
def tree(request, tmp_path_factory) -> Tree:
    """The homelab as shipped, with every app's OpenTelemetry switch off, and without
    Jaeger (the data file's infrastructure.jaeger.enabled)."""
    if request.param == "packaged":
        return homelab_tree()
    if request.param == "jaeger-off":
        def jaeger_off(doc: dict[str, Any]) -> None:
            doc["infrastructure"]["jaeger"]["enabled"] = False

        return homelab_tree(edited_data(tmp_path_factory.mktemp("data"), jaeger_off))

    def otel_off(doc: dict[str, Any]) -> None:
        for service in doc["services"].values():
            service["otel"] = False

    return homelab_tree(edited_data(tmp_path_factory.mktemp("data"), otel_off))


# --- endpoints and flows -------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    """A pod template of the tree, or pods outside it (ingress controller, kube-dns, API)."""

    ident: str
    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: frozenset[tuple[int, str]]
    outside: bool = False
    #: The address traffic from or to it carries (what an ipBlock peer is matched with).
    address: str = POD_ADDRESS


def endpoints(tree: Tree) -> dict[str, Endpoint]:
    out = {p.ident: Endpoint(p.ident, p.namespace, tuple(sorted(p.labels.items())),
                             frozenset(p.port_numbers())) for p in tree.pods()}
    release = tree.get("HelmRelease", INGRESS_CONTROLLER[0], "traefik")
    values = release["spec"]["values"]
    metrics = traefik_scrape_port(values)
    assert metrics is not None, "Prometheus scrapes the ingress controller"
    entry = {values["ports"][name]["port"] for name in ("web", "websecure")}
    # The chart's pods: in an isolated namespace of the tree, so their side is checked.
    out["ingress-controller"] = Endpoint(
        "ingress-controller", INGRESS_CONTROLLER[0], tuple(INGRESS_CONTROLLER[1].items()),
        frozenset({(metrics, "TCP"), *((p, "TCP") for p in entry)}))
    # cert-manager's chart-made pods (its chart's labels), in an isolated namespace too.
    for part, ports in (("controller", {(9402, "TCP")}), ("webhook", {(10250, "TCP")}),
                        ("cainjector", set())):
        out[f"cert-manager-{part}"] = Endpoint(
            f"cert-manager-{part}", "cert-manager",
            (("app.kubernetes.io/component", part), ("app.kubernetes.io/instance",
                                                     "cert-manager")),
            frozenset(ports))
    out["kube-dns"] = Endpoint("kube-dns", KUBE_DNS[0], tuple(KUBE_DNS[1].items()),
                               frozenset({(53, "UDP"), (53, "TCP")}), outside=True)
    out["kube-api"] = Endpoint("kube-api", "", (), frozenset({(443, "TCP"), (6443, "TCP")}),
                               outside=True, address=NODE_ADDRESS)
    out["internet"] = Endpoint("internet", "", (), frozenset(
        (p, "TCP") for p in (25, 80, 443, 465, 587, 5432, 6443, 8000)), outside=True,
        address=INTERNET_ADDRESS)
    out["kubelet"] = Endpoint("kubelet", "", (), frozenset({(KUBELET_PORT, "TCP")}),
                              outside=True, address=NODE_ADDRESS)
    out["flux-controllers"] = Endpoint(
        "flux-controllers", FLUX_CONTROLLERS[0], tuple(sorted(FLUX_CONTROLLERS[1].items())),
        frozenset(FLUX_CONTROLLERS[2].values()), outside=True)
    target = backup_target(tree)
    if target is not None:
        out["backup-target"] = Endpoint(
            "backup-target", "", (), frozenset({(target[1], "TCP")}), outside=True,
            address=str(next(iter(ipaddress.ip_network(target[0]).hosts()))))
    return out


def backup_target(tree: Tree) -> tuple[str, int] | None:
    """The restic target's network and port (the data file's backup.target), if any."""
    from homelab_charts.infrastructure.backup import from_data

    settings = from_data(config.load(tree.data_file)) if tree.data_file else None
    if settings is None or settings.target.cidr is None or settings.target.port is None:
        return None
    return settings.target.cidr, settings.target.port


def traefik_scrape_port(values: dict[str, Any]) -> int | None:
    """The port the Traefik chart (37.x) annotates its pods to be scraped on, or None.

    Its pod template adds ``prometheus.io/scrape``/``port``/``path`` itself whenever
    ``metrics.prometheus`` is set (no ServiceMonitor), the port being
    ``ports.<metrics.prometheus.entryPoint>.port``; it reads pod annotations only from
    ``deployment.podAnnotations`` (a top-level ``podAnnotations`` is ignored).
    """
    prometheus = (values.get("metrics") or {}).get("prometheus")
    if not prometheus or (prometheus.get("serviceMonitor") or {}).get("enabled"):
        return None
    entry_point = prometheus.get("entryPoint", "metrics")
    return int(values["ports"][entry_point]["port"])


Flow = tuple[str, str, int, str]  # source ident, target ident, port, protocol


def service_flows(tree: Tree, source: Pod, service: str, namespace: str,
                  port: int | None) -> set[Flow]:
    """Flows from ``source`` to the pods behind Service ``namespace/service`` on ``port``."""
    svc = tree.services().get((namespace, service))
    assert svc is not None, f"{source.ident} refers to Service {namespace}/{service}, " \
                            "which is not in the tree"
    ports = svc["spec"]["ports"]
    chosen = [p for p in ports if port is None or p["port"] == port]
    assert chosen, f"{source.ident}: Service {namespace}/{service} has no port {port}"
    pods = tree.service_pods(svc)
    assert pods, f"Service {namespace}/{service} selects no pod"
    flows = set()
    for sp in chosen:
        for pod in pods:
            number, proto = pod.ports()[sp["targetPort"]]
            flows.add((source.ident, pod.ident, number, proto))
    return flows


def references(tree: Tree, pod: Pod) -> Iterable[tuple[str, str, int | None]]:
    """Every Service the pod's environment or mounted configuration names."""
    env = pod.env()
    disabled = env.get("OTEL_SDK_DISABLED") == "true"
    for name, value in env.items():
        if not isinstance(value, str) or (disabled and name.startswith("OTEL_")):
            continue
        for svc, ns, port in SVC_DNS.findall(value):
            if port:
                yield svc, ns, int(port)
            elif name.endswith("_HOST"):
                pair = env.get(name[: -len("_HOST")] + "_PORT")
                assert isinstance(pair, str), f"{pod.ident}: {name} has no matching _PORT"
                yield svc, ns, int(pair)
            else:
                yield svc, ns, None
    for text in tree.config_maps_of(pod):
        for svc, ns, port in SVC_DNS.findall(text):
            yield svc, ns, int(port) if port else None


def needed_flows(tree: Tree) -> set[Flow]:
    """What the wiring needs: references, Ingress backends, scrapes, DNS, the API server."""
    pods = {p.ident: p for p in tree.pods()}
    flows: set[Flow] = set()
    for pod in pods.values():
        for svc, ns, port in references(tree, pod):
            flows |= service_flows(tree, pod, svc, ns, port)
        flows |= {(pod.ident, "kube-dns", 53, "UDP"), (pod.ident, "kube-dns", 53, "TCP")}
    controller = Pod("Deployment", "ingress-controller", INGRESS_CONTROLLER[0],
                     INGRESS_CONTROLLER[1], {}, {}, {})
    for ingress in tree.of_kind("Ingress"):
        ns = ingress["metadata"]["namespace"]
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                flows |= {("ingress-controller", *f[1:]) for f in service_flows(
                    tree, controller, backend["name"], ns, backend["port"]["number"])}
    prometheus = pods["observability/prometheus"]
    for pod in pods.values():
        if pod.annotations.get("prometheus.io/scrape") == "true" and pod is not prometheus:
            flows.add((prometheus.ident, pod.ident,
                       int(pod.annotations["prometheus.io/port"]), "TCP"))
    config = tree.get("ConfigMap", "observability", "prometheus-config")["data"]
    import yaml

    scrape = yaml.safe_load(config["prometheus.yml"])
    for job in scrape["scrape_configs"]:
        for sd in job.get("kubernetes_sd_configs", []):
            names = sd.get("namespaces", {}).get("names")
            selectors = sd.get("selectors")
            if not names or not selectors:
                continue
            labels = dict(item.split("=", 1) for item in selectors[0]["label"].split(","))
            port_name = job["relabel_configs"][0]["regex"]
            for pod in pods.values():
                if pod.namespace in names and matches(labels, pod.labels):
                    number, proto = pod.ports()[port_name]
                    flows.add((prometheus.ident, pod.ident, number, proto))
            if FLUX_CONTROLLERS[0] in names and matches(labels, FLUX_CONTROLLERS[1]):
                number, proto = FLUX_CONTROLLERS[2][port_name]
                flows.add((prometheus.ident, "flux-controllers", number, proto))
        if any(sd.get("role") == "node" for sd in job.get("kubernetes_sd_configs", [])):
            flows.add((prometheus.ident, "kubelet", KUBELET_PORT, "TCP"))
    release = tree.get("HelmRelease", "networking", "traefik")
    port = traefik_scrape_port(release["spec"]["values"])
    if port is not None:
        flows.add((prometheus.ident, "ingress-controller", port, "TCP"))
    api = {("kube-api", 443, "TCP"), ("kube-api", 6443, "TCP")}
    flows |= {(prometheus.ident, *f) for f in api}
    # The ingress controller: clients from anywhere (outside the isolated namespaces) on
    # its entry points; it and cert-manager's pods use the API server and DNS; the API
    # server (from anywhere, as far as a policy can tell) calls cert-manager's webhook.
    eps = endpoints(tree)
    clients = [e.ident for e in eps.values() if e.outside]
    for client in clients:
        flows |= {(client, "ingress-controller", port, proto)
                  for port, proto in eps["ingress-controller"].ports
                  if port != metrics_port(tree)}
        flows.add((client, "cert-manager-webhook", 10250, "TCP"))
    for chart_pods in ("ingress-controller", "cert-manager-controller", "cert-manager-webhook",
                       "cert-manager-cainjector"):
        flows |= {(chart_pods, *f) for f in api}
        flows |= {(chart_pods, "kube-dns", 53, "UDP"), (chart_pods, "kube-dns", 53, "TCP")}
    # Internet egress from the data file: any address outside the pod and service ranges
    # (a node's address too: that is where the ingress controller's LoadBalancer listens).
    for service, allowance in DATA["platform"]["network"]["egress"].items():
        (pod,) = [p for p in pods.values() if p.name == service]
        for outside in ("internet", "kube-api"):
            flows |= {(pod.ident, outside, port, "TCP") for port in allowance["internet"]
                      if (port, "TCP") in endpoints(tree)[outside].ports}
    # Pods with an API token talk to the API server (discovery, k8sattributes,
    # kube-state-metrics).
    for pod in pods.values():
        if pod.spec.get("automountServiceAccountToken"):
            flows |= {(pod.ident, *f) for f in api}
    target = backup_target(tree)
    for pod in pods.values():  # restic reaches an S3 or REST repository over the network
        repository = pod.env().get("RESTIC_REPOSITORY")
        if target is not None and isinstance(repository, str) and \
                repository.startswith(("s3:", "rest:")):
            flows.add((pod.ident, "backup-target", target[1], "TCP"))
    return flows


def metrics_port(tree: Tree) -> int | None:
    return traefik_scrape_port(tree.get("HelmRelease", INGRESS_CONTROLLER[0], "traefik")[
        "spec"]["values"])


# --- a small NetworkPolicy evaluator -----------------------------------------------

def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    assert not selector.get("matchExpressions"), "only matchLabels are generated"
    return all(labels.get(k) == v for k, v in wanted.items())


def _peer_matches(peer: dict[str, Any], ep: Endpoint) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(ep.address)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(c) for c in block.get("except", []))
    if ep.outside and not ep.namespace:
        return False
    ns_sel = peer.get("namespaceSelector")
    ns_ok = (_selects(ns_sel, {"kubernetes.io/metadata.name": ep.namespace})
             if ns_sel is not None else None)
    pod_sel = peer.get("podSelector")
    pod_ok = _selects(pod_sel, dict(ep.labels)) if pod_sel is not None else True
    return bool(ns_ok and pod_ok)  # every generated peer names its namespace


def _port_matches(rule: dict[str, Any], port: int, proto: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == proto and p.get("port") == port for p in ports)


def _side_allows(policies: list[dict[str, Any]], ep: Endpoint, direction: str, other: Endpoint,
                 port: int, proto: str) -> bool:
    kind, peers_key = ("Ingress", "from") if direction == "ingress" else ("Egress", "to")
    selecting = [p for p in policies
                 if p["metadata"]["namespace"] == ep.namespace and not ep.outside
                 and kind in p["spec"]["policyTypes"]
                 and _selects(p["spec"]["podSelector"], dict(ep.labels))]
    if not selecting:
        return True  # not isolated in that direction
    return any(_port_matches(rule, port, proto)
               and any(_peer_matches(peer, other) for peer in rule.get(peers_key, []))
               for p in selecting for rule in p["spec"].get(direction, []))


def allowed_flows(tree: Tree) -> set[Flow]:
    policies = tree.of_kind("NetworkPolicy")
    eps = endpoints(tree)
    out: set[Flow] = set()
    for src in eps.values():
        for dst in eps.values():
            if src is dst or (src.outside and dst.outside):
                continue
            for port, proto in dst.ports:
                if _side_allows(policies, src, "egress", dst, port, proto) and \
                        _side_allows(policies, dst, "ingress", src, port, proto):
                    out.add((src.ident, dst.ident, port, proto))
    return out


# --- the tests ----------------------------------------------------------------------

def test_app_environments_point_at_services_that_exist(tree: Tree) -> None:
    apps = [p for p in tree.pods() if p.namespace in tree.app_namespaces()
            and p.kind != "CronJob"]
    data = config.load()
    assert len(apps) == len(enabled_services(data))
    for pod in apps:
        refs = list(references(tree, pod))
        # The dashboard only talks to the collector, not at all with OpenTelemetry off.
        assert refs or pod.env().get("OTEL_SDK_DISABLED") == "true", \
            f"{pod.ident} refers to no Service"
        for svc, ns, port in refs:
            assert service_flows(tree, pod, svc, ns, port)
    backend = {(s, n) for s, n, _ in references(tree, tree.pod("family-assistant-backend"))}
    assert {("postgresql", "databases"), ("redis", "databases"),
            ("qdrant", "databases")} <= backend
    frontend = {(s, n) for s, n, _ in references(tree, tree.pod("family-assistant-frontend"))}
    assert ("family-assistant-backend", "family-assistant") in frontend


def test_secret_references_name_declared_sealed_secret_keys(tree: Tree) -> None:
    # A Secret holds its sealed keys and the keys its template renders from them.
    sealed = {(s["metadata"]["namespace"], s["metadata"]["name"]):
              set(s["spec"]["encryptedData"]) | set(s["spec"]["template"].get("data", {}))
              for s in tree.of_kind("SealedSecret")}
    checked = 0
    for pod in tree.pods():
        for value in pod.env().values():
            if isinstance(value, dict) and "secretKeyRef" in value:
                ref = value["secretKeyRef"]
                assert ref["key"] in sealed[(pod.namespace, ref["name"])], (pod.ident, ref)
                checked += 1
        for volume in pod.spec.get("volumes", []):
            sources = [{"secret": {"name": volume["secret"]["secretName"],
                                   "items": volume["secret"]["items"]}}] \
                if "secret" in volume else volume.get("projected", {}).get("sources", [])
            for source in sources:
                keys = sealed[(pod.namespace, source["secret"]["name"])]
                assert {i["key"] for i in source["secret"]["items"]} <= keys
                checked += 1
    assert checked >= 9


def test_every_service_selects_pods_on_named_ports(tree: Tree) -> None:
    services = tree.services()
    assert len(services) >= 13
    for (ns, name), svc in services.items():
        pods = tree.service_pods(svc)
        assert pods, f"Service {ns}/{name} selects no pod template"
        for port in svc["spec"]["ports"]:
            for pod in pods:
                assert port["targetPort"] in pod.ports(), (ns, name, port, pod.ident)


def test_every_ingress_routes_to_a_service_port(tree: Tree) -> None:
    services = tree.services()
    ingresses = tree.of_kind("Ingress")
    data = config.load()
    environment = data.cluster.environment
    exposed = {s.env(environment).host for s in enabled_services(data).values()}
    # Grafana's host is the cluster's own (observability.grafana.host).
    exposed.add(data.observability["grafana"]["host"])
    assert sorted(i["spec"]["rules"][0]["host"] for i in ingresses) == \
        sorted(h for h in exposed if h)
    for ingress in ingresses:
        ns = ingress["metadata"]["namespace"]
        for rule in ingress["spec"]["rules"]:
            backend = rule["http"]["paths"][0]["backend"]["service"]
            svc = services[(ns, backend["name"])]
            assert backend["port"]["number"] in {p["port"] for p in svc["spec"]["ports"]}


def test_network_policy_allows_match_real_pods_and_ports(tree: Tree) -> None:
    eps = endpoints(tree)
    policies = tree.of_kind("NetworkPolicy")
    for pol in policies:
        where = f"{pol['metadata']['namespace']}/{pol['metadata']['name']}"
        spec = pol["spec"]
        local = [e for e in eps.values() if not e.outside
                 and e.namespace == pol["metadata"]["namespace"]
                 and _selects(spec["podSelector"], dict(e.labels))]
        assert local, f"{where} selects no pod"
        for rule in spec.get("ingress", []):
            peers = [e for e in eps.values() for p in rule["from"] if _peer_matches(p, e)]
            assert peers, f"{where}: an ingress rule matches no pod"
            for port in rule["ports"]:
                assert all((port["port"], port["protocol"]) in e.ports for e in local), \
                    f"{where}: ingress port {port} is not a container port of its pods"
        for rule in spec.get("egress", []):
            peers = [e for e in eps.values() for p in rule["to"] if _peer_matches(p, e)]
            assert peers, f"{where}: an egress rule matches no pod"
            for port in rule["ports"]:
                assert any((port["port"], port["protocol"]) in e.ports for e in peers), \
                    f"{where}: egress port {port} is not a port of the pods it names"


def test_every_namespace_is_default_deny(tree: Tree) -> None:
    namespaces = {n["metadata"]["name"] for n in tree.of_kind("Namespace")}
    assert namespaces >= {"databases", "observability", "family-assistant",
                          "homelab-dashboard", "n8n", "networking", "cert-manager"}
    for ns in sorted(namespaces):
        deny = tree.get("NetworkPolicy", ns, "default-deny")
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        tree.get("NetworkPolicy", ns, "allow-dns")


def test_network_policies_allow_exactly_the_flows_the_wiring_needs(tree: Tree) -> None:
    needed = needed_flows(tree)
    allowed = allowed_flows(tree)
    missing = sorted(needed - allowed)
    extra = sorted(allowed - needed)
    assert not missing, f"needed but denied: {missing}"
    assert not extra, f"allowed but not needed: {extra}"
    # Spot checks that the evaluator itself is not vacuous.
    assert ("family-assistant/family-assistant-frontend",
            "family-assistant/family-assistant-backend", 8000, "TCP") in allowed
    assert ("family-assistant/family-assistant-frontend", "databases/postgresql", 5432,
            "TCP") not in allowed
    assert ("n8n/n8n", "databases/redis", 6379, "TCP") not in allowed
    assert ("ingress-controller", "family-assistant/family-assistant-backend", 8000,
            "TCP") not in allowed


def test_flux_depends_on_covers_what_each_layer_uses(tree: Tree) -> None:
    kustomizations = tree.flux_kustomizations()
    folder_of = {k["spec"]["path"].removeprefix("./"): name for name, k in kustomizations.items()}
    layer_of_pod: dict[str, str] = {}
    for path, obj in tree.objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            ident = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            layer_of_pod[ident] = folder_of[str(PurePosixPath(path).parent)]
    layer_of_pod["ingress-controller"] = folder_of["infrastructure/networking"]
    needed: dict[str, set[str]] = {}
    for src, dst, _, _ in needed_flows(tree):
        # Flows the Ingress controller and Prometheus open are not deploy-time needs.
        if src in layer_of_pod and dst in layer_of_pod and src not in (
                "observability/prometheus", "ingress-controller"):
            needed.setdefault(layer_of_pod[src], set()).add(layer_of_pod[dst])
    for path, obj in tree.objects:
        if obj["kind"] == "Ingress":
            layer = folder_of[str(PurePosixPath(path).parent)]
            needed.setdefault(layer, set()).add(folder_of["infrastructure/networking"])
    for layer, uses in needed.items():
        depends = {d["name"] for d in kustomizations[layer]["spec"].get("dependsOn", [])}
        assert uses - {layer} <= depends, f"{layer} uses {uses - {layer}}, dependsOn {depends}"
    assert needed["family-assistant"] >= {"databases", "networking"}
    assert needed["n8n"] >= {"databases", "networking"}


def test_apps_depend_on_observability_only_when_they_send_telemetry(tree: Tree) -> None:
    kustomizations = tree.flux_kustomizations()
    checked = 0
    for app, kustomization in kustomizations.items():
        if not kustomization["spec"]["path"].startswith("./apps/"):
            continue
        pods = [p for p in tree.pods() if p.namespace == app]
        sends = any(p.env().get("OTEL_SDK_DISABLED") == "false" for p in pods)
        depends = {d["name"] for d in kustomization["spec"].get("dependsOn", [])}
        assert ("observability" in depends) == sends, app
        checked += sends
    if tree is homelab_tree():  # as shipped (not the otel-off variant) some apps send
        assert checked, "no app sends telemetry"


def test_every_workload_meets_restricted_and_has_requests_limits_probes(tree: Tree) -> None:
    objects = [obj for _, obj in tree.objects]
    findings = policy.check(objects)
    assert not findings, "\n".join(map(str, findings))
    for pod in tree.pods():
        waived = pod.workload["metadata"].get("annotations", {}).get(policy.WAIVE_ANNOTATION, "")
        root = "PSS-001" in waived.split(",")
        assert pod.spec["securityContext"]["runAsNonRoot"] is not root, pod.ident
        assert pod.spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod.spec), pod.ident
        for c in pod.containers:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, pod.ident
            assert sc["capabilities"] == {"drop": ["ALL"]}, pod.ident
            assert sc["readOnlyRootFilesystem"] is True, pod.ident
            assert (sc.get("runAsUser", pod.spec["securityContext"]["runAsUser"]) != 0) \
                is not root, pod.ident
            for kind in ("requests", "limits"):
                assert set(c["resources"][kind]) == {"cpu", "memory"}, pod.ident
            if pod.kind not in ("Job", "CronJob"):  # run to completion: nothing to probe
                assert "livenessProbe" in c and "readinessProbe" in c, pod.ident
            image = c["image"]
            repo, _, tag = image.rpartition(":")
            assert repo and "/" not in tag and tag not in ("", "latest"), image


#: The tree's Pod Security exceptions: namespace -> level, and the rules each workload
#: there waives. Everything else is "restricted" with no waiver. Changing this list is a
#: decision to state in docs/ARCHITECTURE.md ("Pod Security exceptions").
POD_SECURITY_EXCEPTIONS = {"telemetry": "privileged"}
WAIVED_RULES = {("telemetry", "otel-agent"): {"PSS-001", "PSS-007"},
                ("telemetry", "node-exporter"): {"PSS-007"},
                ("telemetry", None): {"NS-001"}}


def test_pod_security_exceptions_are_exactly_the_listed_ones(tree: Tree) -> None:
    levels = {ns["metadata"]["name"]: ns["metadata"]["labels"]
              for ns in tree.of_kind("Namespace")}
    exceptions = {name: labels["pod-security.kubernetes.io/enforce"]
                  for name, labels in levels.items()
                  if labels["pod-security.kubernetes.io/enforce"] != "restricted"}
    assert exceptions == POD_SECURITY_EXCEPTIONS
    for name, level in exceptions.items():
        labels = levels[name]
        assert labels["homelab-charts.io/pod-security-exception"] == level
        assert labels["pod-security.kubernetes.io/warn"] == level
    waivers = {}
    for _, obj in tree.objects:
        annotations = (obj.get("metadata") or {}).get("annotations", {})
        if policy.WAIVE_ANNOTATION in annotations:
            key = (obj["metadata"].get("namespace") or obj["metadata"]["name"],
                   None if obj["kind"] == "Namespace" else obj["metadata"]["name"])
            waivers[key] = set(annotations[policy.WAIVE_ANNOTATION].split(","))
            assert annotations[policy.REASON_ANNOTATION].strip()
    assert waivers == WAIVED_RULES
    # Every pod with a host mount runs in an exception namespace.
    for pod in tree.pods():
        if any("hostPath" in v for v in pod.spec.get("volumes", [])):
            assert pod.namespace in POD_SECURITY_EXCEPTIONS, pod.ident
            for v in pod.spec["volumes"]:
                mount = next(m for c in pod.containers for m in c["volumeMounts"]
                             if m["name"] == v["name"])
                if "hostPath" in v and v["hostPath"]["path"] != "/var/lib/otelcol-agent":
                    assert mount["readOnly"] is True, (pod.ident, v)
    docs = (Path(REPO_ROOT) / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for name, level in POD_SECURITY_EXCEPTIONS.items():
        assert f"`{name}`" in docs and f"`{level}`" in docs


def test_policy_check_catches_a_broken_workload() -> None:
    deployment = json.loads(json.dumps(homelab_tree().pod("homelab-dashboard").workload))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "registry.homelab.lan:5000/homelab-dashboard:latest"
    del container["livenessProbe"]
    del container["resources"]["limits"]
    rules = {f.rule for f in policy.check([deployment])}
    assert {"IMG-001", "PRB-001", "RES-002"} <= rules


def test_every_generated_object_validates_strictly_against_its_schema() -> None:
    tree = homelab_tree()
    store = SchemaStore(default_locations(), kubernetes_version="1.33.0", strict=True)
    validator = SchemaValidator(SchemaOptions(store=store, strict=True))
    checked = skipped = 0
    for path, text in tree.files.items():
        if PurePosixPath(path).name == "kustomization.yaml":
            continue
        for result in validator.validate_text(text, path):
            assert not result.problems, f"{path} {result.kind}/{result.name}: " + "; ".join(
                f"{p.path}: {p.message}" for p in result.problems)
            skipped += result.skipped
            checked += not result.skipped
    assert checked >= 60
    assert skipped == 0


def test_the_committed_tree_matches_the_rendered_one() -> None:
    for path, text in homelab_tree().files.items():
        assert (Path(REPO_ROOT) / path).read_text(encoding="utf-8") == text, path


def test_the_exactness_check_notices_a_widened_policy() -> None:
    tree = homelab_tree()
    widened = Tree(dict(tree.files))
    for _, obj in widened.objects:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == "allow-postgresql":
            for rule in obj["spec"]["ingress"]:  # any pod of family-assistant
                peer = rule["from"][0]
                if peer["namespaceSelector"]["matchLabels"][
                        "kubernetes.io/metadata.name"] == "family-assistant":
                    peer["podSelector"] = {}
        if obj["kind"] == "NetworkPolicy" and \
                obj["metadata"]["name"] == "allow-family-assistant-frontend":
            obj["spec"]["egress"].append(
                {"to": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "databases"}}}],
                 "ports": [{"protocol": "TCP", "port": 5432}]})
    extra = allowed_flows(widened) - needed_flows(widened)
    assert ("family-assistant/family-assistant-frontend", "databases/postgresql", 5432,
            "TCP") in extra


def test_n8n_reaches_the_internet_on_443_but_not_the_cluster_ranges(tree: Tree) -> None:
    allowed = allowed_flows(tree)
    assert {("n8n/n8n", "internet", p, "TCP") for p in (80, 443, 465, 587)} <= allowed
    assert ("n8n/n8n", "internet", 25, "TCP") not in allowed
    assert ("n8n/n8n", "internet", 5432, "TCP") not in allowed
    policy = tree.get("NetworkPolicy", "n8n", "allow-n8n")
    blocks = [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"]
              if "ipBlock" in peer]
    assert blocks == [{"cidr": "0.0.0.0/0", "except": ["10.42.0.0/16", "10.43.0.0/16"]}]
    for address in ("10.42.0.15", "10.43.0.1", "10.43.200.9"):  # a pod, Services
        pod = Endpoint("probe", "", (), frozenset({(443, "TCP")}), outside=True,
                       address=address)
        assert not _side_allows([policy], endpoints(tree)["n8n/n8n"], "egress", pod, 443,
                                "TCP"), address
    # Pods of the tree stay reachable only through their own allows: the database.
    reached = {d for s, d, _, _ in allowed if s == "n8n/n8n"}
    assert reached == {"databases/postgresql", "kube-dns", "internet", "kube-api"}


def test_prometheus_reaches_the_api_server_on_the_node_range_only(tree: Tree) -> None:
    policy = tree.get("NetworkPolicy", "observability", "allow-prometheus")
    blocks = [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"]
              if "ipBlock" in peer]
    assert blocks == [{"cidr": DATA["platform"]["network"]["nodeCidr"]}]
