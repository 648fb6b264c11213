from __future__ import annotations

import pytest

from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.workloads import (
    ConfigFile,
    Container,
    FieldRef,
    Port,
    Probe,
    Resources,
    RunAs,
    SecretKeyRef,
    StatefulService,
    WebService,
)
from tests.helpers import new_component, rendered

IMAGE = Image("registry.example.org/app", "v1.2.3-abcdef0-prod")


def container(**kwargs) -> Container:
    args = {"image": IMAGE, "ports": (Port("http", 8080),),
            "readiness": Probe.http("/ready", "http"), "liveness": Probe.tcp("http")}
    args.update(kwargs)
    return Container(**args)


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def test_web_service_is_hardened_and_selects_its_pods() -> None:
    _, c = new_component()
    web = WebService(c, "web", name="web", replicas=2, metrics_port="http", container=container(
        env={"MODE": "prod", "PASSWORD": SecretKeyRef("creds", "password"),
             "POD_IP": FieldRef("status.podIP")},
        writable_paths={"tmp": "/tmp"},
        config_files=(ConfigFile("web-config", "app.toml", "/etc/app/app.toml"),),
    ))
    web.expose("ingress", host="web.home.lan", port_name="http", ingress_class="traefik")
    docs = rendered(c)
    (deploy,) = by_kind(docs, "Deployment")
    (service,) = by_kind(docs, "Service")
    (ingress,) = by_kind(docs, "Ingress")
    pod = deploy["spec"]["template"]["spec"]
    (ctr,) = pod["containers"]
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["strategy"] == {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    sc = ctr["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsUser"] != 0
    assert ctr["image"] == "registry.example.org/app:v1.2.3-abcdef0-prod"
    assert ctr["resources"]["limits"] and ctr["resources"]["requests"]
    assert ctr["env"] == [
        {"name": "MODE", "value": "prod"},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    assert {"name": "cm-web-config", "configMap": {"name": "web-config"}} in pod["volumes"]
    assert {"name": "cm-web-config", "mountPath": "/etc/app/app.toml", "subPath": "app.toml",
            "readOnly": True} in ctr["volumeMounts"]
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert deploy["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http",
                                         "protocol": "TCP"}]
    annotations = deploy["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "8080",
                           "prometheus.io/path": "/metrics"}
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "web", "port": {"number": 8080}}
    assert web.host == "web.demo.svc.cluster.local"
    assert web.url("http") == "http://web.demo.svc.cluster.local:8080"


def test_stateful_service_has_volume_claim_and_two_services() -> None:
    _, c = new_component(namespace="databases")
    StatefulService(c, "db", name="db", data_path="/data", storage_size="3Gi",
                    storage_class="local-path", container=container(run_as=RunAs(999, 999, 999)))
    docs = rendered(c)
    (sts,) = by_kind(docs, "StatefulSet")
    headless, client = by_kind(docs, "Service")
    assert headless["spec"]["clusterIP"] == "None" and "clusterIP" not in client["spec"]
    assert sts["spec"]["serviceName"] == headless["metadata"]["name"] == "db-headless"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "3Gi"}},
                             "storageClassName": "local-path"}
    (ctr,) = sts["spec"]["template"]["spec"]["containers"]
    assert {"name": "data", "mountPath": "/data"} in ctr["volumeMounts"]
    assert sts["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 999


@pytest.mark.parametrize(("build", "needle"), [
    (lambda: Resources(cpu_request="2", cpu_limit="1"), "exceeds limit"),
    (lambda: Resources(memory_limit="lots"), "not a Kubernetes quantity"),
    (lambda: Port("HTTP_PORT", 80), "not a valid port name"),
    (lambda: Port("http", 70000), "is not a port"),
    (lambda: Probe.http("health", 80), "must start with /"),
    (lambda: Probe(), "needs a port"),
    (lambda: RunAs(user=0), "never run as root"),
])
def test_bad_pieces_fail_when_created(build, needle) -> None:
    with pytest.raises(ConfigError, match=needle):
        build()


def test_workload_errors_name_the_construct_path() -> None:
    _, c = new_component()
    with pytest.raises(ConfigError, match="needs both probes") as err:
        WebService(c, "web", name="web", container=container(liveness=None))
    assert err.value.where == "folder/things/web"
    with pytest.raises(ConfigError, match="not a valid DNS-1123 label") as err:
        WebService(c, "web2", name="Web_2", container=container())
    assert err.value.field == "name"
    with pytest.raises(ConfigError, match="no port named 'metrics'"):
        WebService(c, "web3", name="web3", container=container(), metrics_port="metrics")
    with pytest.raises(ConfigError) as err:
        WebService(c, "web4", name="web4", container=container(env={"PORT": 8080}))
    assert err.value.field == "env.PORT"
    with pytest.raises(ConfigError, match="must be RollingUpdate or Recreate"):
        WebService(c, "web5", name="web5", container=container(), strategy="BlueGreen")
    with pytest.raises(ConfigError, match="must be absolute"):
        StatefulService(c, "db", name="db", data_path="data", container=container())
    with pytest.raises(ConfigError, match="not a Kubernetes quantity"):
        StatefulService(c, "db2", name="db2", data_path="/d", storage_size="10 GB",
                        container=container())


def test_no_api_token_unless_a_service_account_is_asked_for() -> None:
    _, c = new_component()
    plain = WebService(c, "plain", name="plain", container=container())
    scraper = WebService(c, "scraper", name="scraper", container=container(),
                         service_account="scraper")
    plain_pod = plain.workload.render()["spec"]["template"]["spec"]
    scraper_pod = scraper.workload.render()["spec"]["template"]["spec"]
    assert plain_pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in plain_pod
    assert scraper_pod["automountServiceAccountToken"] is True
    assert scraper_pod["serviceAccountName"] == "scraper"
