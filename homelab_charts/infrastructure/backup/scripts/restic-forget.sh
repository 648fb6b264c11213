#!/bin/sh
# Retention: keep KEEP_DAILY daily, KEEP_WEEKLY weekly and KEEP_MONTHLY monthly snapshots
# of each component (grouped by host and tag), prune the data nothing refers to any more.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
: "${BACKUP_HOST:?}" "${RESTIC_REPOSITORY:?}"
restic unlock
restic forget --prune --host "$BACKUP_HOST" --group-by host,tags \
  --keep-daily "${KEEP_DAILY:-7}" --keep-weekly "${KEEP_WEEKLY:-4}" \
  --keep-monthly "${KEEP_MONTHLY:-6}"
