#!/usr/bin/env bash
# Local backing services for livecharts: Apache Kafka (KRaft, single node) and
# the BigQuery emulator.
#
#   bash infra/services.sh up     [kafka|bigquery|cluster]   start (idempotent), wait until ready
#   bash infra/services.sh down   [kafka|bigquery|cluster]   stop gracefully, keep data
#   bash infra/services.sh status [kafka|bigquery|cluster]   one line per service (exit 3 if any is stopped)
#   bash infra/services.sh logs   [kafka|bigquery|cluster]   last lines of the service log
#   bash infra/services.sh kill-node N                       SIGKILL node N (1-3) of the cluster
#   bash infra/services.sh stop-node N                       stop node N of the cluster gracefully (SIGTERM:
#                                                            controlled shutdown, as a rolling restart does)
#   bash infra/services.sh reset                             stop everything and delete all local data
#
# Without a service name: kafka and bigquery. `cluster` is a second Kafka, three
# KRaft nodes (each broker and controller) with replication 3 and
# min.insync.replicas 2, beside the single node: the fixture of the fault tests
# that move partition leaders (`kill-node`, then `up cluster` restarts it).
#
# With a working Docker engine the services run from docker-compose.yaml.
# Otherwise they run as detached background processes on this machine:
#   Kafka    127.0.0.1:9092 (controller 9093), jars from Maven Central via infra/kafka/pom.xml
#   cluster  127.0.0.1:19091-19093 (controllers 19191-19193), the same jars
#   BigQuery 127.0.0.1:9050 (REST), 9060 (Storage API, gRPC), project livecharts-local,
#            dataset music: PyPI bqemulator (DuckDB-backed) in a Python venv, pinned by
#            infra/bigquery/requirements.txt
#
# Environment:
#   LIVECHARTS_STATE_DIR           data, logs and pid files   (default: <repo>/.state)
#   LIVECHARTS_CACHE               downloaded tools            (default: ~/.cache/livecharts)
#   LIVECHARTS_SERVICES            auto | docker | local       (default: auto = docker if `docker info` works)
#   LIVECHARTS_PYTHON              Python 3.11 for the BigQuery emulator's venv (default: python3;
#                                  the requirements' hashes are those of CPython 3.11's files)
#   LIVECHARTS_BIGQUERY_PORT       REST port of the local BigQuery (default: 9050; local mode only)
#   LIVECHARTS_BIGQUERY_GRPC_PORT  its Storage API port (default: 9060; local mode only)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${LIVECHARTS_STATE_DIR:-$ROOT/.state}
CACHE=${LIVECHARTS_CACHE:-$HOME/.cache/livecharts}
COMPOSE_FILE=$ROOT/docker-compose.yaml

KAFKA_VERSION=4.3.1
KAFKA_HOME=$CACHE/kafka-$KAFKA_VERSION
KAFKA_LIB=$KAFKA_HOME/lib
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
KAFKA_READY_TIMEOUT=90

BQ_VERSION=1.4.0
BQ_REQUIREMENTS=$ROOT/infra/bigquery/requirements.txt
BQ_HOME=$CACHE/bqemulator-$BQ_VERSION
BQ_VENV=$BQ_HOME/venv
BQ_BIN=$BQ_VENV/bin/bqemulator
# The emulator's HOME: DuckDB finds the extensions installed from the wheels there.
BQ_RUN_HOME=$BQ_HOME/home
BQ_PYTHON=${LIVECHARTS_PYTHON:-python3}
BQ_PROJECT=livecharts-local
BQ_DATASET=music
BQ_PORT=${LIVECHARTS_BIGQUERY_PORT:-9050}
BQ_GRPC_PORT=${LIVECHARTS_BIGQUERY_GRPC_PORT:-9060}
BQ_READY_TIMEOUT=60
BQ_API=http://127.0.0.1:$BQ_PORT/bigquery/v2/projects/$BQ_PROJECT
BQ_READY_URL=$BQ_API/datasets

CLUSTER_NODES=(1 2 3)
CLUSTER_PORT_BASE=19090            # node N: 127.0.0.1:1909N
CLUSTER_CONTROLLER_PORT_BASE=19190 # node N: 127.0.0.1:1919N
CLUSTER_READY_TIMEOUT=90

STOP_TIMEOUT=20
ALL_SERVICES=(kafka bigquery)
KNOWN_SERVICES=(kafka bigquery cluster)

