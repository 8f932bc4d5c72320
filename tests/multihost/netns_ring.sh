#!/usr/bin/env bash
# A ring spanning three simulated hosts: network namespaces joined by veth pairs to a bridge.
# Checks that ranks reach each other over the chosen interface (not loopback), with the head
# given by address and by name, every byte verified by the program. Skips (77) without root
# or `ip netns`. Usage: netns_ring.sh PROGRAM [ARGS...]
set -euo pipefail
program=("$@")

source "$(dirname "$0")/simulated_hosts.sh" rp 10.213
make_hosts

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
  links=$(grep -c 'link host over ucx: tcp/data0; single copy off: the neighbour is in another network namespace$' "$logs/0.log" || true)
  if [ "$links" -ne 6 ]; then
    echo "expected 6 ranks linked over tcp/data0 without single copy, found $links"; failed=1
  fi
  return $failed
}

echo "== head given by address"
run_ring "$subnet.1" 29411
echo "== head given by name"
run_ring "${tag}-head" 29412
echo "netns ring: ok"
