#!/bin/sh
# Store a component's consistent copy in the restic repository (creating the repository
# on first use). The copy is the folder BACKUP_PATH (default BACKUP_DIR/BACKUP_COMPONENT),
# stored with its contents at the snapshot's root, tagged BACKUP_COMPONENT, host BACKUP_HOST.
# restic reads RESTIC_REPOSITORY, RESTIC_PASSWORD and the target's credentials itself.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
: "${BACKUP_COMPONENT:?}" "${BACKUP_HOST:?}" "${RESTIC_REPOSITORY:?}"
path=${BACKUP_PATH:-${BACKUP_DIR:?}/$BACKUP_COMPONENT}
[ -d "$path" ] || die "nothing to store: $path is not a folder"
restic cat config >/dev/null 2>&1 || {
  log "no repository at $RESTIC_REPOSITORY yet: initialising it"
  restic init
}
cd "$path"
log "storing $path as $BACKUP_COMPONENT@$BACKUP_HOST"
restic backup --host "$BACKUP_HOST" --tag "$BACKUP_COMPONENT" .
restic snapshots --host "$BACKUP_HOST" --tag "$BACKUP_COMPONENT" --latest 1
