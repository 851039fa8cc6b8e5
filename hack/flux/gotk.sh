#!/usr/bin/env bash
# gotk.sh regenerates gotk-components.yaml for the Flux release of
# hack/flux/VERSION (the controllers pinned in hack/install-flux.sh) from
# the controllers' config/ directories, into each file given (default: the
# e2e fixture and the flux example).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${ROOT}"
pins=$(sed -n 's/^CONTROLLERS=(\(.*\))$/\1/p' hack/install-flux.sh)
args=()
for c in ${pins}; do
  dir=$(go mod download -json "github.com/fluxcd/${c}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  args+=("${c%@*}=${dir}")
done
files=("$@")
((${#files[@]})) || files=(test/e2e/testdata/flux/gotk-components.yaml blueprints/examples/flux/clusters/dev/flux-system/gotk-components.yaml)
for f in "${files[@]}"; do
  mkdir -p "$(dirname "$f")"
  go run ./hack/flux/gotk -o "$f" "${args[@]}"
  echo "gotk: wrote $f"
done
