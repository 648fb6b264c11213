"""Job pods (workloads/job.py) use the same container renderer as every other workload."""

from __future__ import annotations

import dataclasses

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
from homelab_charts.workloads.job import JobStep, Task, job_pod_template
from tests.helpers import new_component, rendered

IMAGE = Image("registry.example.org/tool", "v2.0.0")
PROBE_KEYS = {"livenessProbe", "readinessProbe", "startupProbe"}

#: Everything a container can carry but probes, each field set.
FULL = Container(
    image=IMAGE,
    ports=(Port("http", 8080),),
    env={"MODE": "prod", "PASSWORD": SecretKeyRef("creds", "password"),
         "POD_IP": FieldRef("status.podIP")},
    command=("/bin/tool",),
    args=("--serve", "--verbose"),
    working_dir="/work",
    resources=Resources("20m", "300m", "48Mi", "96Mi"),
    writable_paths={"tmp": "/tmp", "cache": "/var/cache/tool"},
    config_files=(ConfigFile("tool-config", "tool.toml", "/etc/tool/tool.toml"),),
    run_as=RunAs(1001, 1002, 1003),
)


def job_pod(*steps: JobStep, volumes: tuple[dict, ...] = ()) -> dict:
    return job_pod_template(labels={"app": "job"}, steps=steps, volumes=volumes,
                            run_as=RunAs(1001, 1002, 1003), where="demo/job")


def test_a_job_container_renders_like_a_deployment_container() -> None:
    _, c = new_component()
    WebService(c, "web", name="tool", container=dataclasses.replace(
        FULL, liveness=Probe.tcp("http"), readiness=Probe.http("/ready", "http"),
        startup=Probe.tcp("http")))
    (deploy,) = [d for d in rendered(c) if d["kind"] == "Deployment"]
    deploy_pod = deploy["spec"]["template"]["spec"]
    (deploy_ctr,) = deploy_pod["containers"]
    job = job_pod(JobStep("tool", FULL))["spec"]
    (job_ctr,) = job["containers"]
    # The Deployment's container is the Job's plus its probes: nothing else differs.
    assert deploy_ctr.keys() >= PROBE_KEYS
    assert {k: v for k, v in deploy_ctr.items() if k not in PROBE_KEYS} == job_ctr
    assert list(job_ctr) == [k for k in deploy_ctr if k not in PROBE_KEYS]
    assert job_ctr["command"] == ["/bin/tool"] and job_ctr["args"] == ["--serve", "--verbose"]
    assert job_ctr["workingDir"] == "/work"
    assert job_ctr["securityContext"]["runAsUser"] == 1001
    # The volumes the container's own mounts need, and the pod's hardening, are alike too.
    assert job["volumes"] == deploy_pod["volumes"]
    assert job["securityContext"] == deploy_pod["securityContext"]


def test_job_steps_share_scratch_volumes_and_keep_their_own_mounts() -> None:
    work = {"name": "work", "emptyDir": {}}
    dump = JobStep("dump", dataclasses.replace(FULL, config_files=()),
                   mounts=({"name": "work", "mountPath": "/work/out"},))
    store = JobStep("store", dataclasses.replace(FULL, config_files=()))
    pod = job_pod(dump, store, volumes=(work,))["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["dump"]
    assert [c["name"] for c in pod["containers"]] == ["store"]
    assert pod["volumes"] == [work, {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                              {"name": "cache", "emptyDir": {"sizeLimit": "256Mi"}}]
    (init,) = pod["initContainers"]
    assert init["volumeMounts"][0] == {"name": "work", "mountPath": "/work/out"}
    assert "readinessProbe" not in init and "livenessProbe" not in init


@pytest.mark.parametrize(("step", "field", "needle"), [
    (JobStep("s", dataclasses.replace(FULL, readiness=Probe.tcp("http"))),
     "s.probes", "takes no probes"),
    (JobStep("s", dataclasses.replace(FULL, startup=Probe.tcp("http"))),
     "s.probes", "takes no probes"),
    (JobStep("s", dataclasses.replace(FULL, env={"PORT": 8080})),  # type: ignore[dict-item]
     "s.env.PORT", "numbers must be quoted"),
    (JobStep("s", FULL, mounts=({"name": "tmp", "mountPath": "/var/cache/tool"},)),
     "s.volumeMounts", "mounted at the same path"),
    (JobStep("s", FULL, mounts=({"name": "nowhere", "mountPath": "/data"},)),
     "s.volumeMounts", "volume 'nowhere' is not defined"),
])
def test_job_container_errors_name_the_step(step: JobStep, field: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as err:
        job_pod(step)
    assert (err.value.where, err.value.field) == ("demo/job", field)


def test_a_task_job_runs_the_shared_container() -> None:
    _, c = new_component()
    task = Task(c, "sync", name="sync", digest="sha256:" + "0" * 64, image=IMAGE,
                command=("/bin/sync", "--once"), env={"MODE": "once"})
    (job,) = [d for d in rendered(c) if d["kind"] == "Job"]
    assert job["metadata"]["name"] == task.workload.object_name
    (ctr,) = job["spec"]["template"]["spec"]["containers"]
    assert ctr["command"] == ["/bin/sync", "--once"]
    assert ctr["env"] == [{"name": "MODE", "value": "once"}]
    assert ctr["securityContext"]["readOnlyRootFilesystem"] is True
    assert not PROBE_KEYS & ctr.keys()


def test_a_long_running_container_refuses_two_mounts_at_one_path() -> None:
    # The data volume and a scratch folder at one path: refused, not left to the API server.
    _, c = new_component()
    with pytest.raises(ConfigError, match="mounted at the same path") as err:
        StatefulService(c, "db", name="db", data_path="/tmp", container=dataclasses.replace(
            FULL, liveness=Probe.tcp("http"), readiness=Probe.tcp("http")))
    assert (err.value.where, err.value.field) == ("folder/things/db", "volumeMounts")
