#!/usr/bin/env bash
# Manual GitOps path: apply the committed Flux tree with kubectl, in the order Flux would,
# while Flux cannot sync from Git. See docs/MANUAL-GITOPS-WORKFLOW.md.
#
#   scripts/manual-deploy.sh [--dry-run] [--only secrets|infrastructure|apps]...
#                            [--timeout 5m] [--no-wait] [--no-prune]
#                            [--root DIR] [--cluster NAME] [--context NAME]
#                            [--field-manager NAME]
#
# Order (computed by `homelab-charts plan` from clusters/<cluster>/*.yaml):
#   secrets         clusters/<cluster>/cluster-identity.yaml (-f); older trees also
#                   clusters/<cluster>/namespaces.yaml (-f), clusters/<cluster>/secrets (-k)
#   infrastructure  each Flux Kustomization of infrastructure.yaml in dependsOn order (-k:
#                   controllers, configs, namespaces, secrets,
#                   networking, databases, observability), waiting for its
#                   Deployments/StatefulSets/DaemonSets/HelmReleases
#   apps            the same for apps.yaml
# A Kustomization suspended in Git (spec.suspend: true) is rendered, not applied: its
# objects stay as they are, as with Flux, and are never pruned. Every step is rendered
# (kubectl kustomize) and listed before the first apply. Then prunes objects labelled
# app.kubernetes.io/managed-by=homelab-charts AND homelab-charts.io/cluster=<cluster> that
# are no longer in the tree (only on a run of the whole tree; never Namespaces, PVCs,
# Secrets, CRDs, nor objects owned by another object), and records the applied commit in
# the ConfigMap kube-system/homelab-charts-applied.
#
# The tree is bound to one cluster (clusters/<cluster>/cluster-identity.yaml, written by
# synthesis from `homelab-charts cluster bind`). The kubectl context is resolved once, at
# start: --context NAME, else the context current then. Every kubectl call of the run
# passes --context with it (a context switched in another terminal mid-run is never used),
# and that context must be the bound cluster (the UID of its kube-system Namespace), else
# nothing is applied.
#
# Refuses to start (exit 2) when kubectl is missing, the cluster cannot be reached or is
# not the bound one, the tree has uncommitted changes (Git stays the source of truth; a
# dry run only warns), the plan is invalid or a step cannot be rendered; exits 1 when a
# step fails, or when HEAD or a file of the tree changed since the start (later steps are
# not applied: they would apply files that were not rendered and checked).
set -euo pipefail

prog=manual-deploy
record_namespace=kube-system
record_name=homelab-charts-applied
# Flux's kustomize-controller applies with this field manager: using it, an apply removes
# the fields Flux had set that the commit no longer sets, exactly as Flux would.
field_manager=kustomize-controller
# Kinds the prune step looks at, besides the kinds of the tree. Never pruned: Namespaces
# (deleting one deletes everything in it), PersistentVolumeClaims (data), Secrets (made by
# the Sealed Secrets controller), CustomResourceDefinitions (deleting one deletes its objects).
prune_kinds_default=(
  deployment.apps statefulset.apps daemonset.apps service configmap serviceaccount
  role.rbac.authorization.k8s.io rolebinding.rbac.authorization.k8s.io
  clusterrole.rbac.authorization.k8s.io clusterrolebinding.rbac.authorization.k8s.io
  ingress.networking.k8s.io networkpolicy.networking.k8s.io poddisruptionbudget.policy
  cronjob.batch horizontalpodautoscaler.autoscaling sealedsecret.bitnami.com
  helmrelease.helm.toolkit.fluxcd.io helmrepository.source.toolkit.fluxcd.io
  ocirepository.source.toolkit.fluxcd.io servicemonitor.monitoring.coreos.com
  podmonitor.monitoring.coreos.com prometheusrule.monitoring.coreos.com
  opentelemetrycollector.opentelemetry.io
)
never_prune='^(namespace|persistentvolumeclaim|secret|customresourcedefinition\.apiextensions\.k8s\.io)$'

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
root=$code_root
cluster=homelab
dry_run=false
wait_ready=true
prune=true
timeout=5m
only=()
context_opt=

