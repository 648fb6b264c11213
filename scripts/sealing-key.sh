#!/usr/bin/env bash
# Back up or restore the Sealed Secrets controller's sealing keys.
#
#   scripts/sealing-key.sh backup  FILE [--dry-run] [--force] [--context NAME]
#   scripts/sealing-key.sh restore FILE [--dry-run] [--context NAME]
#
# The keys are the Secrets labelled sealedsecrets.bitnami.com/sealed-secrets-key in
# kube-system (the controller sealed-secrets-controller renews one every 30 days and
# keeps the old ones). They are the only way to decrypt what sealed/ holds: back them up
# before rebuilding a cluster, keep FILE offline and never inside the repository.
#
#   backup   writes every key Secret to FILE (YAML, mode 0600, written to a temporary
#            file first and renamed: an error leaves nothing half-written). FILE must not
#            exist (--force replaces it) and must lie outside the repository.
#            --dry-run lists the key Secrets it would save and writes nothing.
#   restore  applies FILE to kube-system, then restarts the controller so it loads the
#            keys (before the controller first runs, it simply finds them).
#            --dry-run asks the API server to validate the apply (--dry-run=server)
#            and restarts nothing.
#   --context NAME  the kubectl context (default: the current one, read once at start:
#            every kubectl call passes --context with it).
# Exits 2 on a usage error, when kubectl is missing, or when the cluster holds no key.
set -euo pipefail

prog=sealing-key

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

namespace=kube-system
controller=sealed-secrets-controller
label=sealedsecrets.bitnami.com/sealed-secrets-key

action=${1:-}
case $action in
  -h|--help) usage; exit 0 ;;
  backup|restore) shift ;;
  *) die 2 "first argument: backup or restore (see --help)" ;;
esac
file=
dry_run=no
force=no
given_context=
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry_run=yes ;;
    --force) force=yes ;;
    --context) [ $# -ge 2 ] || die 2 "--context needs a NAME"; given_context=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die 2 "unknown option $1" ;;
    *) [ -z "$file" ] || die 2 "one FILE only (got '$file' and '$1')"; file=$1 ;;
  esac
  shift
done
[ -n "$file" ] || die 2 "$action needs a FILE"
[ "$force" = no ] || [ "$action" = backup ] || die 2 "--force is for backup only"
require_kubectl
resolve_context "$given_context" || die 2 "no kubectl context: pass --context NAME"

inside_repository() { # inside_repository PATH: true when PATH would be inside the checkout
  local dir
  dir=$(cd "$(dirname "$1")" 2>/dev/null && pwd -P) || return 1
  case "$dir/" in "$(cd "$code_root" && pwd -P)"/*) return 0 ;; esac
  return 1
}

backup() {
  inside_repository "$file" \
    && die 2 "$file is inside the repository: keep the keys outside it (and offline)"
  [ -d "$(dirname "$file")" ] || die 2 "$(dirname "$file"): no such directory"
  if [ -e "$file" ] && [ "$force" = no ]; then
    die 2 "$file exists: pass --force to replace it"
  fi
  local names
  names=$(kube -n "$namespace" get secret -l "$label" -o name) \
    || die 2 "cannot list the key Secrets in $namespace (is the cluster reachable?)"
  [ -n "$names" ] || die 2 "no Secret labelled $label in $namespace: is the controller installed?"
  if [ "$dry_run" = yes ]; then
    note "dry run: would save to $file:"
    printf '%s\n' "$names"
    return
  fi
  local tmp
  tmp=$(umask 077 && mktemp "$(dirname "$file")/.sealing-key.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  kube -n "$namespace" get secret -l "$label" -o yaml >"$tmp" \
    || die 2 "cannot read the key Secrets in $namespace"
  grep -q 'tls.key' "$tmp" || die 2 "the Secrets read hold no tls.key: nothing saved"
  mv -f "$tmp" "$file"
  trap - EXIT
  note "saved $(printf '%s\n' "$names" | grep -c .) key(s) to $file"
}

restore() {
  [ -f "$file" ] || die 2 "$file: no such file"
  grep -q 'tls.key' "$file" || die 2 "$file holds no tls.key: not a backup of the keys"
  if [ "$dry_run" = yes ]; then
    kube -n "$namespace" apply --dry-run=server -f "$file" \
      || die 1 "the API server refuses $file"
    note "dry run: $file would be applied; the controller would be restarted"
    return
  fi
  kube -n "$namespace" apply -f "$file" || die 1 "applying $file failed"
  if kube -n "$namespace" get deployment "$controller" -o name >/dev/null 2>&1; then
    kube -n "$namespace" rollout restart "deployment/$controller"
    note "restored the keys of $file; restarted $controller to load them"
  else
    note "restored the keys of $file; $controller is not installed yet and will load them"
  fi
}

"$action"
