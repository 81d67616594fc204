#!/usr/bin/env bash
# A simulated cluster of N "hosts" on this one machine, for benchmarks/distributed.
#
#   netns.sh up N [--rate 1gbit] [--delay 0.1ms]   create hosts h1..hN (needs root)
#   netns.sh down                                  remove every namespace this script made
#   netns.sh status                                list hosts, addresses and link qdiscs
#   netns.sh run HOST CMD [ARG...]                 run CMD (argv as given) on HOST
#   netns.sh ssh HOST CMD...                       ssh-like: join the words and run them with
#                                                  /bin/sh -c on HOST (OpenMPI's rsh agent)
#   netns.sh hostfile N [SLOTS]                    print an OpenMPI hostfile for h1..hN
#
# Topology: a star. Each host hI is a network namespace "bdl-hI" with one interface eth0,
# address 10.231.0.I/24, whose veth peer "hI" sits in a bridge in the switch namespace
# "bdl-sw" (so the root namespace's addresses, routes and netfilter settings are untouched).
# Each host link is shaped in both directions, like a full-duplex NIC: a token bucket on
# eth0 (the host's upload) and one on the switch port hI (its download). When the kernel
# has the netem qdisc, --delay adds that one-way delay on each direction of the link
# (0.1 ms each way -> 0.2 ms RTT); when it has not (Firecracker-style kernels ship tbf and
# htb but no netem), the links get the rate only and `up` says so.
#
# Each host also gets its own UTS namespace (hostname hI) when a command runs on it, so
# OpenMPI sees N distinct nodes and never pairs two "hosts" through shared memory.
# HOST may be given as hI or as its address 10.231.0.I.
set -euo pipefail

PREFIX=bdl
SUBNET=10.231.0
MAX_HOSTS=8

die() { echo "netns.sh: $*" >&2; exit 1; }

host_index() {  # hI or 10.231.0.I -> I
  local h=$1 i
  case $h in
    h[0-9]*) i=${h#h} ;;
    "$SUBNET".[0-9]*) i=${h##*.} ;;
    *) die "unknown host '$h' (expected h1..h$MAX_HOSTS or $SUBNET.1..$SUBNET.$MAX_HOSTS)" ;;
  esac
  [[ $i =~ ^[0-9]+$ ]] && ((i >= 1 && i <= MAX_HOSTS)) || die "unknown host '$h'"
  echo "$i"
}

have_netem() {  # probe once on a throwaway dummy link inside the switch namespace
  ip -n $PREFIX-sw link add probe0 type dummy 2>/dev/null || return 1
  local ok=1
  tc -n $PREFIX-sw qdisc add dev probe0 root netem delay 1ms 2>/dev/null && ok=0
  ip -n $PREFIX-sw link del probe0
  return $ok
}

shape() {  # shape NS DEV RATE DELAY NETEM
  local ns=$1 dev=$2 rate=$3 delay=$4 netem=$5
  if [[ $netem == 1 && -n $delay ]]; then
    # netem rate paces packets like a wire; limit keeps ~10 ms of queue at 1 Gbit/s.
    tc -n "$ns" qdisc add dev "$dev" root netem rate "$rate" delay "$delay" limit 1000
  else
    # burst 256 KiB: with 64 KiB (one GSO super-packet) a busy 2-core VM serves the bucket late
    # and TCP got 75 MB/s of the 125; with 256 KiB it gets 117 (98% of payload rate). 20 ms of
    # queue, so a burst of 8 senders into one port is queued rather than dropped.
    tc -n "$ns" qdisc add dev "$dev" root tbf rate "$rate" burst 256kb latency 20ms
  fi
}

cmd_up() {
  [[ $EUID == 0 ]] || die "up needs root (ip netns add)"
  local n=${1:-}; shift || true
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_HOSTS)) || die "up: N must be 1..$MAX_HOSTS"
  local rate=1gbit delay=0.1ms
  while (($#)); do
    case $1 in
      --rate) rate=$2; shift 2 ;;
      --delay) delay=$2; shift 2 ;;
      *) die "up: unknown option '$1'" ;;
    esac
  done
  ip netns list | grep -q "^$PREFIX-" && die "up: namespaces $PREFIX-* exist; run 'netns.sh down' first"
  ip netns add $PREFIX-sw
  ip -n $PREFIX-sw link set lo up
  ip -n $PREFIX-sw link add br0 type bridge
  ip -n $PREFIX-sw link set br0 up
  local netem=0
  if [[ -n $delay ]] && have_netem; then netem=1; fi
  for ((i = 1; i <= n; i++)); do
    local ns=$PREFIX-h$i
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # both ends are created inside their namespaces: the root namespace never sees them
    ip -n "$ns" link add eth0 type veth peer name "h$i" netns $PREFIX-sw
    ip -n $PREFIX-sw link set "h$i" master br0 up
    ip -n "$ns" addr add "$SUBNET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    shape "$ns" eth0 "$rate" "$delay" $netem
    shape $PREFIX-sw "h$i" "$rate" "$delay" $netem
  done
  if [[ -n $delay && $netem == 0 ]]; then
    echo "netns.sh: this kernel has no netem qdisc ('tc qdisc add ... netem' -> 'Specified qdisc kind is unknown');" \
         "links are rate-limited to $rate with no added delay" >&2
  fi
  echo "up: $n hosts h1..h$n on $SUBNET.0/24, each link $rate$([[ $netem == 1 ]] && echo ", +$delay each way")"
}

cmd_down() {
  local ns pids
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
    # Processes left in a host (an interrupted MPI job's daemons and ranks) would keep
    # the namespace alive after its name is gone: end them, by pid, first.
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [[ -n $pids ]]; then
      echo "netns.sh: ending processes left in $ns: $pids" >&2
      kill -TERM $pids 2>/dev/null || true
      sleep 1
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns"
  done
}

cmd_status() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" | sort || true); do
    echo "== $ns"
    ip -n "$ns" -4 -brief addr show | grep -v '^lo' || true
    tc -n "$ns" qdisc show | grep -v 'noqueue' || true
  done
}

cmd_run() {  # argv is executed as given
  (($# >= 2)) || die "run: usage: netns.sh run HOST CMD [ARG...]"
  local i; i=$(host_index "$1"); shift
  ip netns list | grep -q "^$PREFIX-h$i\b" || die "host h$i is not up (netns.sh up N)"
  exec ip netns exec "$PREFIX-h$i" unshare --uts -- /bin/sh -c 'hostname "$0" && exec "$@"' "h$i" "$@"
}

cmd_ssh() {  # like ssh: the words after HOST are joined and given to a shell
  (($# >= 2)) || die "ssh: usage: netns.sh ssh HOST CMD..."
  local i; i=$(host_index "$1"); shift
  ip netns list | grep -q "^$PREFIX-h$i\b" || die "host h$i is not up (netns.sh up N)"
  exec ip netns exec "$PREFIX-h$i" unshare --uts -- /bin/sh -c 'hostname "$0" && exec /bin/sh -c "$1"' "h$i" "$*"
}

cmd_hostfile() {
  local n=${1:-} slots=${2:-1}
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_HOSTS)) || die "hostfile: N must be 1..$MAX_HOSTS"
  for ((i = 1; i <= n; i++)); do echo "h$i slots=$slots"; done
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  run) shift; cmd_run "$@" ;;
  ssh) shift; cmd_ssh "$@" ;;
  hostfile) shift; cmd_hostfile "$@" ;;
  *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
