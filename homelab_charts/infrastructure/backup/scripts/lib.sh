#!/bin/sh
# Shared by the backup and restore scripts (sourced as "$SCRIPTS_DIR/lib.sh").
# POSIX sh: runs under the busybox ash of the alpine images and under dash/bash in tests.

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${0##*/}" "$*" >&2; }

die() { log "error: $*"; exit 1; }

# retry TRIES DELAY COMMAND...: run COMMAND until it succeeds, at most TRIES times.
retry() {
  tries=$1 delay=$2
  shift 2
  n=1
  until "$@"; do
    [ "$n" -lt "$tries" ] || return 1
    n=$((n + 1))
    sleep "$delay"
  done
}
