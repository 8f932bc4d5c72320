#!/usr/bin/env bash
# Open MPI's mpirun places a ring by itself: a 3-rank ring_bw gets its rank and size from
# OMPI_COMM_WORLD_* and its rendezvous port from Open MPI's job id, with no ringpipe variable
# set, and every byte must arrive intact. The same run damaging data must fail, so mpirun
# carries a rank's failure to its exit status. Skips (77) where mpirun is not installed.
# Usage: mpirun_ring_bw.sh RING_BW
set -euo pipefail
ring_bw=$1
if ! command -v mpirun > /dev/null; then
  echo "SKIP: mpirun is not installed (Debian: openmpi-bin)"; exit 77
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Nothing may place the ring but mpirun.
unset RINGPIPE_HEAD RINGPIPE_PORT RINGPIPE_WORLD_SIZE RINGPIPE_RANK RINGPIPE_LOCAL_RANK \
  MASTER_ADDR MASTER_PORT WORLD_SIZE RANK LOCAL_RANK SLURM_NTASKS SLURM_PROCID SLURM_LOCALID
export RINGPIPE_RENDEZVOUS_TIMEOUT_S=30
mpirun_ring() {
  timeout -k 5 60 mpirun -n 3 --oversubscribe --allow-run-as-root "$ring_bw" \
    --sizes 0,8,64K,1M --iters 5 --warmup 2 "$@"
}

if ! mpirun_ring > "$log" 2>&1; then
  cat "$log"; echo "FAIL: the 3-rank ring under mpirun failed"; exit 1
fi
cat "$log"
for rank in 0 1 2; do
  if ! grep -q "^# rank  $rank .* link host over ucx" "$log"; then
    echo "FAIL: rank $rank did not join the ring"; exit 1
  fi
done
if ! grep -q '^# Out of bounds values : 0 OK' "$log"; then
  echo "FAIL: the data check did not pass"; exit 1
fi

status=0
mpirun_ring --corrupt-every 3 > "$log" 2>&1 || status=$?
if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  cat "$log"; echo "FAIL: damaged data under mpirun ended with status $status, not a failure"
  exit 1
fi
echo "mpirun ring_bw: ok"
