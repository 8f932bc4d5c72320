"""Rings of 1, 2 and 3 real ranks moving torch tensors, NumPy arrays and buffer objects."""

import pytest

torch = pytest.importorskip("torch")

TRAFFIC = r"""
import numpy as np
import torch
import ringpipe

def pattern(rank, nbytes, salt):
    generator = torch.Generator().manual_seed(rank * 1000003 + nbytes * 31 + salt)
    return torch.randint(0, 256, (nbytes,), dtype=torch.uint8, generator=generator)

with ringpipe.Ring() as ring:
    r, n = ring.rank, ring.world_size
    pred, succ = (r - 1) % n, (r + 1) % n
    assert (ring.pred.peer, ring.succ.peer, ring.pred.rank) == (pred, succ, r)
    info = ring.link_info(ring.succ)
    assert info.data_path == ringpipe.DataPath.host and str(info.data_path) == "host"
    assert info.transports and info.describe().startswith("host over ucx: "), info.describe()
    assert ring.comm_device == "cpu"

    # Every dtype the serving traffic uses, 0 B to 16 MiB; 64 MiB once.
    cases = [(dtype, nbytes) for dtype in (torch.float16, torch.bfloat16, torch.float32,
                                           torch.int64)
             for nbytes in (0, 8, 4096, 65536, 1 << 20, 16 << 20)]
    cases.append((torch.float16, 64 << 20))
    for salt, (dtype, nbytes) in enumerate(cases):
        out = pattern(r, nbytes, salt).view(dtype)
        inp = torch.empty(nbytes // out.element_size(), dtype=dtype)
        receive = ring.pred.irecv(inp, tag=salt)
        ring.succ.send(out, tag=salt, timeout=30)
        receive.wait(timeout=30)
        assert receive.nbytes == nbytes, (dtype, nbytes, receive.nbytes)
        assert torch.equal(inp.view(torch.uint8), pattern(pred, nbytes, salt)), (dtype, nbytes)

    # Tags matched out of order: receives posted in reverse, each gets its own message.
    tags = list(range(100, 108))
    inputs = {tag: torch.zeros(1000 + tag, dtype=torch.int64) for tag in tags}
    receives = [(tag, ring.pred.irecv(inputs[tag], tag=tag)) for tag in reversed(tags)]
    sends = [ring.succ.isend(torch.full((1000 + tag,), r * 1000 + tag), tag=tag) for tag in tags]
    for tag, receive in receives:
        receive.wait(timeout=30)
        assert torch.equal(inputs[tag], torch.full((1000 + tag,), pred * 1000 + tag)), tag
    for send in sends:
        send.wait(timeout=30)

    # Both directions of one edge: a reply travels back over the edge it came on.
    ring.succ.send(np.arange(16, dtype=np.int32) + r, tag=7)
    got = np.zeros(16, dtype=np.int32)
    assert ring.pred.recv(got, tag=7) == 64
    assert (got == np.arange(16) + pred).all()
    ring.pred.send(got * 2, tag=8)
    back = bytearray(64)
    ring.succ.recv(back, tag=8)
    assert np.frombuffer(back, dtype=np.int32).tolist() == ((np.arange(16) + r) * 2).tolist()

    # Buffer-protocol objects: bytes and memoryview slices send, bytearray receives in place.
    ring.succ.send(b"ring " + bytes([r]), tag=9)
    area = bytearray(16)
    assert ring.pred.recv(memoryview(area)[4:12], tag=9) == 6
    assert area[4:10] == b"ring " + bytes([pred])

    # Requests: test() polls, nbytes reports, a finished request waits again at once.
    request = ring.pred.irecv(bytearray(3), tag=10)
    ring.succ.isend(b"abc", tag=10).wait()
    while not request.test():
        pass
    assert request.nbytes == 3 and request.is_completed()
    request.wait()
print("ok", flush=True)
"""


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_ring_moves_tensors_arrays_and_buffers(run_ring, world_size):
    results = run_ring(world_size, TRAFFIC, timeout=240)
    assert all(r.stdout.strip() == "ok" for r in results), [r.stdout for r in results]


def test_options_from_keywords_and_environment(monkeypatch):
    import ringpipe

    options = ringpipe.Options(world_size=3, rank=2, comm_device="cpu", op_timeout=1.5)
    assert (options.world_size, options.rank, options.op_timeout) == (3, 2, 1.5)
    assert ringpipe.Options(liveness_timeout=float("inf")).liveness_timeout == float("inf")
    monkeypatch.setenv("RINGPIPE_WORLD_SIZE", "4")
    monkeypatch.setenv("RINGPIPE_RANK", "3")
    monkeypatch.setenv("RINGPIPE_PORT", "29700")
    monkeypatch.setenv("RINGPIPE_TOKEN", "secret-token")
    from_env = ringpipe.Options.from_env()
    assert (from_env.world_size, from_env.rank, from_env.port) == (4, 3, 29700)
    assert from_env.token == "secret-token"
    assert "secret-token" not in repr(from_env)
    with pytest.raises(TypeError, match="unknown ring option 'rnak'"):
        ringpipe.Options(rnak=1)


def test_one_rank_ring_from_keywords_is_a_self_loop():
    import ringpipe

    with ringpipe.Ring(env=False, world_size=1) as ring:
        assert (ring.rank, ring.world_size, ring.pred.peer, ring.succ.peer) == (0, 1, 0, 0)
        data = torch.arange(1 << 16, dtype=torch.float32)
        out = torch.empty_like(data)
        receive = ring.pred.irecv(out)
        ring.succ.send(data)
        receive.wait(timeout=10)
        assert torch.equal(out, data)
        assert "rank 0" in ring.succ.describe()
    assert ring.closed
    with pytest.raises(ringpipe.ClosedError, match="closed"):
        ring.succ.send(data)