# ---------------------------------------------------------------- helpers

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() {
  progress_done
  printf 'services: %s\n' "$*" >&2
  exit 1
}

need() { # need <command> <what to install>
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found: install $2"
}

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

port_open() { # port_open <port>: something accepts TCP connections on 127.0.0.1:<port>
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pid_of <pidfile> <pattern>: prints the pid if that process is alive and its
# command line contains <pattern> (guards against a recycled pid).
pid_of() {
  local pid args
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *"$2"* ]] || return 1
  printf '%s\n' "$pid"
}

# launch <pidfile> <logfile> <command...>: starts the command in its own session,
# detached from this terminal (Ctrl-C here does not reach it), stdout+stderr
# appended to <logfile>. The process writes its own pid before exec.
launch() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >>"$logfile" 2>&1 8>&- 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && return 0
    sleep 0.1
  done
  die "could not start $1"
}

# stop_pid <name> <pidfile> <pattern>
stop_pid() {
  local name=$1 pidfile=$2 pattern=$3 pid i
  if ! pid=$(pid_of "$pidfile" "$pattern"); then
    rm -f "$pidfile"
    say "$name: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    pid_of "$pidfile" "$pattern" >/dev/null || break
    sleep 0.2
  done
  if pid_of "$pidfile" "$pattern" >/dev/null; then
    warn "$name: still running after ${STOP_TIMEOUT}s, killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  say "$name: stopped"
}

show_tail() { # show_tail <file>...
  progress_done
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    warn "----- last lines of $f"
    tail -n 40 "$f" >&2
  done
}

# progress <label> <estimate>: until progress_done, shows what is going on and
# for how long: "<label>... 12s (usually <estimate>)", redrawn every second on
# a terminal, one line every 15 s otherwise (logs, `deno task start`).
PROGRESS_PID=
progress() {
  progress_done
  local label=$1 estimate=$2 started=$SECONDS
  if [[ -t 2 ]]; then
    (while :; do
      printf '\r\033[2K%s... %ds (usually %s)' "$label" $((SECONDS - started)) "$estimate" >&2
      sleep 1
    done) 8>&- 9>&- &
  else
    warn "$label (usually $estimate)..."
    (while sleep 15; do
      warn "$label... $((SECONDS - started))s (usually $estimate)"
    done) 8>&- 9>&- &
  fi
  PROGRESS_PID=$!
}

progress_done() {
  [[ -n $PROGRESS_PID ]] || return 0
  # Its sleep too (held still meanwhile): it holds this script's output open,
  # and a caller reading that output would wait for the sleep to end.
  kill -STOP "$PROGRESS_PID" 2>/dev/null || true
  pkill -P "$PROGRESS_PID" 2>/dev/null || true
  kill "$PROGRESS_PID" 2>/dev/null || true
  kill -CONT "$PROGRESS_PID" 2>/dev/null || true
  wait "$PROGRESS_PID" 2>/dev/null || true
  PROGRESS_PID=
  if [[ -t 2 ]]; then printf '\r\033[2K' >&2; fi
  return 0
}
trap progress_done EXIT

with_lock() { # with_lock <fd> <file>: serialise concurrent callers where flock exists
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$(dirname "$2")"
  eval "exec $1>\"\$2\""
  flock "$1"
}

init_state() {
  mkdir -p "$STATE"
  # Keep runtime data out of version control without touching .gitignore.
  [[ -f $STATE/.gitignore ]] || printf '*\n' >"$STATE/.gitignore"
  with_lock 9 "$STATE/.lock"
}

# ---------------------------------------------------------------- installs (cached)

java_tool() { # java_tool <main class> <args...>: runs a Kafka CLI class quietly
  java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.level=ERROR -cp "$KAFKA_LIB/*" "$@"
}

install_kafka() {
  [[ -f $KAFKA_HOME/.complete ]] && return 0
  with_lock 8 "$CACHE/.install.lock"
  if [[ ! -f $KAFKA_HOME/.complete ]]; then
    need mvn "Maven 3 (e.g. apt-get install maven), used once to fetch the Kafka jars"
    local tmp=$KAFKA_HOME/lib.tmp.$$ started=$SECONDS
    mkdir -p "$KAFKA_HOME"
    rm -rf "$tmp"
    progress "kafka: fetching Kafka $KAFKA_VERSION with Maven (once)" "1-3 min"
    # --strict-checksums: a jar whose checksum does not match stops the fetch
    # (infra/kafka/pom.xml says the same for its repository).
    if ! mvn -B --strict-checksums -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_HOME/install.log" 2>&1; then
      show_tail "$KAFKA_HOME/install.log"
      rm -rf "$tmp"
      die "could not fetch the Kafka jars with Maven (log: $KAFKA_HOME/install.log)"
    fi
    progress_done
    rm -rf "$KAFKA_LIB"
    mv "$tmp" "$KAFKA_LIB"
    touch "$KAFKA_HOME/.complete"
    warn "kafka: fetched in $((SECONDS - started))s"
  fi
  exec 8>&-
}

