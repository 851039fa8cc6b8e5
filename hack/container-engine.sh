#!/usr/bin/env bash
# Makes a Docker engine answer on this machine, for the tests that run real
# containers (the agent's image run as a pod would be). Idempotent:
#
#   1. installs Debian's docker.io (and jq) when dockerd is missing;
#   2. when this machine's capability bounding set lacks CAP_SYS_RESOURCE (as
#      in some restricted VMs and sandboxes), installs a runc wrapper,
#      /usr/local/bin/runc-nosysresource, that removes CAP_SYS_RESOURCE from
#      the OCI bundle's config.json (and from `runc exec --process FILE`)
#      before it execs runc: runc cannot grant a capability the bounding set
#      lacks, and refuses to start the container instead;
#   3. starts dockerd (with that wrapper as its default runtime when needed)
#      when none answers, logging to <cache>/dockerd.log, and waits until
#      `docker info` works.
#
# A machine where Docker already works is left alone.
set -euo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rekindle"
mkdir -p "$CACHE"
WRAPPER=/usr/local/bin/runc-nosysresource
log() { echo "container-engine: $*" >&2; }

lacks_sys_resource() {
  # CAP_SYS_RESOURCE is capability 24.
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( ((16#$bnd) >> 24 & 1) == 0 ))
}

if docker info >/dev/null 2>&1; then
  if lacks_sys_resource && [[ "$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null)" != runc-nosysresource ]]; then
    log "WARNING: dockerd runs, but the bounding set lacks CAP_SYS_RESOURCE and its default runtime is not $WRAPPER; containers may fail to start"
  fi
  log "docker answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

start=$SECONDS
if ! command -v dockerd >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
  log "installing Debian's docker.io and jq"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io jq iptables ca-certificates >/dev/null
  log "installed in $((SECONDS - start))s"
fi

runtime_flags=()
if lacks_sys_resource; then
  log "the capability bounding set lacks CAP_SYS_RESOURCE: registering $WRAPPER as Docker's default runtime"
  cat > "$WRAPPER.tmp" <<'WRAP'
#!/bin/sh
# runc, minus CAP_SYS_RESOURCE: this machine's bounding set lacks it, so runc
# could not grant it (installed by rekindle's hack/container-engine.sh).
set -e
strip() { # FILE JQPATH
  [ -f "$1" ] || return 0
  tmp="$1.nosysres.$$"
  jq "if $2 then $2 |= with_entries(.value |= map(select(. != \"CAP_SYS_RESOURCE\"))) else . end" "$1" > "$tmp"
  cat "$tmp" > "$1"
  rm -f "$tmp"
}
bundle= process= cmd= prev=
for a in "$@"; do
  case "$prev" in
    --bundle|-b) bundle=$a ;;
    --process|-p) process=$a ;;
  esac
  case "$a" in
    --bundle=*) bundle=${a#--bundle=} ;;
    --process=*) process=${a#--process=} ;;
    create|run|exec) [ -z "$cmd" ] && cmd=$a ;;
  esac
  prev=$a
done
case "$cmd" in
  create|run) strip "${bundle:-.}/config.json" .process.capabilities ;;
  exec) [ -n "$process" ] && strip "$process" .capabilities ;;
esac
exec runc "$@"
WRAP
  chmod 0755 "$WRAPPER.tmp"
  mv "$WRAPPER.tmp" "$WRAPPER"
  runtime_flags=(--add-runtime "runc-nosysresource=$WRAPPER" --default-runtime runc-nosysresource)
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: $CACHE/dockerd.log)"
  # containerd comes with docker.io; dockerd starts its own when none runs.
  # setsid: its own session, so that ending the shell or job that ran this
  # script (a process-group kill) does not take the engine with it.
  setsid nohup dockerd "${runtime_flags[@]}" >>"$CACHE/dockerd.log" 2>&1 </dev/null &
  disown || true
fi
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    log "docker answers after $((SECONDS - start))s ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not answer within 60s; the end of $CACHE/dockerd.log:"
tail -n 30 "$CACHE/dockerd.log" >&2 || true
exit 1
