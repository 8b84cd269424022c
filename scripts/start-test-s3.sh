#!/usr/bin/env bash
# Starts a real S3-compatible server for Ferry's tests: a one-node OpenStack Swift (Debian's packages, see
# scripts/install-deps.sh) with its s3api and tempauth middlewares, on 127.0.0.1 only, and makes the test
# bucket. Prints only the value of FERRY_TEST_S3 on stdout (JSON: endpoint, region, bucket, accessKeyId,
# secretAccessKey, forcePathStyle; the same keys as the settings file's storage.s3); everything else goes to
# stderr. Idempotent: a server of this script's that answers is kept, a half-started one is stopped first.
#
#   export FERRY_TEST_S3="$(bash scripts/start-test-s3.sh)"     stop: bash scripts/stop-test-s3.sh [--wipe]
#
# env: FERRY_TEST_S3_STATE  state folder (default ${TMPDIR:-/tmp}/ferry-test-s3): etc/ (configs, rings),
#                           srv/d1/ (data; its filesystem must take user xattrs: ext4 and xfs do), run/*.pid, log/
#      FERRY_TEST_S3_PORT   S3 port (default 18580); the object, container and account servers and memcached
#                           (when installed) take the next four ports
# One replica, one device folder: every PUT is fsync'd by the object server before it answers. Swift reads
# /etc/swift/swift.conf (a path it hard-codes); the package's default one is used as it is.
set -euo pipefail
S=${FERRY_TEST_S3_STATE:-${TMPDIR:-/tmp}/ferry-test-s3}
P=${FERRY_TEST_S3_PORT:-18580}
BUCKET=ferry-test
ACCESS_KEY=test:tester
SECRET_KEY=testing
ME=$(id -un)
SERVERS=(account container object object-updater proxy)
log() { echo "start-test-s3: $*" >&2; }

