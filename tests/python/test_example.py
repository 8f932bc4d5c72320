"""examples/flexllmgen_pipeline.py: the same pipeline traffic on torch.distributed (gloo) and on
ringpipe gives the same result.

Each rank is started here as FlexLLMGen's ranks are, with --head-ip/--port/--rank, and every run
has a deadline: on expiry all its ranks are killed and the test fails with their output.
"""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the example needs torch (torch.distributed is the baseline)")

PYTHON = sys.executable
SOURCE_ROOT = Path(os.environ.get("RINGPIPE_SOURCE_ROOT", Path(__file__).resolve().parents[2]))
EXAMPLE = str(SOURCE_ROOT / "examples" / "flexllmgen_pipeline.py")
# A 4 MiB fp16 prompt message per micro-batch, 16 KiB decode messages, 256-byte token messages.
SIZES = ["--steps", "5", "--batch", "32", "--hidden", "256", "--seq-len", "256", "--seed", "3"]
DEADLINE_S = 120
RESULT = re.compile(r"^(?:\[0\] )?result ([0-9a-f]{64})$", re.MULTILINE)
# Placement the test gives explicitly; inherited values must not leak into the ranks.
PLACEMENT = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
             "RINGPIPE_HEAD", "RINGPIPE_PORT", "RINGPIPE_RANK", "RINGPIPE_WORLD_SIZE",
             "RINGPIPE_LOCAL_RANK", "RINGPIPE_LISTEN_FD", "RINGPIPE_TOKEN", "RINGPIPE_JOB_ID")


def base_env():
    env = {k: v for k, v in os.environ.items() if k not in PLACEMENT}
    env.update({
        "PYTHONUNBUFFERED": "1",
        "RINGPIPE_TOKEN": secrets.token_hex(16),
        # A lost peer becomes an error well inside the test's deadline.
        "RINGPIPE_RENDEZVOUS_TIMEOUT_S": "30",
        "RINGPIPE_OP_TIMEOUT_S": "60",
    })
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo on loopback, whatever the host name says
    return env


def collect(procs, timeout=DEADLINE_S):
    """[(returncode, stdout, stderr)] per rank; kills every rank at the deadline."""
    deadline = time.monotonic() + timeout
    results, expired = [], False
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            expired = True
            for other in procs:
                if other.poll() is None:
                    other.kill()
            out, err = proc.communicate()
            err += f"\n[killed: no result within {timeout} s]"
        results.append((proc.returncode, out, err))
    if expired:
        pytest.fail("ranks hung:\n" + describe(results))
    return results


def describe(results):
    return "\n".join(f"--- rank {rank} exit {code}\nstdout:\n{out}\nstderr:\n{err}"
                     for rank, (code, out, err) in enumerate(results))


def result_of(results):
    """Rank 0's digest, after checking that every rank exited 0."""
    if any(code != 0 for code, _, _ in results):
        pytest.fail("a rank failed:\n" + describe(results))
    found = RESULT.findall(results[0][1])
    assert len(found) == 1, "rank 0 printed no single result line:\n" + describe(results)
    return found[0]


def spawn(backend, world_size, port, env, rank0_fds=()):
    procs = []
    try:
        for rank in range(world_size):
            procs.append(subprocess.Popen(
                [PYTHON, EXAMPLE, "--backend", backend, "--head-ip", "127.0.0.1",
                 "--port", str(port), "--world-size", str(world_size), "--rank", str(rank),
                 "--local-rank", str(rank), *SIZES],
                env=env, pass_fds=rank0_fds if rank == 0 else (),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    return procs


def run_torch(world_size):
    # torch's TCPStore binds the port itself: take a free one, and retry if someone else
    # took it between our close and rank 0's bind.
    for attempt in range(3):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        results = collect(spawn("torch", world_size, port, base_env()))
        if attempt < 2 and results[0][0] != 0 and "address already in use" in results[0][2].lower():
            continue
        return result_of(results)


def run_ringpipe(world_size):
    # Rank 0 hosts ringpipe's rendezvous on a socket that already listens (as ringpipe-run
    # does), so the port cannot be taken in between.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        env = base_env()
        env["RINGPIPE_LISTEN_FD"] = str(listener.fileno())  # read by rank 0 only
        port = listener.getsockname()[1]
        return result_of(collect(spawn("ringpipe", world_size, port, env, (listener.fileno(),))))


@pytest.mark.parametrize("world_size", [2, 3])
def test_same_result_on_torch_and_ringpipe(world_size):
    torch_result = run_torch(world_size)
    ringpipe_result = run_ringpipe(world_size)
    assert torch_result == ringpipe_result


def test_same_result_under_the_launcher():
    """Placed only by ringpipe-run's variables (RANK, MASTER_PORT, ... for torch; RINGPIPE_*
    for ringpipe), both backends agree with each other and with explicit placement."""
    launcher = Path(os.environ.get("RINGPIPE_BUILD_ROOT", SOURCE_ROOT / "build")) / "tools" / \
        "ringpipe-run"
    if not os.access(launcher, os.X_OK):
        pytest.skip(f"no launcher at {launcher} (build the tools)")
    results = {}
    for backend in ("torch", "ringpipe"):
        proc = subprocess.Popen([str(launcher), "-n", "2", "--", PYTHON, EXAMPLE,
                                 "--backend", backend, *SIZES],
                                env={k: v for k, v in base_env().items()
                                     if k != "RINGPIPE_TOKEN"},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results[backend] = result_of(collect([proc]))
    assert results["torch"] == results["ringpipe"] == run_ringpipe(2)


def test_refuses_a_schedule_that_deadlocks():
    """One micro-batch in flight would make rank 0 wait for tokens of a job it has not sent."""
    proc = subprocess.run([PYTHON, EXAMPLE, "--backend", "torch", "--world-size", "2", "--rank",
                           "0", "--micro-batches", "1"], env=base_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "--micro-batches must be 2..3 for 2 ranks" in proc.stderr
