#!/usr/bin/env bash
# Tear down what scripts/cluster-up.sh made: stop its port-forwards (by the pids it recorded),
# then delete the kind cluster `task-observatory`.
#
# Usage: scripts/cluster-down.sh [--dry-run] [--keep-cluster] [--purge-secrets]
#
# stdout: one JSON line per step, {"step":..., "status":"start|ok|error|skip", "message":...}.
# --keep-cluster only stops the port-forwards; --purge-secrets also deletes the generated passwords
# in .observatory/cluster-secrets/ (a new cluster then gets new ones).
set -euo pipefail

CLUSTER_NAME="task-observatory"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${ROOT}/.observatory"

DRY_RUN=0
KEEP_CLUSTER=0
PURGE_SECRETS=0

# shellcheck source=SCRIPTDIR/lib/progress.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --keep-cluster) KEEP_CLUSTER=1 ;;
    --purge-secrets) PURGE_SECRETS=1 ;;
    -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster-down: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

export PATH="${STATE_DIR}/bin:${PATH}"

# Only processes this project started: a pid from our pid file whose command line is still a
# `kubectl ... port-forward` (a recycled pid belongs to someone else and is left alone).
stop_port_forwards() {
  local pidfile pid stopped=0
  shopt -s nullglob
  for pidfile in "${STATE_DIR}/port-forwards/"*.pid; do
    pid=$(<"$pidfile")
    if [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/${pid}/cmdline ]] \
      && tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q 'kubectl.*port-forward'; then
      run kill "$pid"
      stopped=$((stopped + 1))
    fi
    run rm -f "$pidfile"
  done
  echo "stopped ${stopped} port-forwards" >&2
}

emit port-forwards start "stop port-forwards started by cluster-up"
stop_port_forwards
emit port-forwards ok "port-forwards stopped"

if [[ $KEEP_CLUSTER -eq 1 ]]; then
  emit cluster skip "--keep-cluster: ${CLUSTER_NAME} left running"
elif ! command -v kind >/dev/null 2>&1; then
  if [[ $DRY_RUN -eq 1 ]]; then
    emit cluster start "delete kind cluster ${CLUSTER_NAME}"
    run kind delete cluster --name "$CLUSTER_NAME"
    emit cluster ok "dry run: would delete ${CLUSTER_NAME}"
  else
    emit cluster error "kind is not installed (scripts/cluster-up.sh installs it into .observatory/bin)"
    exit 1
  fi
elif [[ $DRY_RUN -eq 0 ]] && ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  emit cluster skip "no kind cluster named ${CLUSTER_NAME}"
else
  emit cluster start "delete kind cluster ${CLUSTER_NAME}"
  if run kind delete cluster --name "$CLUSTER_NAME"; then
    emit cluster ok "deleted ${CLUSTER_NAME}"
  else
    emit cluster error "kind delete cluster failed; see stderr"
    exit 1
  fi
fi

if [[ $PURGE_SECRETS -eq 1 ]]; then
  run rm -rf "${STATE_DIR}/cluster-secrets"
  emit secrets ok "generated passwords removed"
else
  emit secrets skip "generated passwords kept in .observatory/cluster-secrets (use --purge-secrets)"
fi
