"""A neighbour that dies, stops or aborts: the survivor's Python call raises the typed error
naming it, within a bound."""

import signal

import pytest

from conftest import wait_for_line, wait_until_blocked

SURVIVOR = """
import os, sys, time
import ringpipe
ring = ringpipe.Ring()
if ring.rank == 0:
    print("ready", flush=True)
    if sys.argv[1] == "abort":
        # Once the test has seen rank 1 waiting in its receive.
        deadline = time.monotonic() + 30
        while not os.path.exists(sys.argv[2]):
            if time.monotonic() > deadline:
                sys.exit("the test never asked for the abort")
            time.sleep(0.002)
        ring.abort()
    time.sleep(60)  # alive, its ring open, until the test ends it
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
def test_neighbour_fault_raises_typed_error_naming_it(start_ring, tmp_path, fault, expected):
    abort_asked = tmp_path / "abort asked"
    ranks = start_ring(2, SURVIVOR, env={"RINGPIPE_LIVENESS_TIMEOUT_S": "2"},
                       args=(fault, abort_asked))
    for proc in ranks.procs:
        wait_for_line(proc, "ready", 60)
    wait_until_blocked(ranks.procs[1], 30)  # the fault comes while rank 1 waits in recv
    if fault == "kill":
        ranks.procs[0].send_signal(signal.SIGKILL)
    elif fault == "stop":
        ranks.procs[0].send_signal(signal.SIGSTOP)
    else:
        abort_asked.touch()
    out, err = ranks.procs[1].communicate(timeout=30)
    if fault == "stop":
        ranks.procs[0].send_signal(signal.SIGCONT)
    line = next((l for l in out.splitlines() if "after" in l), "")
    assert line.startswith(expected), out + err
    assert "rank 0" in line, line
    seconds = float(line.split(" after ")[1].split(":")[0])
    assert seconds < (6.0 if fault == "stop" else 3.0), line
    assert ranks.procs[1].returncode == 0