[ -r /etc/swift/swift.conf ] || { log "no /etc/swift/swift.conf: run scripts/install-deps.sh (Debian's swift packages)"; exit 1; }
mkdir -p "$S"/{etc,srv/d1,run,log,cache}
printf 'machine 127.0.0.1 login %s password %s\n' "$ACCESS_KEY" "$SECRET_KEY" >"$S/etc/netrc"
# curl signs S3 requests itself; the access key holds a colon, which `curl -u` would split: hence the netrc.
s3curl() {
  curl -s -m 5 --netrc-file "$S/etc/netrc" --aws-sigv4 aws:amz:us-east-1:s3 \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
answers() { s3curl "http://127.0.0.1:$P/" 2>/dev/null | grep -q '<ListAllMyBucketsResult'; }
running() {
  local name
  for name in "${SERVERS[@]}"; do
    [ -f "$S/run/$name.pid" ] && kill -0 "$(cat "$S/run/$name.pid")" 2>/dev/null || return 1
  done
}
make_bucket_and_print() {
  s3curl -o /dev/null -X PUT "http://127.0.0.1:$P/$BUCKET" # 200 when made, 409 when it exists already
  local status
  status=$(s3curl -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$P/$BUCKET")
  [ "$status" = 200 ] || { log "bucket $BUCKET: HEAD answered $status"; exit 1; }
  log "S3 at http://127.0.0.1:$P (Swift s3api), bucket $BUCKET, state $S"
  printf '{"endpoint":"http://127.0.0.1:%s","region":"us-east-1","bucket":"%s","accessKeyId":"%s","secretAccessKey":"%s","forcePathStyle":true}\n' \
    "$P" "$BUCKET" "$ACCESS_KEY" "$SECRET_KEY"
}

if running && answers; then
  make_bucket_and_print
  exit 0
fi
# Some of ours are running but the whole does not answer: start again from nothing running.
bash "$(dirname "$0")/stop-test-s3.sh" >&2

/usr/bin/python3 -c 'import os,sys; p=sys.argv[1]+"/.x"; open(p,"w").close(); os.setxattr(p,"user.x",b"1"); os.remove(p)' \
  "$S/srv/d1" 2>/dev/null || { log "$S/srv/d1: this filesystem has no user xattrs, which Swift needs"; exit 1; }
MEMCACHED=0
[ -x /usr/bin/memcached ] && MEMCACHED=1
for port in $P $((P + 1)) $((P + 2)) $((P + 3)) $((P + 4)); do # someone else's server would answer our checks
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is in use by another program; set FERRY_TEST_S3_PORT"
    exit 1
  fi
done

backend() { # backend NAME PORT: a one-process server on device d1 of $S/srv
  cat >"$S/etc/$1-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
user = $ME
swift_dir = $S/etc
devices = $S/srv
mount_check = false
recon_cache_path = $S/cache
log_name = $1-server

[pipeline:main]
pipeline = healthcheck $1-server

[app:$1-server]
use = egg:swift#$1
log_requests = false

[filter:healthcheck]
use = egg:swift#healthcheck
CONF
}
backend account $((P + 3))
backend container $((P + 2))
backend object $((P + 1))
cat >>"$S/etc/object-server.conf" <<CONF

[object-updater]
# retries, every 10 s, the bucket-listing updates that timed out or failed (async_pending)
interval = 10
CONF

# The proxy: s3api in front of tempauth (S3 access key test:tester = tempauth user "tester" of account
# "test"); tempauth needs the "cache" filter even without a memcached, which only makes it faster.
cat >"$S/etc/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $P
workers = 0
user = $ME
swift_dir = $S/etc
log_name = proxy-server

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
# the region in request signatures; any other is refused (AuthorizationHeaderMalformed)
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET_KEY .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$((P + 4))
# without a memcached, every request would log connection errors
log_level = $([ $MEMCACHED = 1 ] && echo INFO || echo CRITICAL)

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
CONF

# Rings: part power 8, one replica, one device; rebuilt at every start (with one device nothing moves).
for ring in account:$((P + 3)) container:$((P + 2)) object:$((P + 1)); do
  builder=$S/etc/${ring%%:*}.builder
  rm -f "$builder" "${builder%.builder}.ring.gz"
  swift-ring-builder "$builder" create 8 1 1 >/dev/null
  swift-ring-builder "$builder" add "r1z1-127.0.0.1:${ring##*:}/d1" 1 >/dev/null
  swift-ring-builder "$builder" rebalance >/dev/null || [ $? -eq 1 ] # 1 = a warning only
done

# Each in a session of its own (setsid), so that the proxy's killpg on TERM reaches only its own workers;
# -v logs to stderr, kept in $S/log (Swift's syslog has no /dev/log here).
run() { # run NAME COMMAND...
  local name=$1
  shift
  setsid "$@" >>"$S/log/$name.log" 2>&1 </dev/null &
  echo $! >"$S/run/$name.pid"
}
if [ $MEMCACHED = 1 ]; then
  run memcached /usr/bin/memcached -l 127.0.0.1 -p $((P + 4)) -U 0 -m 64 -u "$ME"
fi
run account /usr/bin/swift-account-server "$S/etc/account-server.conf" -v
run container /usr/bin/swift-container-server "$S/etc/container-server.conf" -v
run object /usr/bin/swift-object-server "$S/etc/object-server.conf" -v
run object-updater /usr/bin/swift-object-updater "$S/etc/object-server.conf" -v
run proxy /usr/bin/swift-proxy-server "$S/etc/proxy-server.conf" -v

for _ in $(seq 1 120); do
  healthy=1
  for port in $P $((P + 1)) $((P + 2)) $((P + 3)); do
    curl -fsS -m 2 "http://127.0.0.1:$port/healthcheck" >/dev/null 2>&1 || healthy=0
  done
  if [ $healthy = 1 ] && answers; then
    make_bucket_and_print
    exit 0
  fi
  for name in account container object proxy; do
    if ! kill -0 "$(cat "$S/run/$name.pid")" 2>/dev/null; then
      log "the $name server died:"
      tail -20 "$S/log/$name.log" >&2
      exit 1
    fi
  done
  sleep 0.5
done
log "Swift did not answer within 60 s; logs in $S/log"
exit 1
