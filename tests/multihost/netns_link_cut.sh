#!/usr/bin/env bash
# A link cut between simulated hosts: a ring of 3 ranks in three network namespaces joined by a
# bridge streams large messages over TCP; then one host's interface goes down mid-transfer.
# Expects the ranks on both sides of the cut to report PeerFailed or Stalled within the liveness
# timeout plus a margin, and every rank process to exit on its own within a bound (a `timeout`
# wrapper kills any that hang, which fails the test). Skips (77) without root or `ip netns`.
# Usage: netns_link_cut.sh FAULT_RANK_PROGRAM
set -euo pipefail
program=$1

liveness_s=2
max_detect_ms=8000  # liveness timeout + margin
rank_bound_s=45     # a rank still running then has hung
cut_rank=1          # its host loses its link; ranks 0 and 2 are its neighbours

source "$(dirname "$0")/simulated_hosts.sh" rc 10.214
make_hosts

# Namespaces share this kernel's IPC, so UCX would see one host and use shared memory; keep it
# to TCP so the run behaves as separate hosts do.
for rank in 0 1 2; do
  ip netns exec "${hosts[$rank]}" env UCX_TLS=tcp RINGPIPE_IFNAME=data0 \
    RINGPIPE_HEAD="$subnet.1" RINGPIPE_PORT=29421 RINGPIPE_WORLD_SIZE=3 RINGPIPE_RANK="$rank" \
    RINGPIPE_LIVENESS_TIMEOUT_S=$liveness_s RINGPIPE_RENDEZVOUS_TIMEOUT_S=20 \
    RINGPIPE_OP_TIMEOUT_S=20 \
    timeout -k 2 "$rank_bound_s" "$program" --size $((4 << 20)) --wait-s 12 --max-seconds 30 \
    > "$logs/$rank.log" 2>&1 &
  pids+=($!)
done

# Cut only once every rank moved data: the cut must land mid-stream, not during the rendezvous.
wait_until_streaming
sleep 0.5
cut_ns=$("$program" --clock)
ip -n "${hosts[$cut_rank]}" link set data0 down
echo "== cut ${hosts[$cut_rank]}'s data0 (rank $cut_rank) while streaming"

failed=0
statuses=()
for i in "${!pids[@]}"; do
  status=0
  wait "${pids[$i]}" || status=$?
  statuses+=("$status")
done
show_logs

for rank in 0 1 2; do
  status=${statuses[$rank]}
  line=$(grep -m1 '^FAULT ' "$logs/$rank.log" || true)
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "rank $rank: hung, killed after $rank_bound_s s"; failed=1; continue
  fi
  if [ -z "$line" ]; then
    echo "rank $rank: no failure reported (exit $status)"; failed=1; continue
  fi
  read -r _ code at _ <<< "$line"
  ms=$(( (at - cut_ns) / 1000000 ))
  echo "rank $rank: $code ${ms} ms after the cut (exit $status)"
  if [ "$rank" -eq "$cut_rank" ]; then
    continue  # cut off from both neighbours: any typed failure will do
  fi
  case "$code" in
    PeerFailed|Stalled) ;;
    *) echo "rank $rank: expected PeerFailed or Stalled, got $code"; failed=1 ;;
  esac
  if [ "$ms" -gt "$max_detect_ms" ]; then
    echo "rank $rank: detected after $ms ms, expected within $max_detect_ms ms"; failed=1
  fi
done
[ "$failed" -eq 0 ] && echo "netns link cut: ok"
exit $failed
