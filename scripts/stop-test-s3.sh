#!/usr/bin/env bash
# Stops the S3 test server of scripts/start-test-s3.sh by its PID files: TERM to each, KILL to what is left
# after 10 s. --wipe also deletes its state folder (data, rings, configs, logs).
# env: FERRY_TEST_S3_STATE (default ${TMPDIR:-/tmp}/ferry-test-s3)
set -u
S=${FERRY_TEST_S3_STATE:-${TMPDIR:-/tmp}/ferry-test-s3}
# A zombie counts as gone: it is stopped, only not yet reaped by its parent.
alive() { [ -e "/proc/$1" ] && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
pids=""
for name in proxy object-updater object container account memcached; do
  file=$S/run/$name.pid
  [ -f "$file" ] || continue
  pid=$(cat "$file")
  rm -f "$file"
  # A stale PID file must not stop an unrelated process that got the same number.
  case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in
    *swift-* | *memcached*) ;;
    *) continue ;;
  esac
  kill -TERM "$pid" 2>/dev/null && echo "stop-test-s3: stopping $name (pid $pid)"
  pids="$pids $pid"
done
left=""
for _ in $(seq 1 100); do
  left=""
  for pid in $pids; do alive "$pid" && left="$left $pid"; done
  [ -z "$left" ] && break
  sleep 0.1
done
for pid in $left; do kill -KILL "$pid" 2>/dev/null && echo "stop-test-s3: killed $pid"; done
if [ "${1:-}" = "--wipe" ]; then
  rm -rf "$S"
  echo "stop-test-s3: wiped $S"
fi
exit 0
