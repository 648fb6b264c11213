"""NetworkPolicy building blocks: default deny, DNS, and allows built from construct references.

A namespace is *isolated* by giving its folder a :class:`NetworkPolicies` component
(``network-policies.yaml``): a ``default-deny`` policy (no ingress, no egress for any pod)
and ``allow-dns`` (egress to kube-dns in ``kube-system`` on UDP and TCP 53). Every other
flow is opened by :meth:`Network.allow` from a *source* group of pods to a *target* group
on one named port of the target::

    network = Network()
    network.isolate(databases_folder)
    network.isolate(apps_folder)
    network.allow(backend, postgresql.server, "postgresql")

``allow`` writes both halves: an ingress rule on the target side (in the target's
namespace) and an egress rule on the source side (in the source's namespace). A side whose
namespace is not isolated by this tree gets no rule: an egress policy there would isolate
those pods and cut every flow the tree does not know about.

The homelab isolates every namespace it creates, ``networking`` and ``cert-manager``
included. Traffic that leaves or enters the cluster is named by address range, from the
data file: the API server by the nodes' range (:meth:`Network.allow_kube_api`), the
internet as any address outside the pod and service ranges
(:meth:`Network.allow_internet`), clients of the ingress controller's entry points as any
address (:meth:`Network.allow_from_anywhere`).

Peers are always ``namespaceSelector`` (``kubernetes.io/metadata.name``) AND
``podSelector`` (the workload's selector labels); ports are the *container* port numbers,
since NetworkPolicies are evaluated after a Service has translated its port.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.spec import Port
from homelab_charts.workloads.workload import Workload

NETWORK_API = "networking.k8s.io/v1"
#: The label every namespace carries with its own name (set by the API server).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS: Mapping[str, str] = {"k8s-app": "kube-dns"}
DNS_PORT = 53
#: Ports the Kubernetes API server answers on (443 behind the ``kubernetes`` Service,
#: 6443 on the nodes, where k3s and kubeadm listen).
KUBE_API_PORTS = (443, 6443)
FILE_ID = "network-policies"


@dataclass(frozen=True)
class Pods:
    """A group of pods a NetworkPolicy can name: a namespace, selector labels, named ports.

    Build it from a workload construct with :meth:`of`, or describe pods the tree does not
    create itself (the ingress controller's, from its Helm chart) directly.
    """

    name: str
    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: tuple[Port, ...] = ()
    where: str = ""

    @classmethod
    def of(cls, workload: Workload) -> Pods:
        return cls(name=workload.name, namespace=workload.namespace or "",
                   labels=tuple(sorted(workload.selector.items())),
                   ports=tuple(workload.container.ports), where=workload.node.path)

    @classmethod
    def external(cls, name: str, namespace: str, labels: Mapping[str, str],
                 ports: Iterable[Port] = ()) -> Pods:
        if not labels:
            raise ConfigError(name, "labels", "a group of pods needs selector labels")
        return cls(name=name, namespace=namespace, labels=tuple(sorted(labels.items())),
                   ports=tuple(ports), where=name)

    @property
    def selector(self) -> dict[str, str]:
        return dict(self.labels)

    def port(self, name: str) -> Port:
        for port in self.ports:
            if port.name == name:
                return port
        raise ConfigError(self.where or self.name, "ports",
                          f"no port named {name!r} (has {[p.name for p in self.ports]})")

    def peer(self) -> dict[str, Any]:
        """The ``from``/``to`` entry selecting exactly these pods, in any namespace."""
        return {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: self.namespace}},
            "podSelector": {"matchLabels": self.selector},
        }


PodsLike = Workload | Pods


def as_pods(value: PodsLike) -> Pods:
    if isinstance(value, Pods):
        return value
    if isinstance(value, Workload):
        return Pods.of(value)
    raise ConfigError(repr(value), None, "expected a workload construct or a Pods group")


@dataclass(frozen=True)
class Connection:
    """``source`` pods open connections to ``target`` pods on the target's ``port``."""

    source: Pods
    target: Pods
    port: str

    @classmethod
    def to(cls, source: PodsLike, target: PodsLike, port: str) -> Connection:
        target_pods = as_pods(target)
        target_pods.port(port)  # fails now, naming the construct, if the port is unknown
        return cls(as_pods(source), target_pods, port)


@dataclass(frozen=True)
class OutsideFlow:
    """Traffic between ``pods`` and addresses outside the cluster's pods, by range:
    ``direction`` ``egress`` (the pods connect to ``cidr``) or ``ingress`` (``cidr``
    connects to them), on ``ports``, never to or from the ``excluded`` ranges.

    A component declares the flows its own pods need (``outside_flows``, like
    ``connections``); the cluster turns them into allow rules. Build one with
    :meth:`kube_api`, :meth:`internet` or :meth:`from_anywhere`.
    """

    pods: Pods
    direction: str
    cidr: str
    ports: tuple[Port, ...]
    excluded: tuple[str, ...] = ()

    @classmethod
    def kube_api(cls, source: PodsLike, node_cidr: str) -> OutsideFlow:
        """``source`` reaches the Kubernetes API server: the nodes' range (``node_cidr``,
        where k3s' API server listens), its ports only (443 behind the ``kubernetes``
        Service, 6443 on the nodes)."""
        return cls(as_pods(source), "egress", node_cidr,
                   tuple(Port(f"api-{n}", n) for n in KUBE_API_PORTS))

    @classmethod
    def internet(cls, source: PodsLike, ports: Iterable[int], *,
                 cluster_ranges: Iterable[str], protocol: str = "TCP") -> OutsideFlow:
        """``source`` opens connections on ``ports`` to any address outside the cluster's
        pod and service ranges (``cluster_ranges``): the internet, never the pods or
        Services of the cluster except through their own allows."""
        return cls(as_pods(source), "egress", "0.0.0.0/0",
                   tuple(Port(f"out-{n}", n, protocol=protocol) for n in ports),
                   tuple(sorted(set(cluster_ranges))))

    @classmethod
    def from_anywhere(cls, target: PodsLike, port_names: Iterable[str]) -> OutsideFlow:
        """Any address (clients outside the cluster, the API server) reaches ``target``
        on its named ports: an ingress controller's entry points, a webhook."""
        pods = as_pods(target)
        return cls(pods, "ingress", "0.0.0.0/0", tuple(pods.port(n) for n in port_names))

    def peer(self) -> dict[str, Any]:
        block: dict[str, Any] = {"cidr": self.cidr}
        if self.excluded:
            block["except"] = list(self.excluded)
        return {"ipBlock": block}


@dataclass(frozen=True)
class Egress:
    """``source`` pods open connections to addresses outside the pod network (the API
    server, the kubelets, a server outside the cluster) on ``ports``.

    ``on_nodes``: what is reached runs on the nodes (the API server, the kubelets); the
    rule is then limited to the nodes' range (the data file's
    ``platform.network.nodeCidr``, :class:`Network`'s ``node_cidr``), else by port only
    (any address). ``what`` says what is reached there, for the reader of the code.
    """

    source: Pods
    ports: tuple[Port, ...]
    what: str
    on_nodes: bool = False

    @classmethod
    def kube_api(cls, source: PodsLike) -> Egress:
        """The Kubernetes API server (:data:`KUBE_API_PORTS`), on the nodes."""
        return cls(as_pods(source), tuple(Port(f"api-{n}", n) for n in KUBE_API_PORTS),
                   "the Kubernetes API server", on_nodes=True)

    @classmethod
    def to(cls, source: PodsLike, what: str, *ports: Port, on_nodes: bool = False) -> Egress:
        if not ports:
            raise ConfigError(what, "ports", "an egress rule needs at least one port")
        return cls(as_pods(source), tuple(ports), what, on_nodes=on_nodes)


@dataclass(frozen=True)
class ExternalConnection:
    """``source`` pods open connections to addresses of ``cidr`` outside the cluster's
    pods (a backup target on the LAN) on ``port``: an egress rule with an ``ipBlock``."""

    source: Pods
    cidr: str
    port: Port

    @classmethod
    def to(cls, source: PodsLike, cidr: str, port: Port) -> ExternalConnection:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            raise ConfigError(as_pods(source).where, "cidr",
                              f"{cidr!r} is not a network (a.b.c.d/n)") from None
        if network.prefixlen == 0:
            raise ConfigError(as_pods(source).where, "cidr",
                              f"{cidr!r} is every address: name the target's network")
        return cls(as_pods(source), str(network), port)


class Wired(Protocol):
    """A component that declares the connections its pods make or accept (and, as
    ``egress``, those to addresses outside the pod network)."""

    connections: list[Connection | ExternalConnection]


def _port_rule(port: Port) -> dict[str, Any]:
    return {"protocol": port.protocol, "port": port.port}


@dataclass
class _Rules:
    # peer (as canonical JSON) -> {(protocol, port)}
    by_peer: dict[str, set[tuple[str, int]]] = field(default_factory=dict)

    def add(self, peer: Mapping[str, Any], ports: Iterable[Port]) -> None:
        key = json.dumps(peer, sort_keys=True)
        self.by_peer.setdefault(key, set()).update((p.protocol, p.port) for p in ports)

    def render(self, direction: str) -> list[dict[str, Any]]:
        out = []
        for key in sorted(self.by_peer):
            ports = [{"protocol": proto, "port": number}
                     for proto, number in sorted(self.by_peer[key], key=lambda p: (p[1], p[0]))]
            out.append({direction: [json.loads(key)], "ports": ports})
        return out


class AllowPolicy(Manifest):
    """The NetworkPolicy ``allow-<pods>``: every flow into and out of one group of pods.

    Rules are added while the cluster is wired and rendered at the end, sorted, so the
    file does not depend on the order in which connections were declared.
    """

    def __init__(self, scope: Construct, id: str, *, pods: Pods) -> None:
        super().__init__(scope, id, api_version=NETWORK_API, kind="NetworkPolicy",
                         name=f"allow-{pods.name}", namespace=pods.namespace)
        self.pods = pods
        self.ingress = _Rules()
        self.egress = _Rules()

    def render_body(self) -> dict[str, Any]:
        types = [t for t, rules in (("Ingress", self.ingress), ("Egress", self.egress))
                 if rules.by_peer]
        spec: dict[str, Any] = {"podSelector": {"matchLabels": self.pods.selector},
                                "policyTypes": types}
        if self.ingress.by_peer:
            spec["ingress"] = self.ingress.render("from")
        if self.egress.by_peer:
            spec["egress"] = self.egress.render("to")
        return {"spec": spec}


class NetworkPolicies(Component):
    """``network-policies.yaml`` of a folder: default deny, DNS, then one allow per pod group."""

    def __init__(self, scope: Folder, id: str = FILE_ID, *, allow_dns: bool = True,
                 namespace: str | None = None) -> None:
        super().__init__(scope, id, namespace=namespace)
        namespace = self.default_namespace
        if namespace is None:
            raise ConfigError(self.where, "namespace",
                              "NetworkPolicies need a folder with a namespace")
        self.policy_namespace = namespace
        Manifest(self, "default-deny", api_version=NETWORK_API, kind="NetworkPolicy",
                 name="default-deny", body={"spec": {
                     "podSelector": {},
                     "policyTypes": ["Ingress", "Egress"],
                 }})
        if allow_dns:
            dns = Pods.external("kube-dns", DNS_NAMESPACE, DNS_POD_LABELS)
            Manifest(self, "allow-dns", api_version=NETWORK_API, kind="NetworkPolicy",
                     name="allow-dns", body={"spec": {
                         "podSelector": {},
                         "policyTypes": ["Egress"],
                         "egress": [{"to": [dns.peer()], "ports": [
                             {"protocol": "UDP", "port": DNS_PORT},
                             {"protocol": "TCP", "port": DNS_PORT},
                         ]}],
                     }})
        self._policies: dict[tuple[tuple[str, str], ...], AllowPolicy] = {}

    def policy_for(self, pods: Pods) -> AllowPolicy:
        """The allow policy of ``pods`` (created on first use)."""
        if pods.namespace != self.policy_namespace:
            raise ConfigError(self.where, "namespace",
                              f"pods {pods.name} run in {pods.namespace}, "
                              f"not {self.policy_namespace}")
        policy = self._policies.get(pods.labels)
        if policy is None:
            policy = AllowPolicy(self, f"allow-{pods.name}", pods=pods)
            self._policies[pods.labels] = policy
        return policy


class Network:
    """Which namespaces are isolated, and the allows between their pods.

    Not a construct: the cluster definition holds one and feeds it connections declared by
    components (see :meth:`wire`).
    """

    def __init__(self, *, node_cidr: str | None = None) -> None:
        self._by_namespace: dict[str, NetworkPolicies] = {}
        #: The nodes' address range (``Egress.on_nodes`` rules); None: any address.
        self.node_cidr = node_cidr

    def isolate(self, folder: Folder, *, allow_dns: bool = True,
                namespace: str | None = None) -> NetworkPolicies:
        """Default-deny ``folder``'s namespace (or ``namespace``, whose policies are then
        ``<namespace>-network-policies.yaml`` of the folder); return its
        NetworkPolicies component."""
        target = namespace or folder.namespace
        if target is None:
            raise ConfigError(construct_path(folder), "namespace",
                              "only a folder with a namespace can be isolated")
        if target in self._by_namespace:
            raise ConfigError(construct_path(folder), "namespace",
                              f"namespace {target} is already isolated by "
                              f"{self._by_namespace[target].where}")
        file_id = FILE_ID if namespace is None else f"{namespace}-{FILE_ID}"
        policies = NetworkPolicies(folder, file_id, allow_dns=allow_dns, namespace=namespace)
        self._by_namespace[target] = policies
        return policies

    def isolated(self, namespace: str) -> bool:
        return namespace in self._by_namespace

    def policies(self, namespace: str) -> NetworkPolicies | None:
        return self._by_namespace.get(namespace)

    def allow(self, source: PodsLike, target: PodsLike, port: str) -> None:
        """Let ``source`` pods connect to ``target`` pods on the target's named ``port``."""
        self.add(Connection.to(source, target, port))

    def add(self, connection: Connection | ExternalConnection) -> None:
        if isinstance(connection, ExternalConnection):
            self.allow_external(connection)
            return
        src, dst = connection.source, connection.target
        port = dst.port(connection.port)
        src_policies = self._by_namespace.get(src.namespace)
        dst_policies = self._by_namespace.get(dst.namespace)
        if src_policies is None and dst_policies is None:
            raise ConfigError(dst.where or dst.name, "network",
                              f"allow {src.name} -> {dst.name}:{connection.port} has no effect: "
                              f"neither {src.namespace} nor {dst.namespace} is isolated")
        if dst_policies is not None:
            dst_policies.policy_for(dst).ingress.add(src.peer(), [port])
        if src_policies is not None:
            src_policies.policy_for(src).egress.add(dst.peer(), [port])

    def _own_policies(self, pods: Pods) -> NetworkPolicies:
        policies = self._by_namespace.get(pods.namespace)
        if policies is None:
            raise ConfigError(pods.where or pods.name, "network",
                              f"{pods.namespace} is not isolated; nothing to allow")
        return policies

    def add_outside(self, flow: OutsideFlow) -> None:
        """Allow traffic between pods of an isolated namespace and an address range."""
        policy = self._own_policies(flow.pods).policy_for(flow.pods)
        rules = policy.egress if flow.direction == "egress" else policy.ingress
        rules.add(flow.peer(), flow.ports)

    def allow_kube_api(self, source: PodsLike, node_cidr: str) -> None:
        """Let ``source`` reach the Kubernetes API server (:meth:`OutsideFlow.kube_api`)."""
        self.add_outside(OutsideFlow.kube_api(source, node_cidr))

    def add_egress(self, egress: Egress) -> None:
        """Let ``egress.source`` reach ``egress.ports`` on the nodes (``on_nodes``, when
        :attr:`node_cidr` is known) or at any address."""
        cidr = self.node_cidr if egress.on_nodes and self.node_cidr else "0.0.0.0/0"
        policy = self._own_policies(egress.source).policy_for(egress.source)
        policy.egress.add({"ipBlock": {"cidr": cidr}}, egress.ports)

    def allow_internet(self, source: PodsLike, ports: Iterable[int], *,
                       cluster_ranges: Iterable[str], protocol: str = "TCP") -> None:
        """Let ``source`` reach the internet on ``ports`` (:meth:`OutsideFlow.internet`)."""
        self.add_outside(OutsideFlow.internet(source, ports, cluster_ranges=cluster_ranges,
                                              protocol=protocol))

    def allow_from_anywhere(self, target: PodsLike, port_names: Iterable[str]) -> None:
        """Let any address reach ``target`` on its named ports
        (:meth:`OutsideFlow.from_anywhere`)."""
        self.add_outside(OutsideFlow.from_anywhere(target, port_names))

    def allow_external(self, connection: ExternalConnection) -> None:
        """Let the source pods reach ``connection.cidr`` on its port (egress only: the
        other end is no pod of the tree)."""
        pods = connection.source
        policies = self._by_namespace.get(pods.namespace)
        if policies is None:
            raise ConfigError(pods.where or pods.name, "network",
                              f"{pods.namespace} is not isolated; nothing to allow")
        policies.policy_for(pods).egress.add({"ipBlock": {"cidr": connection.cidr}},
                                             [connection.port])

    def wire(self, components: Iterable[Component]) -> None:
        """Turn every connection connection, outside flow and egress declared by ``components``
        (their ``connections``, ``outside_flows`` and ``egress``) into allow rules."""
        for component in components:
            for connection in getattr(component, "connections", ()):
                self.add(connection)
            for flow in getattr(component, "outside_flows", ()):
                self.add_outside(flow)
            for egress in getattr(component, "egress", ()):
                self.add_egress(egress)
