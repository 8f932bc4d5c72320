"""What torchrun gives a worker: its agent already listens on MASTER_PORT (the TCP store), and
the worker sees only RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. ringpipe must
form its ring there with no setting of its own (its rendezvous takes MASTER_PORT + 1), and say
plainly what to do when that port is taken."""

import os
import socket
import subprocess

import pytest

from conftest import PYTHON, describe, RankResult

torch = pytest.importorskip("torch")

WORKER = r"""
import torch
import ringpipe.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
out = torch.full((1024,), float(rank), dtype=torch.float16)
inp = torch.empty(1024, dtype=torch.float16)
request = dist.isend(out, (rank + 1) % world, tag=5)
dist.recv(inp, (rank - 1) % world, tag=5)
request.wait()
assert torch.all(inp == float((rank - 1) % world)), inp
dist.destroy_process_group()
print("OK", flush=True)
"""


def agent_store():
    """A listener on MASTER_PORT, as torchrun's agent holds one, with MASTER_PORT + 1 free."""
    for _ in range(50):
        store = socket.create_server(("127.0.0.1", 0))
        port = store.getsockname()[1]
        try:
            socket.create_server(("127.0.0.1", port + 1)).close()
            return store, port
        except OSError:
            store.close()
    pytest.skip("no pair of free ports on this machine")


def run_workers(tmp_path, world_size, port, timeout=60):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGPIPE_")}
    procs = []
    for rank in range(world_size):
        env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RINGPIPE_OP_TIMEOUT_S="30",
                   RINGPIPE_RENDEZVOUS_TIMEOUT_S="20")
        procs.append(subprocess.Popen([PYTHON, str(script)], env=dict(env), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = []
    for rank, proc in enumerate(procs):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            out, err = proc.communicate()
            err += "\n[killed at the deadline]"
        results.append(RankResult(rank, proc.returncode, out, err))
    return results


@pytest.mark.parametrize("world_size", [2, 3])
def test_ring_forms_beside_the_agents_store_with_torchruns_variables_only(tmp_path, world_size):
    store, port = agent_store()
    with store:
        results = run_workers(tmp_path, world_size, port)
    assert all(r.returncode == 0 and "OK" in r.stdout for r in results), describe(results)


def test_a_taken_ring_port_is_named_with_what_to_do(tmp_path):
    store, port = agent_store()
    with store, socket.create_server(("127.0.0.1", port + 1)):  # someone else took it
        results = run_workers(tmp_path, 1, port, timeout=30)
    assert results[0].returncode != 0, describe(results)
    message = results[0].stderr
    assert f"MASTER_PORT={port} + 1" in message, message
    assert "RINGPIPE_PORT" in message, message
