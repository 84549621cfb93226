#!/usr/bin/env bash
# Local backing services on loopback: PostgreSQL, RabbitMQ (+ management), Redis, a MongoDB-wire server.
#
#   scripts/services.sh up               reuse what answers, start what is installed, install what is missing
#   scripts/services.sh down             stop only what `up` started from this tree (markers in .observatory/run/)
#   scripts/services.sh status [--json]  one line (or one JSON member) per service; exit 1 if any is down
#
# Ports: POSTGRES_PORT (5432), RABBITMQ_PORT (5672), RABBITMQ_MANAGEMENT_PORT (15672), REDIS_PORT (6379),
# MONGODB_PORT (27017). A MONGODB_URL that names anything but 127.0.0.1:$MONGODB_PORT is used as is.
# SERVICES_WAIT_SECONDS (60) bounds every wait for a service to answer.
#
# These machines have no systemd as PID 1 and policy-rc.d forbids package scripts to start daemons, so each
# service is started here by its own command. Other developers share the running servers: `down` never
# touches a server this script did not start.
set -euo pipefail

readonly USAGE="usage: services.sh up|down|status [--json]"
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly STATE="$ROOT/.observatory"
readonly RUN="$STATE/run" LOGS="$STATE/logs" HOST=127.0.0.1
readonly SERVICES=(postgresql rabbitmq redis mongodb)
readonly PLUGINS=(rabbitmq_management rabbitmq_prometheus)

POSTGRES_PORT="${POSTGRES_PORT:-5432}"
RABBITMQ_PORT="${RABBITMQ_PORT:-5672}"
RABBITMQ_MANAGEMENT_PORT="${RABBITMQ_MANAGEMENT_PORT:-15672}"
REDIS_PORT="${REDIS_PORT:-6379}"
MONGODB_PORT="${MONGODB_PORT:-27017}"
SERVICES_WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"
WAIT_SECONDS=$SERVICES_WAIT_SECONDS

