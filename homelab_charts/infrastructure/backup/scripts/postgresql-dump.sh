#!/bin/sh
# PostgreSQL, application-consistent: each database (but postgres and the templates) with
# pg_dump -Fc into BACKUP_DIR/postgresql/<database>.dump, the roles with
# pg_dumpall --roles-only into roles.sql, the list of databases into databases.txt.
# Connects to POSTGRES_HOST:POSTGRES_PORT as PGUSER with PGPASSWORD.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
export PGHOST="${POSTGRES_HOST:?}" PGPORT="${POSTGRES_PORT:-5432}" PGUSER="${PGUSER:-postgres}"
out=${BACKUP_DIR:?}/postgresql
umask 027
rm -rf "$out"
mkdir -p "$out"
retry 30 2 pg_isready --quiet --dbname=postgres || die "PostgreSQL at $PGHOST:$PGPORT is not ready"
pg_dumpall --roles-only --database=postgres --file="$out/roles.sql"
psql -X -v ON_ERROR_STOP=1 -At --dbname=postgres -c "SELECT datname FROM pg_database
  WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY 1" \
  >"$out/databases.txt"
while IFS= read -r db; do
  log "dumping database $db"
  pg_dump --format=custom --dbname="$db" --file="$out/$db.dump"
done <"$out/databases.txt"
log "$(wc -l <"$out/databases.txt") databases dumped"
