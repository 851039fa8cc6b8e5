#!/usr/bin/env bash
# install-test-tools.sh builds, in one place and side by side, every tool the
# tests run that no package manager here provides, each into its own cache
# under ${XDG_CACHE_HOME:-$HOME/.cache}/rekindle (a cached one takes a second):
#
#   helm           the reference helm CLI (the Helm rendering test compares with it)
#   cluster-tools  kube-apiserver, etcd, ... and kwok (hack/install-cluster-tools.sh)
#   kind-node      kind's offline node image (hack/kind-node-image.sh; it waits
#                  for cluster-tools, whose binaries its control-plane images hold)
#   flux           source-, kustomize- and helm-controller (hack/install-flux.sh)
#   velero         velero, its AWS plugin and versitygw (hack/install-velero.sh)
#
# The builds are CPU-bound Go compiles, so on two cores running them at once
# saves what they spend waiting: module downloads, debootstrap's package
# downloads, linking, docker import. Each one's output goes to a log; a line
# says when each finishes and how long it took; the script exits 1 when any
# failed, after printing the end of that one's log. Usage:
#
#   hack/install-test-tools.sh [name ...]     (default: all of them)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${XDG_CACHE_HOME:-${HOME}/.cache}/rekindle"
HELM_VERSION=v3.22.0
mkdir -p "${CACHE}"
LOGS=$(mktemp -d "${CACHE}/.tool-logs.XXXXXX")
trap 'rm -rf "${LOGS}"' EXIT

log() { printf 'install-test-tools: %s\n' "$*" >&2; }

build_helm() {
  local dir="${CACHE}/helm-${HELM_VERSION}"
  if [[ -x "${dir}/helm" ]]; then
    echo "helm ${HELM_VERSION} present in ${dir}"
    return
  fi
  GOBIN="${dir}" nice -n 10 go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  echo "${dir}/helm"
}

declare -A CMD=(
  [helm]=build_helm
  [cluster-tools]="${ROOT}/hack/install-cluster-tools.sh"
  [kind-node]="${ROOT}/hack/kind-node-image.sh"
  [flux]="${ROOT}/hack/install-flux.sh"
  [velero]="${ROOT}/hack/install-velero.sh"
)
ORDER=(helm cluster-tools kind-node flux velero)
names=("$@")
((${#names[@]})) || names=("${ORDER[@]}")
for n in "${names[@]}"; do
  [[ -n "${CMD[$n]:-}" ]] || { log "unknown tool '$n' (known: ${ORDER[*]})"; exit 2; }
done

declare -A PID_NAME START
for n in "${names[@]}"; do
  ( ${CMD[$n]} ) >"${LOGS}/${n}.log" 2>&1 &
  PID_NAME[$!]=$n
  START[$n]=${SECONDS}
done
log "building ${names[*]} side by side (logs in ${LOGS} while they run)"

failed=()
while ((${#PID_NAME[@]})); do
  rc=0
  wait -n -p done_pid "${!PID_NAME[@]}" || rc=$?
  n=${PID_NAME[$done_pid]}
  unset "PID_NAME[$done_pid]"
  took=$((SECONDS - START[$n]))
  if ((rc == 0)); then
    log "${n}: ready in ${took}s ($(tail -n 1 "${LOGS}/${n}.log"))"
  else
    log "${n}: FAILED (exit ${rc}) after ${took}s; the end of its log:"
    tail -n 40 "${LOGS}/${n}.log" >&2
    failed+=("$n")
  fi
done
if ((${#failed[@]})); then
  log "failed: ${failed[*]}"
  exit 1
fi
log "all ready in ${SECONDS}s"
