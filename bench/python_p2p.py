#!/usr/bin/env python3
"""torch.distributed (gloo) beside ringpipe.distributed beside C++ ring_bw, in one run.

The same worker code runs against ``torch.distributed`` and ``ringpipe.distributed`` (only the
import differs), on the same float16 tensors, for each world size:
  latency    ranks 0 and 1 bounce 8 B with blocking send/recv; half the round trip, p50/p99
  bandwidth  ring traffic: every rank irecv's from its predecessor and isend's to its
             successor at once, then waits; per-link GB/s (1e9 B/s) from the median over
             iterations of the slowest rank's time
and ``ring_bw --mode pingpong`` / ``--mode ring`` (C++, under ringpipe-run) for the same traffic.
Received data is checked (first and last iteration of each size, every byte), so a broken
transport cannot report a speed. Backends are interleaved over --rounds rounds and every figure
is the median of the rounds: the machine may be shared and noisy.

Usage: /usr/bin/python3 bench/python_p2p.py [--build DIR] [--world 2,3] [--rounds 5]
           [--sizes 64K,1M,16M,64M] [--iters 20] [--warmup 15] [--lat-iters 5000]
           [--backends gloo,ringpipe,cpp] [--package DIR] [--json FILE] [--quick]
Needs torch in the interpreter that runs it (or in /usr/bin/python3, which it then uses for the
ranks) and the Python package built in DIR/python. Exit status: 0 when every run finished with
intact data, 1 otherwise, 77 when torch or the built package is missing (a skipped test).
"""
import argparse
import sys

# p2p/ sits in the source tree, which a test run must leave as it found it (no __pycache__).
sys.dont_write_bytecode = True

from p2p.driver import driver  # noqa: E402
from p2p.worker import worker  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="build directory (default build)")
    parser.add_argument("--world", default="2,3", help="world sizes (default 2,3)")
    parser.add_argument("--sizes", default="64K,1M,16M,64M", help="ring message sizes")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations per size")
    # The first ~10 ring steps after start-up run 10-100x slower (C++ and Python alike), and a
    # fresh buffer's first step pays its page faults: 15 warm-up steps leave both out.
    parser.add_argument("--warmup", type=int, default=15, help="untimed iterations per size")
    parser.add_argument("--lat-iters", type=int, default=5000, help="timed 8 B round trips")
    parser.add_argument("--lat-warmup", type=int, default=500, help="untimed round trips")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; figures are medians")
    parser.add_argument("--backends", default="gloo,ringpipe,cpp",
                        help="any of gloo, ringpipe, cpp (default all)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds each job may take before its ranks are killed")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--breakdown", action="store_true",
                        help="ringpipe ranks also time the 8 B ping-pong per layer (bytearray, "
                        "NumPy view, tensor through Edge, tensor through ringpipe.distributed)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run (a smoke test): 1 round, 2 ranks, 64K,1M, few iterations")
    parser.add_argument("--python", help="interpreter for the ranks (default: one with torch)")
    parser.add_argument("--package", help="directory holding the ringpipe package to test "
                        "(default BUILD/python)")
    parser.add_argument("--worker", choices=["gloo", "ringpipe"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--op-timeout", type=float, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--corrupt", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        return worker(options)
    if options.quick:
        options.rounds, options.world, options.sizes = 1, "2", "64K,1M"
        options.iters, options.warmup, options.lat_iters, options.lat_warmup = 3, 1, 200, 20
        options.timeout = min(options.timeout, 120)
    return driver(options)


if __name__ == "__main__":
    sys.exit(main())
