#!/usr/bin/env bash
# Starts the Debian PostgreSQL cluster on 127.0.0.1 and makes a role and database for Ferry's tests.
# Prints the connection URL to use as FERRY_TEST_PG. Run as root.
set -euo pipefail
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
su postgres -c "psql -q -h 127.0.0.1 -p 5432 -c \"do \\\$\\\$ begin if not exists (select from pg_roles where rolname = 'ferry') then create role ferry login password 'ferry'; end if; end \\\$\\\$;\"" >/dev/null 2>&1 \
  || su postgres -c "psql -q -c \"do \\\$\\\$ begin if not exists (select from pg_roles where rolname = 'ferry') then create role ferry login password 'ferry'; end if; end \\\$\\\$;\"" >/dev/null
su postgres -c "psql -q -tc \"select 1 from pg_database where datname = 'ferry_test'\"" | grep -q 1 \
  || su postgres -c "createdb -O ferry ferry_test"
echo "postgres://ferry:ferry@127.0.0.1:5432/ferry_test"
