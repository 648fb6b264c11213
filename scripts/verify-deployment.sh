#!/usr/bin/env bash
# Verify that the cluster runs the committed tree: after scripts/manual-deploy.sh, or any time.
#
#   scripts/verify-deployment.sh [--timeout 2m] [--only secrets|infrastructure|apps]...
#                                [--no-flux] [--root DIR] [--cluster NAME] [--context NAME]
#
# Checks, for every folder of the tree (order of `homelab-charts plan`):
#   rollout   `kubectl rollout status` of each Deployment, StatefulSet and DaemonSet
#   pods      every running or pending Pod of their namespaces is Ready
#   endpoints each Service with a selector has at least one ready endpoint
#   flux      each Flux Kustomization is Ready (when Flux is installed and --no-flux is not
#             given; a suspended one is reported, not failed: that is the manual mode)
# The kubectl context is resolved once, at start (--context NAME, else the context current
# then) and every kubectl call passes --context with it; it must be the cluster the tree is
# bound to (the kube-system UID in clusters/<cluster>/cluster-identity.yaml), else nothing
# is checked.
# Prints one line a check, then a one-line summary; exits 1 when a check failed, 2 when
# it cannot check (kubectl missing, cluster unreachable or not the bound one, invalid tree).
set -euo pipefail

prog=verify-deployment

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
root=$code_root
cluster=homelab
timeout=2m
flux=auto
only=()
context_opt=

while [ $# -gt 0 ]; do
  case $1 in
    --no-flux) flux=no ;;
    --only|--root|--cluster|--context|--timeout)
      [ $# -ge 2 ] && [ -n "$2" ] || die 2 "$1 needs a value"
      case $1 in
        --only) check_layer "$2"; only+=("$2") ;;
        --root) root=$2 ;;
        --cluster) cluster=$2 ;;
        --context) context_opt=$2 ;;
        --timeout)
          check_duration "$2" 2m
          timeout=$2 ;;
      esac
      shift ;;
    -h|--help) usage; exit 0 ;;
    *) die 2 "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

require_kubectl
# The one context of the whole run: every kubectl call below that reaches the cluster goes
# through `kube` (kubectl --context "$context"); kubectl kustomize is local.
resolve_context "$context_opt" \
  || die 2 "no kubectl context: pass --context NAME (or select one: kubectl config use-context NAME)"
require_dir "$root"
root=$(cd "$root" && pwd)

find_python

cd "$root"
plan_out=$(plan_steps "$root" "$cluster" "${only[@]+"${only[@]}"}") \
  || die 2 "cannot read the tree (see the error above)"

read_binding "$root" "$cluster"
require_cluster "$context"
require_binding "$cluster" "$context"

passed=0
failed=0
failures=()
first_line() { printf '%s' "${1%%$'\n'*}"; }
ok() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { # fail SHORT DETAIL
  failed=$((failed + 1))
  failures+=("$1")
  echo "FAIL  $1: $2"
}

if [ "$flux" = auto ]; then
  if kube get crd kustomizations.kustomize.toolkit.fluxcd.io >/dev/null 2>&1; then
    flux=yes
  else
    flux=no
    echo "info  Flux is not installed: Flux Kustomizations not checked"
  fi
fi

declare -A pod_namespaces=()
flux_names=()
while IFS= read -r line; do
  case $line in ''|'#'*) continue ;; esac
  read -r layer method name path target <<<"$line"
  if [ "$method" != file ]; then # kustomize, or suspended (kept: its objects still run)
    if ! yaml=$(kubectl kustomize "$path" 2>&1); then
      fail "render $path" "$(first_line "$yaml")"
      continue
    fi
    objects=$(printf '%s\n' "$yaml" | plan_tool --objects - --target-namespace "$target") \
      || die 2 "cannot read the objects of $path"
  else
    objects=$(plan_tool --objects "$path" --target-namespace "$target") \
      || die 2 "cannot read the objects of $path"
  fi
  [ "$layer" = secrets ] || flux_names+=("$name")
  while read -r ref ns flags; do
    [ -n "$ref" ] || continue
    ns_args=()
    [ "$ns" = - ] || ns_args=(--namespace "$ns")
    where="$ref${ns_args[1]:+ in ${ns_args[1]}}"
    case ${ref%%/*} in
      deployment.apps|statefulset.apps|daemonset.apps)
        [ "$ns" = - ] || pod_namespaces["$ns"]=1
        if out=$(kube rollout status "$ref" "${ns_args[@]+"${ns_args[@]}"}" "--timeout=$timeout" 2>&1); then
          ok "rollout $where"
        else
          fail "rollout $where" "not complete within $timeout: $(first_line "$out")"
        fi ;;
      service)
        [ "$flags" = noendpoints ] && continue
        if ! ready=$(kube get endpointslices.discovery.k8s.io "${ns_args[@]+"${ns_args[@]}"}" \
            -l "kubernetes.io/service-name=${ref#*/}" \
            -o 'jsonpath={range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' 2>&1); then
          fail "endpoints $where" "$(first_line "$ready")"
        elif grep -qx true <<<"$ready"; then
          ok "endpoints $where"
        else
          fail "endpoints $where" "no ready endpoint (no Ready Pod matches its selector)"
        fi ;;
    esac
  done <<<"$objects"
done <<<"$plan_out"

pod_query='jsonpath={range .items[*]}{.metadata.name}{" "}{.status.phase}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'
mapfile -t namespaces < <(printf '%s\n' "${!pod_namespaces[@]}" | sort)
for ns in "${namespaces[@]}"; do
  [ -n "$ns" ] || continue
  if ! pods=$(kube get pods --namespace "$ns" -o "$pod_query" 2>&1); then
    fail "pods in $ns" "$(first_line "$pods")"
    continue
  fi
  not_ready=()
  while read -r pod phase ready; do
    [ -n "$pod" ] || continue
    case $phase in Succeeded|Failed) continue ;; esac # finished pods (Jobs, evicted) are not serving
    [ "$ready" = True ] || not_ready+=("$pod ($phase)")
  done <<<"$pods"
  if [ ${#not_ready[@]} -eq 0 ]; then
    ok "pods in $ns"
  else
    fail "pods in $ns" "not Ready: ${not_ready[*]}"
  fi
done

if [ "$flux" = yes ]; then
  for name in "${flux_names[@]+"${flux_names[@]}"}"; do
    if ! state=$(kube get kustomizations.kustomize.toolkit.fluxcd.io "$name" --namespace flux-system \
        -o 'jsonpath={.spec.suspend}|{.status.conditions[?(@.type=="Ready")].status}|{.status.conditions[?(@.type=="Ready")].message}' 2>&1); then
      fail "flux kustomization $name" "$(first_line "$state")"
      continue
    fi
    IFS="|" read -r suspended status message <<<"$state"
    if [ "$suspended" = true ]; then
      echo "info  flux kustomization $name is suspended (manual mode): run 'flux resume kustomization $name' to return to Flux"
    elif [ "$status" = True ]; then
      ok "flux kustomization $name"
    else
      fail "flux kustomization $name" "not Ready: ${message:-no Ready condition yet}"
    fi
  done
fi

total=$((passed + failed))
if [ "$failed" -gt 0 ]; then
  summary=$(printf '%s; ' "${failures[@]}")
  echo "$prog: FAILED: $failed of $total checks failed on context '$context': ${summary%; }"
  exit 1
fi
if [ "$total" -eq 0 ]; then
  echo "$prog: FAILED: nothing to check in clusters/$cluster (layers: ${only[*]:-all})"
  exit 1
fi
echo "$prog: OK: all $total checks passed on context '$context'"
