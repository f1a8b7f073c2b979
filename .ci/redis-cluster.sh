#!/usr/bin/env bash
# Start (or reuse) a local 3-master Redis Cluster from Debian's redis-server, for the cluster test pass of
# .ci/run and for trying REDIS_CLUSTER_NODES by hand (docs/decisions/019-redis-cluster.md).
#
#   .ci/redis-cluster.sh [start]   start or reuse; prints the REDIS_CLUSTER_NODES value on stdout
#   .ci/redis-cluster.sh stop      stop the nodes this script started (by their pid files)
#
# Ports: REDIS_CLUSTER_PORTS (default "7000 7001 7002"); data, logs and pid files under
# REDIS_CLUSTER_DIR (default /tmp/gbm-redis-cluster). No persistence, no replicas: the state is a cache of
# the database (manage.py rebuild_redis). Idempotent: a healthy cluster on those ports is reused as it is; nodes
# that are up but not one healthy cluster (e.g. after a crash) are reset and the cluster created again.
set -euo pipefail

ports=(${REDIS_CLUSTER_PORTS:-7000 7001 7002})
base=${REDIS_CLUSTER_DIR:-/tmp/gbm-redis-cluster}
host=127.0.0.1

log() { printf '%s\n' "$*" >&2; }
cli() { redis-cli -h "$host" -p "$1" "${@:2}"; }
nodes_value() { local out=() p; for p in "${ports[@]}"; do out+=("$host:$p"); done; (IFS=,; echo "${out[*]}"); }

healthy() {  # every node up, in one cluster of all the ports, all 16384 slots served
  local p info
  for p in "${ports[@]}"; do
    info=$(cli "$p" cluster info 2>/dev/null) || return 1
    grep -q '^cluster_state:ok' <<<"$info" || return 1
    grep -q '^cluster_slots_assigned:16384' <<<"$info" || return 1
    grep -q "^cluster_known_nodes:${#ports[@]}" <<<"$info" || return 1
  done
}

stop() {
  local p pidfile
  for p in "${ports[@]}"; do
    pidfile="$base/$p/redis.pid"
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
}

start() {
  if healthy; then
    log "redis cluster: reusing the healthy cluster on ports ${ports[*]}"
    nodes_value
    return 0
  fi
  local p
  for p in "${ports[@]}"; do
    if ! cli "$p" ping >/dev/null 2>&1; then
      mkdir -p "$base/$p"
      rm -f "$base/$p/nodes.conf"  # a fresh node: the cluster is created again below
      log "redis cluster: starting a node on port $p"
      redis-server --daemonize yes --bind "$host" --port "$p" --cluster-enabled yes \
        --cluster-config-file nodes.conf --cluster-node-timeout 5000 --save "" --appendonly no \
        --dir "$base/$p" --pidfile "$base/$p/redis.pid" --logfile "$base/$p/redis.log"
    fi
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 50); do cli "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
    cli "$p" ping >/dev/null || { log "error: redis node on port $p did not come up"; return 1; }
    if [ "$(cli "$p" config get cluster-enabled | tail -n 1)" != "yes" ]; then
      log "error: port $p runs a Redis without cluster mode; choose other REDIS_CLUSTER_PORTS"
      return 1
    fi
  done
  healthy && { nodes_value; return 0; }
  # Up but not one healthy cluster: make every node empty and alone again, then create the cluster.
  for p in "${ports[@]}"; do
    cli "$p" flushall >/dev/null
    cli "$p" cluster reset hard >/dev/null
  done
  local addrs=()
  for p in "${ports[@]}"; do addrs+=("$host:$p"); done
  log "redis cluster: creating a cluster of ${addrs[*]}"
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >&2
  for _ in $(seq 1 100); do healthy && { nodes_value; return 0; }; sleep 0.1; done
  log "error: the redis cluster did not become healthy"
  return 1
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) log "usage: $0 [start|stop]"; exit 2 ;;
esac
