#!/usr/bin/env bash
# Bring up Task Observatory on a kind cluster: kind, Knative Serving + Kourier, Knative Eventing,
# cert-manager, the RabbitMQ cluster and topology operators, eventing-rabbitmq, the functions image,
# Secrets, platform/ and knative/, then the local port map.
#
# Usage: scripts/cluster-up.sh [--dry-run] [--skip-build] [--no-ports] [--timeout SECONDS]
#
# stdout: one JSON line per step, {"step":..., "status":"start|ok|error|skip", "message":...}.
# stderr: the commands run (prefixed "+ "), and their output. --dry-run prints the commands and runs
# none of them. Secrets come from OBSERVATORY_<NAME> or OBSERVATORY_<NAME>_FILE (see load_secret);
# missing ones are generated once into .observatory/cluster-secrets/ (mode 600) and never printed.
set -euo pipefail

# ---- pinned versions ---------------------------------------------------------------------------
KIND_VERSION="v0.30.0"
KIND_NODE_IMAGE="kindest/node:v1.34.0"
KNATIVE_SERVING_VERSION="knative-v1.23.0"
KOURIER_VERSION="knative-v1.23.0"
KNATIVE_EVENTING_VERSION="knative-v1.22.2"
CERT_MANAGER_VERSION="v1.17.2"
RABBITMQ_CLUSTER_OPERATOR_VERSION="v2.22.3"
RABBITMQ_TOPOLOGY_OPERATOR_VERSION="v1.20.1"
EVENTING_RABBITMQ_VERSION="knative-v1.22.1"

CLUSTER_NAME="task-observatory"
NAMESPACE="observatory"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${ROOT}/.observatory"
PROJECT_VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "${ROOT}/pyproject.toml" | head -n 1)"
IMAGE="${OBSERVATORY_IMAGE:-observatory/functions:${PROJECT_VERSION}}"

DRY_RUN=0
SKIP_BUILD=0
PORTS=1
TIMEOUT=600

# local port | NodePort published by kind | Service for the port-forward fallback | its port
PORT_MAP=(
  "3000|30300|gateway-edge|3000"
  "8080|30080|readmodel-edge|8080"
  "15672|31567|rabbitmq|15672"
  "9090|30090|prometheus|9090"
  "9093|30093|alertmanager|9093"
  "3002|30302|grafana|3000"
)

# ---- output --------------------------------------------------------------------------------------
# shellcheck source=SCRIPTDIR/lib/progress.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

# A pipeline variant of run for `kubectl create ... -o yaml | kubectl apply -f -`.
run_apply_generated() {
  printf '+' >&2
  printf ' %q' "$@" >&2
  printf ' --dry-run=client -o yaml |' >&2
  printf ' %q' "${KUBECTL[@]}" >&2
  printf ' apply -f -\n' >&2
  if [[ $DRY_RUN -eq 1 ]]; then
    return 0
  fi
  "$@" --dry-run=client -o yaml | "${KUBECTL[@]}" apply -f - >&2
}

