#!/usr/bin/env bash
# A ring spanning three simulated hosts: network namespaces joined by veth pairs to a bridge.
# Checks that ranks reach each other over the chosen interface (not loopback), with the head
# given by address and by name, every byte verified by the program. Skips (77) without root
# or `ip netns`. Usage: netns_ring.sh PROGRAM [ARGS...]
set -euo pipefail
program=("$@")

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "SKIP: needs root and ip netns"; exit 77
fi

tag="rp$$"
switch="${tag}sw"
hosts=("${tag}h0" "${tag}h1" "${tag}h2")
subnet="10.213.$(( $$ % 200 + 20 ))"
logs=$(mktemp -d)
cleanup() {
  rm -rf "$logs"
  for ns in "${hosts[@]}" "$switch"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9; done
  for ns in "${hosts[@]}" "$switch"; do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
}
trap cleanup EXIT

ip netns add "$switch"
ip -n "$switch" link add br0 type bridge
ip -n "$switch" link set br0 up
for i in 0 1 2; do
  ns=${hosts[$i]}
  ip netns add "$ns"
  ip link add "${tag}e$i" type veth peer name "${tag}p$i"
  ip link set "${tag}e$i" netns "$ns"
  ip link set "${tag}p$i" netns "$switch"
  ip -n "$switch" link set "${tag}p$i" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "${tag}e$i" name data0
  ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev data0
  ip -n "$ns" link set data0 up
  # `ip netns exec` shows /etc/netns/NS/hosts as /etc/hosts: the head's name for this host.
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n%s.1 %s-head\n' "$subnet" "$tag" > "/etc/netns/$ns/hosts"
done

# Namespaces share this kernel's IPC, so UCX would see one host and use shared memory; keep it
# to TCP so the run behaves as separate hosts do.
run_ring() {
  local head=$1 port=$2
  local pids=()
  for rank in 0 1 2; do
    ip netns exec "${hosts[$rank]}" env UCX_TLS=tcp RINGPIPE_HEAD="$head" RINGPIPE_PORT="$port" \
      RINGPIPE_WORLD_SIZE=6 RINGPIPE_RANK="$rank" RINGPIPE_IFNAME=data0 \
      RINGPIPE_RENDEZVOUS_TIMEOUT_S=20 RINGPIPE_OP_TIMEOUT_S=20 \
      timeout 60 "${program[@]}" > "$logs/$rank.log" 2>&1 &
    pids+=($!)
    ip netns exec "${hosts[$rank]}" env UCX_TLS=tcp RINGPIPE_HEAD="$head" RINGPIPE_PORT="$port" \
      RINGPIPE_WORLD_SIZE=6 RINGPIPE_RANK="$((rank + 3))" RINGPIPE_IFNAME=data0 \
      RINGPIPE_RENDEZVOUS_TIMEOUT_S=20 RINGPIPE_OP_TIMEOUT_S=20 \
      timeout 60 "${program[@]}" > "$logs/$((rank + 3)).log" 2>&1 &
    pids+=($!)
  done
  local failed=0
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then failed=1; fi
  done
  for rank in 0 1 2 3 4 5; do
    sed "s/^/[rank $rank] /" "$logs/$rank.log"
  done
  # Every rank's neighbours live on other hosts: each link must use the chosen interface.
  local links
  links=$(grep -c 'link ucx: tcp/data0$' "$logs/0.log" || true)
  if [ "$links" -ne 6 ]; then
    echo "expected 6 ranks linked over tcp/data0, found $links"; failed=1
  fi
  return $failed
}

echo "== head given by address"
run_ring "$subnet.1" 29411
echo "== head given by name"
run_ring "${tag}-head" 29412
echo "netns ring: ok"
