#!/usr/bin/env python3
"""Checks ring_bw --stats against the traffic its mode defines: every rank's line, the messages
and bytes of each edge and direction exactly, no failure and nothing in flight.
Usage: check_stats.py OUTPUT MODE RANKS ITERATIONS SIZE...  (ITERATIONS: warmup + timed)"""
import re
import sys

# ringpipe-run prefixes every line with "[rank] ".
LINE = re.compile(r"^(?:\[\d+\] )?# stats rank (\d+) pred send (\d+)/(\d+) recv (\d+)/(\d+) "
                  r"succ send (\d+)/(\d+) recv (\d+)/(\d+) failed (\d+) in-flight (\d+)$")


def expected(mode, ranks, rank, iterations, sizes):
    """{(edge, direction): (messages, bytes)} that `rank` moves in `mode`."""
    one = (iterations * len(sizes), iterations * sum(sizes))
    none = (0, 0)
    traffic = {(edge, direction): none for edge in ("pred", "succ")
               for direction in ("send", "recv")}
    if mode == "ring":  # every rank sends to its successor, receives from its predecessor
        traffic[("succ", "send")] = traffic[("pred", "recv")] = one
    elif mode == "pingpong":  # rank 0 pings its successor, rank 1 echoes back to its predecessor
        if rank == 0:
            traffic[("succ", "send")] = traffic[("succ", "recv")] = one
        if rank == 1 or ranks == 1:
            traffic[("pred", "recv")] = traffic[("pred", "send")] = one
    else:
        raise SystemExit(f"no expectation for mode {mode}")
    return traffic


def main(path, mode, ranks, iterations, *sizes):
    ranks, iterations, sizes = int(ranks), int(iterations), [int(size) for size in sizes]
    with open(path, encoding="utf-8") as file:
        lines = [LINE.match(line.strip()) for line in file if "# stats" in line]
    assert all(lines), "malformed stats line"
    assert sorted(int(m.group(1)) for m in lines) == list(range(ranks)), "not one line per rank"
    for match in lines:
        rank = int(match.group(1))
        numbers = [int(group) for group in match.groups()[1:]]
        counted = {("pred", "send"): tuple(numbers[0:2]), ("pred", "recv"): tuple(numbers[2:4]),
                   ("succ", "send"): tuple(numbers[4:6]), ("succ", "recv"): tuple(numbers[6:8])}
        want = expected(mode, ranks, rank, iterations, sizes)
        assert counted == want, f"rank {rank}: counted {counted}, sent {want}"
        assert numbers[8] == 0 and numbers[9] == 0, f"rank {rank}: failed/in flight {numbers[8:]}"
    print(f"{path}: the counters of {ranks} ranks agree with the {mode} traffic")


if __name__ == "__main__":
    main(*sys.argv[1:])