# The venv is complete when its marker names the requirements it was made from.
bigquery_installed() {
  [[ -x $BQ_BIN && -f $BQ_HOME/.complete ]] &&
    [[ $(<"$BQ_HOME/.complete") == "$(cksum <"$BQ_REQUIREMENTS")" ]]
}

install_bigquery() {
  bigquery_installed && return 0
  with_lock 8 "$CACHE/.install.lock"
  if ! bigquery_installed; then
    need "$BQ_PYTHON" "Python 3.11 with venv and pip (e.g. apt-get install python3-venv), or set LIVECHARTS_PYTHON"
    "$BQ_PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
      die "the BigQuery emulator installs by hash the files of CPython 3.11: $BQ_PYTHON is $("$BQ_PYTHON" -V 2>&1); set LIVECHARTS_PYTHON to a Python 3.11"
    local log=$BQ_HOME/install.log started=$SECONDS total
    total=$(grep -cE '^[A-Za-z]' "$BQ_REQUIREMENTS")
    warn "bigquery: installing bqemulator $BQ_VERSION and $((total - 1)) pinned packages into $BQ_VENV (once, usually 1-3 min; log: $log)..."
    rm -rf "$BQ_HOME"
    mkdir -p "$BQ_HOME" "$BQ_RUN_HOME"
    if ! "$BQ_PYTHON" -m venv "$BQ_VENV" >"$log" 2>&1; then
      show_tail "$log"
      die "could not create a Python venv in $BQ_VENV (on Debian: apt-get install python3-venv)"
    fi
    # pip's own output goes to the log; one progress line per 10 packages here.
    # --require-hashes: every file pip fetches must have a hash listed in the
    # requirements (and every package a pin), or nothing is installed.
    if ! "$BQ_VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
      --progress-bar off --require-hashes --only-binary=:all: -r "$BQ_REQUIREMENTS" 2>&1 | tee -a "$log" |
      awk -v total="$total" '
        /^(Collecting|Requirement already satisfied)/ {
          n++
          if (n % 10 == 0 || n == total) {
            printf "bigquery:   %d/%d packages fetched\n", n, total > "/dev/stderr"
          }
        }
        /^Installing collected packages/ { print "bigquery:   installing them..." > "/dev/stderr" }
      '; then # pipefail: pip's failure fails the pipeline
      show_tail "$log"
      die "could not install the BigQuery emulator with pip (log: $log)"
    fi
    progress "bigquery:   installing DuckDB's extensions" "10-30 s"
    if ! HOME=$BQ_RUN_HOME "$BQ_VENV/bin/python" "$ROOT/infra/bigquery/install_extensions.py" >>"$log" 2>&1; then
      show_tail "$log"
      die "could not install DuckDB's extensions for the BigQuery emulator (log: $log)"
    fi
    progress_done
    cksum <"$BQ_REQUIREMENTS" >"$BQ_HOME/.complete"
    warn "bigquery: installed in $((SECONDS - started))s"
  fi
  exec 8>&-
}

# ---------------------------------------------------------------- kafka (local)

KAFKA_DIR=$STATE/kafka
KAFKA_PID=$KAFKA_DIR/pid
KAFKA_PATTERN=$KAFKA_DIR/server.properties

kafka_metadata_ok() { # one metadata round trip against the broker
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 5 >/dev/null 2>&1
  else
    java_tool org.apache.kafka.tools.BrokerApiVersionsCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1
  fi
}

