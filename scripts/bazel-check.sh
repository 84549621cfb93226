#!/usr/bin/env bash
# Check the Bazel build graph offline with Debian's Bazel (bazel-bootstrap 4.2.3): the repositories that
# WORKSPACE downloads are overridden with the stand-ins in third_party/bazel/, and third-party packages come
# from the project's virtual environment. Builds every target and runs //tests:unit_tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v bazel >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bazel-check] installing Debian's bazel-bootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bazel-bootstrap >/dev/null
  else
    echo "[bazel-check] bazel not found: run 'apt-get install bazel-bootstrap' as root" >&2
    exit 1
  fi
fi
stub="$ROOT/third_party/bazel"
overrides=(
  --override_repository=rules_python="$stub/rules_python"
  --override_repository=rules_cc="$stub/rules_cc"
  --override_repository=rules_java="$stub/rules_java"
  --override_repository=rules_proto="$stub/rules_proto"
  --override_repository=remote_coverage_tools="$stub/coverage_tools"
)
export OBSERVATORY_VENV_PYTHON="$ROOT/.venv/bin/python3"
bazel_root="$ROOT/.observatory/bazel"
status=0
bazel --output_user_root="$bazel_root" build "${overrides[@]}" --action_env=OBSERVATORY_VENV_PYTHON //... || status=$?
if [ "$status" -eq 0 ]; then
  bazel --output_user_root="$bazel_root" test "${overrides[@]}" --action_env=OBSERVATORY_VENV_PYTHON \
    --test_output=errors //tests:unit_tests || status=$?
fi
bazel --output_user_root="$bazel_root" shutdown >/dev/null 2>&1 || true
exit "$status"
