#!/bin/sh
# Qdrant, per collection through its snapshot API: create a snapshot
# (POST /collections/NAME/snapshots), download it into BACKUP_DIR/qdrant/NAME.snapshot,
# delete it from the server. QDRANT_URL is the HTTP endpoint, QDRANT_API_KEY the key.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
: "${QDRANT_URL:?}" "${QDRANT_API_KEY:?}"
out=${BACKUP_DIR:?}/qdrant
umask 027
rm -rf "$out"
mkdir -p "$out"
api() { curl -fsS --retry 3 -H "api-key: $QDRANT_API_KEY" "$@"; }
# The value of every "name" field of a JSON answer (Qdrant's names hold no quotes).
names() { printf '%s\n' "$1" | sed 's/[][,{}]/\n/g' | sed -n 's/^ *"name" *: *"\([^"]*\)" *$/\1/p'; }
listing=$(api "$QDRANT_URL/collections")
names "$listing" >"$out/collections.txt"
while IFS= read -r collection; do
  if printf '%s\n' "$collection" | grep -q '[^A-Za-z0-9._-]'; then
    die "collection name '$collection' needs URL encoding; not supported"
  fi
  created=$(api -X POST "$QDRANT_URL/collections/$collection/snapshots?wait=true")
  snapshot=$(names "$created")
  [ -n "$snapshot" ] || die "no snapshot name in Qdrant's answer for $collection"
  log "collection $collection: snapshot $snapshot"
  api -o "$out/$collection.snapshot" "$QDRANT_URL/collections/$collection/snapshots/$snapshot"
  api -X DELETE "$QDRANT_URL/collections/$collection/snapshots/$snapshot" >/dev/null
done <"$out/collections.txt"
log "$(wc -l <"$out/collections.txt") collections"