while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry_run=true ;;
    --no-wait) wait_ready=false ;;
    --no-prune) prune=false ;;
    --only|--root|--cluster|--context|--timeout|--field-manager)
      [ $# -ge 2 ] && [ -n "$2" ] || die 2 "$1 needs a value"
      case $1 in
        --only) check_layer "$2"; only+=("$2") ;;
        --root) root=$2 ;;
        --cluster) cluster=$2 ;;
        --context) context_opt=$2 ;;
        --timeout)
          check_duration "$2" 5m
          timeout=$2 ;;
        --field-manager) field_manager=$2 ;;
      esac
      shift ;;
    -h|--help) usage; exit 0 ;;
    *) die 2 "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

# --- prerequisites ------------------------------------------------------------------------
require_kubectl
# The one context of the whole run, resolved now. Every kubectl call that reaches the
# cluster starts with kctl (kubectl kustomize is local): whatever the current context
# becomes meanwhile, in this shell or another terminal, this run keeps to this one.
if ! resolve_context "$context_opt"; then
  $dry_run || die 2 "no kubectl context: pass --context NAME (or select one: kubectl config use-context NAME)"
  note "warning: no current kubectl context: the commands below show --context CONTEXT; a real run needs --context NAME"
  context=CONTEXT
fi
kctl=(kubectl --context "$context")
command -v git >/dev/null 2>&1 || die 2 "git not found on PATH"
require_dir "$root"
root=$(cd "$root" && pwd)
git -C "$root" rev-parse --verify -q HEAD >/dev/null 2>&1 \
  || die 2 "$root is not a Git repository with a commit: the manual path applies commits only"

find_python

cd "$root"

# Git is the source of truth: what is applied must be a commit.
tree_paths=(clusters infrastructure apps homelab.yaml sealed)
dirty=$(git status --porcelain --untracked-files=all -- "${tree_paths[@]}")
if [ -n "$dirty" ]; then
  if $dry_run; then
    # A dry run changes nothing: it shows the plan of the files as they are.
    note "warning: uncommitted changes in the tree; the plan below is of the working tree, and a real run refuses until they are committed:"
    printf '  %s\n' "$dirty" >&2
  else
    echo "$prog: error: uncommitted changes in the tree; commit them (Git is the source of truth) and run again:" >&2
    printf '  %s\n' "$dirty" >&2
    exit 2
  fi
fi
commit=$(git rev-parse HEAD)
subject=$(git log -1 --format=%s HEAD)

require_same_checkout() { # require_same_checkout WHAT: die 1 if HEAD or the tree changed
  # since the start (a checkout or an edit in another terminal): `kubectl apply -k` reads
  # the files again, so a later step would apply files that were not rendered and checked.
  local now changed
  now=$(git rev-parse HEAD)
  changed=$(git status --porcelain --untracked-files=all -- "${tree_paths[@]}")
  if [ "$now" != "$commit" ] || [ -n "$changed" ]; then
    die 1 "the checkout changed during the run (HEAD ${now:0:7}, was ${commit:0:7}${changed:+; changed: ${changed//$'\n'/, }}); stopped before $1: what was applied so far is commit ${commit:0:7}, run again from a clean checkout"
  fi
}
if [ -z "$(git branch -r --contains HEAD 2>/dev/null)" ]; then
  note "warning: commit ${commit:0:7} is on no remote branch; push it, or Flux will undo it when it syncs again"
fi

plan_out=$(plan_steps "$root" "$cluster" "${only[@]+"${only[@]}"}") \
  || die 2 "cannot compute the apply order (see the error above)"
steps=()
while IFS= read -r line; do
  case $line in ''|'#'*) continue ;; esac
  steps+=("$line")
