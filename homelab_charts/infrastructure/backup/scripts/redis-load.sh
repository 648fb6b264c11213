#!/bin/sh
# Restore Redis's data folder REDIS_DATA_DIR from a fetched redis snapshot in RESTORE_DIR,
# with the server stopped (the restore command scales it to 0 first). The server runs with
# appendonly yes, so it would ignore a bare dump.rdb: a private redis-server (unix socket
# only, no TCP) loads the RDB and rewrites the append-only files from it, then stops; the
# real server then starts from those files.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
data=${REDIS_DATA_DIR:?}
rdb=${RESTORE_DIR:?}/dump.rdb
sock=${REDIS_RESTORE_SOCKET:-${TMPDIR:-/tmp}/redis-restore.sock}
[ -s "$rdb" ] || die "$RESTORE_DIR holds no Redis backup (dump.rdb is missing)"
[ -d "$data" ] || die "data folder $data does not exist"
rm -rf "$data/appendonlydir" "$data/appendonly.aof" "$data"/temp-*.rdb
cp "$rdb" "$data/dump.rdb"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$data" \
  --dbfilename dump.rdb --appendonly no --save '' --daemonize no >&2 &
server=$!
cli() { redis-cli -s "$sock" "$@"; }
loaded() { cli info persistence 2>/dev/null | grep -q '^loading:0'; }
retry 300 1 loaded || { kill "$server" 2>/dev/null; die "the private redis-server did not load $rdb"; }
log "loaded $(cli info keyspace | grep -c '^db') databases; writing the append-only files"
cli config set appendonly yes >/dev/null
rewritten() {
  info=$(cli info persistence)
  printf '%s\n' "$info" | grep -q '^aof_enabled:1' \
    && printf '%s\n' "$info" | grep -q '^aof_rewrite_in_progress:0' \
    && printf '%s\n' "$info" | grep -q '^aof_rewrite_scheduled:0'
}
retry 600 1 rewritten || { kill "$server" 2>/dev/null; die "the AOF rewrite did not finish"; }
cli info persistence | grep -q '^aof_last_bgrewrite_status:ok' \
  || { kill "$server" 2>/dev/null; die "the AOF rewrite failed"; }
cli info keyspace | sed -n 's/^\(db[0-9]*\):keys=\([0-9]*\).*/\1: \2 keys/p' >&2
cli shutdown nosave >/dev/null 2>&1 || true
wait "$server" || true
log "restored $data"
