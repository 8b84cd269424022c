#!/usr/bin/env bash
# Standalone OpenStack Glance APIs on loopback, for the bench's side-by-side rows (`npm run bench`).
#
#   glance-bench.sh install                 installs Debian's glance-api (root; apt) unless it is there
#   glance-bench.sh start DIR NAME PORT     starts one Glance API on 127.0.0.1:PORT with its state in DIR/NAME;
#                                           prints its pid once /healthcheck answers
#   glance-bench.sh stop DIR NAME           stops it (and the worker it forked); no-op if it is not running
#
# Each Glance has its own SQLite database and file store under DIR/NAME and no Keystone: the paste pipeline
# has no auth filter, so every request runs as an anonymous admin (images have no owner, any token is
# accepted). Glance writes image data with buffered I/O and never fsyncs it; Ferry's rows are durable.
set -euo pipefail

usage() {
  echo "usage: $0 install | start DIR NAME PORT | stop DIR NAME" >&2
  exit 2
}

install() {
  if command -v glance-api >/dev/null 2>&1 && command -v glance-manage >/dev/null 2>&1; then
    echo "glance-api already installed"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "glance-api is not installed and installing it needs root" >&2
    exit 1
  fi
  # About 320 MB of Python packages; a couple of minutes.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends glance-api >/dev/null
  # The package enables and starts a system service on 9292; the bench runs its own instances.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now glance-api >/dev/null 2>&1 || true; fi
  echo "glance-api installed"
}

# The pipeline Debian ships as [pipeline:glance-api] (no Keystone), trimmed to what the bench calls.
write_paste() {
  cat >"$1" <<'PASTE'
[pipeline:glance-api]
pipeline = healthcheck versionnegotiation unauthenticated-context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:healthcheck]
paste.filter_factory = oslo_middleware:Healthcheck.factory
backends = disable_by_file
disable_by_file_path = /nonexistent/glance-healthcheck-disable

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:unauthenticated-context]
paste.filter_factory = glance.api.middleware.context:UnauthenticatedContextMiddleware.factory
PASTE
}

start() {
  local dir=$1 name=$2 port=$3
  local state="$dir/$name"
  mkdir -p "$state"/{images,staging,tasks,lock,log}
  if [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
    echo "glance $name is already running (pid $(cat "$state/pid"))" >&2
    exit 1
  fi
  write_paste "$state/paste.ini"
  # One worker, as the comparison is one Glance API process (plus the parent that forks it) per region.
  cat >"$state/glance-api.conf" <<CONF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $port
workers = 1
debug = false
log_file = $state/log/glance-api.log
enabled_backends = fs:file
show_image_direct_url = false
# The bench's images are a few GiB; no quota in the way.
image_size_cap = 1099511627776
user_storage_quota = 0

[database]
connection = sqlite:///$state/glance.sqlite

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $state/images/

[os_glance_staging_store]
filesystem_store_datadir = $state/staging/

[os_glance_tasks_store]
filesystem_store_datadir = $state/tasks/

[paste_deploy]
config_file = $state/paste.ini

[oslo_concurrency]
lock_path = $state/lock

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
CONF
  if [ ! -s "$state/glance.sqlite" ]; then
    glance-manage --config-file "$state/glance-api.conf" db_sync >"$state/log/db_sync.log" 2>&1 || {
      echo "glance-manage db_sync failed:" >&2
      tail -20 "$state/log/db_sync.log" >&2
      exit 1
    }
  fi
  # Its own session, so a Ctrl-C meant for the bench does not kill it before the bench has measured it;
  # the bench stops it through `stop` on every path.
  setsid glance-api --config-file "$state/glance-api.conf" >"$state/log/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$state/pid"
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/healthcheck" >/dev/null 2>&1; then
      echo "$pid"
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "glance-api $name exited:" >&2
      tail -30 "$state/log/stdout.log" "$state/log/glance-api.log" >&2 2>/dev/null || true
      rm -f "$state/pid"
      exit 1
    fi
    sleep 0.5
  done
  echo "glance-api $name did not answer on 127.0.0.1:$port in 60 s" >&2
  stop "$dir" "$name"
  exit 1
}

stop() {
  local state="$1/$2"
  [ -f "$state/pid" ] || return 0
  local pid
  pid=$(cat "$state/pid")
  # Its forked worker first noted, then the parent asked to stop (it stops its worker), then both killed.
  local workers
  workers=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  for worker in $workers; do kill -KILL "$worker" 2>/dev/null || true; done
  rm -f "$state/pid"
}

case "${1:-}" in
  install) [ $# -eq 1 ] || usage; install ;;
  start) [ $# -eq 4 ] || usage; start "$2" "$3" "$4" ;;
  stop) [ $# -eq 3 ] || usage; stop "$2" "$3" ;;
  *) usage ;;
esac
