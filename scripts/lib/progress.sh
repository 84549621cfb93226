# shellcheck shell=bash
# Shared by cluster-up.sh and cluster-down.sh: one JSON progress line per step on stdout
# ({"step", "status", "message"}, read by clients), every command echoed on stderr, DRY_RUN honoured.

json_escape() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '%s' "$s"
}

emit() {
  printf '{"step":"%s","status":"%s","message":"%s"}\n' "$(json_escape "$1")" "$2" "$(json_escape "$3")"
}

# Print a command, then run it unless this is a dry run (DRY_RUN=1). Arguments never contain secret values.
run() {
  printf '+' >&2
  printf ' %q' "$@" >&2
  printf '\n' >&2
  if [[ ${DRY_RUN:-0} -eq 1 ]]; then
    return 0
  fi
  "$@" >&2
}
