#!/bin/sh
# Redis, consistent: a point-in-time RDB streamed from the server (redis-cli --rdb, which
# makes the server fork a snapshot) into BACKUP_DIR/redis/dump.rdb. The password comes
# from REDISCLI_AUTH.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
: "${REDIS_HOST:?}"
out=${BACKUP_DIR:?}/redis
umask 027
rm -rf "$out"
mkdir -p "$out"
redis-cli -h "$REDIS_HOST" -p "${REDIS_PORT:-6379}" --no-auth-warning --rdb "$out/dump.rdb" >&2
[ -s "$out/dump.rdb" ] || die "redis-cli wrote no RDB"
log "RDB of $(wc -c <"$out/dump.rdb") bytes"
