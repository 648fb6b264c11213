"""docs/API.md, generated: every public name of ``homelab_charts`` with its docstring's
summary and one example. ``python -m homelab_charts.apidoc > docs/API.md`` regenerates
it; tests/test_public_api.py checks it is current and that each example compiles.
"""

from __future__ import annotations

import inspect
import sys

import homelab_charts

#: Sections of the page, in order: title -> names.
SECTIONS: dict[str, tuple[str, ...]] = {
    "Components and the cluster": (
        "Component", "register", "ClusterContext", "Registration", "PodSecurity",
        "HomelabCluster", "Layer", "NOT_ISOLATED", "Folder", "Manifest", "TreeApp",
        "skip_checkov"),
    "Workloads": (
        "WebService", "StatefulService", "Workload", "Container", "Port", "Probe",
        "Resources", "RunAs", "ConfigFile", "FieldRef", "SecretKeyRef", "NodeDaemon",
        "HostMount"),
    "Network": ("Connection", "Pods", "OutsideFlow", "Egress"),
    "Credentials": ("SealedSecret", "SharedCredential", "Credentials", "secret_key"),
    "Apps: release, exposure, telemetry": (
        "AppRelease", "expose", "IngressController", "otel_env", "send_telemetry",
        "Telemetry", "web_ui", "WebUI"),
    "Built-in components": (
        "SealedSecretsController", "CertManager", "ClusterIssuers", "PostgreSQL",
        "AppDatabase", "Redis", "Qdrant", "Traefik", "OtelCollector", "Loki", "Prometheus",
        "Alert", "RuleGroup", "Jaeger", "KubeStateMetrics", "Grafana", "OtelAgent",
        "NodeExporter", "Backups", "backup_alert_rules"),
    "Flux": (
        "Kustomization", "GitRepository", "OCIRepository", "HelmRepository", "HelmChart",
        "HelmRelease", "ImageRepository", "ImagePolicy"),
    "Data file and errors": ("load_data", "HomelabData", "Image", "ConfigError",
                             "HomelabError"),
}

