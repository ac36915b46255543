#!/usr/bin/env bash
# Starts or stops a private RabbitMQ broker on free loopback ports under a
# folder of our own (no systemd, no root-owned state).
#   scripts/rabbitmq.sh start DIR   -> prints AMQP_URL=amqp://guest:guest@127.0.0.1:PORT (vhost /)
#   scripts/rabbitmq.sh stop DIR
# Starting again in the same DIR reuses its port and keeps durable queues.
set -euo pipefail
cmd=${1:?start|stop}
D=${2:?folder}
mkdir -p "$D"
D=$(cd "$D" && pwd)

# A port below the kernel's range for outgoing connections (their local
# ports, and those lingering in TIME_WAIT after a load test, made the
# broker's bind fail with eaddrinuse), with no socket on it at all.
free_port() {
  local p low=32768 span
  read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$(( low > 12000 ? low - 11000 : 20000 ))
  while :; do
    p=$(( 10000 + RANDOM % span ))
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      continue
    fi
    if command -v ss >/dev/null 2>&1 \
       && [ -n "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then
      continue
    fi
    echo "$p"
    return
  done
}

setup_env() {
  local tag
  tag=$(basename "$D" | tr -c 'A-Za-z0-9_\n-' '_')
  export HOME="$D/home" RABBITMQ_NODENAME="rabbit-$tag@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$D/mnesia" RABBITMQ_LOG_BASE="$D/log"
  export RABBITMQ_PID_FILE="$D/rabbit.pid"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$D/enabled_plugins"
  # Do not pin Erlang schedulers to CPUs: on a small machine shared with
  # the servers and the tests, a pinned scheduler can sit runnable for
  # hundreds of milliseconds (measured by bench/cluster_bench.cpp).
  export RABBITMQ_SCHEDULER_BIND_TYPE=u
  # An Erlang crash dump goes to the broker's folder, never the caller's.
  export ERL_CRASH_DUMP="$D/erl_crash.dump"
  export PATH=/usr/lib/rabbitmq/bin:$PATH
  mkdir -p "$HOME"
}

case "$cmd" in
  start)
    setup_env
    echo "[]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    # A restart in the same folder keeps its ports (and its durable queues).
    if [ -f "$D/port" ] && [ -f "$D/dist_port" ]; then
      port=$(cat "$D/port")
      dist=$(cat "$D/dist_port")
    else
      port=$(free_port)
      dist=$(free_port)
      echo "$port" > "$D/port"
      echo "$dist" > "$D/dist_port"
    fi
    export RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$dist
    # Already running in this folder: the same broker, the same URL (a
    # second node would fail on the distribution port).
    pid=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
       && rabbitmqctl wait "$RABBITMQ_PID_FILE" --timeout 10 >/dev/null 2>&1; then
      echo "AMQP_URL=amqp://guest:guest@127.0.0.1:$port"
      exit 0
    fi
    if ! rabbitmq-server -detached >"$D/start.log" 2>&1 \
      || ! rabbitmqctl wait "$RABBITMQ_PID_FILE" --timeout 90 >>"$D/start.log" 2>&1; then
      echo "rabbitmq.sh: the broker did not start:" >&2
      cat "$D/start.log" >&2
      tail -n 30 "$D"/log/*.log >&2 2>/dev/null || true
      exit 1
    fi
    echo "AMQP_URL=amqp://guest:guest@127.0.0.1:$port"
    ;;
  stop)
    setup_env
    pid=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null || true)
    rabbitmqctl shutdown >/dev/null 2>&1 || true
    # Return only once the broker is gone: a caller (the cluster tests'
    # outage) relies on nothing being accepted after this. `shutdown` can
    # give up early on a loaded machine while the node is still stopping.
    if [ -n "$pid" ]; then
      for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    if [ -f "$D/port" ]; then
      port=$(cat "$D/port")
      for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
        sleep 0.1
      done
    fi
    epmd -kill >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
