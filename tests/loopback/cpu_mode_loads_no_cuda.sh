#!/usr/bin/env bash
# CPU mode never loads the CUDA driver (a binary built with CUDA must run where there is none,
# and must not pay for it): a 2-rank ring of the serving example runs under LD_DEBUG=libs,
# which names every library the dynamic loader looks for, dlopen included; libcuda must not be
# among them. The same run in GPU mode must look for it, or this check could not see it.
# Usage: cpu_mode_loads_no_cuda.sh RINGPIPE_RUN SERVING_PIPELINE
set -euo pipefail
launcher=$1
program=$2
log=$(mktemp)
trap 'rm -f "$log"' EXIT

LD_DEBUG=libs timeout 60 "$launcher" -n 2 -- "$program" --steps 2 > "$log" 2>&1 || {
  cat "$log"; echo "FAIL: the CPU-mode ring failed"; exit 1
}
if grep -q 'find library=libcuda' "$log"; then
  grep 'libcuda' "$log" | head -5
  echo "FAIL: CPU mode looked for the CUDA driver"; exit 1
fi
# GPU mode may fail here (no GPU); it must still have looked for the driver.
LD_DEBUG=libs timeout 60 "$launcher" -n 1 --comm-device gpu -- "$program" --steps 1 \
  > "$log" 2>&1 || true
if ! grep -q 'find library=libcuda' "$log"; then
  echo "SKIP: this build has no GPU mode, or LD_DEBUG does not report dlopen"; exit 77
fi
echo "CPU mode loaded no CUDA driver: ok"