done <<<"$plan_out"
[ ${#steps[@]} -gt 0 ] || die 2 "nothing to apply in clusters/$cluster (layers: ${only[*]:-all})"

read_binding "$root" "$cluster"
if $dry_run; then
  if [ "$bound_uid" = - ]; then
    note "warning: clusters/$cluster is bound to no cluster: a real run refuses (see homelab-charts cluster bind)"
  else
    note "a real run first checks that context '$context' is cluster '$bound_name' (kube-system UID $bound_uid)"
  fi
else
  require_cluster "$context"
  require_binding "$cluster" "$context"
fi
owner_name=$bound_name
[ "$owner_name" != - ] || owner_name=$cluster
label_selector="app.kubernetes.io/managed-by=homelab-charts,$cluster_label=$owner_name"

# --- helpers ------------------------------------------------------------------------------
show() { # print a command the way it runs (shell-quoted)
  local out="" arg
  for arg in "$@"; do out+=" $(printf '%q' "$arg")"; done
  echo "  \$${out}"
}

run() { # run a kubectl command, or only show it in a dry run
  show "$@"
  $dry_run || "$@"
}

render() { # render METHOD PATH TARGET: the objects of one step, one "ref namespace flags" a line
  local method=$1 path=$2 target=$3 yaml
  if [ "$method" = file ]; then
    [ -f "$path" ] || { echo "$path: no such file" >&2; return 1; }
    plan_tool --objects "$path" --target-namespace "$target"
  else
    yaml=$(kubectl kustomize "$path") || return 1
    printf '%s\n' "$yaml" | plan_tool --objects - --target-namespace "$target"
  fi
}

declare -A desired=()
err_file=$(mktemp)
trap 'rm -f "$err_file"' EXIT
desired_kinds=()

# --- apply ------------------------------------------------------------------------------
if $dry_run; then
  echo "$prog: plan for commit ${commit:0:7} ($subject) on context '$context' (dry run: nothing is applied)"
else
  echo "$prog: applying commit ${commit:0:7} ($subject) to context '$context' (cluster '$bound_name', kube-system UID $bound_uid)"
fi

# Render every step before the first apply: a folder that does not build, or a file
# missing at the last step, stops the run while the cluster is still untouched.
rendered=()
n=0
for step in "${steps[@]}"; do
  read -r layer method name path target <<<"$step"
  n=$((n + 1))
  if ! objects=$(render "$method" "$path" "$target"); then
    die 2 "step $n/${#steps[@]} ($layer $name): cannot render $path (see the error above); nothing was applied"
  fi
  rendered+=("$objects")
done

n=0
for step in "${steps[@]}"; do
  read -r layer method name path target <<<"$step"
  objects=${rendered[$n]}
  n=$((n + 1))
  if [ "$method" = suspended ]; then
    # Flux leaves a suspended Kustomization alone: its objects are kept, not applied.
    echo "[$n/${#steps[@]}] $layer: $name ($path) suspended in Git: not applied, its objects are kept"
    while read -r ref ns _; do
      [ -n "$ref" ] || continue
      desired["$ref $ns"]=1
      desired_kinds+=("${ref%%/*}")
    done <<<"$objects"
    continue
  fi
  echo "[$n/${#steps[@]}] $layer: $name ($path)"
  $dry_run || require_same_checkout "step $n ($layer $name)"
  cmd=("${kctl[@]}" apply --server-side --force-conflicts "--field-manager=$field_manager")
  if [ "$method" = file ]; then cmd+=(-f "$path"); else cmd+=(-k "$path"); fi
  [ "$target" = - ] || cmd+=(--namespace "$target")
  if ! run "${cmd[@]}"; then
    die 1 "step $n ($layer $name) failed: nothing after it was applied; fix the cause and run again"
  fi
  while read -r ref ns _; do
    [ -n "$ref" ] || continue
    desired["$ref $ns"]=1
    desired_kinds+=("${ref%%/*}")
    [ "$layer" = secrets ] && continue
    $wait_ready || continue
    ns_args=()
    [ "$ns" = - ] || ns_args=(--namespace "$ns")
    case ${ref%%/*} in
      deployment.apps|statefulset.apps|daemonset.apps)
        wait_cmd=("${kctl[@]}" rollout status "$ref" "${ns_args[@]+"${ns_args[@]}"}" "--timeout=$timeout") ;;
      helmrelease.helm.toolkit.fluxcd.io)
        wait_cmd=("${kctl[@]}" wait "$ref" "${ns_args[@]+"${ns_args[@]}"}" --for=condition=Ready "--timeout=$timeout") ;;
      *) continue ;;
    esac
    if ! run "${wait_cmd[@]}"; then
      die 1 "step $n ($layer $name): $ref${ns_args[1]:+ in ${ns_args[1]}} not ready within $timeout; later steps were not applied (check: kubectl --context $context describe $ref${ns_args[1]:+ -n ${ns_args[1]}})"
    fi
  done <<<"$objects"
done

# --- prune ------------------------------------------------------------------------------
if ! $prune; then
  note "prune skipped (--no-prune)"
elif [ ${#only[@]} -gt 0 ]; then
  note "prune skipped: it runs only when the whole tree is applied (no --only)"
else
  mapfile -t kinds < <(printf '%s\n' "${prune_kinds_default[@]}" "${desired_kinds[@]+"${desired_kinds[@]}"}" \
    | grep -Ev "$never_prune" | sort -u)
  echo "prune: objects labelled $label_selector that are not in the tree (kinds: ${kinds[*]})"
  $dry_run || require_same_checkout "the prune"
  pruned=0
  for kind in "${kinds[@]}"; do
    list_cmd=("${kctl[@]}" get "$kind" --all-namespaces -l "$label_selector" --no-headers
      "-o=custom-columns=NS:.metadata.namespace,NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind")
    if $dry_run; then
      show "${list_cmd[@]}"
      continue
    fi
    if ! listed=$("${list_cmd[@]}" 2>"$err_file"); then
      err=$(cat "$err_file")
      case $err in
        *"doesn't have a resource type"*) continue ;; # the cluster lacks this kind
      esac
      die 1 "prune: listing $kind failed: ${err%%$'\n'*}"
    fi
    while read -r ns name owner; do
      [ -n "$name" ] || continue
      [ "$owner" = "<none>" ] || continue # made by another object, which manages it
      key_ns=$ns
      [ "$ns" = "<none>" ] && key_ns=-
      [ -n "${desired["$kind/$name $key_ns"]+x}" ] && continue
      del=("${kctl[@]}" delete "$kind" "$name" --wait=false)
      [ "$key_ns" = - ] || del+=(--namespace "$ns")
      run "${del[@]}" || die 1 "prune: deleting $kind/$name failed"
      pruned=$((pruned + 1))
    done <<<"$listed"
  done
  $dry_run || echo "prune: $pruned object(s) deleted"
fi

# --- record -------------------------------------------------------------------------------
applied_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
layers=${only[*]:-all}
echo "record: ConfigMap $record_namespace/$record_name commit=$commit"
record_cmd=("${kctl[@]}" apply --server-side --force-conflicts --field-manager=homelab-charts-manual -f -)
if $dry_run; then
  show "${record_cmd[@]}"
  echo "$prog: dry run done: ${#steps[@]} step(s) planned for commit $commit"
  exit 0
fi
show "${record_cmd[@]}"
record_json=$("$py" - "$record_name" "$record_namespace" "$commit" "$subject" "$applied_at" \
  "${USER:-unknown}" "$layers" <<'PY'
import json
import sys

name, namespace, commit, subject, applied_at, user, layers = sys.argv[1:]
print(json.dumps({
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": name, "namespace": namespace,
                 "labels": {"app.kubernetes.io/managed-by": "manual-deploy"}},
    "data": {"commit": commit, "subject": subject, "appliedAt": applied_at,
             "appliedBy": user, "layers": layers},
}))
PY
)
printf '%s\n' "$record_json" | "${record_cmd[@]}" >/dev/null \
  || die 1 "applied commit $commit but could not record it in $record_namespace/$record_name"
echo "$prog: applied commit $commit ($subject), layers: $layers; recorded in configmap $record_namespace/$record_name"
