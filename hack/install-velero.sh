#!/usr/bin/env bash
# install-velero.sh builds the parts that rekindle's `restore` workloads are
# tested with, at pinned versions, from their Go modules:
#
#   velero                 github.com/vmware-tanzu/velero            (the server and CLI)
#   velero-plugin-for-aws  github.com/vmware-tanzu/velero-plugin-for-aws (the S3 object-store plugin)
#   versitygw              github.com/versity/versitygw              (an S3 gateway; its posix backend)
#
# into a cache directory keyed by the three versions:
#
#   ${REKINDLE_VELERO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rekindle/velero-<versions>}/bin
#
# It does nothing when the three binaries are already there. Progress and the
# time of each build go to stderr; the last (and only) line on stdout is the
# bin directory, so BIN=$(hack/install-velero.sh) works.
#
# Velero's go.mod carries a replace directive (its kopia fork), so
# `go install github.com/vmware-tanzu/velero/cmd/velero@v1.18.3` is refused
# ("contains one or more replace directives"), and it pins
# k8s.io/cli-runtime v0.33.12, which the module proxy does not serve (403).
# Velero is therefore built from hack/tools/velero, a module that repeats the
# replace and takes cli-runtime v0.33.13. The plugin and versitygw have no
# replace directive and build with `go install module/pkg@version`. The
# plugin sits in a directory of its own, bin/plugins/: `velero server
# --plugin-dir` runs every executable it finds there.
set -euo pipefail

VELERO_VERSION=v1.18.3
AWS_PLUGIN_VERSION=v1.14.3
VERSITYGW_VERSION=v1.8.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'install-velero: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

MODV=$(awk '$1 == "github.com/vmware-tanzu/velero" { print $2; exit }' "${ROOT}/hack/tools/velero/go.mod")
[[ "${MODV}" == "${VELERO_VERSION}" ]] || die "hack/tools/velero/go.mod pins velero ${MODV:-nothing}, this script ${VELERO_VERSION}: change both"

# BUILD counts changes to how velero is built (below), so that a cache of an
# older build is not used: b2 turns off controller-runtime's metrics
# listener.
BUILD=b2
KEY="velero-${VELERO_VERSION}-${BUILD}_aws-${AWS_PLUGIN_VERSION}_versitygw-${VERSITYGW_VERSION}"
DIR="${REKINDLE_VELERO_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/rekindle/${KEY}}"
BIN="${DIR}/bin"
WANT=("${BIN}/velero" "${BIN}/plugins/velero-plugin-for-aws" "${BIN}/versitygw")

all_present() {
  local f
  for f in "${WANT[@]}"; do [[ -x "${f}" ]] || return 1; done
}

if all_present; then
  log "velero, velero-plugin-for-aws and versitygw present in ${BIN}; nothing to build"
  echo "${BIN}"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "go is not on PATH; it is needed to build velero, velero-plugin-for-aws and versitygw"

mkdir -p "${DIR}"
if command -v flock >/dev/null 2>&1; then
  exec 9>"${DIR}/.lock"
  if ! flock -n 9; then
    log "another build into ${DIR} is running; waiting for it"
    flock 9
  fi
  if all_present; then
    log "all binaries present in ${BIN} (built by the other run)"
    echo "${BIN}"
    exit 0
  fi
fi

NICE=(nice -n 10)
PARALLEL="${REKINDLE_BUILD_P:-2}"

# build NAME OUT CMD...: run CMD (which writes OUT.tmp) unless OUT exists,
# and say how long it took.
build() {
  local name=$1 out=$2 start
  shift 2
  if [[ -x "${out}" ]]; then
    log "${name}: already built"
    return 0
  fi
  log "building ${name} (nice -n 10, -p ${PARALLEL})"
  start=${SECONDS}
  mkdir -p "$(dirname "${out}")"
  "$@" || die "building ${name} failed"
  mv -f "${out}.tmp" "${out}"
  log "  ${name} built in $((SECONDS - start))s"
}

# go_install OUT MODULE/PKG@VERSION [LDFLAGS]: go install into a stage
# directory, then move the binary to OUT.tmp.
go_install() {
  local out=$1 pkg=$2 ldflags=${3:-} stage
  stage=$(mktemp -d "${DIR}/.stage.XXXXXX")
  GOWORK=off CGO_ENABLED=0 GOBIN="${stage}" "${NICE[@]}" \
    go install -p "${PARALLEL}" -trimpath -ldflags "-s -w ${ldflags}" "${pkg}" &&
    mv "${stage}/$(basename "${pkg%@*}")" "${out}.tmp"
  local rc=$?
  rm -rf "${stage}"
  return "${rc}"
}

# Velero's controller manager also serves controller-runtime's metrics, on
# :8080 of every interface, with no flag to move it (its own metrics are on
# --metrics-address): a second velero server on the host (a second kwok
# cluster's) or anything else on :8080 makes it exit ("bind: address already
# in use"). "0" is controller-runtime's "no listener".
NO_MANAGER_METRICS="-X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=0"

velero_build() {
  (cd "${ROOT}/hack/tools/velero" && GOWORK=off CGO_ENABLED=0 "${NICE[@]}" \
    go build -p "${PARALLEL}" -trimpath -o "${BIN}/velero.tmp" \
    -ldflags "-s -w -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=${VELERO_VERSION} ${NO_MANAGER_METRICS}" \
    github.com/vmware-tanzu/velero/cmd/velero)
}

TOTAL=${SECONDS}
build "velero ${VELERO_VERSION} (hack/tools/velero)" "${BIN}/velero" velero_build
build "velero-plugin-for-aws ${AWS_PLUGIN_VERSION}" "${BIN}/plugins/velero-plugin-for-aws" go_install \
  "${BIN}/plugins/velero-plugin-for-aws" "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@${AWS_PLUGIN_VERSION}"
build "versitygw ${VERSITYGW_VERSION}" "${BIN}/versitygw" go_install \
  "${BIN}/versitygw" "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" "-X main.Version=${VERSITYGW_VERSION}"
all_present || die "the build did not produce ${WANT[*]}"
log "velero, velero-plugin-for-aws and versitygw ready in $((SECONDS - TOTAL))s"
echo "${BIN}"