#: One example per name (``chart``/``self``/``scope``/``ctx`` stand for what is at hand).
EXAMPLES: dict[str, str] = {
    "Component": 'component = Component(folder, "settings")  # writes <folder>/settings.yaml',
    "register": '@register("services.notes", folder="apps/notes")\nclass Notes(Component): ...',
    "ClusterContext": "def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Notes:\n"
                      "    return cls(scope, id, postgresql=ctx.require(PostgreSQL))",
    "Registration": "registration: Registration = Notes.registration  # .folder: apps/notes",
    "PodSecurity": 'NODES = PodSecurity("privileged", "reads the pod log files (hostPath)")\n'
                   '@register("infrastructure.agent", folder="infrastructure/nodes",\n'
                   '          pod_security=NODES)\nclass Agent(Component): ...',
    "HomelabCluster": "HomelabCluster(TreeApp(), data.cluster.name, data=load_data())",
    "Layer": "layer: Layer = cluster.layer_for(Notes.registration)  # .kustomization",
    "NOT_ISOLATED": 'NOT_ISOLATED == {}  # every namespace of the tree is default deny',
    "Folder": 'folder = Folder(app, "demo", path="apps/demo", namespace="demo")',
    "Manifest": 'Manifest(self, "settings", api_version="v1", kind="ConfigMap", name="notes",\n'
                '         body={"data": {"LOG_LEVEL": "info"}})',
    "TreeApp": 'app = TreeApp(store=Path("sealed"))',
    "skip_checkov": 'skip_checkov(web.workload, {"CKV_K8S_35": "reads its token from env"})',
    "WebService": 'web = WebService(self, "server", name="notes", replicas=2, container=container)',
    "StatefulService": 'db = StatefulService(self, "server", name="kv", container=container,\n'
                       '                     data_path="/data", storage_size="2Gi")',
    "Workload": 'def url(workload: Workload) -> str:\n    return workload.url("http")',
    "Container": 'Container(image=release.image, ports=(Port("http", 8080),),\n'
                 '          readiness=Probe.http("/healthz", "http"),\n'
                 '          liveness=Probe.http("/healthz", "http"))',
    "Port": 'Port("http", 8080, service_port=80)',
    "Probe": 'Probe.http("/healthz", "http", period_seconds=20, failure_threshold=6)',
    "Resources": 'Resources("50m", "500m", "64Mi", "256Mi")  # cpu/memory requests, limits',
    "RunAs": "RunAs(user=1000, group=1000, fs_group=1000)",
    "ConfigFile": 'ConfigFile("notes-config", "app.yaml", "/etc/notes/app.yaml")',
    "FieldRef": 'env={"POD_IP": FieldRef("status.podIP")}',
    "SecretKeyRef": 'env={"TOKEN": SecretKeyRef(name="notes-credentials", key="token")}',
    "Connection": 'Connection.to(self.web, postgresql.server, "postgresql")',
    "Egress": 'self.egress = [Egress.kube_api(self.web),\n'
              '               Egress.to(self.web, "the NAS", Port("nfs", 2049))]',
    "NodeDaemon": 'NodeDaemon(self, "daemon", name="agent", container=container,\n'
                  '           host_mounts=(HostMount("logs", "/var/log/pods", "/var/log/pods"),),\n'
                  '           reason="reads the pod log files")',
    "HostMount": 'HostMount("proc", "/proc", "/host/proc")  # read-only unless read_only=False',
    "Pods": 'Pods.external("ingress-controller", "networking", {"app.kubernetes.io/name": '
            '"traefik"})',
    "SealedSecret": 'creds = SealedSecret(chart, "credentials", name="notes-credentials",\n'
                    '                     keys=["db-password"])\n'
                    'env = {**creds.env("DATABASE_PASSWORD", "db-password")}',
    "SharedCredential": 'shared = SharedCredential("postgresql-notes", ["password"])\n'
                        'app_copy = shared.copy_in(app_secrets)  # sealed/_cluster/ once\n'
                        'database_copy = shared.copy_in(database_secrets)',
    "OutsideFlow": 'self.outside_flows = [OutsideFlow.internet(self.web, [443],\n'
                   '                                          cluster_ranges=ranges)]',
    "Credentials": "def __init__(self, scope, id, *, credentials: Credentials) -> None: ...",
    "secret_key": 'env={"DATABASE_PASSWORD": secret_key(credentials, "db-password")}',
    "AppRelease": 'release = AppRelease.from_data(ctx.data, "notes")  # image, replicas, host',
    "expose": "ingress, flow = expose(self, self.web, release=release, controller=traefik)",
    "IngressController": "def __init__(self, scope, id, *, ingress: IngressController) -> None:\n"
                         "    ...",
    "otel_env": 'env = otel_env(release, service_name="notes", namespace="notes",\n'
                '               collector=collector, protocol="grpc")',
    "send_telemetry": "flows = send_telemetry(self, self.web, release=release,\n"
                      '                       collector=collector, protocol="grpc")',
    "Telemetry": "def __init__(self, scope, id, *, collector: Telemetry) -> None: ...",
    "web_ui": 'ui = web_ui(self, release=release, collector=collector, ingress=traefik,\n'
              '            part="ui", port=8080, resources=Resources())',
    "WebUI": "ui: WebUI = web_ui(self, **settings)\nself.web, self.ingress = ui.web, ui.ingress",
    "PostgreSQL": 'creds = ctx.credentials(scope, "postgresql-notes", ["password"], shared=True)\n'
                  'db = ctx.require(PostgreSQL).provide_database("notes", credentials=creds)',
    "AppDatabase": 'AppDatabase("notes", creds).env_var  # APP_DB_PASSWORD_NOTES',
    "SealedSecretsController": 'ctx.require(SealedSecretsController).controller_name\n'
                               '# sealed-secrets-controller (kube-system), as kubeseal expects',
    "CertManager": 'ctx.require(CertManager).target_namespace  # cert-manager',
    "ClusterIssuers": 'certificate(web, "certificate", name="notes-tls", hosts=[host],\n'
                      '            issuer=ctx.require(ClusterIssuers).default)',
    "Redis": 'env={"REDIS_HOST": ctx.require(Redis).host}',
    "Qdrant": 'env={"QDRANT_URL": ctx.require(Qdrant).server.url("http")}',
    "Traefik": "ingress, flow = expose(self, web, release=release,\n"
               "                      controller=ctx.require(Traefik))",
    "OtelCollector": 'ctx.require(OtelCollector).endpoint("grpc")',
    "Loki": "ctx.require(Loki).otlp_logs_url",
    "Prometheus": 'ctx.require(Prometheus).remote_write_url',
    "Alert": 'Alert("BackupMissing", "time() - backup_last_success_timestamp > 86400", "1h",\n'
             '      "warning", "No backup for a day", "kubectl -n notes get cronjobs")',
    "RuleGroup": 'ctx.require(Prometheus).add_rule_group(RuleGroup("notes", (alert,)))',
    "Jaeger": "ctx.find(Jaeger)  # None when infrastructure.jaeger.enabled is false",
    "KubeStateMetrics": "ctx.require(KubeStateMetrics).server.url(\"metrics\")",
    "Grafana": "ctx.require(Grafana).dashboards  # the provisioned dashboards",
    "OtelAgent": "ctx.find(OtelAgent)  # the node agent sending every pod's logs",
    "NodeExporter": "ctx.find(NodeExporter)  # node figures for Prometheus",
    "Backups": "backups = ctx.find(Backups)  # None when infrastructure.backup is off\n"
               "if backups is not None:\n"
               '    backups.protect_folder(self, ctx, name="notes", claim="notes-data",\n'
               "                           user=1000, writer=web)",
    "backup_alert_rules": "rules = backup_alert_rules(cluster.get(Backups))  # [] when off",
    "Kustomization": 'Kustomization(flux_file, "notes", name="notes", path="./apps/notes",\n'
                     '              source=FLUX_SYSTEM_REPOSITORY, interval="1h")',
    "GitRepository": 'GitRepository(self, "repo", name="charts", url="https://github.com/o/r")',
    "OCIRepository": 'OCIRepository(self, "oci", name="podinfo",\n'
                     '              url="oci://ghcr.io/stefanprodan/manifests/podinfo")',
    "HelmRepository": 'repo = HelmRepository(self, "repository", name="traefik",\n'
                      '                      url="https://traefik.github.io/charts")',
    "HelmChart": 'HelmChart(chart="traefik", version="37.3.0", source=repo)',
    "HelmRelease": 'HelmRelease(self, "release", name="traefik",\n'
                   '            chart=HelmChart(chart="traefik", version="37.3.0", source=repo),\n'
                   '            values={"deployment": {"replicas": 1}})',
    "ImageRepository": 'ImageRepository(self, "notes-repository", name="notes",\n'
                       '                image="registry.homelab.lan:5000/notes")',
    "ImagePolicy": 'ImagePolicy(self, "notes-policy", name="notes-prod", repository=repository,\n'
                   '            environment="prod")',
    "load_data": 'data = load_data("homelab.yaml")',
    "HomelabData": 'data: HomelabData = load_data()\ndata.enabled("services.notes")',
    "Image": 'Image("docker.io/library/postgres", "17.6-alpine3.22").ref',
    "ConfigError": 'raise ConfigError(self.where, "storage_size", "must be at least 1Gi")',
    "HomelabError": "try:\n    synth_tree(root)\nexcept HomelabError as exc:  # for a person\n"
                    "    print(f\"error: {exc}\")",
}


def summary(name: str) -> str:
    """The first paragraph of the docstring of ``name``, on one line."""
    value = getattr(homelab_charts, name)
    if name == "NOT_ISOLATED":
        return ("Namespaces of the tree left without default deny, each with the reason "
                "(none: every namespace the tree creates is isolated).")
    doc = inspect.getdoc(value) or ""
    first = doc.split("\n\n", 1)[0]
    return " ".join(first.split()).rstrip(":").replace("``", "`")


def render() -> str:
    lines = [
        "# The public API",
        "",
        "<!-- Generated by `python -m homelab_charts.apidoc > docs/API.md`; "
        "tests/test_public_api.py checks it is current. -->",
        "",
        "What a homelab repository builds its components with: every name below is",
        "importable from the package itself (`from homelab_charts import WebService`) and",
        "stays while the major version does. A complete example using most of them:",
        "[ADDING-AN-APP.md](ADDING-AN-APP.md). Each entry: the docstring's summary (see the",
        "docstring for every argument) and one example.",
        "",
    ]
    for title, names in SECTIONS.items():
        lines += [f"## {title}", ""]
        for name in names:
            lines += [f"### `{name}`", "", summary(name), "", "```python",
                      EXAMPLES[name], "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
