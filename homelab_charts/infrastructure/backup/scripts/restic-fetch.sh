#!/bin/sh
# Restore one of a component's snapshots into RESTORE_DIR. RESTORE_SNAPSHOT is "latest"
# (the newest snapshot tagged BACKUP_COMPONENT from host BACKUP_HOST) or a snapshot ID,
# which must be one of that component's. With RESTORE_CLEAR=yes the folder is emptied
# first (a data folder restored in place).
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
: "${BACKUP_COMPONENT:?}" "${BACKUP_HOST:?}" "${RESTORE_DIR:?}" "${RESTIC_REPOSITORY:?}"
snapshot=${RESTORE_SNAPSHOT:-latest}
case $snapshot in
  latest) ;;
  *)
    printf '%s\n' "$snapshot" | grep -qx '[0-9a-f][0-9a-f]*' \
      || die "RESTORE_SNAPSHOT '$snapshot' is not a snapshot ID (hex) or latest"
    restic snapshots --json --host "$BACKUP_HOST" --tag "$BACKUP_COMPONENT" \
      | grep -q "\"id\":\"$snapshot" \
      || die "snapshot $snapshot is not a $BACKUP_COMPONENT snapshot of $BACKUP_HOST"
    ;;
esac
mkdir -p "$RESTORE_DIR"
if [ "${RESTORE_CLEAR:-no}" = yes ]; then
  log "emptying $RESTORE_DIR"
  find "$RESTORE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
fi
log "restoring $BACKUP_COMPONENT snapshot $snapshot into $RESTORE_DIR"
restic restore "$snapshot" --host "$BACKUP_HOST" --tag "$BACKUP_COMPONENT" --target "$RESTORE_DIR"
