"""ringpipe.dist_utils: FlexLLMGen's functions with their arguments, and suppress_output."""

import pytest

torch = pytest.importorskip("torch")

SEED_API = r"""
import os, sys
import torch
import ringpipe
from ringpipe.dist_utils import (initialize_distributed, get_pipeline_parallel_pred_group,
    get_pipeline_parallel_succ_group, get_comm_device, suppress_output, finalize_distributed)

rank, world = int(os.environ["RINGPIPE_RANK"]), int(os.environ["RINGPIPE_WORLD_SIZE"])
port = int(os.environ["RINGPIPE_PORT"])  # rank 0 also has the launcher's socket on it
try:
    get_comm_device()
    raise SystemExit("get_comm_device worked before initialize_distributed")
except ValueError as error:
    assert "initialize_distributed" in str(error)
initialize_distributed("127.0.0.1", port, world, rank, rank, "cpu")
assert get_comm_device() == "cpu"
pred, succ = get_pipeline_parallel_pred_group(), get_pipeline_parallel_succ_group()
assert (pred.peer, succ.peer) == ((rank - 1) % world, (rank + 1) % world)
succ.send(torch.full((100,), rank, dtype=torch.int64), tag=3)
got = torch.empty(100, dtype=torch.int64)
pred.recv(got, tag=3)
assert got.eq((rank - 1) % world).all()

print("plain from", rank)
print("forced from", rank, force=True)
suppress_output(rank, force_default=True)
print("default-forced from", rank)
suppress_output(rank)
try:
    initialize_distributed("127.0.0.1", port, world, rank, rank, "cpu")
    raise SystemExit("a second initialize_distributed was accepted")
except ringpipe.InvalidArgumentError as error:
    assert "twice" in str(error)
finalize_distributed()
print("restored from", rank)
"""


def test_seed_functions_and_suppressed_output(run_ring):
    results = run_ring(3, SEED_API, timeout=120)
    for r in results:
        lines = r.stdout.splitlines()
        expected = ["plain from 0"] if r.rank == 0 else []
        expected += [f"rank #{r.rank}: forced from {r.rank}",
                     f"rank #{r.rank}: default-forced from {r.rank}", f"restored from {r.rank}"]
        assert lines == expected, (r.rank, lines)


def test_bad_comm_device_is_invalid_argument():
    from ringpipe.dist_utils import initialize_distributed
    import ringpipe

    with pytest.raises(ringpipe.InvalidArgumentError, match="comm_device.*tpu"):
        initialize_distributed("127.0.0.1", 0, 1, 0, 0, "tpu")
