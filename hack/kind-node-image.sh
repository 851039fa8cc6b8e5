#!/usr/bin/env bash
# kind-node-image.sh builds rekindle's offline kind node image, with nothing
# pulled from any registry, and makes the container engine hold it:
#
#   rekindle.local/kind-node:<Kubernetes version of hack/tools/kindnode/go.mod>
#
# It follows kind's node layout (sigs.k8s.io/kind images/base/Dockerfile and
# pkg/build/nodeimage, read from the Go module cache at the version in go.mod):
#
#   1. rootfs   debootstrap of Debian bookworm with hack/kind-node/packages.txt
#               (systemd, containerd, runc, iptables, CNI plugins, ...), from
#               the machine's own Debian mirror;
#   2. binaries kubelet, kubeadm, kubectl, kube-proxy from hack/tools/kindnode,
#               CoreDNS (kubeadm's plugins) from hack/tools/coredns,
#               the control plane and etcd from hack/install-cluster-tools.sh
#               (the kwok tools, same version), local-path-provisioner from
#               hack/tools/localpath, pause and kindnetd from hack/kind-node
#               (static Go), busybox from Debian (the storage helper);
#   3. images   the images `kubeadm config images list` names, plus kindnetd
#               and the storage provisioner and helper, built by
#               hack/kind-node/images with go-containerregistry;
#   4. node     kind's base files (entrypoint, systemd units, kubelet drop-ins),
#               hack/kind-node/files, /kind/version and /kind/manifests, the
#               images imported into the node's containerd (namespace k8s.io,
#               --no-unpack, as kind does), then `docker import` of the result.
#
# Everything is cached under ${XDG_CACHE_HOME:-$HOME/.cache}/rekindle/
# kind-node-<key>/ (the key hashes the versions and hack/kind-node); a later run
# with the image present does nothing, and one whose engine lost the image
# re-imports rootfs.tar. One build at a time (flock). Each stage prints its
# time. The last line on stdout is the image's name.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOD="${ROOT}/hack/tools/kindnode"
SRC="${ROOT}/hack/kind-node"
log() { printf 'kind-node-image: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
START=${SECONDS}
stage() { log "$1 done in $((SECONDS - STAGE_START))s"; STAGE_START=${SECONDS}; }
STAGE_START=${SECONDS}

K8S_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "${MOD}/go.mod")
[[ "${K8S_VERSION}" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || die "cannot read the k8s.io/kubernetes version from ${MOD}/go.mod"
K8S_MAJOR=${BASH_REMATCH[1]} K8S_MINOR=${BASH_REMATCH[2]}
KIND_VERSION=$(awk '$1 == "sigs.k8s.io/kind" { print $2; exit }' "${ROOT}/go.mod")
[[ -n "${KIND_VERSION}" ]] || die "go.mod does not require sigs.k8s.io/kind"
IMAGE="${REKINDLE_KIND_NODE_IMAGE:-rekindle.local/kind-node:${K8S_VERSION}}"
KEY=$( (echo "${K8S_VERSION} ${KIND_VERSION} $(go env GOVERSION)"; cat "$0" "${MOD}/go.sum" "${ROOT}"/hack/tools/coredns/go.* "${ROOT}/hack/tools/coredns/main.go" "${ROOT}"/hack/tools/localpath/go.*;
  find "${SRC}" -type f | LC_ALL=C sort | xargs cat) | sha256sum | cut -c1-12)
CROOT="${XDG_CACHE_HOME:-${HOME}/.cache}/rekindle"
CACHE="${CROOT}/kind-node-${K8S_VERSION}-${KEY}"
# The slow stages have their own keys, so that editing hack/kind-node reuses them.
DEBOOT="${CROOT}/kind-node-debootstrap-$(sha256sum "${SRC}/packages.txt" | cut -c1-12)"
BIN="${CROOT}/kind-node-bin-${K8S_VERSION}-$( (go env GOVERSION; cat "${MOD}/go.sum" "${ROOT}/hack/tools/coredns/go.sum" "${ROOT}/hack/tools/coredns/main.go" "${ROOT}/hack/tools/localpath/go.sum") | sha256sum | cut -c1-12)"

have_image() {
  [[ "$(docker image inspect --format '{{ index .Config.Labels "dev.rekindle.kind-node.key" }}' "${IMAGE}" 2>/dev/null)" == "${KEY}" ]]
}
import_image() {
  # docker import takes no STOPSIGNAL: a one-line build on top sets it, and
  # the rest of kind's image config (ENTRYPOINT, ENV container=docker).
  log "docker import ${CACHE}/rootfs.tar as ${IMAGE}"
  local raw="rekindle.local/kind-node-rootfs:${KEY}" old
  old=$(docker image inspect --format '{{.Id}}' "${IMAGE}" 2>/dev/null || true)
  docker import "${CACHE}/rootfs.tar" "${raw}" >/dev/null
  printf '%s\n' "FROM ${raw}" \
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    'ENV container=docker' \
    'STOPSIGNAL SIGRTMIN+3' \
    "LABEL dev.rekindle.kind-node.key=${KEY} dev.rekindle.kind-node.kubernetes=${K8S_VERSION}" |
    DOCKER_BUILDKIT=0 docker build -q -t "${IMAGE}" - >/dev/null 2>"${CACHE}/docker-build.log" ||
    { cat "${CACHE}/docker-build.log" >&2; die "docker build of ${IMAGE} failed"; }
  docker rmi "${raw}" >/dev/null
  # The image this one replaces, unless a container still runs it.
  [[ -z "${old}" ]] || docker rmi "${old}" >/dev/null 2>&1 || true
}

# The images are built for linux/amd64 (hack/kind-node/images, the node's
# x86_64-linux-gnu libraries); other architectures are not done.
[[ "$(uname -m)" == x86_64 ]] || die "only x86_64 (linux/amd64) node images are built, not $(uname -m)"
command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ||
  die "no Docker engine answers (run hack/container-engine.sh)"
if have_image; then
  log "${IMAGE} is present (key ${KEY}); nothing to build"
  echo "${IMAGE}"
  exit 0
fi
mkdir -p "${CACHE}"
exec 9>"${CACHE}/.lock"
if ! flock -n 9; then
  log "another build into ${CACHE} is running; waiting for it"
  flock 9
fi
if [[ -f "${CACHE}/rootfs.done" ]]; then
  have_image || import_image
  stage "import"
  echo "${IMAGE}"
  exit 0
fi
log "building ${IMAGE} (key ${KEY}) in ${CACHE}"

# 1. rootfs (in the background: it waits on the network and dpkg more than
# on the CPU, so it overlaps the Go builds of stage 2) -------------------------
DEBOOT_PID=
if [[ ! -f "${DEBOOT}/done" ]]; then
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing Debian's debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
  }
  # The machine's own Debian mirror (deb822 or one-line sources), else deb.debian.org.
  MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit} /^deb / && $2 !~ /security/ {print $2; exit}' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  rm -rf "${DEBOOT}" && mkdir -p "${DEBOOT}"
  log "debootstrap bookworm from ${MIRROR} (minbase + hack/kind-node/packages.txt), in the background"
  (
    t=${SECONDS}
    nice -n 10 debootstrap --variant=minbase \
      --include="$(grep -v '^#' "${SRC}/packages.txt" | paste -sd,)" \
      bookworm "${DEBOOT}/rootfs" "${MIRROR}" >"${DEBOOT}/debootstrap.log" 2>&1 || exit 1
    rm -rf "${DEBOOT}"/rootfs/var/cache/apt/archives/*.deb "${DEBOOT}"/rootfs/var/lib/apt/lists/*
    touch "${DEBOOT}/done"
    log "rootfs (debootstrap) done in $((SECONDS - t))s"
  ) &
  DEBOOT_PID=$!
fi

# 2. binaries ----------------------------------------------------------------
mkdir -p "${BIN}"
VPKG=k8s.io/component-base/version
LDFLAGS="-X ${VPKG}.gitVersion=${K8S_VERSION} -X ${VPKG}.gitMajor=${K8S_MAJOR} -X ${VPKG}.gitMinor=${K8S_MINOR} -X ${VPKG}.gitTreeState=clean"
if [[ ! -f "${BIN}/node.done" ]]; then
  log "go install tool in hack/tools/kindnode (kubelet, kubeadm, kubectl, kube-proxy)"
  (cd "${MOD}" && GOBIN="${BIN}" nice -n 10 go install -p 2 -ldflags "${LDFLAGS}" tool) || die "building hack/tools/kindnode failed"
  touch "${BIN}/node.done"
  stage "kubelet, kubeadm, kubectl, kube-proxy"
fi
if [[ ! -f "${BIN}/coredns.done" ]]; then
  log "go build hack/tools/coredns (CoreDNS with kubeadm's plugins)"
  (cd "${ROOT}/hack/tools/coredns" && CGO_ENABLED=0 nice -n 10 go build -p 2 -trimpath -ldflags "-s -w" -o "${BIN}/coredns" .) ||
    die "building hack/tools/coredns failed"
  touch "${BIN}/coredns.done"
  stage "coredns"
fi
LPP_VERSION=$(grep -oE 'github.com/rancher/local-path-provisioner v[^ ]+' "${ROOT}/hack/tools/localpath/go.mod" | head -n1 | cut -d' ' -f2)
if [[ ! -f "${BIN}/local-path.done" ]]; then
  log "go build local-path-provisioner ${LPP_VERSION} (hack/tools/localpath)"
  (cd "${ROOT}/hack/tools/localpath" && CGO_ENABLED=0 nice -n 10 go build -p 2 -trimpath -ldflags "-s -w" \
    -o "${BIN}/local-path-provisioner" github.com/rancher/local-path-provisioner) || die "building hack/tools/localpath failed"
  touch "${BIN}/local-path.done"
  stage "local-path-provisioner"
fi
TOOLS_BIN=$("${ROOT}/hack/install-cluster-tools.sh")
(cd "${ROOT}" && CGO_ENABLED=0 go build -trimpath -o "${BIN}/" ./hack/kind-node/pause ./hack/kind-node/kindnetd &&
  go build -o "${BIN}/" ./hack/kind-node/images) || die "building hack/kind-node failed"
stage "pause, kindnetd, images"

if [[ -n "${DEBOOT_PID}" ]]; then
  log "waiting for debootstrap"
  wait "${DEBOOT_PID}" || { tail -n 20 "${DEBOOT}/debootstrap.log" >&2; die "debootstrap failed (log: ${DEBOOT}/debootstrap.log)"; }
  STAGE_START=${SECONDS}
fi
RFS="${CACHE}/rootfs"
rm -rf "${RFS}" && cp -a "${DEBOOT}/rootfs" "${RFS}"
stage "rootfs (copy)"

# 3. images ------------------------------------------------------------------
mapfile -t REQUIRED < <("${BIN}/kubeadm" config images list --kubernetes-version "${K8S_VERSION}" 2>/dev/null)
[[ ${#REQUIRED[@]} -gt 0 ]] || die "kubeadm config images list --kubernetes-version ${K8S_VERSION} printed nothing"
KINDNETD_IMAGE="rekindle.local/kindnetd:${K8S_VERSION}"
STORAGE_PROVISIONER_IMAGE="rekindle.local/local-path-provisioner:${LPP_VERSION}"
STORAGE_HELPER_IMAGE="rekindle.local/local-path-helper:${K8S_VERSION}"
SPECS=("${KINDNETD_IMAGE}=${BIN}/kindnetd,iptables"
  "${STORAGE_PROVISIONER_IMAGE}=${BIN}/local-path-provisioner"
  "${STORAGE_HELPER_IMAGE}=${RFS}/bin/busybox,applets")
PAUSE_IMAGE=
for ref in "${REQUIRED[@]}"; do
  repo=${ref%:*}
  case "${repo##*/}" in
    kube-apiserver | kube-controller-manager | kube-scheduler | etcd) SPECS+=("${ref}=${TOOLS_BIN}/${repo##*/}") ;;
    kube-proxy) SPECS+=("${ref}=${BIN}/kube-proxy,iptables") ;;
    pause) SPECS+=("${ref}=${BIN}/pause") PAUSE_IMAGE=${ref} ;;
    coredns)
      [[ "${ref##*:}" == "$(grep -oE 'github.com/coredns/coredns v[^ ]+' "${ROOT}/hack/tools/coredns/go.mod" | head -n1 | cut -d' ' -f2)" ]] ||
        die "kubeadm names ${ref}, but hack/tools/coredns/go.mod pins another CoreDNS"
      SPECS+=("${ref}=${BIN}/coredns") ;;
    *) die "kubeadm names an image this script does not build: ${ref}" ;;
  esac
