#!/bin/sh
# Restore Qdrant collections from a fetched qdrant snapshot in RESTORE_DIR by uploading
# each NAME.snapshot (POST /collections/NAME/snapshots/upload?priority=snapshot), which
# replaces the collection or creates it. Only RESTORE_COLLECTION when set.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
: "${QDRANT_URL:?}" "${QDRANT_API_KEY:?}"
in=${RESTORE_DIR:?}
[ -f "$in/collections.txt" ] || die "$in holds no Qdrant backup (collections.txt is missing)"
wanted=${RESTORE_COLLECTION:-}
if [ -n "$wanted" ]; then
  grep -qxF "$wanted" "$in/collections.txt" \
    || die "the snapshot has no collection $wanted (has: $(tr '\n' ' ' <"$in/collections.txt"))"
fi
restored=0
while IFS= read -r collection; do
  [ -z "$wanted" ] || [ "$collection" = "$wanted" ] || continue
  log "restoring collection $collection"
  curl -fsS -H "api-key: $QDRANT_API_KEY" -X POST -F "snapshot=@$in/$collection.snapshot" \
    "$QDRANT_URL/collections/$collection/snapshots/upload?priority=snapshot&wait=true" >/dev/null
  restored=$((restored + 1))
done <"$in/collections.txt"
log "$restored collections restored"
