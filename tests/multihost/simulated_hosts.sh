# Sourced by the multihost tests: three simulated hosts, network namespaces whose `data0`
# interfaces (10.2xx.yy.1-3/24) meet on a bridge in a fourth namespace. Each host's /etc/hosts
# (what `ip netns exec` shows as /etc/hosts) names the first host "<tag>-head". Skips the test
# (77) without root or `ip netns`; everything made here, and every process left in the
# namespaces or listed in `pids`, is removed on exit, also when the test fails or is stopped.
# make_second_network adds `data1` to each host (10.2zz.yy.1-3/24, SECOND_PREFIX) on a bridge
# of its own.
# Usage: source simulated_hosts.sh TAG SUBNET_PREFIX [SECOND_PREFIX]; make_hosts

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "SKIP: needs root and ip netns"; exit 77
fi

tag="$1$$"
switch="${tag}sw"
hosts=("${tag}h0" "${tag}h1" "${tag}h2")
subnet="$2.$(( $$ % 200 + 20 ))"
second_subnet="${3:-}.$(( $$ % 200 + 20 ))"
logs=$(mktemp -d)
pids=()
cleanup_hosts() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for ns in "${hosts[@]}" "$switch"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9; done
  for ns in "${hosts[@]}" "$switch"; do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$logs"
}
trap cleanup_hosts EXIT
trap 'exit 143' INT TERM HUP  # run the clean-up when meson's timeout stops the test

make_hosts() {
  if ! ip netns add "$switch" 2>/dev/null; then
    echo "SKIP: cannot create network namespaces here"; exit 77
  fi
  ip -n "$switch" link add br0 type bridge
  ip -n "$switch" link set br0 up
  for i in 0 1 2; do
    local ns=${hosts[$i]}
    ip netns add "$ns"
    ip link add "${tag}e$i" type veth peer name "${tag}p$i"
    ip link set "${tag}e$i" netns "$ns"
    ip link set "${tag}p$i" netns "$switch"
    ip -n "$switch" link set "${tag}p$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "${tag}e$i" name data0
    ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev data0
    ip -n "$ns" link set data0 up
    mkdir -p "/etc/netns/$ns"
    printf '127.0.0.1 localhost\n%s.1 %s-head\n' "$subnet" "$tag" > "/etc/netns/$ns/hosts"
  done
}

make_second_network() {
  ip -n "$switch" link add br1 type bridge
  ip -n "$switch" link set br1 up
  for i in 0 1 2; do
    local ns=${hosts[$i]}
    ip link add "${tag}f$i" type veth peer name "${tag}q$i"
    ip link set "${tag}f$i" netns "$ns"
    ip link set "${tag}q$i" netns "$switch"
    ip -n "$switch" link set "${tag}q$i" master br1 up
    ip -n "$ns" link set "${tag}f$i" name data1
    ip -n "$ns" addr add "$second_subnet.$((i + 1))/24" dev data1
    ip -n "$ns" link set data1 up
  done
}

# The logs of ranks 0-2 (fault_rank's, in $logs), each line led by its rank.
show_logs() {
  for rank in 0 1 2; do sed "s/^/[rank $rank] /" "$logs/$rank.log"; done
}

# Waits until the three fault_rank processes in `pids` have each moved a first round; fails the
# test if one exits first or 30 s pass.
wait_until_streaming() {
  local deadline=$((SECONDS + 30))
  while [ "$(cat "$logs"/*.log | grep -c '^STREAMING$' || true)" -lt 3 ]; do
    if [ $SECONDS -ge $deadline ]; then
      show_logs; echo "FAIL: the ring did not start streaming within 30 s"; exit 1
    fi
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        show_logs; echo "FAIL: a rank exited before the fault"; exit 1
      fi
    done
    sleep 0.1
  done
}
