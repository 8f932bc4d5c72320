"""Waits release the GIL (other threads run, even on the same ring) and Ctrl-C interrupts a
blocking call promptly, leaving the ring as the C++ contract says."""

import os
import signal
import subprocess
import threading
import time

import pytest

import ringpipe
from conftest import PYTHON, rank_env, sleeps_in_poll, wait_for_line, wait_until, wait_until_blocked

torch = pytest.importorskip("torch")


def test_other_threads_run_during_a_blocking_recv():
    with ringpipe.Ring(env=False, world_size=1) as ring:
        counter = [0]
        stop = threading.Event()
        main_tid = threading.get_native_id()

        def count():
            while not stop.is_set():
                counter[0] += 1

        main_blocked = []

        def send_later():
            main_blocked.append(wait_until(lambda: sleeps_in_poll(os.getpid(), main_tid), 10))
            time.sleep(0.3)  # the receive waits this long, with the counter running
            ring.succ.send(torch.arange(8), tag=3)  # the same ring, from another thread

        threads = [threading.Thread(target=count), threading.Thread(target=send_later)]
        for thread in threads:
            thread.start()
        inp = torch.zeros(8, dtype=torch.int64)
        start = time.monotonic()
        ring.pred.recv(inp, tag=3, timeout=10)
        waited = time.monotonic() - start
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        assert main_blocked == [True], "the receive never blocked"
        assert inp.tolist() == list(range(8))
        assert 0.25 < waited < 5, waited
        assert counter[0] > 10000, counter[0]  # the counter ran while recv waited


INTERRUPTED = r"""
import sys, time
import torch
import ringpipe

what = sys.argv[1]
with ringpipe.Ring(env=False, world_size=1) as ring:
    inp = torch.zeros(1 << 22, dtype=torch.int32)
    pending = ring.pred.irecv(torch.zeros(1), tag=99) if what == "wait" else None
    print("waiting", flush=True)
    start = time.monotonic()
    try:
        if what == "recv":
            ring.pred.recv(inp, tag=1, timeout=30)
        elif what == "wait":
            pending.wait(timeout=30)
        else:  # a 16 MiB send nobody receives yet
            ring.succ.send(torch.full((1 << 22,), 5, dtype=torch.int32), tag=2, timeout=30)
        print("not interrupted", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - start:.3f}", flush=True)
    if what == "recv":  # the receive was cancelled: the ring still works
        receive = ring.pred.irecv(inp, tag=1)
        ring.succ.send(torch.full((1 << 22,), 3, dtype=torch.int32), tag=1, timeout=10)
        receive.wait(timeout=10)
        assert inp.eq(3).all()
    elif what == "wait":  # the request is still pending and completes later
        ring.succ.send(torch.ones(1), tag=99)
        pending.wait(timeout=10)
    else:  # the interrupted send completes in the background once received
        ring.pred.recv(inp, tag=2, timeout=10)
        assert inp.eq(5).all()
    print("ok", flush=True)
"""


@pytest.mark.parametrize("what", ["recv", "wait", "send"])
def test_ctrl_c_interrupts_a_blocking_call_promptly(tmp_path, what):
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    proc = subprocess.Popen([PYTHON, str(script), what], env=rank_env(0, 1, 0),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_line(proc, "waiting", 60)
        wait_until_blocked(proc, 30)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        early = wait_for_line(proc, "interrupted after", 10)
        reaction = time.monotonic() - sent
        out, err = proc.communicate(timeout=30)
        out = early + out
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert out.strip().endswith("ok"), out + err
    # Waits look at signals every 50 ms; the bound leaves room for a loaded machine.
    assert reaction < 0.5, reaction


def test_abort_from_a_watchdog_thread_ends_a_blocked_recv_at_once():
    with ringpipe.Ring(env=False, world_size=1) as ring:
        main_tid = threading.get_native_id()
        main_blocked = []

        def watchdog():
            main_blocked.append(wait_until(lambda: sleeps_in_poll(os.getpid(), main_tid), 10))
            time.sleep(0.3)  # the receive stays blocked this long before the abort
            ring.abort()

        thread = threading.Thread(target=watchdog)
        thread.start()
        inp = torch.zeros(8)
        start = time.monotonic()
        with pytest.raises(ringpipe.ClosedError, match="aborted"):
            ring.pred.recv(inp, tag=5, timeout=20)
        waited = time.monotonic() - start
        thread.join(timeout=10)
        assert main_blocked == [True], "the receive never blocked"
        assert 0.25 < waited < 3, waited
