#!/usr/bin/env bash
# Download the upstream CRD files `observatory validate` checks manifests against, at the same
# pinned commits as the copies in ../shared/crds (see its README), into DIR (default
# .observatory/crds, which the validator falls back to). Each file with a known git blob sha is
# verified with `git hash-object`; a mismatch is an error.
#
# Usage: scripts/fetch-crds.sh [--dry-run] [DIR]
set -euo pipefail

SERVING_COMMIT="98e5ef90aa7033797aa0a61ef97f3ff7e49a3944"            # knative/serving, = knative-v1.23.0 for these files
EVENTING_COMMIT="8cf4c4b673034020f5ecab731fb6a2a7f9350244"           # knative/eventing, = knative-v1.22.2
EVENTING_RABBITMQ_COMMIT="bd1ee997d372a3aae8fdcca10fbceb61cd4e9e32"  # eventing-rabbitmq main after knative-v1.22.1
CLUSTER_OPERATOR_COMMIT="06cda8e8e1a927a652dda20a1b169fe7667f4916"   # rabbitmq/cluster-operator, = v2.22.3
TOPOLOGY_OPERATOR_COMMIT="e736e2df95cd2fd8027f793dfce9020f5de86c1a"  # messaging-topology-operator, = v1.20.1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY_RUN=0
DEST="${ROOT}/.observatory/crds"
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    -h | --help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fetch-crds: unknown option $1" >&2; exit 2 ;;
    *) DEST=$1 ;;
  esac
  shift
done

RAW="https://raw.githubusercontent.com"
# local file name | URL | git blob sha ("-" when the shared copy has none to compare with)
FILES=(
  "serving.knative.dev_v1_services.yaml|${RAW}/knative/serving/${SERVING_COMMIT}/config/core/300-resources/service.yaml|a03abc596aad80ed5f0e6272e7db892cd83b8bd2"
  "eventing.knative.dev_v1_brokers.yaml|${RAW}/knative/eventing/${EVENTING_COMMIT}/config/core/resources/broker.yaml|c8e3eea5f392bf6d7ac67ce02a40cdd57be79300"
  "eventing.knative.dev_v1_triggers.yaml|${RAW}/knative/eventing/${EVENTING_COMMIT}/config/core/resources/trigger.yaml|712d3cd576b6b4d59583d8793942f065a810bca5"
  "sources.knative.dev_v1_pingsources.yaml|${RAW}/knative/eventing/${EVENTING_COMMIT}/config/core/resources/pingsource.yaml|57bd817be8e46e3770745eccaae033924771322f"
  "sources.knative.dev_v1_sinkbindings.yaml|${RAW}/knative/eventing/${EVENTING_COMMIT}/config/core/resources/sinkbindings.yaml|-"
  "eventing.knative.dev_v1alpha1_rabbitmqbrokerconfigs.yaml|${RAW}/knative-extensions/eventing-rabbitmq/${EVENTING_RABBITMQ_COMMIT}/config/broker/300-rabbitmqbrokerconfig.yaml|75f5a8476beb66360fb8100520d9571fb2232093"
  "sources.knative.dev_v1alpha1_rabbitmqsources.yaml|${RAW}/knative-extensions/eventing-rabbitmq/${EVENTING_RABBITMQ_COMMIT}/config/source/300-rabbitmqsource.yaml|ed9676a8e4a57d52601e4784636433c888393fce"
  "rabbitmq.com_v1beta1_rabbitmqclusters.yaml|${RAW}/rabbitmq/cluster-operator/${CLUSTER_OPERATOR_COMMIT}/config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml|1cb3859600c92771d8a2b68797bd457fe286d830"
  "rabbitmq.com_v1beta1_queues.yaml|${RAW}/rabbitmq/messaging-topology-operator/${TOPOLOGY_OPERATOR_COMMIT}/config/crd/bases/rabbitmq.com_queues.yaml|48fac40490576c940c786e01df2607c94cdb7eed"
  "rabbitmq.com_v1beta1_exchanges.yaml|${RAW}/rabbitmq/messaging-topology-operator/${TOPOLOGY_OPERATOR_COMMIT}/config/crd/bases/rabbitmq.com_exchanges.yaml|819e5c7019c1687ea549c31960c661be3af9137f"
  "rabbitmq.com_v1beta1_bindings.yaml|${RAW}/rabbitmq/messaging-topology-operator/${TOPOLOGY_OPERATOR_COMMIT}/config/crd/bases/rabbitmq.com_bindings.yaml|97493235543ad457cd2da304b663e8c3e428677c"
  "rabbitmq.com_v1beta1_policies.yaml|${RAW}/rabbitmq/messaging-topology-operator/${TOPOLOGY_OPERATOR_COMMIT}/config/crd/bases/rabbitmq.com_policies.yaml|5850e943ace62ca61c7ef3714e8540a6ee7d88fc"
)

run() {
  printf '+' >&2
  printf ' %q' "$@" >&2
  printf '\n' >&2
  [[ $DRY_RUN -eq 1 ]] || "$@"
}

run mkdir -p "$DEST"
failed=0
for entry in "${FILES[@]}"; do
  IFS='|' read -r name url blob <<<"$entry"
  run curl -fsSLo "${DEST}/${name}.part" "$url"
  if [[ $DRY_RUN -eq 1 ]]; then
    continue
  fi
  if [[ $blob != "-" ]]; then
    got=$(git hash-object --no-filters "${DEST}/${name}.part")
    if [[ $got != "$blob" ]]; then
      echo "fetch-crds: ${name}: blob ${got}, expected ${blob}" >&2
      rm -f "${DEST}/${name}.part"
      failed=1
      continue
    fi
  fi
  mv "${DEST}/${name}.part" "${DEST}/${name}"
  echo "fetch-crds: ${name}" >&2
done
exit "$failed"
