#!/usr/bin/env bash
# A cluster of N "nodes" on one machine (root): each node a network namespace with an address on a
# private /24 and, for every command run in it, a UTS namespace with the node's own hostname.
# The nodes' veths end in a bridge that lives in a namespace of its own, so the machine's own
# network (interfaces, routes, addresses) is never touched: every link is created directly inside
# the namespaces this script made, and `down` deletes exactly those (recorded in DIR/namespaces).
#
#   cluster.sh up DIR N           make nodes node1..nodeN; DIR holds the state (hostfile, agent)
#   cluster.sh down DIR           kill what runs in the nodes, delete the namespaces made by `up`
#   cluster.sh exec DIR NODE CMD  run CMD on node NODE (1..N) under its hostname
#   cluster.sh mpirun DIR ARGS    mpirun on node1 over the host file (ARGS: -np, --map-by, ...)
#   cluster.sh cut DIR NODE       pull node NODE's cable (its veth's bridge end down)
#   cluster.sh heal DIR NODE      plug it back (and wait until node1 reaches it again)
#   cluster.sh check              exit 77 with one line if this machine cannot make namespaces
#
# mpirun runs on node1 (as on the first node of an allocation); Open MPI starts its orted on the
# other nodes through DIR/agent (plm_rsh_agent), which enters the node's namespaces instead of
# ssh. Ranks talk TCP between nodes and shared memory inside one (btl tcp,vader,self), and the
# orteds reach mpirun over TCP on the same subnet (oob_tcp_if_include). Open MPI's keepalive on
# those orted connections, what notices a node cut off (oob_tcp_keepalive_*, Open MPI's default
# 300 s idle + 9 x 20 s), is set as README.md recommends, 30 s + 3 x 10 s, or to
# KMPI_CLUSTER_KEEPALIVE="TIME INTERVAL PROBES"; the nodes' TCP retransmission limit
# (net.ipv4.tcp_retries2, 15: ~15 min) stays unless KMPI_CLUSTER_TCP_RETRIES2 is set.
set -euo pipefail
SUBNET_PREFIX=10.213.7  # private; exists only inside the namespaces this script makes
SUBNET=$SUBNET_PREFIX.0/24

die() { echo "cluster: $*" >&2; exit 1; }
node_ns() { echo "$(cat "$1/prefix")-n$2"; }
node_addr() { echo "$SUBNET_PREFIX.$((10 + $1))"; }

check() {
  local why=""
  if [ "$(id -u)" != 0 ]; then why="not root"
  elif ! command -v ip > /dev/null || ! command -v unshare > /dev/null; then why="no ip/unshare"
  else
    local probe="kmpi-probe-$$"
    if ! ip netns add "$probe" 2> /dev/null; then why="ip netns add failed"
    else
      ip netns exec "$probe" unshare --uts /bin/sh -c 'hostname kmpi-probe' 2> /dev/null ||
        why="unshare --uts failed"
      ip -n "$probe" link add name va type veth peer name vb 2> /dev/null || why="no veth"
      ip -n "$probe" link add name vbr type bridge 2> /dev/null || why="no bridge"
      ip netns del "$probe"
    fi
  fi
  if [ -n "$why" ]; then
    echo "cluster: network/UTS namespaces are not available here ($why); skipped"
    exit 77
  fi
}

# node1 reaches node $2: a TCP connect to a closed port is refused at once when the path works
# (no ping here); up to 5 s for the bridge port to forward.
wait_reachable() {
  local dir=$1 i=$2 said
  for _ in $(seq 25); do
    said=$(ip netns exec "$(node_ns "$dir" 1)" timeout 1 \
      bash -c "exec 3<>/dev/tcp/$(node_addr "$i")/9" 2>&1 || true)
    [[ $said == *refused* ]] && return 0
    sleep 0.1
  done
  echo "cluster: node$i does not answer node1" >&2
  return 1
}

