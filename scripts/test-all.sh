#!/usr/bin/env bash
# The whole test suite, as CI runs it (the README's test command):
#   1. the end-to-end suite on PostgreSQL + S3 (FERRY_TEST_STACK=postgres-s3);
#   2. the end-to-end suite on PostgreSQL with a blob folder, its replication suite and socket guards with every
#      region serving HTTPS (FERRY_TEST_TLS=1: issue 20, row 9);
#   3. every test, unit and end-to-end, on the embedded stack (SQLite and a blob folder): `npm test`.
# Each stage runs even when one before failed; the last line sums the tests of all of them, and the exit code
# is non-zero if any failed. PostgreSQL and the S3 server are started unless FERRY_TEST_PG / FERRY_TEST_S3
# name them (after scripts/install-deps.sh). Needs the build (npm test builds it; so does this script).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FERRY_TEST_PG:-}" ]; then
  FERRY_TEST_PG="$(bash scripts/start-test-postgres.sh)" || exit 1
  export FERRY_TEST_PG
fi
outputs="$(mktemp -d)"
cleanup() {
  rm -rf "$outputs"
  if [ -n "${started_s3:-}" ]; then bash scripts/stop-test-s3.sh >&2; fi
}
trap cleanup EXIT
if [ -z "${FERRY_TEST_S3:-}" ]; then
  FERRY_TEST_S3="$(bash scripts/start-test-s3.sh)" || exit 1
  export FERRY_TEST_S3
  started_s3=1
fi
npm run build --silent || exit 1

failed_stages=0
stage() { # stage NAME COMMAND...: runs it, its output shown and kept for the sum
  local name="$1"
  shift
  echo "== $name"
  "$@" 2>&1 | tee "$outputs/$name.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || failed_stages=$((failed_stages + 1))
}
# Two test files at a time: most of a file's time is spent waiting on its regions' processes, disks and
# sockets, and two at a time took a stage 27-38% less time than one on the 2-core CI machine.
node_test=(node --import tsx --test --test-concurrency=2)

e2e=$(find test/e2e -name '*.test.ts' | sort)
over_tls=$(ls test/e2e/replication/*.test.ts test/e2e/hardening/slow-clients.test.ts)
rest=$(find test/e2e -name '*.test.ts' ! -path 'test/e2e/replication/*' ! -name slow-clients.test.ts | sort)

# The file lists are split into arguments on purpose (no path has a space).
# shellcheck disable=SC2086
stage postgres-s3 env FERRY_TEST_STACK=postgres-s3 "${node_test[@]}" $e2e
# shellcheck disable=SC2086
stage postgres-tls env FERRY_TEST_STACK=postgres FERRY_TEST_TLS=1 "${node_test[@]}" $over_tls
# shellcheck disable=SC2086
stage postgres env FERRY_TEST_STACK=postgres "${node_test[@]}" $rest
stage embedded npm test --silent

# The sum of every stage's own summary (TAP's "# pass N" in a pipe, "ℹ pass N" on a terminal).
sum() { cat "$outputs"/*.log | sed -nE "s/^(# |ℹ )$1 ([0-9]+)$/\\2/p" | awk '{ n += $1 } END { print n + 0 }'; }
passed=$(sum pass)
failed=$(sum fail)
echo "stages: 4, of which $failed_stages failed"
echo "$passed passed, $failed failed"
[ "$failed_stages" -eq 0 ] && [ "$failed" -eq 0 ]
