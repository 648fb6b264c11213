"""Policy rules: PSS restricted, resources, probes, pinned images, Secrets; waivers."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from homelab_charts.validate.policy import (
    REASON_ANNOTATION,
    RULES,
    WAIVE_ANNOTATION,
    Finding,
    check,
)

from .helpers import GOOD_DEPLOYMENT


def good() -> dict[str, Any]:
    return yaml.safe_load(GOOD_DEPLOYMENT)


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def test_hardened_deployment_has_no_findings() -> None:
    assert check([good()]) == []


def test_every_rule_is_documented_in_validation_doc() -> None:
    from .helpers import HERE

    doc = (HERE.parents[1] / "docs" / "VALIDATION.md").read_text()
    for rule_id in RULES:
        assert rule_id in doc


@pytest.mark.parametrize(("mutate", "rule", "path"), [
    (lambda o: o["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
     "PSS-001", "/spec/template/spec/containers/0/securityContext/runAsNonRoot"),
    (lambda o: container(o)["securityContext"].update(runAsNonRoot=False), "PSS-001", None),
    (lambda o: container(o)["securityContext"].update(runAsUser=0), "PSS-001", None),
    (lambda o: container(o)["securityContext"].pop("allowPrivilegeEscalation"), "PSS-002",
     "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation"),
    (lambda o: container(o)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
     "PSS-003", None),
    (lambda o: container(o)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
     "PSS-003", "/spec/template/spec/containers/0/securityContext/capabilities/add"),
    (lambda o: o["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile"),
     "PSS-004", None),
    (lambda o: container(o)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
     "PSS-004", None),
    (lambda o: o["spec"]["template"]["spec"].update(hostNetwork=True), "PSS-005",
     "/spec/template/spec/hostNetwork"),
    (lambda o: container(o)["securityContext"].update(privileged=True), "PSS-006", None),
    (lambda o: o["spec"]["template"]["spec"].update(
        volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "PSS-007",
     "/spec/template/spec/volumes/0/hostPath"),
    (lambda o: container(o).update(ports=[{"containerPort": 80, "hostPort": 80}]), "PSS-008",
     None),
    (lambda o: container(o)["resources"].pop("requests"), "RES-001", None),
    (lambda o: container(o)["resources"]["limits"].pop("memory"), "RES-002",
     "/spec/template/spec/containers/0/resources/limits"),
    (lambda o: container(o).pop("livenessProbe"), "PRB-001", None),
    (lambda o: container(o).pop("readinessProbe"), "PRB-002", None),
    (lambda o: container(o).update(image="nginx"), "IMG-001", None),
    (lambda o: container(o).update(image="nginx:latest"), "IMG-001", None),
    (lambda o: container(o).update(image="registry:5000/nginx"), "IMG-001", None),
    (lambda o: container(o)["securityContext"].pop("readOnlyRootFilesystem"), "CTR-001", None),
])
def test_each_rule_fires(mutate: Any, rule: str, path: str | None) -> None:
    obj = good()
    mutate(obj)
    findings = check([obj])
    assert rule in rules(findings), findings
    if path is not None:
        assert path in {f.path for f in findings if f.rule == rule}
    found = next(f for f in findings if f.rule == rule)
    assert (found.kind, found.name, found.namespace) == ("Deployment", "web", "apps")
    assert f"{rule} at " in str(found)


@pytest.mark.parametrize("image", ["nginx:1.27", "registry:5000/team/app:v1.0.0-abcdef0-prod",
                                   "nginx@sha256:" + "a" * 64])
def test_pinned_images_pass(image: str) -> None:
    obj = good()
    container(obj)["image"] = image
    assert check([obj]) == []


def test_net_bind_service_may_be_added() -> None:
    obj = good()
    container(obj)["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert check([obj]) == []


def test_probes_are_required_only_for_long_running_workloads() -> None:
    job = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "b"},
           "spec": {"jobTemplate": {"spec": {"template": copy.deepcopy(good()["spec"]
                                                                       ["template"])}}}}
    c = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    del c["livenessProbe"], c["readinessProbe"]
    assert check([job]) == []
    c["securityContext"]["privileged"] = True
    [finding] = check([job])
    assert finding.path == ("/spec/jobTemplate/spec/template/spec/containers/0/"
                            "securityContext/privileged")


def test_init_containers_are_checked_but_need_no_probes() -> None:
    obj = good()
    init = copy.deepcopy(container(obj))
    del init["livenessProbe"], init["readinessProbe"]
    obj["spec"]["template"]["spec"]["initContainers"] = [init]
    assert check([obj]) == []
    init["securityContext"]["allowPrivilegeEscalation"] = True
    assert rules(check([obj])) == {"PSS-002"}


def test_plaintext_secret_and_namespace_label() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"},
              "stringData": {"password": "hunter2"}}
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    assert rules(check([secret, ns])) == {"SEC-001", "NS-001"}
    ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "restricted"}
    assert check([ns]) == []
    assert check([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t"},
                   "type": "kubernetes.io/service-account-token"}]) == []


def test_waiver_with_reason_waives_only_named_rules() -> None:
    obj = good()
    container(obj)["securityContext"]["privileged"] = True
    container(obj).pop("livenessProbe")
    obj["metadata"]["annotations"] = {WAIVE_ANNOTATION: "PSS-006",
                                      REASON_ANNOTATION: "needs /dev/kvm"}
    assert rules(check([obj])) == {"PRB-001"}
    everything = check([obj], include_waived=True)
    assert {(f.rule, f.waived) for f in everything} == {("PSS-006", True), ("PRB-001", False)}


def test_waiver_without_reason_waives_nothing() -> None:
    obj = good()
    container(obj)["securityContext"]["privileged"] = True
    obj["metadata"]["annotations"] = {WAIVE_ANNOTATION: "PSS-006"}
    assert rules(check([obj])) == {"PSS-006", "POL-001"}


def test_waiver_of_unknown_rule_is_a_finding() -> None:
    obj = good()
    obj["metadata"]["annotations"] = {WAIVE_ANNOTATION: "PSS-999, POL-001",
                                      REASON_ANNOTATION: "typo"}
    [finding] = check([obj])
    assert finding.rule == "POL-002" and "PSS-999" in finding.message


def test_check_accepts_objects_with_to_json() -> None:
    class Fake:
        def to_json(self) -> dict[str, Any]:
            obj = good()
            container(obj)["image"] = "nginx"
            return obj

    [finding] = check([Fake()])
    assert finding.rule == "IMG-001" and finding.index == 0


def test_malformed_objects_do_not_crash() -> None:
    assert check(["text", {"kind": "Deployment", "spec": "nope"},
                  {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [1]}}}},
                  {"kind": "Pod", "metadata": None}]) == []
