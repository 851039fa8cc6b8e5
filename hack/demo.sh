#!/usr/bin/env bash
# demo.sh: the whole job on the bundled local example, on this machine alone:
# bootstrap an environment (Terraform + two kwok clusters + agents + workloads),
# lose a cluster, recover it from Git, and print the recovery report.
# KEEP=1 leaves the environment running at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

REKINDLE=${REKINDLE:-bin/rekindle}
BLUEPRINT=blueprints/examples/local
STATE=${REKINDLE_DEMO_STATE:-$PWD/_out/demo-state}
REPORTS=${REKINDLE_DEMO_REPORTS:-$PWD/_out/demo-report}
rk() { "$REKINDLE" --state-dir "$STATE" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1/4 bootstrap: rekindle bootstrap create --blueprint $BLUEPRINT --env dev"
rk bootstrap create --blueprint "$BLUEPRINT" --env dev

KUBECONFIG_APPS="$STATE/clusters/kwok/dev-apps/kubeconfig"
if command -v kubectl >/dev/null; then
  say "what the agent reports (kubectl get syncs -A)"
  kubectl --kubeconfig "$KUBECONFIG_APPS" get syncs -A
  kubectl --kubeconfig "$KUBECONFIG_APPS" get deployments -A
fi

say "2/4 disaster: the cluster dev-apps is deleted"
rk cluster delete --provider kwok --name dev-apps

say "3/4 recovery: rekindle recover --blueprint $BLUEPRINT --env dev"
rk recover --blueprint "$BLUEPRINT" --env dev | tee "$STATE/last-recovery.txt"

say "4/4 proof: a full drill with reports in $REPORTS"
# The drill prints its report (without drill.md's inline SVG chart, which is
# for GitHub and browsers); drill.html is the one to open.
rk drill --blueprint "$BLUEPRINT" --env dev --scope dev-apps --keep --report-dir "$REPORTS"
echo "reports: $REPORTS/drill.html (open it in a browser), drill.md, drill.json, junit.xml"

if [[ "${KEEP:-0}" == 1 ]]; then
  say "the environment keeps running: export KUBECONFIG=$KUBECONFIG_APPS"
  echo "tear it down with: $REKINDLE --state-dir $STATE bootstrap destroy --blueprint $BLUEPRINT --env dev"
else
  say "teardown: rekindle bootstrap destroy"
  rk bootstrap destroy --blueprint "$BLUEPRINT" --env dev
fi