up() {
  local dir=$1 n=$2 prefix
  [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "up: N must be 1..200"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -s "$dir/namespaces" ] || die "up: $dir already has a cluster (run down first)"
  # A fresh prefix that no existing namespace uses (another cluster may be up on this machine).
  for _ in $(seq 50); do
    prefix=kc$(printf %04x $((RANDOM % 65536)))
    ip netns list | grep -q "^$prefix-" || break
  done
  echo "$prefix" > "$dir/prefix"
  : > "$dir/namespaces"
  : > "$dir/hostfile"
  trap 'echo "cluster: up failed; tearing down" >&2; down "$dir"' ERR
  local br=$prefix-br
  ip netns add "$br" && echo "$br" >> "$dir/namespaces"
  ip -n "$br" link set lo up
  ip -n "$br" link add name br0 type bridge
  ip -n "$br" link set br0 up
  for i in $(seq "$n"); do
    local ns=$prefix-n$i
    ip netns add "$ns" && echo "$ns" >> "$dir/namespaces"
    ip -n "$ns" link set lo up
    # A node's TCP retransmission limit (per namespace; the machine's own stays as it is).
    [ -z "${KMPI_CLUSTER_TCP_RETRIES2:-}" ] ||
      ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_retries2="$KMPI_CLUSTER_TCP_RETRIES2"
    # Both ends are created inside namespaces of ours: p$i at the bridge, eth0 in the node.
    ip -n "$br" link add name "p$i" type veth peer name eth0 netns "$ns"
    ip -n "$br" link set "p$i" master br0
    ip -n "$br" link set "p$i" up
    ip -n "$ns" addr add "$(node_addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    echo "$(node_addr "$i") slots=64" >> "$dir/hostfile"
  done
  echo "$n" > "$dir/size"
  # The launch agent: Open MPI calls it as `agent HOST WORD...` (what ssh would run remotely).
  cat > "$dir/agent" <<EOF
#!/bin/bash
host=\$1; shift
while read -r addr node; do
  if [ "\$addr" = "\$host" ]; then
    exec ip netns exec $prefix-n\$node unshare --uts /bin/sh -c 'hostname "node\$0"; exec /bin/sh -c "\$1"' "\$node" "\$*"
  fi
done < "$dir/addresses"
echo "cluster agent: unknown host \$host" >&2; exit 255
EOF
  chmod +x "$dir/agent"
  for i in $(seq "$n"); do echo "$(node_addr "$i") $i"; done > "$dir/addresses"
  for i in $(seq 2 "$n"); do wait_reachable "$dir" "$i"; done
  trap - ERR
  echo "cluster: $n nodes up ($prefix-*, $SUBNET, hostfile $dir/hostfile)"
}

down() {
  local dir=$1
  [ -f "$dir/namespaces" ] || return 0
  # Nodes first (their processes, then the namespace), the bridge last. `ip netns pids` finds
  # every process in a namespace, whatever UTS namespace it entered after.
  local ns pids
  for ns in $(tac "$dir/namespaces"); do
    ip netns list | grep -q "^$ns\b" || continue
    pids=$(ip netns pids "$ns" 2> /dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2> /dev/null || true
  done
  for ns in $(tac "$dir/namespaces"); do
    for _ in $(seq 20); do  # killed processes may take a moment to leave
      [ -z "$(ip netns pids "$ns" 2> /dev/null || true)" ] && break
      sleep 0.1
    done
    ip netns del "$ns" 2> /dev/null || true
  done
  : > "$dir/namespaces"
}

node_exec() {
  local dir=$1 node=$2; shift 2
  exec ip netns exec "$(node_ns "$dir" "$node")" unshare --uts /bin/sh -c \
    'hostname "node$0"; exec "$@"' "$node" "$@"
}

cluster_mpirun() {
  local dir=$1; shift
  dir=$(cd "$dir" && pwd)
  local mca=(--hostfile "$dir/hostfile" --mca plm_rsh_agent "$dir/agent"
    --mca plm_rsh_no_tree_spawn 1 --mca btl tcp,vader,self --mca btl_tcp_if_include "$SUBNET"
    --mca oob_tcp_if_include "$SUBNET")
  local t i p
  read -r t i p <<< "${KMPI_CLUSTER_KEEPALIVE:-30 10 3}"
  mca+=(--mca oob_tcp_keepalive_time "$t" --mca oob_tcp_keepalive_intvl "$i"
    --mca oob_tcp_keepalive_probes "$p")
  # The single-node test environment (scripts/mpi_env.sh) names btl in the environment; the
  # command line wins, but drop it so nobody reads the wrong one.
  unset OMPI_MCA_btl
  node_exec "$dir" 1 mpirun "${mca[@]}" "$@"
}

link() {
  local dir=$1 node=$2 state=$3
  ip -n "$(cat "$dir/prefix")-br" link set "p$node" "$state"
  # A healed node answers again before `heal` returns (a run started at once then finds it).
  [ "$state" = down ] || [ "$node" = 1 ] || wait_reachable "$dir" "$node"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  check) check ;;
  up) [ $# -eq 2 ] || die "usage: up DIR N"; up "$1" "$2" ;;
  down) [ $# -eq 1 ] || die "usage: down DIR"; down "$1" ;;
  exec) [ $# -ge 3 ] || die "usage: exec DIR NODE CMD..."; node_exec "$@" ;;
  mpirun) [ $# -ge 1 ] || die "usage: mpirun DIR ARGS..."; cluster_mpirun "$@" ;;
  cut) [ $# -eq 2 ] || die "usage: cut DIR NODE"; link "$1" "$2" down ;;
  heal) [ $# -eq 2 ] || die "usage: heal DIR NODE"; link "$1" "$2" up ;;
  *) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; [ -z "$cmd" ] || exit 2 ;;
esac