usage_error() { printf 'services.sh: %s (%s)\n' "$1" "$USAGE" >&2; exit 2; }
say() { printf '%s: %s\n' "$1" "$2"; }
# Only ever called inside a service's own subshell, so it ends that service's step, not the whole run.
fail() { printf '%s: error: %s\n' "$1" "${*:2}" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
need_root() { is_root || fail "$1" "cannot $2 without root; run: sudo ${*:3}"; }

# --- probes ---------------------------------------------------------------------------------------------

tcp_open() {
  # shellcheck disable=SC2016  # $1/$2 belong to the inner shell
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

pg_answers() {
  if have pg_isready; then pg_isready -q -h "$HOST" -p "$POSTGRES_PORT" -t 3; else tcp_open "$HOST" "$POSTGRES_PORT"; fi
}

redis_answers() {
  if have redis-cli; then
    [[ $(timeout 3 redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
  else
    tcp_open "$HOST" "$REDIS_PORT"
  fi
}

amqp_answers() { tcp_open "$HOST" "$RABBITMQ_PORT"; }
# rabbitmq_prometheus serves queue metrics on 15692 for the local Prometheus (QueueBacklogGrowing).
prom_answers() { tcp_open "$HOST" 15692; }

mgmt_answers() {
  local url="http://$HOST:$RABBITMQ_MANAGEMENT_PORT/api/overview"
  if have curl; then
    curl -fsS -o /dev/null --max-time 3 -u guest:guest "$url" 2>/dev/null
  else
    python3 - "$url" 2>/dev/null <<'PY'
import base64, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
sys.exit(0 if urllib.request.urlopen(req, timeout=3).status == 200 else 1)
PY
  fi
}

MONGO_PY=""
mongo_python() {
  local py
  if [[ -z $MONGO_PY ]]; then
    for py in "$ROOT/.venv/bin/python" "$(command -v python3 || true)"; do
      if [[ -n $py && -x $py ]] && "$py" -c 'import pymongo' 2>/dev/null; then MONGO_PY=$py; break; fi
    done
  fi
  [[ -n $MONGO_PY ]]
}

mongo_ping() {
  mongo_python || return 1
  "$MONGO_PY" -c 'import sys, pymongo
pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=2000, connectTimeoutMS=2000).admin.command("ping")' \
    "$1" >/dev/null 2>&1
}

mongo_answers() {
  # A closed port fails at once; pymongo alone would spend its whole server-selection timeout.
  tcp_open "$HOST" "$MONGODB_PORT" || return 1
  if mongo_python; then mongo_ping "mongodb://$HOST:$MONGODB_PORT/?directConnection=true"; fi
}

# Splits a MongoDB URL into MU_HOST and MU_PORT; a seed list or mongodb+srv keeps its hosts in MU_HOST
# with MU_PORT empty.
MU_HOST="" MU_PORT=""
mongo_url_parse() {
  local hosts=${1#*://}
  hosts=${hosts%%[/?]*}
  hosts=${hosts##*@}
  MU_HOST=$hosts MU_PORT=""
  [[ $1 == mongodb://* ]] || return 0
  if [[ $hosts =~ ^\[([^]]+)\](:([0-9]+))?$ || $hosts =~ ^([^:,]+)(:([0-9]+))?$ ]]; then
    MU_HOST=${BASH_REMATCH[1]} MU_PORT=${BASH_REMATCH[3]:-27017}
  fi
}

# True when MONGODB_URL is set and names anything but this machine's MONGODB_PORT (the server `up` manages).
mongo_url_external() {
  [[ -n ${MONGODB_URL:-} ]] || return 1
  mongo_url_parse "$MONGODB_URL"
  case $MU_HOST in
    127.0.0.1 | localhost | ::1) [[ $MU_PORT != "$MONGODB_PORT" ]] ;;
    *) return 0 ;;
  esac
}

# Hides user:password so a URL can be printed.
redact_url() {
  if [[ $1 =~ ^([A-Za-z0-9+.-]+://)[^/?]*@(.*)$ ]]; then
    printf '%s***@%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  else
    printf '%s' "$1"
  fi
}

# A pid that is alive (not a zombie waiting for PID 1 to reap it) and runs the named program.
pid_runs() {
  local pid=$1 line
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  line=$(ps -p "$pid" -o stat=,args= 2>/dev/null) || return 1
  [[ $line != Z* && $line == *"$2"* ]]
}

pid_alive() { [[ $(ps -p "$1" -o stat= 2>/dev/null) =~ ^[^Z] ]]; }

pidfile_pid() { cat "$1" 2>/dev/null || true; }

wait_for() { # service, what, log, probe...
  local svc=$1 what=$2 log=$3 deadline=$((SECONDS + WAIT_SECONDS))
  shift 3
  until "$@"; do
    ((SECONDS < deadline)) || fail "$svc" "$what did not answer within ${WAIT_SECONDS}s; see $log"
    sleep 0.5
  done
  say "$svc" "$what answers"
}

# --- markers: what this script started, so `down` stops nothing else -----------------------------------

marker_file() { printf '%s/%s.started' "$RUN" "$1"; }
write_marker() { local svc=$1; shift; printf '%s\n' "$@" >"$(marker_file "$svc")"; }
has_marker() { [[ -f $(marker_file "$1") ]]; }
drop_marker() { rm -f "$(marker_file "$1")"; }
marker_get() { sed -n "s/^$2=//p" "$(marker_file "$1")" 2>/dev/null || true; }

owned() {
  has_marker "$1" || return 1
  case $1 in
    redis) pid_runs "$(pidfile_pid "$RUN/redis.pid")" redis-server ;;
    mongodb) pid_runs "$(pidfile_pid "$RUN/mongo.pid")" secantusd-py ;;
    *) return 0 ;;
  esac
}

# A server answering without a live marker of ours was started by someone else: forget stale markers.
running_suffix() {
  if owned "$1"; then printf ' (started by services.sh)'; else drop_marker "$1"; fi
}

# --- installing -------------------------------------------------------------------------------------------

install_packages() { # service, packages...
  local svc=$1 flag="$RUN/.apt-updated.$$"
  shift
  if ! have apt-get; then
    fail "$svc" "$* not installed and no apt-get here; install $* with your package manager," \
      "or use Docker: docker compose -f $ROOT/platform/compose.yaml up -d"
  fi
  need_root "$svc" "install $*" "apt-get update && sudo apt-get install -y --no-install-recommends $*"
  if [[ ! -e $flag ]]; then
    apt-get update >>"$LOGS/apt.log" 2>&1 || fail "$svc" "apt-get update failed; see $LOGS/apt.log"
    touch "$flag"
    say "$svc" "apt-get update done"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" </dev/null >>"$LOGS/apt.log" 2>&1 \
    || fail "$svc" "apt-get install $* failed; see $LOGS/apt.log"
  say "$svc" "installed $* (apt-get)"
}

# --- PostgreSQL -------------------------------------------------------------------------------------------

PG_VER="" PG_NAME="" PG_STATUS="" PG_OWNER="" PG_LOG=""
pg_find_cluster() { # the cluster configured for POSTGRES_PORT
  local ver name port status owner _data log
  have pg_lsclusters || return 1
  while read -r ver name port status owner _data log; do
    if [[ $port == "$POSTGRES_PORT" ]]; then
      PG_VER=$ver PG_NAME=$name PG_STATUS=$status PG_OWNER=$owner PG_LOG=${log:-/var/log/postgresql/}
      return 0
    fi
  done < <(pg_lsclusters -h 2>/dev/null)
  return 1
}

pg_create_cluster() {
  local other ver
  other=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" { print $1 " main on port " $3; exit }')
  [[ -z $other ]] || fail postgresql "no cluster on port $POSTGRES_PORT (cluster $other); set POSTGRES_PORT" \
    "to that port, or run: sudo pg_createcluster --port $POSTGRES_PORT <version> <name>"
  ver=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null \
    | awk -F/ '{ print $4 }' | sort -V | tail -n 1)
  [[ -n $ver ]] || fail postgresql "no PostgreSQL server found under /usr/lib/postgresql"
  # Both auth methods given, so pg_createcluster leaves pg_hba.conf as initdb writes it: trust over TCP,
  # which the default DATABASE_URL (no password) needs. The cluster listens on localhost only.
  # For local development only.
  local cmd=(pg_createcluster --port "$POSTGRES_PORT" "$ver" main -- --auth-local=peer --auth-host=trust)
  need_root postgresql "create a cluster" "${cmd[*]}"
  "${cmd[@]}" </dev/null >>"$LOGS/postgresql.log" 2>&1 || fail postgresql "pg_createcluster failed; see $LOGS/postgresql.log"
  say postgresql "created cluster $ver main on port $POSTGRES_PORT (trust on loopback: local development only)"
}

pg_sql() { psql -h "$HOST" -p "$POSTGRES_PORT" -U postgres -d postgres -XtAq -c "$1" 2>/dev/null; }

pg_ensure_database() {
  local owner create="createdb -h $HOST -p $POSTGRES_PORT -U postgres -O postgres observatory"
  have psql || fail postgresql "psql not found, cannot check database observatory; run: $create"
  owner=$(pg_sql "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'observatory'") \
    || fail postgresql "cannot connect as postgres to $HOST:$POSTGRES_PORT (set PGPASSWORD if it needs one)"
  if [[ -n $owner ]]; then
    say postgresql "database observatory exists (owner $owner)"
    return
  fi
  # Another developer may create it at the same moment: a failed createdb is fine if it now exists.
  createdb -h "$HOST" -p "$POSTGRES_PORT" -U postgres -O postgres observatory 2>/dev/null \
    || [[ -n $(pg_sql "SELECT 1 FROM pg_database WHERE datname = 'observatory'") ]] \
    || fail postgresql "could not create database observatory; run: $create"
  say postgresql "created database observatory (owner postgres)"
}

up_postgresql() {
  local where="$HOST:$POSTGRES_PORT"
  if pg_answers; then
    say postgresql "already running on $where$(running_suffix postgresql)"
  else
    drop_marker postgresql
    have pg_ctlcluster || install_packages postgresql postgresql
    pg_find_cluster || { pg_create_cluster && pg_find_cluster; } || fail postgresql "no cluster on port $POSTGRES_PORT"
    [[ $PG_STATUS == down ]] || fail postgresql "cluster $PG_VER $PG_NAME is $PG_STATUS but $where does not answer; see $PG_LOG"
    local cmd=(pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$PG_NAME" start)
    is_root || [[ $(id -un) == "$PG_OWNER" ]] || fail postgresql "cannot start cluster $PG_VER $PG_NAME as $(id -un); run: sudo ${cmd[*]}"
    "${cmd[@]}" </dev/null >>"$LOGS/postgresql.log" 2>&1 || fail postgresql "${cmd[*]} failed; see $PG_LOG"
    write_marker postgresql method=pg_ctlcluster "version=$PG_VER" "cluster=$PG_NAME" "port=$POSTGRES_PORT"
    say postgresql "started cluster $PG_VER $PG_NAME (pg_ctlcluster)"
    wait_for postgresql "$where" "$PG_LOG" pg_answers
  fi
  pg_ensure_database
}

stop_postgresql() {
  local ver name
  ver=$(marker_get postgresql version) name=$(marker_get postgresql cluster)
  need_root postgresql "stop cluster $ver $name" "pg_ctlcluster --skip-systemctl-redirect $ver $name stop"
  if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" -v n="$name" '$1 == v && $2 == n && $4 != "down" { f = 1 } END { exit !f }'; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop </dev/null >>"$LOGS/postgresql.log" 2>&1 \
      || fail postgresql "pg_ctlcluster $ver $name stop failed; see $LOGS/postgresql.log"
    say postgresql "stopped cluster $ver $name (started by services.sh)"
  else
    say postgresql "cluster $ver $name was already stopped"
  fi
}

# --- RabbitMQ ---------------------------------------------------------------------------------------------

rabbit_log() {
  local newest
  newest=$(find /var/log/rabbitmq -maxdepth 1 -name 'rabbit@*.log' ! -name '*_upgrade.log' 2>/dev/null | head -n 1)
  printf '%s and %s' "${newest:-/var/log/rabbitmq/}" "$LOGS/rabbitmq.log"
}

up_rabbitmq() {
  local where="$HOST:$RABBITMQ_PORT" mgmt="management API on $HOST:$RABBITMQ_MANAGEMENT_PORT"
  if amqp_answers; then
    say rabbitmq "already running on $where$(running_suffix rabbitmq)"
    if mgmt_answers && prom_answers; then say rabbitmq "$mgmt answers; metrics on $HOST:15692"; return; fi
    need_root rabbitmq "enable the management and prometheus plugins" "rabbitmq-plugins enable ${PLUGINS[*]}"
    rabbitmq-plugins enable "${PLUGINS[@]}" </dev/null >>"$LOGS/rabbitmq.log" 2>&1 \
      || fail rabbitmq "rabbitmq-plugins enable ${PLUGINS[*]} failed; see $LOGS/rabbitmq.log"
    say rabbitmq "enabled ${PLUGINS[*]}"
    wait_for rabbitmq "$mgmt" "$(rabbit_log)" mgmt_answers
    return
  fi
  drop_marker rabbitmq
  have rabbitmq-server || install_packages rabbitmq rabbitmq-server
  need_root rabbitmq "start RabbitMQ" "rabbitmq-plugins enable --offline ${PLUGINS[*]}" \
    "&& sudo rabbitmq-server -detached && sudo rabbitmqctl await_startup"
  local epmd_started=1
  if tcp_open "$HOST" 4369; then
    epmd_started=0
    # A node already registered but not on our port: starting another would clash on its name.
    if timeout 20 rabbitmqctl -q ping </dev/null >/dev/null 2>&1; then
      fail rabbitmq "a RabbitMQ node is running but $where does not answer; check its listeners.tcp in /etc/rabbitmq/rabbitmq.conf"
    fi
  fi
  rabbitmq-plugins enable --offline "${PLUGINS[@]}" </dev/null >>"$LOGS/rabbitmq.log" 2>&1 \
    || fail rabbitmq "rabbitmq-plugins enable --offline ${PLUGINS[*]} failed; see $LOGS/rabbitmq.log"
  say rabbitmq "enabled ${PLUGINS[*]} (offline)"
  # RABBITMQ_NODE_PORT only counts where rabbitmq.conf sets no listeners.tcp.
  RABBITMQ_NODE_PORT=$RABBITMQ_PORT rabbitmq-server -detached </dev/null >>"$LOGS/rabbitmq.log" 2>&1 \
    || fail rabbitmq "rabbitmq-server -detached failed; see $(rabbit_log)"
  write_marker rabbitmq method=rabbitmq-server "port=$RABBITMQ_PORT" "epmd_started=$epmd_started"
  say rabbitmq "started rabbitmq-server -detached"
  local deadline=$((SECONDS + WAIT_SECONDS))
  until timeout "$WAIT_SECONDS" rabbitmqctl await_startup </dev/null >>"$LOGS/rabbitmq.log" 2>&1; do
    ((SECONDS < deadline)) || fail rabbitmq "node did not start within ${WAIT_SECONDS}s; see $(rabbit_log)"
    sleep 1
  done
  say rabbitmq "node started (rabbitmqctl await_startup)"
  wait_for rabbitmq "$where" "$(rabbit_log)" amqp_answers
  wait_for rabbitmq "$mgmt" "$(rabbit_log)" mgmt_answers
}

stop_rabbitmq() {
  need_root rabbitmq "stop RabbitMQ" "rabbitmqctl stop"
  if amqp_answers; then
    timeout "$WAIT_SECONDS" rabbitmqctl stop </dev/null >>"$LOGS/rabbitmq.log" 2>&1 \
      || fail rabbitmq "rabbitmqctl stop failed; see $(rabbit_log)"
    say rabbitmq "stopped the node (started by services.sh)"
  else
    say rabbitmq "node was already stopped"
  fi
  # epmd outlives the node; stop it only if this script's start brought it up.
  if [[ $(marker_get rabbitmq epmd_started) == 1 ]] && have epmd; then
    epmd -kill >/dev/null 2>&1 || true
    say rabbitmq "stopped epmd"
  fi
}

# --- Redis ------------------------------------------------------------------------------------------------

up_redis() {
  local where="$HOST:$REDIS_PORT"
  if redis_answers; then say redis "already running on $where$(running_suffix redis)"; return; fi
  drop_marker redis
  have redis-server || install_packages redis redis-server
  mkdir -p "$STATE/redis"
  redis-server --daemonize yes --bind "$HOST" -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$STATE/redis" --logfile "$LOGS/redis.log" --pidfile "$RUN/redis.pid" </dev/null >>"$LOGS/redis-start.log" 2>&1 \
    || fail redis "redis-server did not start; see $LOGS/redis-start.log"
  write_marker redis method=redis-server "port=$REDIS_PORT"
  say redis "started redis-server (log $LOGS/redis.log)"
  wait_for redis "$where" "$LOGS/redis.log" redis_answers
}

# TERM, then wait (bounded) until the process is gone.
stop_pid() { # service, pidfile, program (as ps shows it)
  local svc=$1 pidfile=$2 prog=$3 pid deadline=$((SECONDS + WAIT_SECONDS))
  pid=$(pidfile_pid "$pidfile")
  if ! pid_runs "$pid" "$prog"; then
    say "$svc" "$prog was already stopped"
    rm -f "$pidfile"
    return
  fi
  kill -TERM "$pid"
  while pid_runs "$pid" "$prog"; do
    ((SECONDS < deadline)) || fail "$svc" "$prog (pid $pid) still running ${WAIT_SECONDS}s after SIGTERM"
    sleep 0.2
  done
  rm -f "$pidfile"
  say "$svc" "stopped $prog (pid $pid, started by services.sh)"
}

stop_redis() { stop_pid redis "$RUN/redis.pid" redis-server; }

# --- MongoDB-wire server (SecantusDB) ---------------------------------------------------------------------

find_secantus() {
  if [[ -x $ROOT/.venv/bin/secantusd-py ]]; then
    printf '%s' "$ROOT/.venv/bin/secantusd-py"
  elif have secantusd-py; then
    command -v secantusd-py
  elif [[ -x $ROOT/.venv/bin/pip ]]; then
    "$ROOT/.venv/bin/pip" install secantusdb </dev/null >>"$LOGS/pip.log" 2>&1 \
      || fail mongodb "pip install secantusdb failed; see $LOGS/pip.log"
    say mongodb "installed secantusdb into $ROOT/.venv (pip)" >&2
    printf '%s' "$ROOT/.venv/bin/secantusd-py"
  else
    fail mongodb "secantusd-py not found and no venv; run: python3 -m venv $ROOT/.venv && $ROOT/.venv/bin/pip install secantusdb"
  fi
}

MONGO_PID=""
mongo_started_answers() {
  pid_alive "$MONGO_PID" || fail mongodb "secantusd-py (pid $MONGO_PID) exited; see $LOGS/mongo.log"
  mongo_answers
}

up_mongodb() {
  if mongo_url_external; then
    local shown
    shown=$(redact_url "$MONGODB_URL")
    mongo_python || fail mongodb "no python with pymongo to ping MONGODB_URL; run: $ROOT/.venv/bin/pip install pymongo"
    mongo_ping "$MONGODB_URL" || fail mongodb "MONGODB_URL $shown does not answer a ping"
    say mongodb "using MONGODB_URL $shown (answers ping)"
    return
  fi
  local where="$HOST:$MONGODB_PORT" exe storage="$STATE/mongo"
  if mongo_answers; then say mongodb "already running on $where$(running_suffix mongodb)"; return; fi
  drop_marker mongodb
  exe=$(find_secantus)
  # WiredTiger locks its directory: a server on another port must not share the default one.
  [[ $MONGODB_PORT == 27017 ]] || storage="$STATE/mongo-$MONGODB_PORT"
  mkdir -p "$storage"
  # setsid: a new session, so closing the terminal that ran `up` does not take the server with it.
  local detach=()
  have setsid && detach=(setsid)
  (cd "$ROOT" && exec "${detach[@]}" "$exe" --host "$HOST" --port "$MONGODB_PORT" --storage-path "$storage" \
    </dev/null >>"$LOGS/mongo.log" 2>&1) &
  MONGO_PID=$!
  echo "$MONGO_PID" >"$RUN/mongo.pid"
  write_marker mongodb method=secantusd-py "port=$MONGODB_PORT" "storage=$storage"
  say mongodb "started secantusd-py (pid $MONGO_PID, data $storage)"
  wait_for mongodb "$where" "$LOGS/mongo.log" mongo_started_answers
}

stop_mongodb() { stop_pid mongodb "$RUN/mongo.pid" secantusd-py; }

# --- status -----------------------------------------------------------------------------------------------

ST_STATE="" ST_HOST="" ST_PORT="" ST_BY="" ST_EXTRA=""
probe() {
  local svc=$1 up=0
  ST_HOST=$HOST ST_EXTRA=""
  case $svc in
    postgresql) ST_PORT=$POSTGRES_PORT; pg_answers && up=1 ;;
    redis) ST_PORT=$REDIS_PORT; redis_answers && up=1 ;;
    rabbitmq)
      ST_PORT=$RABBITMQ_PORT
      amqp_answers && up=1
      if mgmt_answers; then ST_EXTRA=up; else ST_EXTRA=down; fi
      ;;
    mongodb)
      ST_PORT=$MONGODB_PORT
      if mongo_url_external; then
        ST_HOST=$MU_HOST ST_PORT=$MU_PORT
        mongo_ping "$MONGODB_URL" && up=1
        ST_STATE=$([[ $up == 1 ]] && echo up || echo down) ST_BY=MONGODB_URL ST_EXTRA=$(redact_url "$MONGODB_URL")
        return
      fi
      mongo_answers && up=1
      ;;
  esac
  if [[ $up == 1 ]]; then ST_STATE=up; else ST_STATE=down; fi
  if owned "$svc"; then ST_BY=services.sh; elif [[ $up == 1 ]]; then ST_BY=external; else ST_BY=""; fi
}

json_str() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

cmd_status() {
  local json=$1 svc sep="" rc=0 how
  [[ $json == 1 ]] && printf '{'
  for svc in "${SERVICES[@]}"; do
    probe "$svc"
    [[ $ST_STATE == up ]] || rc=1
    if [[ $json == 1 ]]; then
      printf '%s%s: {"status": %s, "host": %s, "port": %s, "started_by": %s' "$sep" "$(json_str "$svc")" \
        "$(json_str "$ST_STATE")" "$(json_str "$ST_HOST")" "${ST_PORT:-null}" "$([[ -n $ST_BY ]] && json_str "$ST_BY" || echo null)"
      case $svc in
        rabbitmq) printf ', "management_port": %s, "management": %s' "$RABBITMQ_MANAGEMENT_PORT" "$(json_str "$ST_EXTRA")" ;;
        mongodb) [[ $ST_BY != MONGODB_URL ]] || printf ', "url": %s' "$(json_str "$ST_EXTRA")" ;;
      esac
      printf '}'
      sep=", "
    else
      case $ST_BY in
        services.sh) how="started by services.sh" ;;
        external) how="not started by services.sh" ;;
        MONGODB_URL) how="MONGODB_URL $ST_EXTRA" ;;
        *) how="" ;;
      esac
      [[ $svc != rabbitmq ]] || how="management $HOST:$RABBITMQ_MANAGEMENT_PORT $ST_EXTRA${how:+; $how}"
      printf '%-10s %-4s %-15s%s\n' "$svc" "$ST_STATE" "$ST_HOST${ST_PORT:+:$ST_PORT}" "${how:+ ($how)}"
    fi
  done
  [[ $json == 1 ]] && printf '}\n'
  return "$rc"
}

