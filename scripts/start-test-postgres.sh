#!/usr/bin/env bash
# Starts the Debian PostgreSQL cluster on 127.0.0.1 and makes a role and database for Ferry's tests.
# Prints only the connection URL on stdout (use it as FERRY_TEST_PG); everything else goes to stderr.
# Run as root.
set -euo pipefail
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 2>&1 || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
psql_as_postgres() { su postgres -c "psql -v ON_ERROR_STOP=1 -q -tA -c \"$1\""; }
if [ "$(psql_as_postgres "select count(*) from pg_roles where rolname = 'ferry'")" = "0" ]; then
  psql_as_postgres "create role ferry login password 'ferry'" >&2
fi
if [ "$(psql_as_postgres "select count(*) from pg_database where datname = 'ferry_test'")" = "0" ]; then
  su postgres -c "createdb -O ferry ferry_test" >&2
fi
echo "postgres://ferry:ferry@127.0.0.1:5432/ferry_test"