kafka_write_config() {
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Generated by infra/services.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

kafka_up() {
  local pid
  if pid=$(pid_of "$KAFKA_PID" "$KAFKA_PATTERN"); then
    if port_open "$KAFKA_PORT"; then
      say "kafka: already running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
      return 0
    fi
    kafka_wait "$SECONDS" # started by an earlier call that did not wait until ready
    return
  fi
  need java "a Java runtime 17 or newer (e.g. apt-get install openjdk-17-jre-headless)"
  if port_open "$KAFKA_PORT"; then
    install_kafka
    kafka_metadata_ok ||
      die "port $KAFKA_PORT is in use by a process that is not a Kafka broker; stop it first"
    warn "kafka: a broker not started from $STATE already answers on 127.0.0.1:$KAFKA_PORT; using it"
    return 0
  fi
  port_open "$KAFKA_CONTROLLER_PORT" &&
    die "port $KAFKA_CONTROLLER_PORT (Kafka controller) is in use by another process; stop it first"
  install_kafka

  mkdir -p "$KAFKA_DIR/data"
  kafka_write_config
  if [[ ! -s $KAFKA_DIR/cluster.id ]]; then
    java_tool kafka.tools.StorageTool random-uuid >"$KAFKA_DIR/cluster.id.tmp" 2>/dev/null ||
      die "could not generate a Kafka cluster id"
    mv "$KAFKA_DIR/cluster.id.tmp" "$KAFKA_DIR/cluster.id"
  fi
  if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
    if ! java_tool kafka.tools.StorageTool format --ignore-formatted \
      -t "$(<"$KAFKA_DIR/cluster.id")" -c "$KAFKA_DIR/server.properties" \
      >"$KAFKA_DIR/format.log" 2>&1; then
      show_tail "$KAFKA_DIR/format.log"
      die "could not format the Kafka storage in $KAFKA_DIR/data (log: $KAFKA_DIR/format.log)"
    fi
  fi

  local started=$SECONDS
  rm -f "$KAFKA_DIR/kafka.out"
  launch "$KAFKA_PID" "$KAFKA_DIR/kafka.out" \
    java -Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_DIR" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  kafka_wait "$started"
}

kafka_wait() { # kafka_wait <start time in $SECONDS>: until a metadata round trip works
  local started=$1 pid
  progress "kafka: starting, waiting until it answers" "10-30 s"
  while ((SECONDS - started < KAFKA_READY_TIMEOUT)); do
    if ! pid=$(pid_of "$KAFKA_PID" "$KAFKA_PATTERN"); then
      show_tail "$KAFKA_DIR/kafka.log" "$KAFKA_DIR/kafka.out"
      die "kafka exited during startup (logs in $KAFKA_DIR)"
    fi
    if port_open "$KAFKA_PORT" && kafka_metadata_ok; then
      progress_done
      say "kafka: started (pid $pid, 127.0.0.1:$KAFKA_PORT) in $((SECONDS - started))s"
      return 0
    fi
    sleep 0.5
  done
  show_tail "$KAFKA_DIR/kafka.log" "$KAFKA_DIR/kafka.out"
  die "kafka not ready after ${KAFKA_READY_TIMEOUT}s (still running as pid $pid; logs in $KAFKA_DIR)"
}

kafka_down() { stop_pid kafka "$KAFKA_PID" "$KAFKA_PATTERN"; }

kafka_status() {
  local pid
  if pid=$(pid_of "$KAFKA_PID" "$KAFKA_PATTERN"); then
    say "kafka: running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
  elif port_open "$KAFKA_PORT"; then
    say "kafka: stopped here, but 127.0.0.1:$KAFKA_PORT is in use by another process"
    return 3
  else
    say "kafka: stopped"
    return 3
  fi
}

kafka_logfile() { say "$KAFKA_DIR/kafka.log"; }

# ---------------------------------------------------------------- cluster (local)

CLUSTER_DIR=$STATE/cluster

node_dir() { say "$CLUSTER_DIR/node$1"; }
node_port() { say $((CLUSTER_PORT_BASE + $1)); }
node_controller_port() { say $((CLUSTER_CONTROLLER_PORT_BASE + $1)); }
node_pid() { pid_of "$(node_dir "$1")/pid" "$(node_dir "$1")/server.properties"; }

cluster_bootstrap() { # 127.0.0.1:19091,127.0.0.1:19092,127.0.0.1:19093
  local n list=()
  for n in "${CLUSTER_NODES[@]}"; do list+=("127.0.0.1:$(node_port "$n")"); done
  (IFS=,; say "${list[*]}")
}

# node_ready <node>: the node answers metadata and knows every node of the cluster.
node_ready() {
  local port
  port=$(node_port "$1")
  port_open "$port" || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "127.0.0.1:$port" -L -m 5 2>/dev/null | grep -q "^ ${#CLUSTER_NODES[@]} brokers:"
  else
    java_tool org.apache.kafka.tools.BrokerApiVersionsCommand \
      --bootstrap-server "127.0.0.1:$port" 2>/dev/null | grep -c '^127.0.0.1:' |
      grep -qx "${#CLUSTER_NODES[@]}"
  fi
}

cluster_write_config() { # cluster_write_config <node>
  local n=$1 dir voters=() m
  dir=$(node_dir "$n")
  for m in "${CLUSTER_NODES[@]}"; do voters+=("$m@127.0.0.1:$(node_controller_port "$m")"); done
  cat >"$dir/server.properties" <<PROPERTIES
# Generated by infra/services.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(IFS=,; say "${voters[*]}")
listeners=PLAINTEXT://127.0.0.1:$(node_port "$n"),CONTROLLER://127.0.0.1:$(node_controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(node_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
# Few partitions to load: a restarted node is back within seconds.
offsets.topic.num.partitions=3
transaction.state.log.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
# A node that stops heartbeating is fenced (its leaders moved) after 4 s, not 9.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
PROPERTIES
}

cluster_up() {
  need java "a Java runtime 17 or newer (e.g. apt-get install openjdk-17-jre-headless)"
  local n i pid port started=$SECONDS to_start=() to_format=()
  for n in "${CLUSTER_NODES[@]}"; do
    if pid=$(node_pid "$n"); then continue; fi
    port=$(node_port "$n")
    # A node killed a moment ago may still hold its ports while it exits (the
    # controller's can outlive the broker's by a moment).
    for ((i = 0; i < 50; i++)); do
      port_open "$port" || port_open "$(node_controller_port "$n")" || break
      sleep 0.2
    done
    port_open "$port" && die "port $port (cluster node $n) is in use by another process; stop it first"
    port_open "$(node_controller_port "$n")" &&
      die "port $(node_controller_port "$n") (cluster controller $n) is in use by another process; stop it first"
    to_start+=("$n")
  done
  if ((${#to_start[@]} > 0)); then
    install_kafka
    mkdir -p "$CLUSTER_DIR"
    if [[ ! -s $CLUSTER_DIR/cluster.id ]]; then
      java_tool kafka.tools.StorageTool random-uuid >"$CLUSTER_DIR/cluster.id.tmp" 2>/dev/null ||
        die "could not generate a Kafka cluster id"
      mv "$CLUSTER_DIR/cluster.id.tmp" "$CLUSTER_DIR/cluster.id"
    fi
    for n in "${to_start[@]}"; do
      mkdir -p "$(node_dir "$n")/data"
      cluster_write_config "$n"
      [[ -f $(node_dir "$n")/data/meta.properties ]] || to_format+=("$n")
    done
    # One JVM per node to format: in parallel (a cold start formats all three).
    local formats=()
    for n in "${to_format[@]}"; do
      java_tool kafka.tools.StorageTool format --ignore-formatted \
        -t "$(<"$CLUSTER_DIR/cluster.id")" -c "$(node_dir "$n")/server.properties" \
        >"$(node_dir "$n")/format.log" 2>&1 &
      formats+=("$n:$!")
    done
    local entry
    for entry in "${formats[@]}"; do
      if ! wait "${entry#*:}"; then
        n=${entry%%:*}
        show_tail "$(node_dir "$n")/format.log"
        die "could not format the storage of cluster node $n (log: $(node_dir "$n")/format.log)"
      fi
    done
    for n in "${to_start[@]}"; do
      local dir
      dir=$(node_dir "$n")
      # C1 only: a node restarted under load (the fault tests) starts in
      # seconds; a fixture needs no peak throughput.
      launch "$dir/pid" "$dir/kafka.out" \
        java -Xms128m -Xmx384m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" \
        -Dkafka.logs.dir="$dir" \
        -cp "$KAFKA_LIB/*" kafka.Kafka "$dir/server.properties"
    done
  fi
  cluster_wait "$started" "${to_start[@]}"
}

cluster_wait() { # cluster_wait <start time in $SECONDS> [started nodes...]
  local started=$1 n pid waiting
  shift
  progress "cluster: waiting until its ${#CLUSTER_NODES[@]} nodes answer" "10-30 s"
  while ((SECONDS - started < CLUSTER_READY_TIMEOUT)); do
    waiting=0
    for n in "${CLUSTER_NODES[@]}"; do
      if ! pid=$(node_pid "$n"); then
        show_tail "$(node_dir "$n")/kafka.log" "$(node_dir "$n")/kafka.out"
        die "cluster node $n exited during startup (logs in $(node_dir "$n"))"
      fi
      node_ready "$n" || waiting=1
    done
    if ((waiting == 0)); then
      progress_done
      if (($# > 0)); then
        say "cluster: started node(s) $* ($(cluster_bootstrap)) in $((SECONDS - started))s"
      else
        say "cluster: already running ($(cluster_bootstrap))"
      fi
      return 0
    fi
    sleep 0.5
  done
  show_tail "$(node_dir "${1:-1}")/kafka.log"
  die "cluster not ready after ${CLUSTER_READY_TIMEOUT}s (logs in $CLUSTER_DIR/node*)"
}

cluster_down() {
  # All at once: the last node alone would wait for a controller quorum.
  local n
  for n in "${CLUSTER_NODES[@]}"; do
    stop_pid "cluster node $n" "$(node_dir "$n")/pid" "$(node_dir "$n")/server.properties" &
  done
  wait
}

cluster_status() {
  local n pid rc=0
  for n in "${CLUSTER_NODES[@]}"; do
    if pid=$(node_pid "$n"); then
      say "cluster node $n: running (pid $pid, 127.0.0.1:$(node_port "$n"))"
    else
      say "cluster node $n: stopped"
      rc=3
    fi
  done
  return $rc
}

cluster_logfile() { say "$(node_dir 1)/kafka.log"; }

# cluster_kill <node>: SIGKILL, as a crash or an OOM kill would (no controlled
# shutdown, so its leaders move only when the controller fences it).
cluster_kill() {
  local n=$1 pid i
  if ! pid=$(node_pid "$n"); then
    say "cluster node $n: not running"
    return 0
  fi
  kill -KILL "$pid"
  for ((i = 0; i < 100; i++)); do
    node_pid "$n" >/dev/null || port_open "$(node_port "$n")" || break
    sleep 0.1
  done
  say "cluster node $n: killed (pid $pid)"
}

# ---------------------------------------------------------------- bigquery (local)

BQ_DIR=$STATE/bigquery
BQ_PID=$BQ_DIR/pid
BQ_PATTERN=--data-dir=$BQ_DIR/data
# The Go emulator that earlier versions of this script started (same pid file).
BQ_LEGACY_PATTERN=--database=$BQ_DIR/data.db

bigquery_http() { # bigquery_http <method> <url> [body]: prints the HTTP status (000: no answer)
  curl -s --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' -X "$1" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "$2" 2>/dev/null || true
}

bigquery_ready() { [[ $(bigquery_http GET "$BQ_READY_URL") == 200 ]]; }

# There is no dataset flag: create the dataset over REST (409: it exists).
bigquery_dataset() {
  local status
  [[ $(bigquery_http GET "$BQ_API/datasets/$BQ_DATASET") == 200 ]] && return 0
  status=$(bigquery_http POST "$BQ_API/datasets" \
    "{\"datasetReference\":{\"projectId\":\"$BQ_PROJECT\",\"datasetId\":\"$BQ_DATASET\"}}")
  [[ $status == 200 || $status == 409 ]] ||
    die "could not create the dataset $BQ_PROJECT.$BQ_DATASET: $([[ $status == 000 ]] && echo "no answer within 5 s" || echo "HTTP $status") from 127.0.0.1:$BQ_PORT (log: $(bigquery_logfile))"
}

bigquery_up() {
  local pid
  if pid=$(pid_of "$BQ_PID" "$BQ_PATTERN"); then
    if port_open "$BQ_PORT"; then
      bigquery_dataset
      say "bigquery: already running (pid $pid, 127.0.0.1:$BQ_PORT, gRPC $BQ_GRPC_PORT)"
      return 0
    fi
    bigquery_wait "$SECONDS" # started by an earlier call that did not wait until ready
    return
  fi
  need curl "curl (e.g. apt-get install curl)"
  if pid=$(pid_of "$BQ_PID" "$BQ_LEGACY_PATTERN"); then
    warn "bigquery: the former Go emulator (pid $pid) still runs on 127.0.0.1:$BQ_PORT and is used; 'down' then 'up' replaces it"
    bigquery_dataset
    return 0
  fi
  if port_open "$BQ_PORT"; then
    bigquery_ready ||
      die "port $BQ_PORT is in use by a process that is not the BigQuery emulator; stop it first"
    warn "bigquery: an emulator not started from $STATE already answers on 127.0.0.1:$BQ_PORT; using it"
    bigquery_dataset
    return 0
  fi
  port_open "$BQ_GRPC_PORT" &&
    die "port $BQ_GRPC_PORT (BigQuery emulator gRPC) is in use by another process; stop it first"
  install_bigquery

  mkdir -p "$BQ_DIR/data"
  local started=$SECONDS
  # HOME: where the DuckDB extensions were installed (nothing is downloaded).
  # No time travel: infra/bigquery/serve.py starts the emulator without its
  # copy of the whole table after every write (a write then costs what it
  # writes, not what the table holds); retention 0 drops any older copies.
  # Warnings only: at info level it logs every request.
  launch "$BQ_PID" "$BQ_DIR/emulator.log" \
    env HOME="$BQ_RUN_HOME" BQEMU_TIME_TRAVEL_RETENTION_DAYS=0 \
    "$BQ_VENV/bin/python" "$ROOT/infra/bigquery/serve.py" start --project="$BQ_PROJECT" \
    --rest-host=127.0.0.1 --rest-port="$BQ_PORT" \
    --grpc-host=127.0.0.1 --grpc-port="$BQ_GRPC_PORT" \
    --persistent --data-dir="$BQ_DIR/data" \
    --log-level=warning --log-format=console
  bigquery_wait "$started"
}

bigquery_wait() { # bigquery_wait <start time in $SECONDS>: until both APIs answer
  local started=$1 pid
  progress "bigquery: starting, waiting until it answers" "5-20 s"
  while ((SECONDS - started < BQ_READY_TIMEOUT)); do
    if ! pid=$(pid_of "$BQ_PID" "$BQ_PATTERN"); then
      show_tail "$BQ_DIR/emulator.log"
      die "the BigQuery emulator exited during startup (log: $BQ_DIR/emulator.log)"
    fi
    if bigquery_ready && port_open "$BQ_GRPC_PORT"; then
      progress_done
      bigquery_dataset
      say "bigquery: started (pid $pid, 127.0.0.1:$BQ_PORT, gRPC $BQ_GRPC_PORT) in $((SECONDS - started))s"
      return 0
    fi
    sleep 0.2
  done
  show_tail "$BQ_DIR/emulator.log"
  die "the BigQuery emulator is not ready after ${BQ_READY_TIMEOUT}s (pid $pid; log: $BQ_DIR/emulator.log)"
}

bigquery_down() {
  if pid_of "$BQ_PID" "$BQ_LEGACY_PATTERN" >/dev/null; then
    stop_pid bigquery "$BQ_PID" "$BQ_LEGACY_PATTERN"
  else
    stop_pid bigquery "$BQ_PID" "$BQ_PATTERN"
  fi
}

bigquery_status() {
  local pid
  if pid=$(pid_of "$BQ_PID" "$BQ_PATTERN"); then
    say "bigquery: running (pid $pid, 127.0.0.1:$BQ_PORT, gRPC $BQ_GRPC_PORT)"
  elif pid=$(pid_of "$BQ_PID" "$BQ_LEGACY_PATTERN"); then
    say "bigquery: the former Go emulator runs (pid $pid, 127.0.0.1:$BQ_PORT); 'down' then 'up' replaces it"
  elif port_open "$BQ_PORT"; then
    say "bigquery: stopped here, but 127.0.0.1:$BQ_PORT is in use by another process"
    return 3
  else
    say "bigquery: stopped"
    return 3
  fi
}

bigquery_logfile() { say "$BQ_DIR/emulator.log"; }

# ---------------------------------------------------------------- docker

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -p livecharts -f "$COMPOSE_FILE" --profile cluster "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose -p livecharts -f "$COMPOSE_FILE" --profile cluster "$@"
  else
    die "Docker works but Compose is missing: install the docker compose plugin, or run with LIVECHARTS_SERVICES=local"
  fi
}

docker_ready() { # docker_ready <service>: the published port answers
  case $1 in
    kafka) port_open "$KAFKA_PORT" ;;
    bigquery) bigquery_ready ;;
    kafka-[0-9]) port_open "$(node_port "${1#kafka-}")" ;;
  esac
}

docker_up() {
  if docker compose version >/dev/null 2>&1; then
    compose up -d --wait "$@"
  else # Compose v1 has no --wait: poll the same checks as the local mode.
    compose up -d "$@"
    local svc started=$SECONDS
    for svc in "$@"; do
      until docker_ready "$svc"; do
        ((SECONDS - started < KAFKA_READY_TIMEOUT)) || die "$svc not ready after ${KAFKA_READY_TIMEOUT}s"
        sleep 1
      done
    done
  fi
  local svc
  for svc in "$@"; do
    [[ $svc != bigquery ]] || bigquery_dataset
  done
  docker_status "$@"
}

docker_status() {
  local running svc rc=0
  running=$(compose ps --services --filter status=running 2>/dev/null || true)
  for svc in "$@"; do
    if grep -qx "$svc" <<<"$running"; then
      case $svc in
        kafka) say "kafka: running (docker, 127.0.0.1:$KAFKA_PORT)" ;;
        bigquery) say "bigquery: running (docker, 127.0.0.1:$BQ_PORT, gRPC $BQ_GRPC_PORT)" ;;
        kafka-[0-9]) say "cluster node ${svc#kafka-}: running (docker, 127.0.0.1:$(node_port "${svc#kafka-}"))" ;;
      esac
    else
      say "$svc: stopped (docker)"
      rc=3
    fi
  done
  return $rc
}

# ---------------------------------------------------------------- main

use_docker() {
  case ${LIVECHARTS_SERVICES:-auto} in
    docker) return 0 ;;
    local) return 1 ;;
    auto) command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ;;
    *) die "LIVECHARTS_SERVICES must be auto, docker or local: current value is '${LIVECHARTS_SERVICES}'" ;;
  esac
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  if [[ $cmd == kill-node || $cmd == stop-node ]]; then
    [[ $# == 1 && " ${CLUSTER_NODES[*]} " == *" $1 "* ]] ||
      die "$cmd needs one cluster node number (${CLUSTER_NODES[*]}): got '$*'"
    if [[ $cmd == kill-node ]]; then
      if use_docker; then compose kill -s SIGKILL "kafka-$1"; else cluster_kill "$1"; fi
    elif use_docker; then
      compose stop "kafka-$1"
    else
      stop_pid "cluster node $1" "$(node_dir "$1")/pid" "$(node_dir "$1")/server.properties"
    fi
    return
  fi
  local services=("$@")
  [[ ${#services[@]} -gt 0 ]] || services=("${ALL_SERVICES[@]}")
  local svc
  for svc in "${services[@]}"; do
    [[ " ${KNOWN_SERVICES[*]} " == *" $svc "* ]] ||
      die "unknown service '$svc': expected one of ${KNOWN_SERVICES[*]}"
  done

  if use_docker; then
    # In docker-compose.yaml the cluster is the nodes kafka-1..3 (profile cluster).
    local expanded=() n
    for svc in "${services[@]}"; do
      if [[ $svc == cluster ]]; then
        for n in "${CLUSTER_NODES[@]}"; do expanded+=("kafka-$n"); done
      else
        expanded+=("$svc")
      fi
    done
    services=("${expanded[@]}")
    case $cmd in
      up) docker_up "${services[@]}" ;;
      down) compose stop "${services[@]}" ;;
      status) docker_status "${services[@]}" ;;
      logs) compose logs --tail=50 "${services[@]}" ;;
      reset) compose down -v ;;
      *) usage ;;
    esac
    return
  fi

  local rc=0
  case $cmd in
    up)
      init_state
      for svc in "${services[@]}"; do "${svc}_up"; done
      ;;
    down)
      init_state
      for svc in "${services[@]}"; do "${svc}_down"; done
      ;;
    status)
      for svc in "${services[@]}"; do "${svc}_status" || rc=$?; done
      ;;
    logs)
      for svc in "${services[@]}"; do
        local f
        f=$("${svc}_logfile")
        if [[ -s $f ]]; then
          say "----- $f"
          tail -n 50 "$f"
        else
          say "$svc: no log yet ($f)"
        fi
      done
      ;;
    reset)
      init_state
      for svc in "${KNOWN_SERVICES[@]}"; do "${svc}_down"; done
      [[ -n $STATE && $STATE != / && -d $STATE ]] && rm -rf "$STATE"
      say "removed $STATE"
      ;;
    *) usage ;;
  esac
  return $rc
}

main "$@"
