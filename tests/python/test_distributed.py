"""ringpipe.distributed: torch.distributed's point-to-point calls by global rank, on a ring."""

import pytest

torch = pytest.importorskip("torch")

PIPELINE = r"""
import time
import torch
import ringpipe
import ringpipe.distributed as dist
from ringpipe.dist_utils import get_pipeline_parallel_pred_group, get_pipeline_parallel_succ_group

assert not dist.is_initialized()
dist.init_process_group("gloo")
assert dist.is_initialized() and dist.is_available()
rank, world = dist.get_rank(), dist.get_world_size()
succ, pred = (rank + 1) % world, (rank - 1) % world

# FlexLLMGen's traffic: fp16 hidden states forward with isend, recv by sender rank and tag.
# Rank 0 receives before it sends; its step-0 input arrives last, so it posts that one early.
first = torch.empty(1 << 16, dtype=torch.float16)
first_receive = dist.irecv(first, pred, tag=0) if rank == 0 else None
for tag in range(4):
    hidden = torch.full((1 << 16,), float(rank * 10 + tag), dtype=torch.float16)
    holder = torch.empty_like(hidden)
    if rank == 0:
        sender = dist.recv(holder, pred, tag=tag) if tag else None
        work = dist.isend(hidden, succ, tag=tag)
    else:
        work = dist.isend(hidden, succ, tag=tag)
        sender = dist.recv(holder, pred, tag=tag)
    work.wait()
    assert work.is_completed()
    if sender is not None:
        assert sender == pred and holder.eq(pred * 10 + tag).all(), (sender, holder[:2])
if rank == 0:
    first_receive.wait(timeout=30)
    assert first.eq(pred * 10).all()

# The ring wrap: int64 token ids from the last rank back to rank 0.
if rank == world - 1:
    dist.send(torch.arange(75, dtype=torch.int64) * 3, 0, tag=9)
if rank == 0:
    tokens = torch.empty(75, dtype=torch.int64)
    assert dist.recv(tokens, world - 1, tag=9) == world - 1
    assert torch.equal(tokens, torch.arange(75, dtype=torch.int64) * 3)

# Backwards, to the predecessor, with irecv from the successor.
request = dist.irecv(torch.empty(3, dtype=torch.int32), succ, tag=11)
dist.send(torch.tensor([rank, 1, 2], dtype=torch.int32), pred, tag=11)
request.wait(timeout=30)

# Groups: one of ringpipe's pipeline groups containing the peer works, any other refuses.
dist.send(torch.ones(2), succ, group=get_pipeline_parallel_succ_group(), tag=12)
dist.recv(torch.ones(2), pred, group=get_pipeline_parallel_pred_group(), tag=12)
if world > 2:
    try:
        dist.send(torch.ones(2), succ, group=get_pipeline_parallel_pred_group(), tag=13)
        raise SystemExit("a group without dst was accepted")
    except ValueError as error:
        assert f"dst={succ} is not in the group given" in str(error), error

# Bad peers: named, with the two allowed ranks.
for bad in (rank + world, -1) + ((rank,) if world > 1 else ()) + \
        (((rank + 2) % world,) if world > 3 else ()):
    try:
        dist.send(torch.ones(1), bad)
        raise SystemExit(f"dst={bad} was accepted")
    except ringpipe.InvalidArgumentError as error:
        assert f"rank {pred}" in str(error) and f"rank {succ}" in str(error), error
if world > 2:
    try:
        dist.recv(torch.ones(1))
        raise SystemExit("src=None was accepted")
    except ValueError as error:
        assert "ambiguous" in str(error)
try:
    dist.send(torch.ones(1), succ, tag=0xFFFFFFFF)
    raise SystemExit("the barrier tag was accepted")
except ValueError as error:
    assert "reserved" in str(error)

# barrier: nobody leaves before the slowest arrives.
if rank == world - 1:
    time.sleep(0.5)  # arrives last, well after the others
arrived = time.time()
dist.barrier()
print(f"barrier {arrived:.6f} {time.time():.6f}", flush=True)
try:
    dist.init_process_group("gloo")
    raise SystemExit("a second init_process_group was accepted")
except ValueError as error:
    assert "twice" in str(error)
dist.destroy_process_group()
assert not dist.is_initialized()
print("ok", flush=True)
"""


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_torch_point_to_point_calls(run_ring, world_size):
    results = run_ring(world_size, PIPELINE, timeout=180)
    times = [tuple(map(float, line.split()[1:])) for r in results
             for line in r.stdout.splitlines() if line.startswith("barrier")]
    assert len(times) == world_size and all(r.stdout.strip().endswith("ok") for r in results)
    last_arrival = max(arrived for arrived, _ in times)
    assert all(left >= last_arrival for _, left in times), times


def test_send_before_init_is_a_clear_error():
    import ringpipe.distributed as dist

    with pytest.raises(ValueError, match="init_process_group"):
        dist.send(torch.ones(1), 0)
    with pytest.raises(ValueError, match="init_process_group"):
        dist.get_rank()


def test_one_rank_world_sends_to_itself():
    import ringpipe.distributed as dist

    dist.init_process_group(init_method="tcp://127.0.0.1:0", world_size=1, rank=0)
    try:
        out = torch.empty(5)
        work = dist.irecv(out, src=0, tag=1)
        dist.send(torch.arange(5.0), dst=0, tag=1)
        work.wait()
        assert torch.equal(out, torch.arange(5.0))
        dist.barrier()
    finally:
        dist.destroy_process_group()
