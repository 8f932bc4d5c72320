"""A neighbour that dies, stops or aborts: the survivor's Python call raises the typed error
naming it, within a bound."""

import os
import signal
import time

import pytest

from conftest import wait_for_line

SURVIVOR = """
import sys, time
import ringpipe
ring = ringpipe.Ring()
if ring.rank == 0:
    print("ready", flush=True)
    if sys.argv[1] == "abort":
        time.sleep(0.5)
        ring.abort()
    time.sleep(60)
else:
    print("ready", flush=True)
    start = time.monotonic()
    try:
        ring.pred.recv(bytearray(1 << 20), tag=1, timeout=30)
        print("received?!", flush=True)
    except ringpipe.Error as error:
        print(f"{type(error).__name__} after {time.monotonic() - start:.2f}: {error}", flush=True)
"""


@pytest.mark.parametrize("fault,expected", [
    ("kill", "PeerFailedError"),
    ("stop", "StalledError"),
    ("abort", "PeerFailedError"),
])
def test_neighbour_fault_raises_typed_error_naming_it(start_ring, fault, expected):
    ranks = start_ring(2, SURVIVOR, env={"RINGPIPE_LIVENESS_TIMEOUT_S": "2"}, args=(fault,))
    for proc in ranks.procs:
        wait_for_line(proc, "ready", 60)
    time.sleep(0.3)  # rank 1 is inside recv
    if fault == "kill":
        ranks.procs[0].send_signal(signal.SIGKILL)
    elif fault == "stop":
        ranks.procs[0].send_signal(signal.SIGSTOP)
    out, err = ranks.procs[1].communicate(timeout=30)
    if fault == "stop":
        ranks.procs[0].send_signal(signal.SIGCONT)
    line = next((l for l in out.splitlines() if "after" in l), "")
    assert line.startswith(expected), out + err
    assert "rank 0" in line, line
    seconds = float(line.split(" after ")[1].split(":")[0])
    assert seconds < (6.0 if fault == "stop" else 3.0), line
    assert ranks.procs[1].returncode == 0