done
[[ -n "${PAUSE_IMAGE}" ]] || die "kubeadm names no pause image"
"${BIN}/images" -rootfs "${RFS}" -out "${CACHE}/images.tar" "${SPECS[@]}" || die "building the images failed"
stage "images (${#SPECS[@]})"

# 4. node --------------------------------------------------------------------
KIND_DIR=$(cd "${ROOT}" && go mod download -json "sigs.k8s.io/kind@${KIND_VERSION}" | jq -r .Dir)
BASE="${KIND_DIR}/images/base/files"
[[ -f "${BASE}/usr/local/bin/entrypoint" ]] || die "no kind base files in ${BASE}"
install -m 0755 "${BASE}"/usr/local/bin/* "${RFS}/usr/local/bin/"
mkdir -p "${RFS}/kind/bin" "${RFS}/kind/manifests" "${RFS}/etc/containerd" "${RFS}/etc/kubernetes/manifests" \
  "${RFS}/etc/systemd/system/kubelet.service.d" "${RFS}/opt/cni" "${RFS}/etc/cni/net.d"
install -m 0755 "${BASE}"/kind/bin/* "${RFS}/kind/bin/"
install -m 0644 "${BASE}/etc/crictl.yaml" "${RFS}/etc/"
install -m 0644 "${BASE}"/etc/default/* "${RFS}/etc/default/"
install -m 0644 "${BASE}"/etc/sysctl.d/* "${RFS}/etc/sysctl.d/"
for u in containerd.service kubelet.service kubelet.slice undo-mount-hacks.service; do
  install -m 0644 "${BASE}/etc/systemd/system/${u}" "${RFS}/etc/systemd/system/"
done
install -m 0644 "${BASE}"/etc/systemd/system/kubelet.service.d/* "${RFS}/etc/systemd/system/kubelet.service.d/"
# Debian's containerd is /usr/bin/containerd and its CNI plugins are in /usr/lib/cni.
ln -sfn /usr/bin/containerd "${RFS}/usr/local/bin/containerd"
rm -rf "${RFS}/opt/cni/bin" && ln -sfn /usr/lib/cni "${RFS}/opt/cni/bin"
install -m 0755 "${SRC}/files/runc-nosysresource" "${RFS}/usr/local/sbin/runc-nosysresource"
sed "s#@PAUSE_IMAGE@#${PAUSE_IMAGE}#" "${SRC}/files/containerd-config.toml" >"${RFS}/etc/containerd/config.toml"
sed "s#@KINDNETD_IMAGE@#${KINDNETD_IMAGE}#" "${SRC}/files/default-cni.yaml" >"${RFS}/kind/manifests/default-cni.yaml"
sed -e "s#@STORAGE_PROVISIONER_IMAGE@#${STORAGE_PROVISIONER_IMAGE}#g" -e "s#@STORAGE_HELPER_IMAGE@#${STORAGE_HELPER_IMAGE}#g" \
  "${SRC}/files/default-storage.yaml" >"${RFS}/kind/manifests/default-storage.yaml"
printf '%s' "${K8S_VERSION}" >"${RFS}/kind/version"
for b in kubelet kubeadm kubectl; do install -m 0755 "${BIN}/${b}" "${RFS}/usr/bin/${b}"; done
# As kind's base Dockerfile: no services but ours, systemd as /sbin/init.
chroot "${RFS}" /bin/sh -euc '
  find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
  rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
  grep -q "^ReadKMsg=no" /etc/systemd/journald.conf || echo ReadKMsg=no >>/etc/systemd/journald.conf
  ln -sf /usr/lib/systemd/systemd /sbin/init
  systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
  systemctl mask systemd-binfmt.service >/dev/null 2>&1'
# containerd's base OCI spec, as kind's base image makes it.
ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
  jq 'del(.process.rlimits)' >"${RFS}/etc/containerd/cri-base.json"
stage "node files"

# The preloaded images go into the node's containerd content store with the
# host's containerd (Debian's, the node's version), run against the rootfs.
STATE=$(mktemp -d /tmp/rekindle-kind-node.XXXXXX)
trap 'kill "${CPID:-}" 2>/dev/null || true; wait "${CPID:-}" 2>/dev/null || true; rm -rf "${STATE}"' EXIT
printf 'version = 2\nroot = "%s"\nstate = "%s/state"\n[grpc]\n  address = "%s/sock"\n' \
  "${RFS}/var/lib/containerd" "${STATE}" "${STATE}" >"${STATE}/config.toml"
containerd --config "${STATE}/config.toml" >"${CACHE}/containerd-import.log" 2>&1 &
CPID=$!
for _ in $(seq 1 50); do [[ -S "${STATE}/sock" ]] && break; sleep 0.2; done
ctr --address "${STATE}/sock" -n k8s.io images import --label=io.cri-containerd.pinned=pinned \
  --all-platforms --no-unpack --digests "${CACHE}/images.tar" >&2 || die "ctr images import failed (log: ${CACHE}/containerd-import.log)"
ctr --address "${STATE}/sock" -n k8s.io images list -q | grep -v '^sha256:' >&2
kill "${CPID}" && wait "${CPID}" 2>/dev/null || true
stage "preload images into the node's containerd"

tar --numeric-owner --xattrs -C "${RFS}" -cf "${CACHE}/rootfs.tar.tmp" . && mv "${CACHE}/rootfs.tar.tmp" "${CACHE}/rootfs.tar"
rm -rf "${RFS}"
import_image
touch "${CACHE}/rootfs.done"
# Earlier builds of this version (another key), and root filesystems of
# other package lists, are superseded.
for d in "${CROOT}/kind-node-${K8S_VERSION}-"* "${CROOT}/kind-node-debootstrap-"*; do
  [[ "${d}" == "${CACHE}" || "${d}" == "${DEBOOT}" || ! -d "${d}" ]] || rm -rf "${d}"
done
stage "docker import"
log "built ${IMAGE} in $((SECONDS - START))s ($(du -sh "${CACHE}/rootfs.tar" | cut -f1) rootfs)"
echo "${IMAGE}"
