# shellcheck shell=bash
# Shared by scripts/manual-deploy.sh and scripts/verify-deployment.sh; sourced, never run.
#
# The sourcing script sets `prog` (the name its messages start with) first. This file sets
# `code_root` (the checkout these scripts belong to) and, through find_python, `py`.

: "${prog:?set prog before sourcing scripts/lib/common.sh}"
code_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() { # the header comment of the script that was run, without its leading '# '
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[-1]}"
}

die() { # die CODE MESSAGE...
  local code=$1
  shift
  echo "$prog: error: $*" >&2
  exit "$code"
}

note() { echo "$prog: $*" >&2; }

check_layer() { # check_layer VALUE: die 2 unless VALUE is a layer --only takes
  case $1 in
    secrets|infrastructure|apps) ;;
    *) die 2 "--only takes secrets, infrastructure or apps, not '$1'" ;;
  esac
}

check_duration() { # check_duration VALUE EXAMPLE: die 2 unless VALUE is a --timeout duration
  [[ $1 =~ ^[0-9]+(s|m|h)$ ]] || die 2 "--timeout takes a duration such as 90s or $2, not '$1'"
}

require_kubectl() {
  command -v kubectl >/dev/null 2>&1 \
    || die 2 "kubectl not found on PATH: install kubectl (1.32 or newer) and point it at the cluster"
}

require_dir() { # require_dir DIR: die 2 unless the --root DIR exists
  [ -d "$1" ] || die 2 "--root $1: no such directory"
}

find_python() { # set py: $HOMELAB_CHARTS_PYTHON, .venv's, or python3; die 2 without PyYAML
  py=${HOMELAB_CHARTS_PYTHON:-}
  if [ -z "$py" ]; then
    if [ -x "$code_root/.venv/bin/python" ]; then py=$code_root/.venv/bin/python
    else py=$(command -v python3 || true)
    fi
  fi
  if [ -z "$py" ] || ! "$py" -c 'import yaml' >/dev/null 2>&1; then
    die 2 "needs Python 3 with PyYAML to read the tree (run 'scripts/run cli --help' once to create .venv)"
  fi
}

plan_tool() { # homelab_charts.cli.plan of this checkout, run by $py
  PYTHONPATH="$code_root${PYTHONPATH:+:$PYTHONPATH}" "$py" -m homelab_charts.cli.plan "$@"
}

plan_steps() { # plan_steps ROOT CLUSTER [LAYER]...: the steps of the tree, in apply order
  local args=(--root "$1" --cluster "$2") layer
  shift 2
  for layer in "$@"; do args+=(--only "$layer"); done
  plan_tool "${args[@]}"
}

resolve_context() { # resolve_context GIVEN: set context to GIVEN (--context), else to the
  # current context, ONCE: every later kubectl call passes --context "$context" (through
  # `kube`), so switching the current context in another terminal mid-run changes nothing.
  context=$1
  if [ -z "$context" ]; then
    context=$(kubectl config current-context 2>/dev/null) || context=
  fi
  [ -n "$context" ]
}

kube() { # kubectl against the context resolved at start (never the current one)
  kubectl --context "${context:?resolve_context first}" "$@"
}

# The per-cluster ownership label synthesis puts on every object (homelab_charts.config).
# shellcheck disable=SC2034 # used by the sourcing scripts
cluster_label=homelab-charts.io/cluster

read_binding() { # read_binding ROOT CLUSTER: set bound_name and bound_uid ("-": not recorded)
  local out
  out=$(plan_tool --root "$1" --cluster "$2" --cluster-identity) \
    || die 2 "cannot read the cluster identity of clusters/$2 (see the error above)"
  read -r bound_name bound_uid <<<"$out"
}

require_binding() { # require_binding CLUSTER CONTEXT: die 2 unless CONTEXT's cluster is the bound one
  local live
  if [ "${bound_name:--}" = - ] || [ "${bound_uid:--}" = - ]; then
    die 2 "clusters/$1 is bound to no cluster (clusters/$1/cluster-identity.yaml records no kube-system UID); refusing to touch context '$2'. If '$2' is the right cluster: homelab-charts cluster bind --context $2, then synthesize and commit"
  fi
  if ! live=$(kubectl --context "$2" get namespace kube-system -o 'jsonpath={.metadata.uid}' --request-timeout=15s 2>&1); then
    die 2 "cannot read the kube-system Namespace UID of context '$2': ${live%%$'\n'*}"
  fi
  if [ "$live" != "$bound_uid" ]; then
    die 2 "wrong cluster: clusters/$1 is bound to cluster '$bound_name' (kube-system UID $bound_uid), but context '$2' is the cluster with kube-system UID ${live:-?}; nothing was changed (pass --context NAME of the bound cluster, or rebind with homelab-charts cluster bind)"
  fi
}

require_cluster() { # require_cluster CONTEXT: die 2 unless the cluster of CONTEXT answers
  local err
  if ! err=$(kubectl --context "$1" version --request-timeout=15s 2>&1 >/dev/null); then
    die 2 "cannot reach the cluster of context '$1' (kubectl version: ${err%%$'\n'*})"
  fi
}
