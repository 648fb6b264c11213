#!/bin/sh
# Verify the repository's structure and read back CHECK_READ_SUBSET of its data.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
: "${RESTIC_REPOSITORY:?}"
restic check --read-data-subset="${CHECK_READ_SUBSET:-10%}"
