#!/usr/bin/env bash
# Set up everything `make run` and `make test` need, idempotently: system tools, the Python virtual
# environment from the lock file, the backing services and the database schema. Each step prints one line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed-lock"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    die "need root for: $*  (run it as root, then re-run make)"; fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these packages yourself: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. System tools the suite uses: promtool/amtool check the observability configs, tmux drives the CLI.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# Debian's chromium drives the web tests through Playwright (no browser download).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; else say "system tools present"; fi

# 2. The virtual environment, reinstalled only when the lock file changes.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment in .venv"
  python3 -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || ! cmp -s requirements.lock "$STAMP"; then
  say "installing pinned dependencies from requirements.lock"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.lock 2> >(grep -v "is ignored" >&2)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . 2> >(grep -v "is ignored" >&2)
  cp requirements.lock "$STAMP"
else
  say "virtual environment up to date"
fi

# 3. Backing services (PostgreSQL, RabbitMQ, Redis, MongoDB-wire server).
"$ROOT/scripts/services.sh" up

# 4. Database schema.
"$VENV/bin/observatory" db migrate
