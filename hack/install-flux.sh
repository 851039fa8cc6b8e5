#!/usr/bin/env bash
# install-flux.sh builds the Flux controllers that rekindle's `agent.type: flux`
# runs as host processes on kwok clusters (source-controller,
# kustomize-controller, helm-controller), at the versions one Flux release
# pins (hack/flux/VERSION names the release; the pins are below and match
# fluxcd/flux2's manifests/bases/*/kustomization.yaml for it), into
#
#   ${REKINDLE_FLUX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rekindle/flux-<VERSION>}/bin
#
# Each controller's go.mod carries replace directives (its ./api module, a
# go-digest fork, kustomize pins), so `go install module@version` refuses it;
# the script downloads each module with `go mod download` and builds it inside
# its own module, with its own go.mod and go.sum, as upstream's Makefile does.
#
# One pin is moved: the module proxy refuses github.com/fluxcd/pkg/artifact
# v0.18.3, which source-controller v1.9.5 requires (403 "This module version
# is not available"), and serves v0.18.0 of the same minor version; the build
# replaces it (REPLACES below), and says so.
#
# The binaries are static (CGO_ENABLED=0, as upstream's Dockerfiles build
# them): the same files run as host processes beside kwok clusters and, in
# images FROM scratch, as the pods of gotk-components on kind clusters. A
# binary found built with cgo (an earlier version of this script) is rebuilt.
#
# Then hack/flux/images puts each binary in an image tagged as
# gotk-components names it (ghcr.io/fluxcd/<controller>:<version>), written
# as an OCI layout tarball to ${FLUX_DIR}/images/<reference, / and : as _>.tar,
# which rekindle loads into the nodes of clusters that load images (kind)
# before it applies gotk-components. An image older than its binary is rebuilt.
#
# It does nothing when the three static binaries and their images are already
# there. Progress and the time of each build go to stderr; the only line on
# stdout is the bin directory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONTROLLERS=(source-controller@v1.9.5 kustomize-controller@v1.9.5 helm-controller@v1.6.4)
declare -A REPLACES=([source-controller]="github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0")

log() { printf 'install-flux: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

KEY=$(tr -d '[:space:]' <"${ROOT}/hack/flux/VERSION")
[[ "${KEY}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "hack/flux/VERSION must be a Flux release like v2.9.5, got '${KEY}'"
FLUX_DIR="${REKINDLE_FLUX_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/rekindle/flux-${KEY}}"
BIN="${FLUX_DIR}/bin"
IMAGES="${FLUX_DIR}/images"

# static: built with CGO_ENABLED=0 (go version -m reads the build settings).
static() { go version -m "$1" 2>/dev/null | grep -q $'^[[:space:]]*build[[:space:]]CGO_ENABLED=0$'; }
image_of() { local c=$1; echo "ghcr.io/fluxcd/${c%@*}:${c#*@}"; }
archive_of() { local ref; ref=$(image_of "$1"); ref=${ref//\//_}; echo "${IMAGES}/${ref//:/_}.tar"; }
binaries_present() {
  local c
  for c in "${CONTROLLERS[@]}"; do
    [[ -x "${BIN}/${c%@*}" ]] && static "${BIN}/${c%@*}" || return 1
  done
}
images_present() {
  local c a
  for c in "${CONTROLLERS[@]}"; do
    a=$(archive_of "$c")
    [[ -s "${a}" && ! "${BIN}/${c%@*}" -nt "${a}" ]] || return 1
  done
}

command -v go >/dev/null 2>&1 || die "go is not on PATH; it is needed to build the Flux controllers"
if binaries_present && images_present; then
  log "all controllers and their images present in ${FLUX_DIR} (Flux ${KEY}); nothing to build"
  echo "${BIN}"
  exit 0
fi

mkdir -p "${FLUX_DIR}"
if command -v flock >/dev/null 2>&1; then
  exec 9>"${FLUX_DIR}/.lock"
  if ! flock -n 9; then
    log "another build into ${FLUX_DIR} is running; waiting for it"
    flock 9
  fi
  if binaries_present && images_present; then
    log "all controllers and their images present in ${FLUX_DIR} (built by the other run)"
    echo "${BIN}"
    exit 0
  fi
fi

STAGE=$(mktemp -d "${FLUX_DIR}/.build.XXXXXX")
trap 'rm -rf "${STAGE}"' EXIT
START=${SECONDS}
if ! binaries_present; then
  for c in "${CONTROLLERS[@]}"; do
    [[ ! -x "${BIN}/${c%@*}" ]] || static "${BIN}/${c%@*}" || log "${BIN}/${c%@*} is linked dynamically (built with cgo): rebuilding it static"
  done
  log "building ${CONTROLLERS[*]} (Flux ${KEY}) into ${BIN}"
  log "a cold build takes several minutes per controller on two cores; the Go build cache makes later builds fast"
  for c in "${CONTROLLERS[@]}"; do
    name=${c%@*}
    step=${SECONDS}
    dir=$(cd "${STAGE}" && go mod download -json "github.com/fluxcd/${c}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -n "${dir}" && -f "${dir}/go.mod" ]] || die "go mod download github.com/fluxcd/${c} gave no module directory"
    # The module zip leaves out the nested ./api module that go.mod replaces
    # itself with; put the api module of the same version there.
    api=$(cd "${STAGE}" && go mod download -json "github.com/fluxcd/${name}/api@${c#*@}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -n "${api}" && -f "${api}/go.mod" ]] || die "go mod download github.com/fluxcd/${name}/api@${c#*@} gave no module directory"
    src="${STAGE}/src/${name}"
    mkdir -p "${src}"
    cp -R "${dir}/." "${src}/" && cp -R "${api}/." "${src}/api/" && chmod -R u+w "${src}"
    if [[ -n "${REPLACES[${name}]:-}" ]]; then
      log "${name}: replacing ${REPLACES[${name}]} (the proxy refuses the pinned version)"
      (cd "${src}" && go mod edit -replace "${REPLACES[${name}]}") || die "go mod edit in ${c} failed"
    fi
    log "go build ${name} (${c#*@})"
    CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+${GOFLAGS} }-mod=mod" go build -C "${src}" -trimpath -o "${STAGE}/${name}" . || die "building ${c} failed"
    static "${STAGE}/${name}" || die "${name} was not built static (CGO_ENABLED=0)"
    log "  ${name} built in $((SECONDS - step))s"
  done

  mkdir -p "${BIN}"
  for c in "${CONTROLLERS[@]}"; do
    mv -f "${STAGE}/${c%@*}" "${BIN}/${c%@*}"
  done
  log "built the Flux controllers in $((SECONDS - START))s"
fi

step=${SECONDS}
go build -C "${ROOT}" -o "${STAGE}/images" ./hack/flux/images || die "building hack/flux/images failed"
args=()
for c in "${CONTROLLERS[@]}"; do
  args+=("$(image_of "$c")=${BIN}/${c%@*}")
done
log "building the controllers' images into ${IMAGES}"
"${STAGE}/images" -o "${IMAGES}" "${args[@]}" || die "building the controllers' images failed"
log "  images built in $((SECONDS - step))s"
log "done in $((SECONDS - START))s"
echo "${BIN}"
