#!/bin/sh
# Restore PostgreSQL from a fetched postgresql snapshot in RESTORE_DIR: first the roles
# the server no longer has (roles.sql; existing roles and their passwords are left alone),
# then each database (only RESTORE_DATABASE when set): dropped with its connections, and
# recreated with its owner by pg_restore --create.
set -eu
. "${SCRIPTS_DIR:-/scripts}/lib.sh"
export PGHOST="${POSTGRES_HOST:?}" PGPORT="${POSTGRES_PORT:-5432}" PGUSER="${PGUSER:-postgres}"
in=${RESTORE_DIR:?}
[ -f "$in/roles.sql" ] || die "$in holds no PostgreSQL backup (roles.sql is missing)"
retry 30 2 pg_isready --quiet --dbname=postgres || die "PostgreSQL at $PGHOST:$PGPORT is not ready"

existing=$(psql -X -v ON_ERROR_STOP=1 -At --dbname=postgres -c "SELECT rolname FROM pg_roles")
# The CREATE ROLE and ALTER ROLE statements of every role not in $existing.
printf '%s\n' "$existing" | awk '
  function bare(id) { if (id ~ /^".*"$/) { id = substr(id, 2, length(id) - 2); gsub(/""/, "\"", id) } return id }
  NR == FNR { have[$0] = 1; next }
  /^CREATE ROLE / { id = $0; sub(/^CREATE ROLE /, "", id); sub(/;$/, "", id)
                    if (!(bare(id) in have)) { missing[id] = 1; print } next }
  /^ALTER ROLE / { for (id in missing) if (index($0, "ALTER ROLE " id " ") == 1) print }
' - "$in/roles.sql" >"${TMPDIR:-/tmp}/missing-roles.sql"
if [ -s "${TMPDIR:-/tmp}/missing-roles.sql" ]; then
  log "recreating roles: $(grep -c '^CREATE ROLE' "${TMPDIR:-/tmp}/missing-roles.sql")"
  psql -X -q -v ON_ERROR_STOP=1 --dbname=postgres -f "${TMPDIR:-/tmp}/missing-roles.sql"
fi
rm -f "${TMPDIR:-/tmp}/missing-roles.sql"

wanted=${RESTORE_DATABASE:-}
if [ -n "$wanted" ]; then
  [ -f "$in/$wanted.dump" ] \
    || die "the snapshot has no database $wanted (has: $(tr '\n' ' ' <"$in/databases.txt"))"
fi
restored=0
while IFS= read -r db; do
  [ -z "$wanted" ] || [ "$db" = "$wanted" ] || continue
  log "restoring database $db"
  psql -X -q -v ON_ERROR_STOP=1 --dbname=postgres --set=db="$db" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \gexec
SQL
  pg_restore --create --exit-on-error --dbname=postgres "$in/$db.dump"
  restored=$((restored + 1))
done <"$in/databases.txt"
log "$restored databases restored"