# Run one step in a subshell so `set -e` holds inside it; report start/ok/error.
step() {
  local name=$1 message=$2 rc
  shift 2
  emit "$name" start "$message"
  set +e
  ( set -e; "$@" )
  rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then
    emit "$name" error "${message} failed (exit ${rc}); see stderr"
    exit 1
  fi
  emit "$name" ok "$message"
}

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    --no-ports) PORTS=0 ;;
    --timeout)
      [[ $# -ge 2 ]] || { echo "cluster-up: --timeout needs a number of seconds" >&2; exit 2; }
      TIMEOUT=$2
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    *) echo "cluster-up: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] || { echo "cluster-up: --timeout must be whole seconds" >&2; exit 2; }

KIND="kind"
KUBECTL=(kubectl --context "kind-${CLUSTER_NAME}")

# ---- steps ---------------------------------------------------------------------------------------
install_kind() {
  local have="" arch
  if command -v kind >/dev/null 2>&1; then
    have=$(kind version 2>/dev/null | awk '{print $2}')
  fi
  if [[ $have == "$KIND_VERSION" ]]; then
    return 0
  fi
  arch=$(uname -m)
  case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
  run mkdir -p "${STATE_DIR}/bin"
  run curl -fsSLo "${STATE_DIR}/bin/kind" "https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-${arch}"
  run curl -fsSLo "${STATE_DIR}/bin/kind.sha256sum" \
    "https://github.com/kubernetes-sigs/kind/releases/download/${KIND_VERSION}/kind-linux-${arch}.sha256sum"
  if [[ $DRY_RUN -eq 0 ]]; then
    (cd "${STATE_DIR}/bin" && awk '{print $1"  kind"}' kind.sha256sum | sha256sum -c - >&2)
  fi
  run chmod +x "${STATE_DIR}/bin/kind"
}

check_prereqs() {
  local missing=()
  command -v docker >/dev/null 2>&1 || missing+=(docker)
  command -v kubectl >/dev/null 2>&1 || missing+=(kubectl)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "missing: ${missing[*]}" >&2
    [[ $DRY_RUN -eq 1 ]] || return 1
  fi
  if [[ $DRY_RUN -eq 0 ]]; then
    docker info >/dev/null 2>&1 || { echo "the Docker engine is not running" >&2; return 1; }
  fi
  install_kind
}

create_cluster() {
  if [[ $DRY_RUN -eq 0 ]] && "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    echo "reusing cluster ${CLUSTER_NAME}" >&2
  else
    run "$KIND" create cluster --name "$CLUSTER_NAME" --image "$KIND_NODE_IMAGE" \
      --config "${ROOT}/platform/kind/kind-config.yaml" --wait "${TIMEOUT}s"
  fi
  run kubectl config use-context "kind-${CLUSTER_NAME}"
}

wait_deployments() {
  run "${KUBECTL[@]}" wait deployment --all -n "$1" --for=condition=Available --timeout="${TIMEOUT}s"
}

install_cert_manager() {
  run "${KUBECTL[@]}" apply -f \
    "https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"
  wait_deployments cert-manager
}

install_serving() {
  local base="https://github.com/knative/serving/releases/download/${KNATIVE_SERVING_VERSION}"
  run "${KUBECTL[@]}" apply -f "${base}/serving-crds.yaml"
  run "${KUBECTL[@]}" wait crd/services.serving.knative.dev --for=condition=Established --timeout="${TIMEOUT}s"
  run "${KUBECTL[@]}" apply -f "${base}/serving-core.yaml"
  run "${KUBECTL[@]}" apply -f \
    "https://github.com/knative/net-kourier/releases/download/${KOURIER_VERSION}/kourier.yaml"
  run "${KUBECTL[@]}" patch configmap/config-network -n knative-serving --type merge \
    -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
  # The functions image is loaded into kind, not pushed: skip digest resolution for it.
  run "${KUBECTL[@]}" patch configmap/config-deployment -n knative-serving --type merge \
    -p '{"data":{"registries-skipping-tag-resolving":"kind.local,ko.local,dev.local,docker.io,index.docker.io"}}'
  wait_deployments knative-serving
  wait_deployments kourier-system
}

install_eventing() {
  local base="https://github.com/knative/eventing/releases/download/${KNATIVE_EVENTING_VERSION}"
  run "${KUBECTL[@]}" apply -f "${base}/eventing-crds.yaml"
  run "${KUBECTL[@]}" wait crd/triggers.eventing.knative.dev --for=condition=Established --timeout="${TIMEOUT}s"
  run "${KUBECTL[@]}" apply -f "${base}/eventing-core.yaml"
  wait_deployments knative-eventing
}

install_rabbitmq_operators() {
  run "${KUBECTL[@]}" apply -f \
    "https://github.com/rabbitmq/cluster-operator/releases/download/${RABBITMQ_CLUSTER_OPERATOR_VERSION}/cluster-operator.yml"
  run "${KUBECTL[@]}" apply -f \
    "https://github.com/rabbitmq/messaging-topology-operator/releases/download/${RABBITMQ_TOPOLOGY_OPERATOR_VERSION}/messaging-topology-operator-with-certmanager.yaml"
  wait_deployments rabbitmq-system
}

install_eventing_rabbitmq() {
  run "${KUBECTL[@]}" apply -f \
    "https://github.com/knative-extensions/eventing-rabbitmq/releases/download/${EVENTING_RABBITMQ_VERSION}/rabbitmq-broker.yaml"
  wait_deployments knative-eventing
}

build_image() {
  run docker build -f "${ROOT}/platform/Dockerfile" -t "$IMAGE" "$ROOT"
  run "$KIND" load docker-image "$IMAGE" --name "$CLUSTER_NAME"
}

# ---- secrets -------------------------------------------------------------------------------------
urlencode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# load_secret NAME -> value of OBSERVATORY_NAME, else the file named by OBSERVATORY_NAME_FILE, else a
# value generated once and kept in .observatory/cluster-secrets/NAME (so PVC data stays readable).
load_secret() {
  local name=$1 var="OBSERVATORY_$1" file_var="OBSERVATORY_$1_FILE" kept="${STATE_DIR}/cluster-secrets/$1"
  if [[ -n ${!var:-} ]]; then
    printf '%s' "${!var}"
  elif [[ -n ${!file_var:-} ]]; then
    tr -d '\n' <"${!file_var}"
  else
    if [[ ! -s $kept ]]; then
      (umask 077 && mkdir -p "${STATE_DIR}/cluster-secrets" && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$kept")
    fi
    cat "$kept"
  fi
}

create_secrets() {
  run_apply_generated "${KUBECTL[@]}" create namespace "$NAMESPACE"
  run "${KUBECTL[@]}" label namespace "$NAMESPACE" bindings.knative.dev/include=true --overwrite
  local dir=""
  if [[ $DRY_RUN -eq 0 ]]; then
    dir=$(umask 077 && mktemp -d)
    # shellcheck disable=SC2064  # expand $dir now: the trap must remove this directory
    trap "rm -rf '${dir}'" EXIT
    local pg mongo redis grafana token host="${NAMESPACE}.svc.cluster.local"
    pg=$(load_secret POSTGRES_PASSWORD)
    mongo=$(load_secret MONGODB_PASSWORD)
    redis=$(load_secret REDIS_PASSWORD)
    grafana=$(load_secret GRAFANA_ADMIN_PASSWORD)
    token=${OBSERVATORY_API_TOKEN:-}
    if [[ -z $token && -n ${OBSERVATORY_API_TOKEN_FILE:-} ]]; then token=$(tr -d '\n' <"$OBSERVATORY_API_TOKEN_FILE"); fi
    printf '%s' "$pg" >"${dir}/postgres-password"
    printf '%s' observatory >"${dir}/mongodb-username"
    printf '%s' "$mongo" >"${dir}/mongodb-password"
    printf '%s' "$redis" >"${dir}/redis-password"
    printf '%s' admin >"${dir}/grafana-admin-user"
    printf '%s' "$grafana" >"${dir}/grafana-admin-password"
    printf '%s' "postgresql://postgres:$(urlencode "$pg")@postgres.${host}:5432/observatory" >"${dir}/DATABASE_URL"
    printf '%s' "mongodb://observatory:$(urlencode "$mongo")@mongodb.${host}:27017/?authSource=admin" >"${dir}/MONGODB_URL"
    printf '%s' "redis://:$(urlencode "$redis")@redis.${host}:6379/0" >"${dir}/REDIS_URL"
    if [[ -n $token ]]; then printf '%s' "$token" >"${dir}/OBSERVATORY_API_TOKEN"; fi
  else
    dir="<tmpdir>"
  fi
  run_apply_generated "${KUBECTL[@]}" create secret generic observatory-backing -n "$NAMESPACE" \
    --from-file="${dir}/postgres-password" --from-file="${dir}/mongodb-username" \
    --from-file="${dir}/mongodb-password" --from-file="${dir}/redis-password" \
    --from-file="${dir}/grafana-admin-user" --from-file="${dir}/grafana-admin-password"
  local app_files=(--from-file="${dir}/DATABASE_URL" --from-file="${dir}/MONGODB_URL" --from-file="${dir}/REDIS_URL")
  if [[ -f "${dir}/OBSERVATORY_API_TOKEN" ]]; then app_files+=(--from-file="${dir}/OBSERVATORY_API_TOKEN"); fi
  run_apply_generated "${KUBECTL[@]}" create secret generic observatory-secrets -n "$NAMESPACE" "${app_files[@]}"
}

apply_platform() {
  run "${KUBECTL[@]}" apply -k "${ROOT}/platform"
  run "${KUBECTL[@]}" wait rabbitmqcluster/rabbitmq -n "$NAMESPACE" --for=condition=AllReplicasReady --timeout="${TIMEOUT}s"
  local sts
  for sts in postgres mongodb redis; do
    run "${KUBECTL[@]}" rollout status "statefulset/${sts}" -n "$NAMESPACE" --timeout="${TIMEOUT}s"
  done
  run "${KUBECTL[@]}" wait deployment/prometheus deployment/alertmanager deployment/grafana -n "$NAMESPACE" \
    --for=condition=Available --timeout="${TIMEOUT}s"
}

apply_knative() {
  run "${KUBECTL[@]}" apply -k "${ROOT}/knative"
  run "${KUBECTL[@]}" wait ksvc --all -n "$NAMESPACE" --for=condition=Ready --timeout="${TIMEOUT}s"
  run "${KUBECTL[@]}" wait broker --all -n "$NAMESPACE" --for=condition=Ready --timeout="${TIMEOUT}s"
  run "${KUBECTL[@]}" wait trigger --all -n "$NAMESPACE" --for=condition=Ready --timeout="${TIMEOUT}s"
}

# Ports the kind node publishes (kind-config.yaml) need nothing; a cluster created without that file
# gets a kubectl port-forward per port, its pid kept in .observatory/port-forwards/ for cluster-down.
forward_ports() {
  local entry local_port node_port svc svc_port node="${CLUSTER_NAME}-control-plane" pf="${STATE_DIR}/port-forwards"
  run mkdir -p "$pf"
  for entry in "${PORT_MAP[@]}"; do
    IFS='|' read -r local_port node_port svc svc_port <<<"$entry"
    if [[ $DRY_RUN -eq 0 ]] && docker port "$node" "${node_port}/tcp" 2>/dev/null | grep -q ":${local_port}$"; then
      echo "port ${local_port}: published by kind (NodePort ${node_port})" >&2
      continue
    fi
    printf '+ %s > %q 2>&1 &\n' "${KUBECTL[*]} port-forward -n ${NAMESPACE} svc/${svc} ${local_port}:${svc_port}" \
      "${pf}/${local_port}.log" >&2
    if [[ $DRY_RUN -eq 0 ]]; then
      nohup "${KUBECTL[@]}" port-forward -n "$NAMESPACE" "svc/${svc}" "${local_port}:${svc_port}" \
        >"${pf}/${local_port}.log" 2>&1 &
      echo $! >"${pf}/${local_port}.pid"
    fi
  done
}

# ---- main ----------------------------------------------------------------------------------------
export PATH="${STATE_DIR}/bin:${PATH}"
step prereqs "docker, kubectl and kind ${KIND_VERSION}" check_prereqs
step cluster "kind cluster ${CLUSTER_NAME} (${KIND_NODE_IMAGE})" create_cluster
step cert-manager "cert-manager ${CERT_MANAGER_VERSION}" install_cert_manager
step knative-serving "Knative Serving ${KNATIVE_SERVING_VERSION} + Kourier ${KOURIER_VERSION}" install_serving
step knative-eventing "Knative Eventing ${KNATIVE_EVENTING_VERSION}" install_eventing
step rabbitmq-operators "RabbitMQ cluster operator ${RABBITMQ_CLUSTER_OPERATOR_VERSION}, topology operator ${RABBITMQ_TOPOLOGY_OPERATOR_VERSION}" install_rabbitmq_operators
step eventing-rabbitmq "eventing-rabbitmq ${EVENTING_RABBITMQ_VERSION}" install_eventing_rabbitmq
if [[ $SKIP_BUILD -eq 1 ]]; then
  emit image skip "--skip-build: using ${IMAGE} as already loaded"
else
  step image "build ${IMAGE} and load it into kind" build_image
fi
step secrets "namespace ${NAMESPACE} and Secrets observatory-backing, observatory-secrets" create_secrets
step platform "platform/: RabbitMQ, PostgreSQL, MongoDB, Redis, Prometheus, Alertmanager, Grafana" apply_platform
step knative "knative/: Services, Broker, Triggers" apply_knative
if [[ $PORTS -eq 1 ]]; then
  step ports "local ports 3000 8080 15672 9090 9093 3002" forward_ports
else
  emit ports skip "--no-ports"
fi
if [[ $DRY_RUN -eq 1 ]]; then
  emit ready ok "dry run: nothing was changed"
else
  emit ready ok "gateway http://localhost:3000, read model http://localhost:8080, Grafana http://localhost:3002"
fi