# --- up / down --------------------------------------------------------------------------------------------

# Each service runs in its own subshell with errexit on, so one failing service does not hide the others'
# state; fd 9 (the lock) is closed there so that no daemon started inside keeps the lock held.
run_each() { # up|down, services...
  local verb=$1 svc rc failed=()
  shift
  for svc in "$@"; do
    set +e
    (set -e; "${verb}_service" "$svc") 9>&-
    rc=$?
    set -e
    ((rc == 0)) || failed+=("$svc")
  done
  if ((${#failed[@]})); then
    printf 'services.sh: %s failed for: %s\n' "$verb" "${failed[*]}" >&2
    return 1
  fi
}

up_service() { "up_$1"; }

down_service() {
  if has_marker "$1"; then
    "stop_$1"
    drop_marker "$1"
  else
    say "$1" "left alone (not started by services.sh)"
  fi
}

take_lock() {
  mkdir -p "$RUN" "$LOGS"
  have flock || return 0
  exec 9>"$RUN/services.lock"
  flock -w "$WAIT_SECONDS" 9 || { echo "services.sh: another services.sh holds $RUN/services.lock" >&2; exit 1; }
}

main() {
  local var
  for var in POSTGRES_PORT RABBITMQ_PORT RABBITMQ_MANAGEMENT_PORT REDIS_PORT MONGODB_PORT SERVICES_WAIT_SECONDS; do
    if ! [[ ${!var} =~ ^[0-9]{1,5}$ ]] || ((${!var} < 1 || ${!var} > 65535)); then
      usage_error "$var must be 1-65535, not '${!var}'"
    fi
  done
  case "${1:-}" in
    up)
      (($# == 1)) || usage_error "up takes no options"
      take_lock
      trap 'rm -f "$RUN/.apt-updated.$$"' EXIT
      run_each up "${SERVICES[@]}"
      echo "services.sh: all services up"
      ;;
    down)
      (($# == 1)) || usage_error "down takes no options"
      take_lock
      run_each down mongodb redis rabbitmq postgresql
      ;;
    status)
      if (($# == 1)); then cmd_status 0
      elif (($# == 2)) && [[ $2 == --json ]]; then cmd_status 1
      else usage_error "status takes only --json"
      fi
      ;;
    -h | --help | help) echo "$USAGE" ;;
    "") usage_error "missing command" ;;
    *) usage_error "unknown command '$1'" ;;
  esac
}

main "$@"
