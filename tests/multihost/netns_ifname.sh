#!/usr/bin/env bash
# RINGPIPE_IFNAME steers all of a ring's traffic: three simulated hosts share two networks; the
# ranks meet the head over data0 but are told to use data1. Once they stream, data0 goes down
# on every host; the ring must go on (data over UCX and the neighbours' liveness checks both on
# data1) for several liveness timeouts, every byte checked, and no rank may report a fault.
# IFNAME_SPEC (default data1) may be any RINGPIPE_IFNAME form that selects data1 alone, such as
# ^lo,data0. Skips (77) without root or `ip netns`. Usage: netns_ifname.sh FAULT_RANK_PROGRAM
# [IFNAME_SPEC]
set -euo pipefail
program=$1
ifname_spec=${2:-data1}

liveness_s=1
run_s=6  # several liveness timeouts after the cut

source "$(dirname "$0")/simulated_hosts.sh" ri 10.215 10.216
make_hosts
make_second_network

# Namespaces share this kernel's IPC, so UCX would see one host and use shared memory; keep it
# to TCP so the run behaves as separate hosts do.
for rank in 0 1 2; do
  ip netns exec "${hosts[$rank]}" env UCX_TLS=tcp RINGPIPE_IFNAME="$ifname_spec" \
    RINGPIPE_HEAD="$subnet.1" RINGPIPE_PORT=29431 RINGPIPE_WORLD_SIZE=3 RINGPIPE_RANK="$rank" \
    RINGPIPE_LIVENESS_TIMEOUT_S=$liveness_s RINGPIPE_RENDEZVOUS_TIMEOUT_S=20 \
    RINGPIPE_OP_TIMEOUT_S=10 \
    timeout -k 2 40 "$program" --size $((1 << 20)) --wait-s 5 --max-seconds "$run_s" \
      --linger-s 0 > "$logs/$rank.log" 2>&1 &
  pids+=($!)
done

wait_until_streaming
for ns in "${hosts[@]}"; do ip -n "$ns" link set data0 down; done
echo "== data0 down on every host while streaming over data1"

failed=0
for i in "${!pids[@]}"; do
  status=0
  wait "${pids[$i]}" || status=$?
  # 3: the time ran out without a failure; 0: a failure was reported, which may only be a
  # neighbour that finished first and closed its ring (checked below).
  if [ "$status" -ne 3 ] && [ "$status" -ne 0 ]; then
    echo "rank $i exited with status $status"; failed=1
  fi
done
if grep -h '^FAULT' "$logs"/*.log | grep -v '^FAULT Closed .*closed its ring'; then
  echo "a rank saw a fault other than a neighbour closing at the end"; failed=1
fi
if ! grep -q '^NOFAULT' "$logs"/*.log; then
  echo "no rank ran its full time"; failed=1
fi
show_logs
if ! grep -q 'tcp/data1' "$logs/0.log"; then
  echo "rank 0's link does not name tcp/data1"; failed=1
fi
if [ "$failed" -ne 0 ]; then echo "FAIL"; exit 1; fi
echo "netns ifname: ok"
