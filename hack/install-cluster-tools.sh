#!/usr/bin/env bash
# install-cluster-tools.sh builds the binaries that rekindle's kwok provider runs
# (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok, kwokctl)
# from the Go modules pinned in hack/tools and hack/tools/kwok, into a cache
# directory keyed by hack/tools/VERSION:
#
#   ${REKINDLE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rekindle/tools/<VERSION>}/bin
#
# It does nothing when all six binaries are already there. Progress goes to
# stderr; the last (and only) line on stdout is the bin directory, so
#   BIN=$(hack/install-cluster-tools.sh)
# works. The first build takes about ten minutes on two cores; later builds
# reuse the Go build cache.
#
# Bump hack/tools/VERSION whenever a pin in hack/tools/go.mod or
# hack/tools/kwok/go.mod changes (providers/cluster/kwok has a test that checks).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_MOD="${ROOT}/hack/tools"
KWOK_MOD="${ROOT}/hack/tools/kwok"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl)

log() { printf 'install-cluster-tools: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

KEY=$(tr -d '[:space:]' <"${TOOLS_MOD}/VERSION")
[[ "${KEY}" =~ ^[A-Za-z0-9._-]+$ ]] || die "hack/tools/VERSION must be one word of [A-Za-z0-9._-], got '${KEY}'"

TOOLS_DIR="${REKINDLE_TOOLS_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/rekindle/tools/${KEY}}"
BIN="${TOOLS_DIR}/bin"

all_present() {
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x "${BIN}/${b}" ]] || return 1
  done
}

if all_present; then
  log "all binaries present in ${BIN} (${KEY}); nothing to build"
  echo "${BIN}"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "go is not on PATH; it is needed to build ${BINARIES[*]}"

mkdir -p "${TOOLS_DIR}"
# One build at a time per cache directory: a second run waits, then finds the binaries.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TOOLS_DIR}/.lock"
  if ! flock -n 9; then
    log "another build into ${TOOLS_DIR} is running; waiting for it"
    flock 9
  fi
  if all_present; then
    log "all binaries present in ${BIN} (built by the other run)"
    echo "${BIN}"
    exit 0
  fi
fi

# Stamp the Kubernetes version into the binaries (as the release build does) so
# that `kube-apiserver --version` and /version say v1.x.y rather than v0.0.0-master.
K8S_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "${TOOLS_MOD}/go.mod")
[[ "${K8S_VERSION}" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+ ]] || die "cannot read the k8s.io/kubernetes version from hack/tools/go.mod"
VPKG=k8s.io/component-base/version
K8S_LDFLAGS="-X ${VPKG}.gitVersion=${K8S_VERSION} -X ${VPKG}.gitMajor=${BASH_REMATCH[1]} -X ${VPKG}.gitMinor=${BASH_REMATCH[2]} -X ${VPKG}.gitTreeState=clean"

STAGE=$(mktemp -d "${TOOLS_DIR}/.build.XXXXXX")
trap 'rm -rf "${STAGE}"' EXIT

log "building ${BINARIES[*]} (${KEY}) into ${BIN}"
log "this takes about ten minutes the first time on two cores; the Go build cache makes later builds fast"
START=${SECONDS}

step=${SECONDS}
log "go install tool in hack/tools (kube-apiserver, kube-controller-manager, kube-scheduler, etcd)"
(cd "${TOOLS_MOD}" && GOBIN="${STAGE}" go install -ldflags "${K8S_LDFLAGS}" tool) ||
  die "building hack/tools failed"
log "  done in $((SECONDS - step))s"

step=${SECONDS}
log "go install tool in hack/tools/kwok (kwok, kwokctl)"
(cd "${KWOK_MOD}" && GOBIN="${STAGE}" go install tool) ||
  die "building hack/tools/kwok failed"
log "  done in $((SECONDS - step))s"

# go install names a binary after the last path element that is not a major
# version suffix: go.etcd.io/etcd/server/v3 becomes "server" (older Go: "v3").
for etcd in server v3; do
  if [[ -x "${STAGE}/${etcd}" ]]; then
    mv "${STAGE}/${etcd}" "${STAGE}/etcd"
    break
  fi
done

mkdir -p "${BIN}"
for b in "${BINARIES[@]}"; do
  [[ -x "${STAGE}/${b}" ]] || die "the build did not produce ${b} (have: $(ls "${STAGE}" | tr '\n' ' '))"
  mv -f "${STAGE}/${b}" "${BIN}/${b}"
done

log "built ${BINARIES[*]} in $((SECONDS - START))s"
echo "${BIN}"
